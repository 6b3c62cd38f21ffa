// Drives a stdio MCP server command (here: mcp-remote, the bridge Claude Desktop runs) with the official
// TypeScript SDK's stdio client: initialize -> tools/list -> tools/call -> resources/read.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args, stderr: "inherit", env: process.env });
const client = new Client({ name: "claude-desktop-like", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const listed = await client.callTool({ name: "list_plugins", arguments: { surface: "all" } });
const text = await client.readResource({ uri: "skill://example/writing-tools/conventional-commits/references/types.md" });
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name),
  total: listed.structuredContent.total,
  text: text.contents[0].text,
}));
await client.close();
