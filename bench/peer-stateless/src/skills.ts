// The skills extension (io.modelcontextprotocol/skills: skills/list, skills/get, resources/directory/read, and every
// skill file as a skill:// resource), served the way a TypeScript server does it: the SDK's SkillsExtension over a
// SkillSource that reads the embedded catalogue. URIs, which skills are listed, entry shapes, page sizes and cache hints
// follow Skillport's src/mcp/skills.rs.
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { SkillsExtension, type Skill as ExtSkill, type SkillSource } from "@modelcontextprotocol/server/ext/skills";
import { cursor, plugins, fileBytes, type Marketplace, type Plugin, type Skill } from "../../peer/src/catalogue";
import { asText, sniff, textMime } from "../../peer/src/tools";

const SKILLS_PAGE = 50;
const RESOURCES_PAGE = 200;
const MAX_SKILL_FILES = 512;
const MAX_SKILL_BYTES = 16 * 1024 * 1024;

/** A URI path segment: `A-Z a-z 0-9 - . _ ~` kept, every other UTF-8 byte percent-encoded. */
const encodeSegment = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

export function skillUri(m: string, p: string, s: string, path: string): string {
  let uri = `skill://${encodeSegment(m)}/${encodeSegment(p)}/${encodeSegment(s)}`;
  for (const seg of path.split("/").filter(Boolean)) uri += "/" + encodeSegment(seg);
  return uri;
}

interface SkillUri { marketplace: string; plugin: string; skill: string; path: string }

function parseSkillUri(uri: string): SkillUri | undefined {
  if (!uri.startsWith("skill://")) return undefined;
  const parts = uri.slice(8).split("/");
  if (parts.length < 3) return undefined;
  try {
    const [marketplace, plugin, skill] = parts.slice(0, 3).map(decodeURIComponent);
    const segs: string[] = [];
    for (const raw of parts.slice(3).filter(Boolean)) {
      const seg = decodeURIComponent(raw);
      if (seg === "." || seg === ".." || seg.includes("/") || seg.includes("\\")) return undefined;
      segs.push(seg);
    }
    if (!marketplace || !plugin || !skill) return undefined;
    return { marketplace, plugin, skill, path: segs.join("/") };
  } catch {
    return undefined;
  }
}

interface SkillRef { m: Marketplace; p: Plugin; s: Skill }

function* skills(): Generator<SkillRef> {
  for (const { m, p } of plugins()) if (p.status === "servable") for (const s of p.skills) yield { m, p, s };
}

const find = (u: SkillUri) =>
  [...skills()].find((r) => r.m.id === u.marketplace && r.p.name === u.plugin && r.s.name === u.skill);

const read = (r: SkillRef, path: string) => fileBytes(r.m, r.s.path ? `${r.s.path}/${path}` : path);

const validName = (n: string) => n.length <= 64 && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(n);

/** Offered through the extension: named as its folder and URI, valid, described, with a SKILL.md, within limits. */
function listable(r: SkillRef): boolean {
  const fm = r.s.frontmatter;
  const folder = r.s.path.split("/").pop() || r.p.name;
  return typeof fm.name === "string" && fm.name === r.s.name && fm.name === folder && validName(fm.name)
    && typeof fm.description === "string" && r.s.files.some((f) => f.path === "SKILL.md")
    && r.s.files.length <= MAX_SKILL_FILES && r.s.files.reduce((a, f) => a + f.size, 0) <= MAX_SKILL_BYTES;
}

const entry = (r: SkillRef): ExtSkill => ({
  uri: skillUri(r.m.id, r.p.name, r.s.name, "SKILL.md"),
  frontmatter: r.s.frontmatter,
  resources: r.s.files.map((f) => ({ uri: skillUri(r.m.id, r.p.name, r.s.name, f.path), digest: f.sha256, size: f.size })),
} as ExtSkill);

function offset(c: string | undefined): number {
  if (c === undefined) return 0;
  const o = cursor.decode(c);
  if (o === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidParams, "invalid cursor");
  return o;
}

function mime(r: SkillRef, path: string): string {
  const b = read(r, path);
  return !b || asText(b) !== undefined ? textMime(path) : sniff(b);
}

function resource(r: SkillRef, path: string, size: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    uri: skillUri(r.m.id, r.p.name, r.s.name, path), name: `${r.s.name}/${path}`,
    title: `${r.s.name} — ${path} (${r.p.name})`, mimeType: mime(r, path), size,
  };
  if (path === "SKILL.md") {
    out.name = r.s.name;
    if (typeof r.s.frontmatter.description === "string") out.description = r.s.frontmatter.description;
  }
  return out;
}

const source: SkillSource = {
  async list({ cursor: c }) {
    const start = offset(c);
    const all = [...skills()].filter(listable);
    const page = all.slice(start, start + SKILLS_PAGE).map(entry);
    return start + SKILLS_PAGE < all.length ? { skills: page, nextCursor: cursor.encode(start + SKILLS_PAGE) } : { skills: page };
  },
  async get(uri) {
    const u = parseSkillUri(uri);
    if (!u || (u.path && u.path !== "SKILL.md")) return undefined;
    const r = find(u);
    return r && listable(r) ? entry(r) : undefined;
  },
  async read(uri) {
    const u = parseSkillUri(uri);
    const r = u && find(u);
    if (!u || !r) return undefined;
    const path = u.path || "SKILL.md";
    if (!r.s.files.some((f) => f.path === path)) return undefined;
    const b = read(r, path);
    if (!b) return undefined;
    const text = asText(b);
    return text !== undefined ? { text, mimeType: textMime(path) } : { bytes: b, mimeType: sniff(b) };
  },
  async readDirectory(uri, { cursor: c }) {
    const u = parseSkillUri(uri);
    const r = u && find(u);
    if (!u || !r) return undefined;
    const start = offset(c);
    const prefix = u.path ? `${u.path}/` : "";
    const children: Record<string, unknown>[] = [];
    const dirs: string[] = [];
    for (const f of r.s.files) {
      if (!f.path.startsWith(prefix)) continue;
      const rest = f.path.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash < 0) children.push(resource(r, f.path, f.size));
      else if (!dirs.includes(prefix + rest.slice(0, slash))) dirs.push(prefix + rest.slice(0, slash));
    }
    if (!children.length && !dirs.length) return undefined;
    for (const d of dirs) {
      children.push({ uri: skillUri(r.m.id, r.p.name, r.s.name, d), name: d.split("/").pop(), mimeType: "inode/directory" });
    }
    const page = children.slice(start, start + RESOURCES_PAGE) as any[];
    return start + RESOURCES_PAGE < children.length
      ? { resources: page, nextCursor: cursor.encode(start + RESOURCES_PAGE) } : { resources: page };
  },
};

/** One extension for the isolate; each request's server gets it attached (the server is built per request). */
export const skillsExtension = new SkillsExtension({ source, cacheHint: { ttlMs: 0, cacheScope: "private" } });
