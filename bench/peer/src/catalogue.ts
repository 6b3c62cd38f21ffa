// The peer's catalogue: the marketplaces gen-catalogue.mjs embedded, with Skillport's naming (`plugin@marketplace`),
// filters, paging and result shapes, so the benchmark compares like with like.
import { MARKETPLACES } from "./catalogue.gen.js";

export type Surface = "claude-code" | "claude-desktop" | "claude-ai";
export interface SkillFile { path: string; size: number; sha256: string }
export interface Skill {
  name: string; description?: string; path: string; digest: string; frontmatter: Record<string, unknown>;
  files: SkillFile[]; problems: string[];
}
export interface Plugin {
  name: string; entry: Record<string, any>; manifest?: Record<string, any> | null; status: string; reason?: string;
  source: { kind: string; spec: unknown }; surfaces: Surface[]; skills: Skill[]; commands: string[]; digest?: string;
}
export interface Marketplace { id: string; name: string; revision: string; plugins: Plugin[]; files: Record<string, string> }
export interface PluginRef { m: Marketplace; p: Plugin }

const markets = MARKETPLACES as unknown as Marketplace[];

// Skill files as bytes, decoded once per isolate (Skillport holds its FileSet in memory the same way).
const bytes = new Map<string, Uint8Array>();
for (const m of markets) {
  for (const [path, b64] of Object.entries(m.files)) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    bytes.set(`${m.id}\0${path}`, out);
  }
}

export function fileBytes(m: Marketplace, path: string): Uint8Array | undefined {
  return bytes.get(`${m.id}\0${path}`);
}

export function* plugins(): Generator<PluginRef> {
  for (const m of markets) for (const p of m.plugins) yield { m, p };
}

export const qualified = (r: PluginRef) => `${r.p.name}@${r.m.id}`;

export function description(r: PluginRef): string | undefined {
  return r.p.entry.description ?? r.p.manifest?.description;
}

export function version(r: PluginRef): string | undefined {
  return r.p.manifest?.version ?? r.p.entry.version;
}

export function parseSurface(word: string): Surface[] | undefined {
  switch (word.trim().toLowerCase()) {
    case "cc": case "claude-code": case "code": return ["claude-code"];
    case "cd": case "claude-desktop": case "desktop": return ["claude-desktop"];
    case "cai": case "claude-ai": case "claude.ai": case "web": return ["claude-ai"];
    case "cdai": return ["claude-desktop", "claude-ai"];
    case "call": case "all": return ["claude-code", "claude-desktop", "claude-ai"];
  }
  return undefined;
}

export interface Filter { surface?: Surface; marketplace?: string; category?: string; tag?: string; query?: string }

export function matches(f: Filter, r: PluginRef): boolean {
  const e = r.p.entry;
  if (f.surface && !r.p.surfaces.includes(f.surface)) return false;
  if (f.marketplace && r.m.id.toLowerCase() !== f.marketplace.toLowerCase()) return false;
  if (f.category && String(e.category ?? "").toLowerCase() !== f.category.toLowerCase()) return false;
  if (f.tag) {
    const t = f.tag.toLowerCase();
    if (![...(e.tags ?? []), ...(e.keywords ?? [])].some((x: string) => String(x).toLowerCase() === t)) return false;
  }
  if (f.query) {
    const hay = [r.p.name.toLowerCase()];
    const d = description(r);
    if (d) hay.push(d.toLowerCase());
    for (const k of e.keywords ?? []) hay.push(String(k).toLowerCase());
    for (const s of r.p.skills) {
      hay.push(s.name.toLowerCase());
      if (s.description) hay.push(s.description.toLowerCase());
    }
    if (!f.query.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.some((h) => h.includes(w)))) return false;
  }
  return true;
}

export function summary(r: PluginRef): Record<string, unknown> {
  const e = r.p.entry;
  const o: Record<string, unknown> = { name: qualified(r), plugin: r.p.name, marketplace: r.m.id };
  const d = description(r);
  if (d !== undefined) o.description = d;
  const v = version(r);
  if (v !== undefined) o.version = v;
  if (e.category !== undefined) o.category = e.category;
  if (e.tags?.length) o.tags = e.tags;
  if (e.keywords?.length) o.keywords = e.keywords;
  o.surfaces = r.p.surfaces;
  o.status = r.p.status;
  if (r.p.reason) o.reason = r.p.reason;
  o.skills = r.p.skills.map((s) => (s.description === undefined ? { name: s.name } : { name: s.name, description: s.description }));
  return o;
}

export function detail(r: PluginRef): Record<string, unknown> {
  const o = summary(r);
  const e = r.p.entry, m = r.p.manifest;
  o.source = r.p.source;
  const author = e.author ?? m?.author;
  if (author !== undefined) o.author = author;
  for (const k of ["homepage", "license"]) if ((e[k] ?? m?.[k]) !== undefined) o[k] = e[k] ?? m?.[k];
  if (e.repository !== undefined) o.repository = e.repository;
  o.digest = r.p.digest;
  o.marketplaceRevision = r.m.revision;
  o.skills = r.p.skills.map((s) => ({
    name: s.name, description: s.description ?? null, path: s.path, digest: s.digest, frontmatter: s.frontmatter,
    files: s.files, problems: s.problems,
  }));
  if (r.p.commands.length) o.commands = r.p.commands;
  return o;
}

export type Lookup = { ok: PluginRef } | { err: string };

export function find(name: string): Lookup {
  name = name.trim();
  const at = name.lastIndexOf("@");
  if (at >= 0) {
    const [plugin, market] = [name.slice(0, at), name.slice(at + 1)];
    for (const r of plugins()) if (r.p.name === plugin && r.m.id === market) return { ok: r };
    return { err: `no plugin named \`${name}\` in the catalogue; call list_plugins to see the names` };
  }
  const hits = [...plugins()].filter((r) => r.p.name === name);
  if (hits.length === 1) return { ok: hits[0] };
  if (!hits.length) return { err: `no plugin named \`${name}\` in the catalogue; call list_plugins to see the names` };
  return { err: `\`${name}\` is ambiguous: it exists in several marketplaces; use one of ${hits.map(qualified).join(", ")}` };
}

export const cursor = {
  encode: (offset: number) => `sp1.${(offset ^ 0x5eed).toString(16)}`,
  decode(c: string): number | undefined {
    if (!c.startsWith("sp1.") || c.length === 4 || c.length > 20) return undefined;
    const v = Number.parseInt(c.slice(4), 16);
    return Number.isNaN(v) || !/^[0-9a-f]+$/i.test(c.slice(4)) ? undefined : v ^ 0x5eed;
  },
};
