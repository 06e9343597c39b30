// An agent's MCP client as a process of its own, so that the test can kill it with a call
// in flight: `node agent.js PID_FILE CALL_JSON -- PROXY_COMMAND…` starts the proxy with
// pipes, writes the proxy's pid to PID_FILE, initializes, sends the `tools/call` CALL_JSON
// (params), prints `sent` and then waits, never reading the answer, until it is killed.
const fs = require('fs');
const { spawn } = require('child_process');
const [pidFile, call] = process.argv.slice(2, 4);
const cmd = process.argv.slice(process.argv.indexOf('--') + 1);
const proxy = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
fs.writeFileSync(pidFile, String(proxy.pid));
const send = (m) => proxy.stdin.write(JSON.stringify(m) + '\n');
let buf = '';
proxy.stdout.on('data', (d) => {
  buf += d;
  if (buf.includes('"id":1') && !buf.includes('sent')) {
    buf += 'sent';
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: JSON.parse(call) });
    // Stop reading: the answer, if any, has nowhere to go.
    proxy.stdout.pause();
    console.log('sent');
  }
});
send({ jsonrpc: '2.0', id: 1, method: 'initialize',
       params: { protocolVersion: '2025-06-18', capabilities: {},
                 clientInfo: { name: 'dying-agent', version: '1' } } });
setInterval(() => {}, 1000);
