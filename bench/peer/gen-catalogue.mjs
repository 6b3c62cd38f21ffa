// Embeds Claude Code plugin marketplaces (folders holding .claude-plugin/marketplace.json) into a JS module the peer
// Worker imports: every file of every servable skill (base64), plus what loading them gives (plugins, skills, files
// with size and sha256, digests computed the way Skillport computes them). Runs at build time, with Node only.
//
//   node gen-catalogue.mjs [--out src/catalogue.gen.js] [ID=DIR ...]
//
// With no ID=DIR the example marketplace (../../examples/marketplace, id `example`) is embedded, as Skillport's
// default configuration serves it. The 1,000-plugin benchmark passes the synthetic marketplace that
// bench/catalogue.py writes (the very folder Skillport then loads through the GitHub stand-in) before the example.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, existsSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const HERE = dirname(fileURLToPath(import.meta.url));

function sha256(bytes) {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

// Skillport's digest of a listing: lines "<name>\0<digest>\n" sorted by name.
function digestOfEntries(entries) {
  const sorted = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const h = createHash("sha256");
  for (const [name, digest] of sorted) h.update(name).update("\0").update(digest).update("\n");
  return "sha256:" + h.digest("hex");
}

function walk(root, dir = root, out = []) {
  for (const name of readdirSync(dir).sort()) {
    if (name === ".git") continue;
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) walk(root, full, out);
    else if (st.isFile()) out.push(relative(root, full).split("\\").join("/"));
  }
  return out;
}

function frontmatter(text) {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!m) return {};
  try {
    const v = YAML.parse(m[1]);
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

const SURFACE_WORDS = {
  cc: ["claude-code"], "claude-code": ["claude-code"], code: ["claude-code"],
  cd: ["claude-desktop"], "claude-desktop": ["claude-desktop"], desktop: ["claude-desktop"],
  cai: ["claude-ai"], "claude-ai": ["claude-ai"], "claude.ai": ["claude-ai"], web: ["claude-ai"],
  cdai: ["claude-desktop", "claude-ai"],
  call: ["claude-code", "claude-desktop", "claude-ai"], all: ["claude-code", "claude-desktop", "claude-ai"],
};
const ALL = ["claude-code", "claude-desktop", "claude-ai"];

function surfacesOf(entry) {
  const out = new Set();
  const add = (w) => (SURFACE_WORDS[String(w).trim().toLowerCase()] || []).forEach((s) => out.add(s));
  if (Array.isArray(entry.surfaces)) entry.surfaces.forEach(add);
  else for (const t of entry.tags || []) if (String(t).startsWith("surface:")) add(String(t).slice(8));
  return out.size ? ALL.filter((s) => out.has(s)) : ALL;
}

function sourceKind(source) {
  if (typeof source === "string") return "relative";
  return (source && source.source) || "unknown";
}

function loadMarketplace(id, dir) {
  const root = resolve(dir);
  const manifest = JSON.parse(readFileSync(join(root, ".claude-plugin", "marketplace.json"), "utf8"));
  const all = walk(root);
  const bytes = new Map(all.map((p) => [p, readFileSync(join(root, p))]));
  const revision = digestOfEntries(all.map((p) => [p, sha256(bytes.get(p))]));
  const pluginRoot = (manifest.metadata && manifest.metadata.pluginRoot) || "";
  const served = {}; // path -> base64, only the files of servable skills
  const plugins = [];
  for (const entry of manifest.plugins || []) {
    const p = {
      name: entry.name, entry, status: "servable", source: { kind: sourceKind(entry.source), spec: entry.source },
      surfaces: surfacesOf(entry), skills: [], commands: [],
    };
    plugins.push(p);
    if (typeof entry.source !== "string") {
      p.status = "not_servable";
      p.reason = `its source is ${sourceKind(entry.source)}, outside this marketplace`;
      continue;
    }
    let rel = entry.source.startsWith("./") || entry.source.startsWith("../") ? entry.source
      : posix.join(pluginRoot || ".", entry.source);
    rel = posix.normalize(rel).replace(/^\.\/?/, "").replace(/\/$/, "");
    if (rel.startsWith("..") || !existsSync(join(root, rel))) {
      p.status = "invalid";
      p.reason = `its source \`${entry.source}\` is not a folder of this marketplace`;
      continue;
    }
    const pj = join(root, rel, ".claude-plugin", "plugin.json");
    p.manifest = existsSync(pj) ? JSON.parse(readFileSync(pj, "utf8")) : null;
    const prefix = rel ? rel + "/" : "";
    const skillDirs = [...new Set(all.filter((f) => f.startsWith(prefix + "skills/") && f.endsWith("/SKILL.md"))
      .map((f) => f.slice(0, -"/SKILL.md".length))
      .filter((d) => d.slice(prefix.length + "skills/".length).indexOf("/") < 0))].sort();
    for (const sdir of skillDirs) {
      const fm = frontmatter(bytes.get(sdir + "/SKILL.md").toString("utf8"));
      const files = all.filter((f) => f.startsWith(sdir + "/")).map((f) => {
        served[f] = bytes.get(f).toString("base64");
        return { path: f.slice(sdir.length + 1), size: bytes.get(f).length, sha256: sha256(bytes.get(f)) };
      });
      const description = typeof fm.description === "string" ? fm.description.trim() : undefined;
      p.skills.push({
        name: typeof fm.name === "string" && fm.name.trim() ? fm.name.trim() : sdir.split("/").pop(),
        description, path: sdir, frontmatter: fm, files, problems: [],
        digest: digestOfEntries(files.map((f) => [f.path, f.sha256])),
      });
    }
    p.commands = all.filter((f) => f.startsWith(prefix + "commands/") && f.endsWith(".md"))
      .map((f) => f.slice(prefix.length + "commands/".length, -3)).filter((c) => !c.includes("/")).sort();
    p.digest = digestOfEntries(p.skills.map((s) => [s.path, s.digest]));
  }
  return { id, name: manifest.name, revision, plugins, files: served };
}

const args = process.argv.slice(2);
let out = join(HERE, "src", "catalogue.gen.js");
const markets = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") out = resolve(args[++i]);
  else {
    const eq = args[i].indexOf("=");
    if (eq < 1) throw new Error(`expected ID=DIR, got ${args[i]}`);
    markets.push([args[i].slice(0, eq), args[i].slice(eq + 1)]);
  }
}
if (!markets.length) markets.push(["example", join(HERE, "..", "..", "examples", "marketplace")]);
const loaded = markets.map(([id, dir]) => loadMarketplace(id, dir));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, "// Generated by gen-catalogue.mjs; do not edit.\nexport const MARKETPLACES = " +
  JSON.stringify(loaded) + ";\n");
const n = loaded.reduce((a, m) => a + m.plugins.length, 0);
console.error(`gen-catalogue: ${loaded.map((m) => `${m.id} (${m.plugins.length} plugins)`).join(", ")}: ${n} plugins -> ${relative(process.cwd(), out)}`);
