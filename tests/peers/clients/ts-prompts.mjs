// The official TypeScript SDK client over Streamable HTTP: initialize -> prompts/list (every page) -> prompts/get.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, name] = process.argv.slice(2);
const client = new Client({ name: "skillport-ts-test", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const names = [];
let cursor;
do {
  const page = await client.listPrompts(cursor ? { cursor } : {});
  names.push(...page.prompts.map((p) => p.name));
  cursor = page.nextCursor;
} while (cursor);
const got = await client.getPrompt({ name, arguments: { request: "Make it shorter" } });
const messages = got.messages;
console.log(JSON.stringify({
  capability: Boolean(client.getServerCapabilities()?.prompts),
  names,
  first: messages[0].content.text,
  last: messages[messages.length - 1].content.text,
  kinds: [...new Set(messages.map((m) => m.content.type))],
}));
await client.close();
