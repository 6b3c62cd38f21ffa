// The official TypeScript SDK client over Streamable HTTP: initialize -> tools/list -> tools/call -> resources/read.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createHash } from "node:crypto";

const url = process.argv[2];
const client = new Client({ name: "skillport-ts-test", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const tools = await client.listTools();
const listed = await client.callTool({ name: "list_plugins", arguments: { surface: "all" } });
if (listed.isError) throw new Error(JSON.stringify(listed));
const logo = await client.readResource({ uri: "skill://example/brand-kit/brand-voice/assets/logo.png" });
const bytes = Buffer.from(logo.contents[0].blob, "base64");
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name),
  total: listed.structuredContent.total,
  logoSha256: createHash("sha256").update(bytes).digest("hex"),
}));
await client.close();
