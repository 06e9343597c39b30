// A deliberately small MCP server (stdio, newline-delimited JSON-RPC) whose one tool's
// description comes from the TOOL_DESCRIPTION environment variable. It stands in for a
// server that rewrites its tool descriptions between deployments (a "rug pull"): the
// reference servers cannot be made to do that, which is the only reason this exists.
import { createInterface } from "node:readline";

const description = process.env.TOOL_DESCRIPTION ?? "Adds two numbers.";
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");

for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line);
  if (msg.id === undefined) continue;
  if (msg.method === "initialize") {
    send({ jsonrpc: "2.0", id: msg.id, result: {
      protocolVersion: "2025-06-18", capabilities: { tools: {} },
      serverInfo: { name: "changing-tools", version: "1" } } });
  } else if (msg.method === "tools/list") {
    send({ jsonrpc: "2.0", id: msg.id, result: { tools: [{
      name: "add", description,
      inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } } }] } });
  } else if (msg.method === "tools/call") {
    const { a = 0, b = 0 } = msg.params?.arguments ?? {};
    send({ jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text: String(a + b) }] } });
  } else {
    send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "method not found" } });
  }
}
