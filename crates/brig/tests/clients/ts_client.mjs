// The official TypeScript MCP SDK (`@modelcontextprotocol/sdk`, pinned by scripts/test.sh) as
// an agent's client in front of `brig mcp-proxy`, run by crates/brig/tests/mcp_clients.rs.
//
// Plays the scenario of that test and prints one JSON object per step on stdout; the Rust
// test asserts on them, on the disk and on the ledger. Operator actions (approve, contain,
// release) go through the real `brig` CLI. Exits non-zero on anything unexpected. The
// arguments of every call must match `Scenario::calls` in the Rust test.
//
// Environment: BRIG (the brig binary), BRIG_DATA (data directory), WORKSPACE (the served
// directory), SERVER_BIN (the filesystem server's entry point), POLICY (policy directory),
// AGENT, NPM_DIR (target/npm, where the SDK is installed).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const [brig, data, ws, serverBin, policy, agent, npm] = [
  'BRIG', 'BRIG_DATA', 'WORKSPACE', 'SERVER_BIN', 'POLICY', 'AGENT', 'NPM_DIR',
].map(env);

// The SDK's ESM entry points, by file URL: this script does not live under target/npm, so
// bare specifiers would not resolve (and NODE_PATH does not apply to ESM).
const sdk = join(npm, 'node_modules/@modelcontextprotocol/sdk/dist/esm');
const { Client } = await import(pathToFileURL(join(sdk, 'client/index.js')).href);
const { StdioClientTransport } = await import(pathToFileURL(join(sdk, 'client/stdio.js')).href);

const print = (step, fields) => console.log(JSON.stringify({ step, ...fields }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (...args) =>
  execFileSync(brig, [...args, '--data', data], { encoding: 'utf8', timeout: 20_000 });
/** A tool result as the steps report it. */
const outcome = (r) => ({
  is_error: r.isError === true,
  text: (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n'),
});
/** The one pending approval, once `brig approvals list --json` shows it. */
async function pendingApproval() {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    await sleep(50); // lets the request out and the event loop run between CLI calls
    const lines = cli('approvals', 'list', '--json').split('\n').filter(Boolean);
    const pending = lines.map((l) => JSON.parse(l)).filter((a) => a.status === 'pending');
    if (pending.length > 1) throw new Error(`several pending: ${JSON.stringify(pending)}`);
    if (pending.length === 1) return pending[0];
  }
  throw new Error('no pending approval appeared');
}
async function containedByPlaybook() {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    await sleep(50);
    const lines = cli('incidents', 'list', '--json').split('\n');
    if (lines.some((l) => l.includes(agent) && l.includes('contained'))) return;
  }
  throw new Error('the playbook did not contain the agent');
}
// Every request bounded (the SDK's default is 60 s); a held call waits for the operator.
const opts = { timeout: 20_000 };

const transport = new StdioClientTransport({
  command: brig,
  args: [
    'mcp-proxy', '--data', data, '--agent', agent, '--workflow', 'repo-maintenance',
    '--task', 'Tidy the notes in the workspace', '--policy', policy,
    '--approval-timeout', '30', '--', 'node', serverBin, ws,
  ],
  stderr: 'inherit',
});
const client = new Client({ name: 'brig-ts-sdk-test', version: '1.0.0' });
const watchdog = setTimeout(() => {
  console.error('ts_client: the scenario did not finish within 60 s');
  process.exit(3);
}, 60_000);

try {
  await client.connect(transport, opts);
  print('initialize', { server: client.getServerVersion()?.name ?? null });

  const { tools } = await client.listTools({}, opts);
  print('tools/list', { tools: tools.map((t) => ({ name: t.name, description: t.description ?? '' })) });

  const call = (name, args) => client.callTool({ name, arguments: args }, undefined, opts);

  print('read', outcome(await call('read_text_file', { path: join(ws, 'notes.md') })));

  const secret = join(ws, '.env');
  const r = await call('write_file', { path: secret, content: 'TOKEN=stolen\n' });
  print('write_secret', { ...outcome(r), on_disk: existsSync(secret) });

  const key = join(data, 'keys/ledger.key');
  print('write_brig_key', outcome(await call('write_file', { path: key, content: 'x' })));
  // Going for Brig's own key is a critical tampering alert: the playbook contains the
  // agent. The operator has looked, and releases it.
  await containedByPlaybook();
  cli('release', '--agent', agent, '--reason', 'the key write was part of the test');

  // Held for a human: the call is in flight while the operator approves it with the CLI.
  const ci = join(ws, '.github/workflows/ci.yml');
  const held = call('write_file', { path: ci, content: 'on: push\n' });
  const pending = await pendingApproval();
  const ranBeforeApproval = existsSync(ci);
  cli('approvals', 'approve', pending.id, '--reason', 'reviewed the CI change');
  print('held', { approval: pending, ran_before_approval: ranBeforeApproval, ...outcome(await held) });

  // Kill switch: the call made right after `brig contain` exits is refused.
  cli('contain', '--agent', agent, '--reason', 'incident drill: stop the agent');
  const contained = performance.now();
  const denied = await call('read_text_file', { path: join(ws, 'notes.md') });
  const latencyMs = performance.now() - contained;
  print('contained', { ...outcome(denied), latency_ms: latencyMs });

  cli('release', '--agent', agent, '--reason', 'drill over');
  const after = join(ws, 'after-release.md');
  print('released', outcome(await call('write_file', { path: after, content: 'back at work\n' })));

  // A held call the agent leaves behind: it closes the session while the call waits.
  const abandoned = call('write_file', { path: ci, content: 'on: []\n' }).catch(() => null);
  const left = await pendingApproval();
  await client.close();
  await abandoned;
  print('abandoned', { approval: left });
} finally {
  clearTimeout(watchdog);
  await client.close();
}
