#!/usr/bin/env node
// A second, independent MCP client for CI: the official TypeScript SDK
// against Tandem's /mcp (see cmd/tandem/mcp_ts_test.go).
//
//   node ci/mcp-ts/client.mjs URL KEY TOOL
//
// Connects to URL (Streamable HTTP) with "Authorization: Bearer KEY", lists
// the tools, calls TOOL with {} as its arguments, and prints one JSON object
// on stdout:
//
//   {"tools":[names...],"result":{"isError":bool,"text":"..."}}
//
// then ends the session (DELETE) and exits 0. The negotiated protocol version
// goes to stderr. Any failure: the error on stderr and exit 1; the server
// refusing the key when connecting (HTTP 401): "unauthorized" and exit 2.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";

function fail(code, message) {
  process.stderr.write(message + "\n");
  process.exit(code);
}

const [url, key, tool] = process.argv.slice(2);
if (!url || !key || !tool) {
  fail(1, "usage: node client.mjs URL KEY TOOL");
}

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: "Bearer " + key } },
});
const client = new Client({ name: "tandem-ci-ts", version: "1" });

try {
  await client.connect(transport);
} catch (err) {
  if (err instanceof StreamableHTTPError && err.code === 401) {
    fail(2, "unauthorized: " + err.message);
  }
  fail(1, "connect: " + (err?.stack ?? err));
}

try {
  const server = client.getServerVersion();
  process.stderr.write(
    `connected to ${server?.name ?? "?"} ${server?.version ?? "?"}, protocol version ${transport.protocolVersion}\n`,
  );

  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    for (const t of page.tools) names.push(t.name);
    cursor = page.nextCursor;
  } while (cursor);

  const res = await client.callTool({ name: tool, arguments: {} });
  const text = (res.content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");

  await transport.terminateSession();
  await client.close();
  process.stdout.write(
    JSON.stringify({ tools: names, result: { isError: res.isError === true, text } }) + "\n",
  );
  process.exit(0);
} catch (err) {
  fail(1, String(err?.stack ?? err));
}
