// Every skill as an MCP prompt, with Skillport's names, titles, descriptions, argument and rendering
// (src/mcp/prompts/): SKILL.md inline, the other files linked as skill:// resources, then, smallest first, text files
// embedded while the whole result stays within BUDGET characters; the user's optional `request` last.
import { createHash } from "node:crypto";
import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { fileBytes, plugins, qualified, type PluginRef, type Skill } from "../../peer/src/catalogue";
import { asText, sniff, textMime } from "../../peer/src/tools";
import { skillUri } from "./skills";

const BUDGET = 150_000;
const MAX_NAME = 128;
const HASH_HEX = 24;

/** `marketplace.plugin.skill`, each part with every byte but `A-Z a-z 0-9 -` written `_XX`; long names hashed. */
export function promptName(m: string, p: string, s: string): string {
  const part = (x: string) => Array.from(new TextEncoder().encode(x), (b) =>
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d
      ? String.fromCharCode(b) : "_" + b.toString(16).toUpperCase().padStart(2, "0")).join("");
  const name = `${part(m)}.${part(p)}.${part(s)}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash("sha256").update(name).digest("hex");
  return `${name.slice(0, MAX_NAME - 2 - HASH_HEX)}__${hash.slice(0, HASH_HEX)}`;
}

interface Prompt { name: string; r: PluginRef; s: Skill }

// The prompts, computed once per isolate from the embedded catalogue (each request's server registers them).
const PROMPTS: Prompt[] = [];
{
  const seen = new Set<string>();
  for (const r of plugins()) {
    if (r.p.status !== "servable") continue;
    for (const s of r.p.skills) {
      if (!s.description?.trim()) continue;
      const name = promptName(r.m.id, r.p.name, s.name);
      if (seen.has(name)) continue;
      seen.add(name);
      PROMPTS.push({ name, r, s });
    }
  }
}

const argsSchema = z.object({
  request: z.string().optional().describe(
    "What you want done with this skill (optional: without it, the skill is loaded and Claude asks)"),
}).strict();

const chars = (v: unknown) => JSON.stringify(v).length;
const textMessage = (text: string) => ({ role: "user" as const, content: { type: "text" as const, text } });

function render(pr: Prompt, request: string | undefined) {
  const { r, s } = pr;
  const uri = (path: string) => skillUri(r.m.id, r.p.name, s.name, path);
  const read = (path: string) => fileBytes(r.m, s.path ? `${s.path}/${path}` : path);
  const others = s.files.filter((f) => f.path !== "SKILL.md");
  const intro = (inline: boolean) => {
    let t = `Use the skill \`${s.name}\` (from the plugin ${qualified(r)}) for what follows.`;
    t += inline ? " Its instructions are its SKILL.md, below."
      : ` Its instructions are its SKILL.md, which is not included here: read it first, at ${uri("SKILL.md")}.`;
    if (others.length) {
      t += " Its other files follow as resources: some embedded in full, the others as skill:// links to read "
        + "(resources/read) when the instructions call for them.";
    }
    return t;
  };
  const md = read("SKILL.md");
  const mdText = md ? asText(md) : undefined;
  let files: any[] = [];
  let texts: [number, number, string][] = [];
  others.forEach((f, i) => {
    const b = read(f.path);
    const text = b ? asText(b) : undefined;
    const mimeType = !b || text !== undefined ? textMime(f.path) : sniff(b);
    files.push({ role: "user", content: { type: "resource_link", uri: uri(f.path), name: `${s.name}/${f.path}`, mimeType, size: f.size } });
    if (text !== undefined) texts.push([f.size, i, text]);
  });
  const closing = request?.trim() ? [textMessage(`What I want done with this skill:\n\n${request}`)] : [];
  const assemble = (first: any, fs: any[]) => ({ description: s.description ?? "", messages: [first, ...fs, ...closing] });
  let first = textMessage(intro(false));
  if (mdText !== undefined) {
    const inline = textMessage(`${intro(true)}\n\n${mdText}`);
    if (chars(assemble(inline, [])) <= BUDGET) first = inline;
  }
  let total = chars(assemble(first, []));
  const sizes = files.map((f) => chars(f) + 1);
  if (total + sizes.reduce((a, b) => a + b, 0) > BUDGET) {
    const note = (left: number) => textMessage(
      `${left} more files of this skill are not listed here: resources/directory/read ${uri("")} lists them all.`);
    let kept = 0;
    while (kept < files.length && total + sizes[kept] + chars(note(files.length - kept - 1)) < BUDGET) total += sizes[kept++];
    const n = note(files.length - kept);
    total += chars(n) + 1;
    files = [...files.slice(0, kept), n];
    texts = texts.filter(([, i]) => i < kept);
  }
  texts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [size, i, text] of texts) {
    if (size / 4 > BUDGET - total) break;
    const candidate = { role: "user", content: { type: "resource", resource: { uri: uri(others[i].path), mimeType: textMime(others[i].path), text } } };
    const grown = total - chars(files[i]) + chars(candidate);
    if (grown <= BUDGET) {
      files[i] = candidate;
      total = grown;
    }
  }
  return assemble(first, files);
}

export function registerPrompts(server: McpServer) {
  for (const pr of PROMPTS) {
    server.registerPrompt(pr.name, { title: `${pr.s.name} (${qualified(pr.r)})`, description: pr.s.description, argsSchema },
      ({ request }) => render(pr, request) as any);
  }
}
