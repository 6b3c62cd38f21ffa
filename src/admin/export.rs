//! `skillport export`: the catalogue the Worker would serve, written out in the two forms Claude's own plugin
//! marketplaces take, so an organisation can hand Skillport's merged sources (GitLab, HTTPS archives, other owners'
//! private repositories, external plugin sources) to Claude's built-in marketplace as well.
//!
//! - `export claude-org --out DIR`: one ZIP per servable plugin for the organisation upload form (Organization
//!   settings > Plugins > Add plugins > Upload a file): the plugin's own files at the archive root, with
//!   `.claude-plugin/plugin.json` always present (written from the marketplace entry when the plugin has none, or
//!   completed from it), as the upload and the Plugins API read a version's files. The form takes a `.zip` under
//!   50 MB and keys plugins by their manifest `name` (a second upload of a name replaces the first), so a plugin
//!   cannot be uploaded in parts: one whose ZIP is over the limit is refused with its size, never split into
//!   differently named plugins that members would see as other plugins. Names the upload refuses (it takes lowercase
//!   letters, digits and `-`, at most 64 characters) are refused here too, with the rule.
//! - `export git --out DIR`: a self-contained marketplace repository: `.claude-plugin/marketplace.json` with every
//!   plugin's entry as written, its `source` replaced by `./plugins/<name>`, and the plugin's files (fetched from
//!   wherever they were) copied there, versions untouched, for Claude's GitHub sync and `/plugin marketplace add`.
//!   Two things are written the way Claude Code's schema wants rather than as found: `author` as an object (the
//!   connector also reads a bare name; `claude plugin validate` fails the marketplace over it), and a metadata-only
//!   plugin.json for a strict plugin that has none.
//!
//! Both take the plugins of every loaded marketplace, fetched as `skillport catalogue` fetches them; `--marketplace`
//! narrows that, and `--as-user EMAIL` (with `--groups`, `--teams`, `--orgs`) exports what that identity would see
//! under the `[access]` rules: hidden plugins are skipped and hidden skills left out of their plugin. Plugins that
//! are not servable are skipped with the loader's reason. A name used by plugins of several marketplaces becomes
//! `<name>-<marketplace id>` for each of them (with `-2`, `-3`... only if that is taken too), so the result never
//! depends on which marketplace happens to come first. Every outcome is printed and written to
//! `DIR/export-report.json`.
//!
//! Not for: uploading (Claude's upload form, its Plugins API or a git push do that), or access control in the
//! exported copy: Claude's own marketplace settings decide who installs what there.

use super::catalogue::{self, Outcome};
use super::layers::{Options, UsageError};
use crate::access::Access;
use crate::catalogue::package::zip_tree;
use crate::catalogue::{Catalogue, MarketplaceEntry, PluginRef};
use crate::config::Surface;
use serde_json::{json, Map, Value};
use skillport_providers::Identity;
use skillport_sources::load::{MARKETPLACE_FILE, PLUGIN_FILE};
use skillport_sources::{LoadedPlugin, PluginStatus, EXTERNAL_ROOT};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The upload form's limit: "a valid .zip under 50 MB" (read as decimal megabytes, the stricter reading).
pub const CLAUDE_ORG_MAX_ZIP_BYTES: u64 = 50_000_000;
/// The report written beside the export.
pub const REPORT_FILE: &str = "export-report.json";

/// Which form to write.
#[derive(Debug, Clone)]
pub enum Target {
    ClaudeOrg { max_zip_bytes: u64 },
    Git { name: String },
}

/// What to export, and as whom.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub marketplaces: Vec<String>,
    pub surface: Option<Surface>,
    pub as_user: Option<String>,
    pub groups: Vec<String>,
    pub teams: Vec<String>,
    pub orgs: Vec<String>,
}

/// One plugin's outcome, as printed and as written to the report.
#[derive(Debug, Clone)]
struct Line {
    plugin: String,
    name: Option<String>,
    version: Option<String>,
    skills: Vec<String>,
    outcome: &'static str,
    reason: Option<String>,
    path: Option<String>,
    bytes: Option<u64>,
}

impl Line {
    fn new(p: &PluginRef<'_>, outcome: &'static str, reason: impl Into<String>) -> Line {
        Line {
            plugin: p.qualified_name(),
            name: None,
            version: p.plugin.version().map(str::to_owned),
            skills: Vec::new(),
            outcome,
            reason: Some(reason.into()),
            path: None,
            bytes: None,
        }
    }

    fn json(&self) -> Value {
        json!({
            "plugin": self.plugin,
            "outcome": self.outcome,
            "name": self.name,
            "version": self.version,
            "skills": self.skills,
            "reason": self.reason,
            "path": self.path,
            "bytes": self.bytes,
        })
    }
}

pub fn run(
    opts: &Options,
    target: &Target,
    selection: &Selection,
    out: &Path,
    process_env: &BTreeMap<String, String>,
) -> Result<Outcome, UsageError> {
    let (config, catalogue) = match catalogue::fetch(opts, process_env)? {
        Ok(fetched) => fetched,
        Err(outcome) => return Ok(outcome),
    };
    for id in &selection.marketplaces {
        if !catalogue.marketplaces.iter().any(|m| &m.id == id) {
            let known: Vec<&str> = catalogue.marketplaces.iter().map(|m| m.id.as_str()).collect();
            return Err(UsageError(format!("no marketplace `{id}` is configured (configured: {})", known.join(", "))));
        }
    }
    let identity = selection.as_user.as_deref().map(|email| identity(email, selection));
    let access = identity.as_ref().map(|i| Access::new(&config.access, i));
    let owner = config.server.name.clone();
    export(&catalogue, access.as_ref(), target, selection, out, &owner)
}

/// The identity `--as-user` describes: a verified email (its domain counts for `domains` rules) and the groups,
/// GitHub teams and organisations given, as a provider would have vouched for them.
fn identity(email: &str, selection: &Selection) -> Identity {
    Identity {
        provider: "export".into(),
        subject: email.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        name: None,
        domain: email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()),
        groups: selection.groups.clone(),
        orgs: selection.orgs.clone(),
        teams: selection.teams.clone(),
    }
}

/// A plugin chosen for export, with the name it is exported under.
struct Chosen<'a> {
    plugin: PluginRef<'a>,
    /// Its entry in the marketplace file, as written (the catalogue keeps only the parsed form).
    raw: Option<Value>,
    name: String,
}

fn export(
    catalogue: &Catalogue,
    access: Option<&Access<'_>>,
    target: &Target,
    selection: &Selection,
    out: &Path,
    owner: &str,
) -> Result<Outcome, UsageError> {
    let view = match access {
        Some(a) => catalogue.view(a),
        None => catalogue.unfiltered(),
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut chosen: Vec<Chosen<'_>> = Vec::new();
    let mut failed_marketplaces = false;
    for m in &catalogue.marketplaces {
        if !selection.marketplaces.is_empty() && !selection.marketplaces.contains(&m.id) {
            continue;
        }
        let loaded = match &m.loaded {
            Ok(loaded) => loaded,
            Err(_) => {
                failed_marketplaces = true;
                continue;
            }
        };
        failed_marketplaces |= m.error.is_some();
        let raws = raw_entries(m);
        for (index, plugin) in loaded.plugins.iter().enumerate() {
            let everything = PluginRef { marketplace: m, plugin, access: None };
            if let Some(s) = selection.surface {
                if !everything.surfaces().contains(&s) {
                    continue;
                }
            }
            let Some(visible) = view.plugin_ref(m, plugin) else {
                let who = selection.as_user.as_deref().unwrap_or_default();
                lines.push(Line::new(&everything, "skipped", format!("hidden from {who} by the access rules")));
                continue;
            };
            match &plugin.status {
                PluginStatus::Servable => {}
                PluginStatus::NotServable { reason } => {
                    lines.push(Line::new(&visible, "skipped", format!("not servable: {reason}")));
                    continue;
                }
                PluginStatus::Invalid { reason } => {
                    lines.push(Line::new(&visible, "skipped", format!("invalid: {reason}")));
                    continue;
                }
            }
            chosen.push(Chosen { plugin: visible, raw: raws.get(index).cloned(), name: String::new() });
        }
    }
    let names = unique_names(
        &chosen.iter().map(|c| (c.plugin.plugin.name.as_str(), c.plugin.marketplace.id.as_str())).collect::<Vec<_>>(),
    );
    for (c, name) in chosen.iter_mut().zip(names) {
        c.name = name;
    }

    prepare_out(out, target)?;
    let mut entries: Vec<Value> = Vec::new();
    for c in &chosen {
        let mut line = Line::new(&c.plugin, "exported", "");
        line.reason = None;
        line.name = Some(c.name.clone());
        line.skills = c.plugin.skills().map(|s| s.name.clone()).collect();
        if c.name != c.plugin.plugin.name {
            line.reason = Some(format!(
                "renamed from `{}`: plugins of several marketplaces have that name",
                c.plugin.plugin.name
            ));
        }
        let files = plugin_files(&c.plugin);
        match target {
            Target::ClaudeOrg { max_zip_bytes } => {
                if !valid_org_name(&c.name) {
                    line.outcome = "refused";
                    line.reason = Some(format!(
                        "`{}` is not a name Claude's upload accepts (lowercase letters, digits and `-`, at most 64 \
                         characters); rename the plugin in its marketplace",
                        c.name
                    ));
                    lines.push(line);
                    continue;
                }
                let manifest = org_manifest(&c.plugin, c.raw.as_ref(), &c.name);
                let manifest_bytes = pretty(&manifest);
                let tree = files
                    .iter()
                    .filter(|(path, _)| path != PLUGIN_FILE)
                    .map(|(path, bytes)| (path.clone(), *bytes))
                    .chain(std::iter::once((PLUGIN_FILE.to_owned(), manifest_bytes.as_slice())));
                let zip = match zip_tree(tree) {
                    Ok(zip) => zip,
                    Err(e) => {
                        line.outcome = "refused";
                        line.reason = Some(format!("cannot be packed: {e}"));
                        lines.push(line);
                        continue;
                    }
                };
                line.bytes = Some(zip.len() as u64);
                if zip.len() as u64 >= *max_zip_bytes {
                    line.outcome = "refused";
                    line.reason = Some(format!(
                        "its ZIP is {} bytes, not under the upload limit of {max_zip_bytes} bytes; the upload keys \
                         plugins by name, so it cannot go in parts: move large files out of the plugin, or use \
                         `skillport export git` and Claude's GitHub sync",
                        zip.len()
                    ));
                    lines.push(line);
                    continue;
                }
                let file = format!("{}.zip", c.name);
                write_file(&out.join(&file), &zip)?;
                line.path = Some(file);
            }
            Target::Git { .. } => {
                if !safe_folder_name(&c.name) {
                    line.outcome = "refused";
                    line.reason = Some(format!(
                        "`{}` cannot be a folder name under plugins/; rename the plugin in its marketplace",
                        c.name.escape_debug()
                    ));
                    lines.push(line);
                    continue;
                }
                let folder = format!("plugins/{}", c.name);
                let mut bytes = 0u64;
                for (path, content) in &files {
                    let content: Vec<u8> = if path == PLUGIN_FILE && c.name != c.plugin.plugin.name {
                        renamed_manifest(content, &c.name)
                    } else {
                        content.to_vec()
                    };
                    bytes += content.len() as u64;
                    write_file(&out.join(&folder).join(path), &content)?;
                }
                // A strict plugin without a plugin.json of its own gets one with the entry's metadata (no
                // components, so it adds nothing the entry does not say), so that each vendored folder is a plugin
                // on its own as well (`claude plugin validate plugins/<name>` passes). A `strict: false` plugin is
                // left as is: there the entry alone defines the plugin.
                let strict = c.plugin.plugin.entry.as_ref().is_none_or(|e| e.is_strict());
                if strict && !files.iter().any(|(path, _)| path == PLUGIN_FILE) {
                    let manifest = metadata_manifest(c.raw.as_ref(), &c.name);
                    let content = pretty(&manifest);
                    bytes += content.len() as u64;
                    write_file(&out.join(&folder).join(PLUGIN_FILE), &content)?;
                }
                let mut entry = match c.raw.clone() {
                    Some(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                entry.insert("name".into(), Value::String(c.name.clone()));
                entry.insert("source".into(), Value::String(format!("./{folder}")));
                object_author(&mut entry);
                entries.push(Value::Object(entry));
                line.path = Some(folder);
                line.bytes = Some(bytes);
            }
        }
        lines.push(line);
    }

    if let Target::Git { name } = target {
        let manifest = json!({
            "name": name,
            "owner": {"name": owner},
            "metadata": {"description": format!("Exported by Skillport from: {}", exported_ids(&chosen).join(", "))},
            "plugins": entries,
        });
        write_file(&out.join(MARKETPLACE_FILE), &pretty(&manifest))?;
    }

    let marketplaces: Vec<Value> = catalogue
        .marketplaces
        .iter()
        .filter(|m| selection.marketplaces.is_empty() || selection.marketplaces.contains(&m.id))
        .map(|m| {
            json!({"id": m.id, "kind": m.kind, "revision": m.revision, "loaded": m.loaded.is_ok(),
                        "error": m.loaded.as_ref().err().or(m.error.as_ref())})
        })
        .collect();
    let kind = match target {
        Target::ClaudeOrg { .. } => "claude-org",
        Target::Git { .. } => "git",
    };
    let report = json!({
        "export": kind,
        "as_user": selection.as_user,
        "groups": selection.groups,
        "naming": "a name used by plugins of several marketplaces becomes <name>-<marketplace id> for each of them \
                   (then -2, -3... if that is taken too); every other name is kept",
        "plugins": lines.iter().map(Line::json).collect::<Vec<_>>(),
        "marketplaces": marketplaces,
    });
    write_file(&out.join(REPORT_FILE), &pretty(&report))?;

    let mut stdout = String::new();
    let width = lines.iter().map(|l| l.plugin.chars().count()).max().unwrap_or(0);
    for l in &lines {
        let mut detail = String::new();
        if let Some(path) = &l.path {
            let _ = write!(
                detail,
                "-> {path} ({} skill(s), version {}",
                l.skills.len(),
                l.version.as_deref().unwrap_or("-")
            );
            if let Some(b) = l.bytes {
                let _ = write!(detail, ", {b} bytes");
            }
            detail.push(')');
        }
        if let Some(reason) = &l.reason {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(reason);
        }
        let _ = writeln!(stdout, "{:8}  {:width$}  {detail}", l.outcome, l.plugin);
    }
    for m in &catalogue.marketplaces {
        if !selection.marketplaces.is_empty() && !selection.marketplaces.contains(&m.id) {
            continue;
        }
        match (&m.loaded, &m.error) {
            (Err(e), _) => {
                let _ = writeln!(stdout, "failed    marketplace {}: not loaded, nothing of it exported: {e}", m.id);
            }
            (Ok(_), Some(e)) => {
                let _ = writeln!(
                    stdout,
                    "failed    marketplace {}: exported from an older copy; the refresh failed: {e}",
                    m.id
                );
            }
            _ => {}
        }
    }
    let count = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
    let (exported, skipped, refused) = (count("exported"), count("skipped"), count("refused"));
    let _ = writeln!(
        stdout,
        "\n{exported} exported, {skipped} skipped, {refused} refused into {}; report in {}",
        out.display(),
        out.join(REPORT_FILE).display()
    );
    let code = u8::from(refused > 0 || failed_marketplaces);
    Ok(Outcome { stdout, stderr: String::new(), code })
}

fn exported_ids(chosen: &[Chosen<'_>]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for c in chosen {
        if !ids.contains(&c.plugin.marketplace.id) {
            ids.push(c.plugin.marketplace.id.clone());
        }
    }
    ids
}

/// The plugin entries of the marketplace file as written, in the order the loader gives its plugins (one per entry).
fn raw_entries(m: &MarketplaceEntry) -> Vec<Value> {
    m.files
        .get(MARKETPLACE_FILE)
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .and_then(|v| v.get("plugins").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// The plugin's files, relative to its folder: everything under its root but the skills hidden from the user, and,
/// for a plugin at the marketplace root, neither the marketplace file nor the fetched copies of other plugins.
fn plugin_files<'a>(p: &PluginRef<'a>) -> Vec<(String, &'a [u8])> {
    let plugin: &'a LoadedPlugin = p.plugin;
    let root = plugin.root.as_deref().unwrap_or_default();
    let hidden: Vec<String> = plugin.skills.iter().filter(|s| !p.shows(s)).map(|s| format!("{}/", s.dir)).collect();
    let skip = if root.is_empty() { 0 } else { root.len() + 1 };
    p.marketplace
        .files
        .files_under(root)
        .filter(|(full, _)| !hidden.iter().any(|h| full.starts_with(h.as_str())))
        .map(|(full, bytes)| (full[skip..].to_owned(), bytes))
        .filter(|(rel, _)| {
            !root.is_empty()
                || (rel != MARKETPLACE_FILE
                    && !rel.starts_with(&format!("{EXTERNAL_ROOT}/"))
                    && rel != skillport_sources::INDEX_FILE)
        })
        .collect()
}

/// `.claude-plugin/plugin.json` for an uploaded plugin, which has no marketplace entry beside it: the plugin's own
/// manifest (when it has one), completed from its entry with whatever it leaves out, under the exported name.
fn org_manifest(p: &PluginRef<'_>, raw: Option<&Value>, name: &str) -> Value {
    let root = p.plugin.root.as_deref().unwrap_or_default();
    let path = if root.is_empty() { PLUGIN_FILE.to_owned() } else { format!("{root}/{PLUGIN_FILE}") };
    let mut manifest = p
        .marketplace
        .files
        .get(&path)
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    const FROM_ENTRY: [&str; 14] = [
        "version",
        "description",
        "author",
        "homepage",
        "repository",
        "license",
        "keywords",
        "commands",
        "agents",
        "skills",
        "hooks",
        "mcpServers",
        "lspServers",
        "outputStyles",
    ];
    if let Some(Value::Object(entry)) = raw {
        for key in FROM_ENTRY {
            if let (false, Some(value)) = (manifest.contains_key(key), entry.get(key)) {
                manifest.insert(key.to_owned(), value.clone());
            }
        }
    }
    object_author(&mut manifest);
    manifest.insert("name".into(), Value::String(name.to_owned()));
    Value::Object(manifest)
}

/// A plugin.json of the entry's `name`, `version`, `description` and `author` alone.
fn metadata_manifest(raw: Option<&Value>, name: &str) -> Value {
    let mut manifest = Map::new();
    manifest.insert("name".into(), Value::String(name.to_owned()));
    if let Some(Value::Object(entry)) = raw {
        for key in ["version", "description", "author"] {
            if let Some(value) = entry.get(key) {
                manifest.insert(key.to_owned(), value.clone());
            }
        }
    }
    object_author(&mut manifest);
    Value::Object(manifest)
}

/// `"author": "Name"` as `{"name": "Name"}`: the connector reads both, but Claude Code's schema (for entries and
/// plugin.json alike) refuses the string form, and `claude plugin validate` fails the whole marketplace over it.
fn object_author(map: &mut Map<String, Value>) {
    if let Some(Value::String(author)) = map.get("author") {
        let author = json!({ "name": author });
        map.insert("author".into(), author);
    }
}

/// The plugin's own plugin.json with its `name` set to the exported one (kept as is when it is not a JSON object).
fn renamed_manifest(bytes: &[u8], name: &str) -> Vec<u8> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut map)) => {
            map.insert("name".into(), Value::String(name.to_owned()));
            pretty(&Value::Object(map))
        }
        _ => bytes.to_vec(),
    }
}

/// Exported names, one per `(name, marketplace id)`, in the same order: a name only one plugin has is kept; a name
/// several have becomes `<name>-<marketplace id>` for each. Kept names are reserved first, then a derived name that
/// is taken gets `-2`, `-3`... in catalogue order, so the outcome depends on the configuration alone.
fn unique_names(plugins: &[(&str, &str)]) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in plugins {
        *count.entry(name).or_default() += 1;
    }
    let mut taken: BTreeSet<String> =
        plugins.iter().filter(|(n, _)| count[n] == 1).map(|(n, _)| (*n).to_owned()).collect();
    plugins
        .iter()
        .map(|(name, marketplace)| {
            if count[name] == 1 {
                return (*name).to_owned();
            }
            let slug: String = marketplace
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
                .collect();
            let base = format!("{name}-{slug}");
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(candidate.clone());
            candidate
        })
        .collect()
}

/// Claude's organisation upload: lowercase letters (of any alphabet), digits and `-`, 1 to 64 characters.
fn valid_org_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=64).contains(&count)
        && name.chars().all(|c| c == '-' || c.is_ascii_digit() || (c.is_alphabetic() && c.is_lowercase()))
}

/// A name that is one ordinary folder under `plugins/`: a marketplace's plugin name is untrusted text, and must never
/// write outside the export (`..`, `a/b`) or hide itself (`.x`).
fn safe_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Clears what an earlier export of the same kind wrote, so nothing stale is left beside the new one: the ZIPs its
/// report names, or the `plugins/` folder of a marketplace export. Anything else in `out` (a `.git` folder, a README,
/// other ZIPs) stays.
fn prepare_out(out: &Path, target: &Target) -> Result<(), UsageError> {
    let fail =
        |what: &str, path: &Path, e: std::io::Error| UsageError(format!("cannot {what} {}: {e}", path.display()));
    std::fs::create_dir_all(out).map_err(|e| fail("create", out, e))?;
    match target {
        Target::ClaudeOrg { .. } => {
            // Only the ZIPs the last report names: other files in `out` are not the export's to remove.
            let report = std::fs::read(out.join(REPORT_FILE)).ok();
            let report: Value = report.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            let written = report.get("plugins").and_then(Value::as_array).into_iter().flatten();
            for file in written.filter_map(|p| p.get("path").and_then(Value::as_str)) {
                let path = out.join(file);
                let plain = file.ends_with(".zip") && !file.contains(['/', '\\']) && !file.starts_with('.');
                if plain && path.is_file() {
                    std::fs::remove_file(&path).map_err(|e| fail("remove", &path, e))?;
                }
            }
        }
        Target::Git { .. } => {
            let plugins = out.join("plugins");
            if plugins.exists() {
                std::fs::remove_dir_all(&plugins).map_err(|e| fail("remove", &plugins, e))?;
            }
        }
    }
    Ok(())
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), UsageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| UsageError(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, bytes).map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shared_by_marketplaces_get_the_marketplace_id_and_never_collide() {
        let names = unique_names(&[
            ("lint", "tools"),
            ("lint-tools", "other"),
            ("docs", "tools"),
            ("lint", "vendor_x"),
            ("lint", "tools"),
        ]);
        assert_eq!(names, ["lint-tools-2", "lint-tools", "docs", "lint-vendor-x", "lint-tools-3"]);
    }

    #[test]
    fn git_folders_never_leave_the_export() {
        for ok in ["lint", "Lint_Kit", "v1.2", "équipe"] {
            assert!(safe_folder_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "../x", "a\\b", "a b", "x\0"] {
            assert!(!safe_folder_name(bad), "{bad}");
        }
    }

    #[test]
    fn org_names_follow_the_upload_rule() {
        for ok in ["a", "brand-kit", "v2-tools", "équipe", &"x".repeat(64)] {
            assert!(valid_org_name(ok), "{ok}");
        }
        for bad in ["", "Brand", "brand_kit", "brand kit", "a.b", &"x".repeat(65)] {
            assert!(!valid_org_name(bad), "{bad}");
        }
    }
}
