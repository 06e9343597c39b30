// An independent MCP client for the Streamable HTTP proxy test (crates/brig/tests/mcp_http.rs):
// the official TypeScript SDK, connecting to the URL in BRIG_URL. It prints one JSON object
// with what it saw; the Rust test asserts on it and on the ledger.
//
// Usage: NODE_PATH=… BRIG_URL=http://127.0.0.1:PORT/mcp node ts_http_client.mjs
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Resolve the SDK from target/npm (NODE_PATH), not from a node_modules next to this file.
const require = createRequire(import.meta.url);
const sdk = (sub) =>
  import(pathToFileURL(require.resolve(`@modelcontextprotocol/sdk/${sub}`, {
    paths: [process.env.NODE_PATH],
  })).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");

const out = {};
const transport = new StreamableHTTPClientTransport(new URL(process.env.BRIG_URL));
const client = new Client({ name: "brig-ts-http-test", version: "1.0.0" });
await client.connect(transport);
out.sessionId = transport.sessionId ?? null;

out.tools = (await client.listTools()).tools.map((t) => t.name);

const echo = await client.callTool({ name: "echo", arguments: { message: "hello over http" } });
out.echo = { isError: echo.isError ?? false, text: echo.content?.[0]?.text ?? "" };

// Progress notifications stream back over the call's SSE response.
const progress = [];
const long = await client.callTool(
  { name: "trigger-long-running-operation", arguments: { duration: 0.6, steps: 3 } },
  undefined,
  { onprogress: (p) => progress.push(p.progress) },
);
out.long = { isError: long.isError ?? false, text: long.content?.[0]?.text ?? "", progress };

// Cancellation: the SDK sends notifications/cancelled for an aborted call.
const abort = new AbortController();
setTimeout(() => abort.abort("changed my mind"), 300);
try {
  await client.callTool(
    { name: "trigger-long-running-operation", arguments: { duration: 5, steps: 5 } },
    undefined,
    { signal: abort.signal },
  );
  out.cancelled = false;
} catch (e) {
  out.cancelled = true;
}

const denied = await client.callTool({ name: "get-env", arguments: {} });
out.denied = { isError: denied.isError ?? false, text: denied.content?.[0]?.text ?? "" };

const after = await client.callTool({ name: "echo", arguments: { message: "still fine" } });
out.after = { isError: after.isError ?? false, text: after.content?.[0]?.text ?? "" };

await transport.terminateSession();
await client.close();
console.log(JSON.stringify(out));
