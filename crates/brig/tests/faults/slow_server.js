// A slow MCP server, written for the fault tests: it stands in for a slow upstream because
// the reference servers cannot be slowed down. `node slow_server.js PID_FILE DELAY_MS`
// writes its pid, answers `initialize` and `tools/list` at once, `tools/call` of `slow`
// after DELAY_MS and of `echo` at once (so a slow call shows whether it blocks others).
const fs = require('fs');
const readline = require('readline');
fs.writeFileSync(process.argv[2], String(process.pid));
const delay = Number(process.argv[3]);
const out = (s) => fs.writeSync(1, s + '\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch (e) { return; }
  if (m === null || typeof m !== 'object' || m.id === undefined) return;
  const ok = (result) => out(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
  const text = (t) => ok({ content: [{ type: 'text', text: t }] });
  if (m.method === 'initialize') {
    return ok({ protocolVersion: '2025-06-18', capabilities: { tools: {} },
                serverInfo: { name: 'slow-server', version: '0' } });
  }
  if (m.method === 'tools/list') {
    return ok({ tools: ['slow', 'echo'].map((name) => ({ name, inputSchema: { type: 'object' } })) });
  }
  if (m.method !== 'tools/call') return;
  if (m.params && m.params.name === 'slow') return setTimeout(() => text('slow answer'), delay);
  return text('echo');
});
