// The four catalogue tools with Skillport's names, argument names and result shapes (src/mcp/tools/), written the
// way a TypeScript MCP server usually is: McpServer.registerTool with zod schemas.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { zipSync } from "fflate";
import { z } from "zod";
import {
  cursor, detail, fileBytes, find, matches, parseSurface, plugins, qualified, summary, version,
  type Filter, type PluginRef, type Skill, type Surface,
} from "./catalogue";

export const MAX_RESULT_CHARS = 100_000;
const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;
const DOWNLOAD_TTL_SECONDS = 900;

export interface ToolEnv { PUBLIC_URL?: string; DOWNLOAD_KEY?: string }

const annotations = (title: string) =>
  ({ title, readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });

type ToolResult = { content: any[]; structuredContent?: Record<string, unknown>; isError: boolean };

function ok(structured: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured, isError: false };
}

function fail(message: string): ToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

const nonEmpty = (s: unknown) => (typeof s === "string" && s.trim() ? s : undefined);

// --- text or binary, by content (src/catalogue/content.rs) -----------------------------------------------------------

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function asText(b: Uint8Array): string | undefined {
  let text: string;
  try {
    text = strict.decode(b);
  } catch {
    return undefined;
  }
  let chars = 0, controls = 0;
  for (const c of text) {
    chars++;
    const code = c.codePointAt(0)!;
    if (code === 0) return undefined;
    if (c === "\t" || c === "\n" || c === "\r" || c === "\f") continue;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) controls++;
  }
  return controls <= Math.ceil(chars / 100) ? text : undefined;
}

export function sniff(b: Uint8Array): string {
  const starts = (...m: number[]) => m.every((x, i) => b[i] === x);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return "application/pdf";
  if (starts(0x50, 0x4b)) return "application/zip";
  if (starts(0x1f, 0x8b)) return "application/gzip";
  return "application/octet-stream";
}

export function textMime(path: string): string {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  return ({ md: "text/markdown", markdown: "text/markdown", json: "application/json", txt: "text/plain",
    py: "text/x-python", js: "text/javascript", ts: "text/typescript", sh: "text/x-shellscript", html: "text/html",
    css: "text/css", csv: "text/csv", yaml: "application/yaml", yml: "application/yaml", xml: "application/xml",
    toml: "application/toml" } as Record<string, string>)[ext] ?? "text/plain";
}

export function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

const b64url = (b: Uint8Array) => base64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function fromB64url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// --- .skill packages and signed download links (src/catalogue/package.rs, src/download/) ---------------------------

const folderOf = (s: Skill) => s.path.split("/").pop() || s.name;

export function skillZip(r: PluginRef, s: Skill): Uint8Array {
  const folder = folderOf(s);
  const tree: Record<string, Uint8Array> = {};
  for (const f of s.files) tree[`${folder}/${f.path}`] = fileBytes(r.m, `${s.path}/${f.path}`)!;
  return zipSync(tree, { level: 6, mtime: new Date("1980-01-01T00:00:00Z") });
}

async function sha256(b: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return "sha256:" + Array.from(h, (x) => x.toString(16).padStart(2, "0")).join("");
}

let keyCache: { raw: string; key: CryptoKey } | undefined;
async function hmacKey(raw: string): Promise<CryptoKey> {
  if (keyCache?.raw !== raw) {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(raw), { name: "HMAC", hash: "SHA-256" },
      false, ["sign", "verify"]);
    keyCache = { raw, key };
  }
  return keyCache.key;
}

function claim(plugin: string, skill: string, digest: string, expires: number): Uint8Array {
  const enc = new TextEncoder();
  const parts = [plugin, skill, digest].map((x) => enc.encode(x));
  const out = new Uint8Array(parts.reduce((a, p) => a + 2 + p.length, 8));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint16(o, p.length);
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  view.setBigUint64(o, BigInt(expires));
  return out;
}

async function sign(env: ToolEnv, plugin: string, skill: string, digest: string, expires: number): Promise<string> {
  const payload = claim(plugin, skill, digest, expires);
  const tag = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(env.DOWNLOAD_KEY!), payload));
  return `${b64url(payload)}.${b64url(tag)}`;
}

/** GET /download/<token>: the skill's .skill file, when the token verifies and the skill is unchanged. */
export async function serveDownload(env: ToolEnv, token: string): Promise<Response> {
  const [p, t] = token.split(".");
  if (!p || !t || !env.DOWNLOAD_KEY) return new Response("this download link is not valid\n", { status: 403 });
  let payload: Uint8Array;
  try {
    payload = fromB64url(p);
    if (!(await crypto.subtle.verify("HMAC", await hmacKey(env.DOWNLOAD_KEY), fromB64url(t), payload))) throw 0;
  } catch {
    return new Response("this download link is not valid\n", { status: 403 });
  }
  const view = new DataView(payload.buffer);
  const dec = new TextDecoder();
  const fields: string[] = [];
  let o = 0;
  for (let i = 0; i < 3; i++) {
    const n = view.getUint16(o);
    fields.push(dec.decode(payload.subarray(o + 2, o + 2 + n)));
    o += 2 + n;
  }
  if (Number(view.getBigUint64(o)) <= Date.now() / 1000) return new Response("this download link has expired\n", { status: 410 });
  const found = find(fields[0]);
  const skill = "ok" in found ? found.ok.p.skills.find((s) => s.name === fields[1] && s.digest === fields[2]) : undefined;
  if (!("ok" in found) || !skill) return new Response("no longer served\n", { status: 410 });
  return new Response(skillZip(found.ok, skill), {
    headers: { "content-type": "application/zip", "content-disposition": `attachment; filename="${folderOf(skill)}.skill"` },
  });
}

// --- the tools -------------------------------------------------------------------------------------------------------

function resolveSkill(name: string): { ok: [PluginRef, Skill] } | { err: string } {
  name = name.trim();
  const servable = (r: PluginRef) => r.p.status === "servable" ? undefined
    : `\`${qualified(r)}\` is listed but its files cannot be served by this connector (${r.p.reason})`;
  const only = (r: PluginRef): { ok: [PluginRef, Skill] } | { err: string } => {
    if (r.p.skills.length === 1) return { ok: [r, r.p.skills[0]] };
    if (!r.p.skills.length) return { err: `plugin \`${qualified(r)}\` has no skills` };
    return { err: `plugin \`${qualified(r)}\` has ${r.p.skills.length} skills; name one of ${r.p.skills.map((s) => `${qualified(r)}/${s.name}`).join(", ")}` };
  };
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const f = find(name.slice(0, slash));
    if ("err" in f) return f;
    const why = servable(f.ok);
    if (why) return { err: why };
    const want = name.slice(slash + 1).trim().replace(/\/+$/, "");
    const s = f.ok.p.skills.find((x) => x.name === want) ?? f.ok.p.skills.find((x) => want && x.path.split("/").pop() === want);
    return s ? { ok: [f.ok, s] } : { err: `plugin \`${qualified(f.ok)}\` has no skill \`${want}\`` };
  }
  if (name.includes("@")) {
    const f = find(name);
    if ("err" in f) return f;
    return servable(f.ok) ? { err: servable(f.ok)! } : only(f.ok);
  }
  const hits: [PluginRef, Skill][] = [];
  for (const r of plugins()) for (const s of r.p.skills) if (s.name === name) hits.push([r, s]);
  if (hits.length === 1) return servable(hits[0][0]) ? { err: servable(hits[0][0])! } : { ok: hits[0] };
  if (hits.length > 1) return { err: `\`${name}\` is ambiguous: several plugins have a skill by that name; pass one of ${hits.map(([r, s]) => `${qualified(r)}/${s.name}`).join(", ")}` };
  const f = find(name);
  if ("err" in f) return { err: `no skill or plugin named \`${name}\` in the catalogue; call list_plugins (with \`query\`) to find the name, then pass \`plugin@marketplace/skill\`` };
  return servable(f.ok) ? { err: servable(f.ok)! } : only(f.ok);
}

function installText(surface: Surface | undefined, fileName: string, folder: string): string {
  const upload = `download ${fileName} from the download link (valid ${DOWNLOAD_TTL_SECONDS / 60} minutes) and upload it in Settings > Capabilities > Skills.`;
  const code = `copy the files into \`~/.claude/skills/${folder}/\`.`;
  const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
  if (surface === "claude-ai" || surface === "claude-desktop") return cap(upload);
  if (surface === "claude-code") return cap(code);
  return `Claude.ai or Claude Desktop: ${upload} Claude Code: ${code}`;
}

function semverNewer(a: string, b: string): number | undefined {
  const parse = (s: string) => {
    const m = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(s.trim());
    return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
  };
  const x = parse(a), y = parse(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? 1 : -1;
  return 0;
}

function checkOne(item: { name: string; version?: string; digest?: string }) {
  const base = { name: item.name, installedVersion: item.version?.trim() || null, latestVersion: null as string | null,
    installedDigest: item.digest?.trim() || null, latestDigest: null as string | null };
  const slash = item.name.indexOf("/");
  const pluginPart = (slash >= 0 ? item.name.slice(0, slash) : item.name).trim();
  const skillPart = slash >= 0 ? item.name.slice(slash + 1).trim() : "";
  let found = find(pluginPart);
  let skill: Skill | undefined;
  if ("err" in found && !pluginPart.includes("@") && !skillPart) {
    const r = resolveSkill(pluginPart);
    if ("ok" in r) [found, skill] = [{ ok: r.ok[0] }, r.ok[1]];
  }
  if ("err" in found) {
    const at = pluginPart.lastIndexOf("@");
    const detail = at >= 0 ? `marketplace \`${pluginPart.slice(at + 1)}\` no longer lists a plugin \`${pluginPart.slice(0, at)}\`` : found.err;
    return { ...base, status: "removed", reason: "not_in_catalogue", detail };
  }
  const r = found.ok;
  if (skillPart) {
    skill = r.p.skills.find((s) => s.name === skillPart);
    if (!skill) return { ...base, qualifiedName: `${qualified(r)}/${skillPart}`, status: "removed", reason: "skill_not_in_plugin", detail: `plugin \`${qualified(r)}\` no longer has a skill \`${skillPart}\`` };
  }
  const q = skill ? `${qualified(r)}/${skill.name}` : qualified(r);
  const latest = version(r) ?? r.m.revision;
  const digest = skill ? skill.digest : r.p.digest!;
  const out = { ...base, qualifiedName: q, latestVersion: latest, latestDigest: digest };
  const changed = base.installedDigest ? base.installedDigest.toLowerCase() !== digest : undefined;
  if (base.installedVersion) {
    const cmp = semverNewer(base.installedVersion, latest);
    if (cmp === 0 || base.installedVersion === latest) {
      return changed ? { ...out, status: "update_available", reason: "content", detail: `\`${q}\`: the content changed without a version bump (still ${latest})` }
        : { ...out, status: "up_to_date", detail: `\`${q}\`: up to date at ${latest}` };
    }
    return { ...out, status: "update_available", reason: "version", detail: cmp === 1 ? `\`${q}\`: version ${latest} is available (installed ${base.installedVersion})` : `\`${q}\`: the catalogue now serves version ${latest} (installed ${base.installedVersion})` };
  }
  if (changed !== undefined) {
    return changed ? { ...out, status: "update_available", reason: "content", detail: `\`${q}\`: the content changed` }
      : { ...out, status: "up_to_date", detail: `\`${q}\`: the content is unchanged` };
  }
  return { ...out, status: "unknown", reason: "nothing_to_compare", detail: `\`${q}\`: nothing to compare; give the installed version or digest` };
}

const surfaceEnum = z.enum(["claude-code", "claude-desktop", "claude-ai", "all"]);

export function registerTools(server: McpServer, env: ToolEnv, clientSurface: () => Surface | undefined) {
  const pluginSummary = z.object({
    name: z.string(), plugin: z.string(), marketplace: z.string(), description: z.string().optional(),
    version: z.string().optional(), category: z.string().optional(), surfaces: z.array(z.string()),
    status: z.enum(["servable", "not_servable", "invalid"]), reason: z.string().optional(), skills: z.array(z.object({}).passthrough()),
  }).passthrough();

  server.registerTool("list_plugins", {
    title: "List plugins",
    description: "Lists the plugins of this organisation's marketplaces, with their skills. Filter with `query` (words matched against names, descriptions and keywords), `category`, `tag`, `marketplace` or `surface`. Each result has a `name` to pass to get_plugin. Results are paged: when `nextCursor` is present, call again with `cursor` set to it.",
    inputSchema: {
      query: z.string().optional().describe("Free-text words; every word must match."),
      category: z.string().optional().describe("Exact category, e.g. `development`."),
      tag: z.string().optional().describe("A tag or keyword the plugin carries."),
      marketplace: z.string().optional().describe("Only this marketplace id."),
      surface: surfaceEnum.optional().describe("Only plugins available on this Claude surface. Defaults to the surface of the calling client when it is known; `all` lists every surface."),
      limit: z.number().int().min(1).max(MAX_PAGE).optional().describe("Page size (default 50)."),
      cursor: z.string().optional().describe("The `nextCursor` of the previous page."),
    },
    outputSchema: {
      plugins: z.array(pluginSummary), total: z.number().int(), nextCursor: z.string().optional(),
      surface: z.string().optional(), marketplaceErrors: z.array(z.object({}).passthrough()).optional(),
    },
    annotations: annotations("List plugins"),
  }, async (args) => {
    const surface = args.surface === "all" ? undefined
      : args.surface ? parseSurface(args.surface)?.[0] : clientSurface();
    const filter: Filter = { surface, marketplace: nonEmpty(args.marketplace), category: nonEmpty(args.category),
      tag: nonEmpty(args.tag), query: nonEmpty(args.query) };
    let offset = 0;
    if (args.cursor !== undefined) {
      const o = cursor.decode(args.cursor);
      if (o === undefined) return fail("invalid cursor: pass the `nextCursor` of the previous page unchanged");
      offset = o;
    }
    const limit = Math.min(args.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const all: PluginRef[] = [];
    for (const r of plugins()) if (matches(filter, r)) all.push(r);
    const page: Record<string, unknown>[] = [];
    let size = 0, next = offset;
    for (const r of all.slice(offset, offset + limit)) {
      const v = summary(r);
      const len = JSON.stringify(v).length;
      if (page.length && (size + len) * 2 > MAX_RESULT_CHARS) break;
      size += len;
      page.push(v);
      next++;
    }
    const out: Record<string, unknown> = { plugins: page, total: all.length };
    if (next < all.length) out.nextCursor = cursor.encode(next);
    if (surface) out.surface = surface;
    return ok(out);
  });

  server.registerTool("get_plugin", {
    title: "Get plugin details",
    description: "Everything about one plugin: description, version, author, where it comes from, and each skill with its description, frontmatter, files (path, size, sha256) and content digest. `name` is `plugin@marketplace` as list_plugins returns it, or the bare plugin name when only one marketplace has it.",
    inputSchema: { name: z.string().min(1).describe("`plugin@marketplace` or a unique plugin name.") },
    outputSchema: {
      name: z.string(), plugin: z.string(), marketplace: z.string(), status: z.string(), digest: z.string(),
      skills: z.array(z.object({}).passthrough()),
    },
    annotations: annotations("Get plugin details"),
  }, async ({ name }) => {
    const f = find(name);
    if ("err" in f) return fail(f.err);
    const v = detail(f.ok);
    if (JSON.stringify(v).length * 2 > MAX_RESULT_CHARS) return fail(`\`${qualified(f.ok)}\` is too large to describe in one result`);
    const res = ok(v);
    if (f.ok.p.status === "servable") {
      for (const s of f.ok.p.skills) {
        res.content.push({ type: "resource_link", uri: `skill://${f.ok.m.id}/${f.ok.p.name}/${s.name}/SKILL.md`,
          name: `${s.name}/SKILL.md`, mimeType: "text/markdown", description: s.description });
      }
    }
    return res;
  });

  const file = z.object({
    path: z.string(), size: z.number().int(), sha256: z.string(), encoding: z.enum(["utf-8", "base64"]),
    mimeType: z.string(), content: z.string().optional(), omitted: z.string().optional(),
  });
  server.registerTool("fetch_skill", {
    title: "Fetch a skill",
    description: "Gets one skill so the user can install it: every file of the skill folder (text inline as utf-8, binary files such as images as base64; `encoding` says which), a short-lived download link to the skill as a `.skill` file, and install instructions for the user's Claude surface. `name` is `plugin@marketplace/skill` (as get_plugin shows), `plugin/skill`, a bare skill name when only one plugin has it, or `plugin@marketplace` when that plugin has exactly one skill. Give the user the `install` text and the download link; keep `version` and `digest` to pass to check_updates later. Files too large to include have `omitted` instead of `content`: read them at the skill:// URI it names.",
    inputSchema: {
      name: z.string().min(1).describe("`plugin@marketplace/skill`, `plugin/skill`, a unique skill name, or a one-skill `plugin@marketplace`."),
      surface: z.enum(["claude-code", "claude-desktop", "claude-ai"]).optional().describe("Where the user will install the skill; decides the install instructions. Defaults to the calling client's surface."),
    },
    outputSchema: {
      name: z.string(), plugin: z.string(), marketplace: z.string(), version: z.string().optional(), digest: z.string(),
      files: z.array(file),
      download: z.object({ url: z.string(), expiresAt: z.string(), fileName: z.string(), sha256: z.string() }).optional(),
      downloadError: z.string().optional(), install: z.string(), resources: z.array(z.string()),
    },
    annotations: annotations("Fetch a skill"),
  }, async (args) => {
    const found = resolveSkill(args.name);
    if ("err" in found) return fail(found.err);
    const [r, skill] = found.ok;
    const surface = (args.surface as Surface | undefined) ?? clientSurface();
    const q = `${qualified(r)}/${skill.name}`;
    const uri = (path: string) => `skill://${r.m.id}/${r.p.name}/${skill.name}/${path}`;
    const files: Record<string, unknown>[] = [];
    for (const f of skill.files) {
      const b = fileBytes(r.m, `${skill.path}/${f.path}`);
      if (!b) return fail(`\`${q}\` lists \`${f.path}\`, which its marketplace copy does not hold`);
      const text = asText(b);
      files.push(text !== undefined
        ? { path: f.path, size: f.size, sha256: f.sha256, encoding: "utf-8", mimeType: textMime(f.path), content: text }
        : { path: f.path, size: f.size, sha256: f.sha256, encoding: "base64", mimeType: sniff(b), content: base64(b) });
    }
    const out: Record<string, unknown> = { name: q, plugin: qualified(r), marketplace: r.m.id };
    const v = version(r) ?? r.m.revision;
    if (v) out.version = v;
    out.digest = skill.digest;
    out.files = files;
    const fileName = `${folderOf(skill)}.skill`;
    if (env.DOWNLOAD_KEY) {
      const zip = skillZip(r, skill);
      const expires = Math.floor(Date.now() / 1000) + DOWNLOAD_TTL_SECONDS;
      const token = await sign(env, qualified(r), skill.name, skill.digest, expires);
      out.download = { url: `${env.PUBLIC_URL ?? "http://localhost:8787"}/download/${token}`,
        expiresAt: new Date(expires * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"), fileName, sha256: await sha256(zip) };
    } else {
      out.downloadError = "no download link: no download key is configured";
    }
    out.install = installText(surface, fileName, folderOf(skill));
    out.resources = skill.files.map((f) => uri(f.path));
    // Over the result limit, the largest contents give way (each still readable as a resource).
    while (JSON.stringify(out).length * 2 > MAX_RESULT_CHARS) {
      const withContent = files.filter((f) => f.content !== undefined);
      if (!withContent.length) return fail(`\`${q}\` has too many files to list in one result`);
      const largest = withContent.reduce((a, b) => ((a.content as string).length >= (b.content as string).length ? a : b));
      delete largest.content;
      largest.omitted = `too large; read it at ${uri(largest.path as string)}`;
    }
    const res = ok(out);
    res.content.push({ type: "resource_link", uri: uri("SKILL.md"), name: `${skill.name}/SKILL.md`,
      mimeType: "text/markdown", description: skill.description });
    return res;
  });

  server.registerTool("check_updates", {
    title: "Check installed skills for updates",
    description: "Tells whether plugins or skills the user installed are still current. Pass `installed`: one item per plugin or skill, with `name` as list_plugins or fetch_skill gave it (`plugin@marketplace` for a plugin, `plugin@marketplace/skill` for a skill) and the `version` and/or `digest` fetch_skill returned when it was installed (the digest catches changes made without a version bump). Each result has a `status`: `up_to_date`, `update_available` (fetch it again with fetch_skill), `removed` (no longer served; `detail` says why), `ambiguous` (retry with one of `candidates`) or `unknown` (nothing to compare, or its marketplace is unavailable right now), plus one `detail` sentence to relay. `summary` counts each status.",
    inputSchema: {
      installed: z.array(z.object({
        name: z.string().min(1).max(256).describe("`plugin@marketplace` or `plugin@marketplace/skill`."),
        version: z.string().optional().describe("The version installed, as fetch_skill reported it."),
        digest: z.string().optional().describe("The `sha256:` digest installed, as fetch_skill reported it."),
      }).strict()).min(1).max(200).describe("What the user has installed, 1 to 200 items."),
    },
    outputSchema: {
      results: z.array(z.object({ name: z.string(), status: z.string(), detail: z.string() }).passthrough()),
      summary: z.object({ upToDate: z.number(), updateAvailable: z.number(), removed: z.number(), ambiguous: z.number(), unknown: z.number() }),
    },
    annotations: annotations("Check installed skills for updates"),
  }, async ({ installed }) => {
    const results = installed.map(checkOne);
    const count = (s: string) => results.filter((r) => r.status === s).length;
    const summaryCounts = { upToDate: count("up_to_date"), updateAvailable: count("update_available"), removed: count("removed"),
      ambiguous: count("ambiguous"), unknown: count("unknown") };
    return ok({ results, summary: summaryCounts });
  });
}
