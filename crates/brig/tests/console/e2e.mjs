// The web console end to end, in real headless Chromium (Debian's, driven by playwright-core
// from target/npm), run by crates/brig/tests/console.rs against a real `brig serve`.
//
// The agents are real too: `brig mcp-proxy` on the server's data directory in front of the
// MCP reference filesystem server (and, for the held call, in front of mcp-server-commands),
// driven by the official TypeScript MCP SDK client. What a person does goes through the
// pages only, found by role and accessible name (which checks the names too).
//
// Steps: sign-in refusals; the skip link first on Tab; the incident filters; an incident
// made by the proxied session appears on the open Incidents page without a reload; its
// detail page and timeline (expand, page, zoom); the agent contained from the Agents page
// (confirmation, mandatory reason), the change reaching an open Overview tab live, its next
// call refused; a call the built-in policy holds (a delete) appears live and is approved in
// the page, then completes; the incident's rollback planned and applied (files checked on
// disk); evidence exported and downloaded; the ledger verified; an auditor sees no control
// that changes anything, and forged writes with its cookie and a valid CSRF value get 403,
// but verifies the ledger and exports evidence, which change nothing.
//
// Prints one JSON object per step on stdout, the last one {"step":"done",…} with what the
// Rust test checks afterwards (the incident id, the downloaded bundle, the approval id).
// Exits non-zero on anything unexpected. Every wait is bounded.
//
// Environment: BRIG (binary), BRIG_DATA, BASE (http://127.0.0.1:PORT), OPERATOR_TOKEN,
// AUDITOR_TOKEN, AGENT_TOKEN, WORKSPACE, SHELL_WORKSPACE, REGISTER, SHELL_POLICY, NPM_DIR,
// DOWNLOADS, ARTIFACTS; BRIG_CHROMIUM (default /usr/bin/chromium).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const brig = env('BRIG');
const data = env('BRIG_DATA');
const base = env('BASE');
const ws = env('WORKSPACE');
const shellWs = env('SHELL_WORKSPACE');
const npm = env('NPM_DIR');
const downloads = env('DOWNLOADS');
const artifacts = env('ARTIFACTS');

const mod = (rel) => import(pathToFileURL(join(npm, 'node_modules', rel)).href);
const { chromium } = await mod('playwright-core/index.mjs');
const { Client } = await mod('@modelcontextprotocol/sdk/dist/esm/client/index.js');
const { StdioClientTransport } = await mod('@modelcontextprotocol/sdk/dist/esm/client/stdio.js');

// The whole run is bounded: a hang fails the test instead of blocking CI.
const watchdog = setTimeout(() => {
  console.error('e2e: the scenario did not finish within 300 s');
  process.exit(3);
}, 300_000);

const WAIT = 20_000; // any one thing the page or an agent should do
const print = (step, fields = {}) => console.log(JSON.stringify({ step, ...fields }));
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---- the agents: brig mcp-proxy + a real MCP server, driven by the SDK client -------------

/** An MCP session through `brig mcp-proxy` on the server's data directory. */
async function agentSession(agent, proxyArgs, upstream) {
  const transport = new StdioClientTransport({
    command: brig,
    args: ['mcp-proxy', '--data', data, '--agent', agent, '--approval-timeout', '60',
      ...proxyArgs, '--', ...upstream],
    stderr: 'ignore',
  });
  const client = new Client({ name: 'brig-console-e2e', version: '1.0.0' });
  await client.connect(transport, { timeout: WAIT });
  const call = async (name, args, timeout = WAIT) => {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout });
    return {
      is_error: r.isError === true,
      text: (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n'),
    };
  };
  return { call, close: () => client.close() };
}

const notesAgent = 'notes-agent';
const shellAgent = 'cleanup-agent';
const fsServer = ['node', join(npm, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'), ws];
const shellServer = ['node', join(npm, 'node_modules/mcp-server-commands/build/index.js')];
const original = {
  notes: readFileSync(join(ws, 'notes.md'), 'utf8'),
  secret: readFileSync(join(ws, 'secrets/db.env'), 'utf8'),
};

// ---- the browser ---------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.BRIG_CHROMIUM || '/usr/bin/chromium',
  // Without the background-networking flags Chromium's own connections are refused here
  // and it stalls; nothing in this test needs the network beyond loopback.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: WAIT,
});
mkdirSync(artifacts, { recursive: true });
mkdirSync(downloads, { recursive: true });

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  return page;
}
// What a 1366×768 laptop shows (the pages are made to be read at that size).
const shot = (page, name) => page.screenshot({ path: join(artifacts, `console-${name}.png`) });
const heading = (page, name) => page.getByRole('heading', { level: 1, name });
const status = (page) => page.getByRole('status');
const alert = (page) => page.getByRole('alert');
const go = async (page, path) => {
  const r = await page.goto(base + path);
  check(r.ok(), `GET ${path}: ${r.status()}`);
  return r;
};

/** Clicks a link and waits for the page it leads to (not the one still showing). */
async function follow(page, locator) {
  await Promise.all([page.waitForEvent('load'), locator.click()]);
}

/** Fills the sign-in form with `token`; the response to the POST. */
async function signIn(page, token) {
  await go(page, '/ui/login');
  await page.getByLabel('Token').fill(token);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/ui/login') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState();
  return resp;
}

/**
 * Marks the document; `stillSame()` is true while the page has not been reloaded or left.
 * Proves that what appeared arrived live.
 */
async function markNoReload(page) {
  const mark = `m${Math.random()}`;
  await page.evaluate((m) => { window.__brigMark = m; }, mark);
  return async () => (await page.evaluate(() => window.__brigMark)) === mark;
}

/** The page's POST forms (not sign-out): action and fields, with the submit button's own. */
async function postForms(page) {
  return page.locator('form[method=post]').evaluateAll((forms) => forms
    .filter((f) => !f.action.endsWith('/ui/logout'))
    .map((f) => {
      const fields = {};
      for (const x of f.querySelectorAll('input, select, textarea')) if (x.name) fields[x.name] = x.value;
      const b = f.querySelector('button[type=submit][name]');
      if (b) fields[b.name] = b.value;
      return { action: f.action, fields };
    }));
}

// The controls that change something. Verifying the ledger and exporting evidence change
// nothing (the API lets auditors export too): the auditor has those.
const WRITE_CONTROLS = ['Contain', 'Release', 'Freeze', 'Approve', 'Deny', 'Apply rollback', 'Plan'];
const AUDITOR_FORMS = ['/ui/evidence/export', '/ui/ledger/verify'];

let notes;
let shell;
const result = {};
try {
  const page = await newPage();

  // ---- signing in --------------------------------------------------------------------------
  const anon = await page.goto(`${base}/ui/agents`);
  check(new URL(anon.url()).pathname === '/ui/login', `unauthenticated page → login, got ${anon.url()}`);
  let r = await signIn(page, 'brig_not-a-real-token');
  check(r.status() === 401, `bad token → 401, got ${r.status()}`);
  check((await alert(page).innerText()).includes('That token is not valid.'), 'bad token alert');
  r = await signIn(page, env('AGENT_TOKEN'));
  check(r.status() === 401 || r.status() === 403, `agent token refused, got ${r.status()}`);
  check(await alert(page).isVisible(), 'agent token: an alert says why');
  await signIn(page, env('OPERATOR_TOKEN'));
  await heading(page, 'Overview').waitFor();
  check(await page.getByText('Signed in as alice (operator)').isVisible(), 'who is signed in');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const link of ['Overview', 'Incidents', 'Agents', 'Approvals', 'Rollback', 'Evidence', 'Metrics', 'Ledger']) {
    check(await nav.getByRole('link', { name: link, exact: true }).count() === 1, `nav link ${link}`);
  }
  // The keyboard's first stop is the skip link.
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.textContent.trim()) === 'Skip to content',
    'Tab reaches "Skip to content" first');
  print('signed_in');

  // ---- an incident appears live ------------------------------------------------------------
  await nav.getByRole('link', { name: 'Incidents', exact: true }).click();
  await heading(page, 'Incidents').waitFor();
  const incidents = page.getByRole('table', { name: 'Incidents' });
  await incidents.waitFor();
  check(await incidents.getByRole('link', { name: /^INC-/ }).count() === 0, 'no incident yet');
  const sameIncidents = await markNoReload(page);

  notes = await agentSession(notesAgent,
    ['--workflow', 'notes', '--task', 'Tidy notes.md', '--register', env('REGISTER')], fsServer);
  // Enough ordinary reads that the incident's timeline has more than one page (200 rows).
  for (let i = 0; i < 90; i++) {
    const read = await notes.call('read_text_file', { path: join(ws, 'notes.md') });
    check(!read.is_error, `read ${i}: ${read.text}`);
  }
  const edit = await notes.call('write_file', { path: join(ws, 'notes.md'), content: '# Notes\n- buy milk\n- tidy\n' });
  check(!edit.is_error, `notes edit: ${edit.text}`);
  // A file the register classifies as secrets, changed outside the task: the built-in rule
  // alerts and the playbook opens an incident (containment is left to a person here).
  const secret = await notes.call('write_file', { path: join(ws, 'secrets/db.env'), content: 'PASSWORD=\n' });
  check(!secret.is_error, `secret edit: ${secret.text}`);

  const link = incidents.getByRole('link', { name: /^INC-/ }).first();
  await link.waitFor({ timeout: WAIT });
  check(await sameIncidents(), 'the incident appeared without a reload');
  const incident = (await link.innerText()).trim();
  result.incident = incident;
  await shot(page, 'incidents');
  print('incident_live', { incident });

  // ---- the incident and its timeline -------------------------------------------------------
  // The filters, by their labels: this agent keeps the incident, another hides it.
  for (const l of ['Severity', 'State', 'Agent', 'Workflow', 'Data class']) {
    check(await page.getByLabel(l, { exact: true }).count() === 1, `filter field ${l}`);
  }
  await page.getByLabel('Agent', { exact: true }).fill('somebody-else');
  await Promise.all([
    page.waitForURL(/agent=somebody-else/),
    page.getByRole('button', { name: 'Filter' }).click(),
  ]);
  await incidents.waitFor();
  check(await incidents.getByRole('link', { name: incident }).count() === 0, 'filtered out');
  await page.getByLabel('Agent', { exact: true }).fill(notesAgent);
  await page.getByRole('button', { name: 'Filter' }).click();
  await incidents.getByRole('link', { name: incident }).click();
  await heading(page, `Incident ${incident}`).waitFor();
  for (const h of ['Severity', "Commander's questions", 'Reporting clocks', 'Playbook', 'Alerts', 'Timeline']) {
    check(await page.getByRole('heading', { level: 2, name: h }).count() === 1, `section ${h}`);
  }
  const events = page.getByRole('table', { name: 'Events' });
  await events.waitFor();
  await shot(page, 'incident');
  await page.getByRole('heading', { level: 2, name: 'Timeline' }).evaluate((h) => h.scrollIntoView());
  await shot(page, 'timeline');
  await page.evaluate(() => window.scrollTo(0, 0));
  const firstSummary = async () => (await events.locator('summary').first().innerText()).trim();
  const rows0 = await events.locator('summary').count();
  check(rows0 === 200, `the first page holds 200 events, got ${rows0}`);
  // Expand the write of the secrets file: its arguments (and the diff) are shown.
  const writeRow = events.locator('details', { has: page.locator('summary', { hasText: 'write_file' }) })
    .filter({ hasText: 'db.env' }).first();
  let expanded = false;
  if (await writeRow.count()) {
    await writeRow.locator('summary').click();
    await writeRow.locator('pre').first().waitFor();
    expanded = true;
  }
  // Page: the other page of the session's events, then back.
  const first = await firstSummary();
  const older = page.getByRole('link', { name: 'Older events' });
  const newer = page.getByRole('link', { name: 'Newer events' });
  const away = (await older.count()) ? older : newer;
  const back = (await older.count()) ? 'Newer events' : 'Older events';
  await follow(page, away);
  const paged = await firstSummary();
  check(paged !== first, 'paging shows other events');
  if (!expanded) {
    // The write is on the other page.
    const w = events.locator('details', { has: page.locator('summary', { hasText: 'write_file' }) })
      .filter({ hasText: 'db.env' }).first();
    await w.locator('summary').click();
    await w.locator('pre').first().waitFor();
    expanded = true;
  }
  await follow(page, page.getByRole('link', { name: back }));
  check(await firstSummary() === first, 'paging back');
  // Zoom: the overview's bars are links to their time range, reachable inside its group.
  const overview = page.getByRole('group', { name: /^Events over time/ }).first();
  await overview.waitFor();
  const bar = overview.getByRole('link', { name: /^Zoom to .* \(\d+ events?\)$/ }).first();
  const barName = await bar.getAttribute('aria-label') ?? await bar.innerText();
  const n = Number(/\((\d+) events?\)/.exec(barName)?.[1] ?? NaN);
  await follow(page, bar);
  await page.getByRole('link', { name: 'Zoom out' }).waitFor();
  const zoomed = await events.locator('summary').count();
  check(zoomed === Math.min(n, 200), `zoomed to a bar of ${n} events, shows ${zoomed}`);
  // Each step out widens the view around its middle, until the whole incident is shown.
  const zoomOut = page.getByRole('link', { name: 'Zoom out' });
  let outs = 0;
  for (; outs < 10 && await zoomOut.count(); outs++) {
    await follow(page, zoomOut);
  }
  check(await zoomOut.count() === 0, `zoomed all the way out in ${outs} steps`);
  check(await firstSummary() === first, 'the whole incident again');
  print('timeline', { rows: rows0, expanded, zoom: barName, zoomed, zoom_out_steps: outs });

  // ---- contain the agent from the Agents page ----------------------------------------------
  // A second tab on the Overview watches the containment arrive live.
  const watcher = await page.context().newPage();
  watcher.setDefaultTimeout(WAIT);
  await go(watcher, '/ui/');
  check(await watcher.getByText('contained', { exact: true }).count() === 0, 'nothing contained yet');
  const sameOverview = await markNoReload(watcher);
  await go(page, '/ui/agents');
  await heading(page, 'Agents').waitFor();
  const agentRow = page.getByRole('table', { name: 'Agents' }).getByRole('row').filter({ hasText: notesAgent });
  await agentRow.getByRole('button', { name: 'Contain' }).click();
  await heading(page, `Contain agent ${notesAgent}?`).waitFor();
  await shot(page, 'confirm');
  const reason = page.getByLabel('Reason');
  // The browser will not send an empty required field; the server refuses it anyway.
  await reason.evaluate((e) => e.removeAttribute('required'));
  const [empty] = await Promise.all([
    page.waitForResponse((x) => x.request().method() === 'POST'),
    page.getByRole('button', { name: `Contain agent ${notesAgent}` }).click(),
  ]);
  check(empty.status() === 400, `empty reason → 400, got ${empty.status()}`);
  check((await alert(page).innerText()).includes('A reason is required.'), 'empty reason alert');
  await page.getByLabel('Reason').fill('e2e: the agent changed secrets outside its task');
  await page.getByRole('button', { name: `Contain agent ${notesAgent}` }).click();
  await status(page).filter({ hasText: `Agent ${notesAgent} contained.` }).waitFor();
  check(new URL(page.url()).pathname === '/ui/agents', 'back on the Agents page');
  await agentRow.getByRole('button', { name: 'Release' }).waitFor();
  // The release form, for the forged requests below (the auditor's must not release).
  await agentRow.getByRole('button', { name: 'Release' }).click();
  await heading(page, `Release agent ${notesAgent}?`).waitFor();
  const form = page.locator('form', { has: page.getByLabel('Reason') });
  const forged = {
    action: new URL(await form.getAttribute('action') ?? '', page.url()).href,
    fields: await form.locator('input[type=hidden]').evaluateAll((xs) =>
      Object.fromEntries(xs.map((x) => [x.name, x.value]))),
  };
  await page.getByRole('link', { name: 'Cancel' }).click();
  await heading(page, 'Agents').waitFor();
  await shot(page, 'agents');
  await watcher.getByText('contained', { exact: true }).first().waitFor();
  check(await sameOverview(), 'the containment reached the open Overview without a reload');
  await watcher.close();
  const denied = await notes.call('read_text_file', { path: join(ws, 'notes.md') });
  check(denied.is_error && /contained/.test(denied.text), `the next call is refused: ${denied.text}`);
  print('contained', { next_call: denied });

  // ---- a held call approved in the page ----------------------------------------------------
  await go(page, '/ui/approvals');
  await heading(page, 'Approvals').waitFor();
  const pending = page.getByRole('table', { name: 'Pending approvals' });
  await pending.waitFor();
  const sameApprovals = await markNoReload(page);
  shell = await agentSession(shellAgent,
    ['--task', 'Remove old.txt from the workspace', '--policy', env('SHELL_POLICY'), '--root', shellWs],
    shellServer);
  const oldTxt = join(shellWs, 'old.txt');
  // A delete: the built-in policy's approval gate (builtin.needs-approval) holds it.
  const held = shell.call('run_command', { command: 'rm old.txt', workdir: shellWs }, 90_000);
  const heldRow = pending.getByRole('row').filter({ hasText: 'rm old.txt' });
  await heldRow.waitFor({ timeout: WAIT });
  check(await sameApprovals(), 'the held call appeared without a reload');
  check((await heldRow.innerText()).includes('builtin.needs-approval'), 'the policy that held it');
  check(existsSync(oldTxt), 'nothing ran before approval');
  await shot(page, 'approvals');
  const approvalId = (await heldRow.getByRole('rowheader').innerText()).trim();
  await heldRow.getByLabel('Reason').fill('e2e: removing the stale file is the task');
  await heldRow.getByRole('button', { name: 'Approve' }).click();
  await status(page).filter({ hasText: /^Approved / }).waitFor();
  const ran = await held;
  check(!ran.is_error, `the approved call completed: ${ran.text}`);
  check(!existsSync(oldTxt), 'the approved delete ran');
  result.approval = approvalId;
  print('approved', { approval: approvalId, call: ran });

  // ---- rollback ------------------------------------------------------------------------------
  await go(page, '/ui/rollback');
  await heading(page, 'Rollback').waitFor();
  await page.getByLabel('Incident').selectOption({ value: incident }).catch(async () =>
    page.getByLabel('Incident').selectOption({ label: new RegExp(escape(incident)) }));
  await page.getByRole('button', { name: 'Plan' }).click();
  const plan = page.getByRole('table', { name: 'Rollback plan' });
  await plan.waitFor();
  for (const p of ['notes.md', 'secrets/db.env']) {
    const row = plan.getByRole('row').filter({ hasText: p });
    check(await row.count() >= 1, `plan row for ${p}`);
    check((await row.first().innerText()).includes('restore'), `${p} is restored`);
  }
  check(await page.getByLabel('Canary').inputValue() === '1', 'canary defaults to 1');
  await shot(page, 'rollback');
  await page.getByRole('button', { name: 'Apply rollback' }).click();
  await page.getByRole('heading', { level: 2, name: 'Result' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Verification' }).waitFor();
  check(await page.getByText(/All \d+ paths? restored\./).count() === 1, 'verification: all restored');
  check(readFileSync(join(ws, 'notes.md'), 'utf8') === original.notes, 'notes.md is back');
  check(readFileSync(join(ws, 'secrets/db.env'), 'utf8') === original.secret, 'db.env is back');
  await shot(page, 'rollback-applied');
  print('rolled_back');

  // ---- evidence ------------------------------------------------------------------------------
  await go(page, '/ui/evidence');
  await heading(page, 'Evidence').waitFor();
  await page.getByLabel('Incident').selectOption({ value: incident }).catch(async () =>
    page.getByLabel('Incident').selectOption({ label: new RegExp(escape(incident)) }));
  await page.getByRole('button', { name: 'Export evidence' }).click();
  await status(page).waitFor();
  const bundles = page.getByRole('table', { name: 'Bundles' });
  const bundleRow = bundles.getByRole('row').filter({ hasText: 'verified' }).first();
  await bundleRow.waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: WAIT }),
    bundleRow.getByRole('link', { name: 'Download' }).click(),
  ]);
  const bundle = join(downloads, download.suggestedFilename());
  await download.saveAs(bundle);
  result.bundle = bundle;
  await shot(page, 'evidence');
  print('evidence', { bundle });

  // ---- metrics and ledger -------------------------------------------------------------------
  await go(page, '/ui/metrics');
  await heading(page, 'Metrics').waitFor();
  for (const h of ['Time to detect, contain and restore', 'Incidents by severity', 'Incidents by rule', 'Drill scores']) {
    check(await page.getByRole('heading', { level: 2, name: h }).count() === 1, `metrics section ${h}`);
  }
  check(await page.getByRole('img').count() >= 1, 'charts');
  await shot(page, 'metrics');
  await go(page, '/ui/ledger');
  await heading(page, 'Ledger').waitFor();
  await page.getByRole('button', { name: 'Verify now' }).click();
  await status(page).filter({ hasText: /^Ledger verified: \d+ events/ }).waitFor();
  await shot(page, 'ledger');
  await go(page, '/ui/');
  await heading(page, 'Overview').waitFor();
  await shot(page, 'overview');
  // The operator's other write forms, for the auditor to forge below.
  const writes = [forged];
  for (const p of [`/ui/rollback?incident=${encodeURIComponent(incident)}`]) {
    await go(page, p);
    writes.push(...(await postForms(page)).filter((f) => !AUDITOR_FORMS.includes(new URL(f.action).pathname)));
  }
  check(writes.length >= 2, `the operator's write forms: ${JSON.stringify(writes)}`);
  // A POST without the session's CSRF value is refused even for an operator.
  const noCsrf = await page.request.post(forged.action, {
    form: { ...forged.fields, csrf: 'not-the-value', reason: 'no csrf' }, maxRedirects: 0,
  });
  check(noCsrf.status() === 403, `operator POST with a wrong CSRF value → 403, got ${noCsrf.status()}`);
  print('operator_pages');

  // ---- the auditor ---------------------------------------------------------------------------
  const auditor = await newPage();
  await signIn(auditor, env('AUDITOR_TOKEN'));
  await heading(auditor, 'Overview').waitFor();
  check(await auditor.getByText('Read-only: signed in as an auditor').count() >= 1, 'read-only notice');
  const pages = ['/ui/', '/ui/incidents', `/ui/incidents/${incident}`, '/ui/agents', '/ui/approvals',
    `/ui/rollback?incident=${encodeURIComponent(incident)}`, '/ui/evidence', '/ui/metrics', '/ui/ledger'];
  const seen = {};
  for (const p of pages) {
    await go(auditor, p);
    await auditor.getByRole('heading', { level: 1 }).waitFor();
    const names = await auditor.getByRole('button').evaluateAll((bs) => bs.map((b) => b.textContent.trim()));
    const writes = names.filter((n) => WRITE_CONTROLS.includes(n) && n !== 'Plan');
    check(writes.length === 0, `${p}: the auditor sees write controls ${writes}`);
    seen[p] = names;
  }
  await go(auditor, '/ui/agents');
  await shot(auditor, 'auditor');
  // What changes nothing, the auditor does: verify the ledger, export the incident's evidence.
  await go(auditor, '/ui/ledger');
  await auditor.getByRole('button', { name: 'Verify now' }).click();
  await status(auditor).filter({ hasText: /^Ledger verified: \d+ events/ }).waitFor();
  await go(auditor, '/ui/evidence');
  await auditor.getByLabel('Incident').selectOption({ value: incident }).catch(async () =>
    auditor.getByLabel('Incident').selectOption({ label: new RegExp(escape(incident)) }));
  await auditor.getByRole('button', { name: 'Export evidence' }).click();
  await status(auditor).filter({ hasText: /^Exported .*verified/ }).waitFor();
  // Forged writes: the auditor's own cookie and its valid CSRF value in the operator's forms
  // (release the agent, apply the rollback).
  const csrf = await auditor.locator('input[name=csrf]').first().inputValue();
  const refused = {};
  for (const f of writes) {
    const r = await auditor.request.post(f.action, {
      form: { ...f.fields, csrf, reason: 'forged by the auditor' }, maxRedirects: 0,
    });
    refused[new URL(f.action).pathname] = r.status();
    check(r.status() === 403, `auditor's forged POST ${f.action} → 403, got ${r.status()}`);
  }
  print('auditor', { buttons: seen, forged: refused });

  print('done', result);
} finally {
  clearTimeout(watchdog);
  await notes?.close().catch(() => {});
  await shell?.close().catch(() => {});
  await browser.close();
}
