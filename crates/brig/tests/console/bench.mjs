// The console's incident page with a large timeline, measured in real headless Chromium
// (playwright-core from target/npm), run by the `console_benchmark*` tests in
// crates/brig/tests/console.rs: time to first render and the page's memory, for the big
// incident and for a baseline incident measured in the same run.
//
// For each incident, RUNS loads of /ui/incidents/ID, each in a fresh tab (signed in once;
// assets cached after the first load, as for a responder who has the console open). Per load:
//   table_ms     navigation start → the timeline table (<caption>Events</caption>) is in the
//                document, seen by a MutationObserver installed before the page's first byte
//   painted_ms   → the next animation frame after that (the table drawn)
//   ttfb_ms, dom_content_loaded_ms, load_ms, fcp_ms: the browser's own timings; of the
//                TTFB, request_start_ms (until the request was sent: a connection found)
//                and server_ms (request sent → first byte of the answer)
//   html_bytes   the document's decoded size
//   questions_ms → a large incident's commander's questions in (fetched after load; every
//                load waits for them, so one load's work never overlaps the next)
//   js_heap_used / js_heap_total / nodes / layout_ms / script_ms: Chromium's
//                Performance.getMetrics over CDP, one second after load (the live updates
//                connected) and after a garbage collection (HeapProfiler.collectGarbage)
// Then the next page of the timeline (the "Older events"/"Newer events" link) and the first
// bar of the overview (zoom), as the first load linked them, timed the same way.
//
// Environment: BASE, OPERATOR_TOKEN, INCIDENTS (JSON: {"label": "INC-…", …}), RUNS (default 5),
// NPM_DIR, ARTIFACTS (optional: screenshots). Prints one JSON object: per label, per-run
// figures and their medians.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('BASE');
const incidents = JSON.parse(env('INCIDENTS'));
const runs = Number(process.env.RUNS ?? 5);
const artifacts = process.env.ARTIFACTS;
const { chromium } = await import(
  pathToFileURL(join(env('NPM_DIR'), 'node_modules/playwright-core/index.mjs')).href);

const watchdog = setTimeout(() => {
  console.error('bench: did not finish within 840 s');
  process.exit(3);
}, 840_000);
const WAIT = 120_000; // a 100k-event page in a debug build may be slow, but never hangs

const browser = await chromium.launch({
  executablePath: process.env.BRIG_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 30_000,
});

// Installed in every document before its first byte: when the timeline table appears.
const OBSERVE = () => {
  const seen = () => [...document.querySelectorAll('table > caption')]
    .some((c) => c.textContent.trim() === 'Events');
  const mark = () => {
    window.__tableAt = performance.now();
    requestAnimationFrame(() => { window.__paintedAt = performance.now(); });
  };
  const obs = new MutationObserver(() => {
    if (window.__tableAt === undefined && seen()) { mark(); obs.disconnect(); }
  });
  obs.observe(document, { childList: true, subtree: true });
};

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

async function measure(page, cdp) {
  await page.waitForFunction(() => window.__paintedAt !== undefined, null, { timeout: WAIT });
  await page.waitForLoadState('load', { timeout: WAIT });
  // What the page fetches after load (a large incident's commander's questions) must be
  // in before the next load starts, or the server would still be answering it then.
  await page.waitForFunction(() => !document.querySelector('[data-load], [aria-busy="true"]'),
    null, { timeout: WAIT });
  await page.waitForTimeout(1000);
  const t = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      table_ms: window.__tableAt,
      painted_ms: window.__paintedAt,
      ttfb_ms: n.responseStart,
      // Of which: waiting for a connection in the browser, then the server's answer.
      request_start_ms: n.requestStart,
      server_ms: n.responseStart - n.requestStart,
      dom_content_loaded_ms: n.domContentLoadedEventEnd,
      load_ms: n.loadEventEnd,
      fcp_ms: fcp ? fcp.startTime : null,
      html_bytes: n.decodedBodySize,
      // The commander's questions, fetched after load when the incident is large.
      questions_ms: performance.getEntriesByType('resource')
        .find((r) => r.name.includes('/questions'))?.responseEnd ?? null,
      rows: document.querySelectorAll('table summary').length,
    };
  });
  // What the page holds, not what earlier documents left for the collector.
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return {
    ...t,
    js_heap_used: m.JSHeapUsedSize,
    js_heap_total: m.JSHeapTotalSize,
    nodes: m.Nodes,
    layout_ms: m.LayoutDuration * 1000,
    script_ms: m.ScriptDuration * 1000,
  };
}

const round = (v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v);
const summarize = (list) => Object.fromEntries(
  Object.keys(list[0]).map((k) => [k, round(median(list.map((r) => r[k])))]));

const out = { runs, incidents: {} };
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  await context.addInitScript(OBSERVE);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${base}/ui/login`);
  await page.getByLabel('Token').fill(env('OPERATOR_TOKEN'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

  await page.close();
  // Each load in a tab of its own (the session's cookie and cached assets shared), so its
  // memory is its own.
  const fresh = async (url) => {
    const p = await context.newPage();
    p.setDefaultTimeout(WAIT);
    const c = await context.newCDPSession(p);
    await c.send('Performance.enable');
    await p.goto(url, { waitUntil: 'commit', timeout: WAIT });
    const m = await measure(p, c);
    return { p, m };
  };
  for (const [label, id] of Object.entries(incidents)) {
    const first = [];
    for (let i = 0; i < runs; i++) {
      const { p, m } = await fresh(`${base}/ui/incidents/${id}`);
      first.push(m);
      if (artifacts && i === runs - 1) {
        await p.screenshot({ path: join(artifacts, `console-bench-${label}.png`) });
      }
      await p.close();
    }
    // The next page of the timeline, and a zoom into the overview's first bar.
    const next = [];
    const zoom = [];
    // The links as the first load rendered them, each followed in a fresh tab.
    const { p: probe } = await fresh(`${base}/ui/incidents/${id}`);
    const href = async (l) => ((await l.count()) ? new URL(await l.first().getAttribute('href'), probe.url()).href : null);
    const nextUrl = await href(probe.getByRole('link', { name: /^(Older|Newer) events$/ }));
    const zoomUrl = await href(probe.getByRole('link', { name: /^Zoom to / }));
    await probe.close();
    for (let i = 0; i < runs; i++) {
      for (const [url, into] of [[nextUrl, next], [zoomUrl, zoom]]) {
        if (!url) continue;
        const { p, m } = await fresh(url);
        into.push(m);
        await p.close();
      }
    }
    out.incidents[label] = {
      id,
      first_render: { median: summarize(first), each: first },
      next_page: next.length ? { median: summarize(next), each: next } : null,
      zoom: zoom.length ? { median: summarize(zoom), each: zoom } : null,
    };
  }
  out.chromium = browser.version();
  console.log(JSON.stringify(out));
} finally {
  clearTimeout(watchdog);
  await browser.close();
}
