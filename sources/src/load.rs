//! Resolving a marketplace tree into plugins and skills, the way Claude Code does.
//!
//! Only `.claude-plugin/marketplace.json` itself can fail a load ([`LoadError`]). Everything below it is judged per
//! plugin: a malformed entry, a missing folder or a broken `plugin.json` marks that one plugin
//! [`PluginStatus::Invalid`], a source this crate cannot read marks it [`PluginStatus::NotServable`], and smaller
//! faults (a skill without frontmatter, a listed path that is absent) become `problems` beside the data. Nothing is
//! dropped, so a status page can show every entry with the reason it is or is not served.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::external::{self, Hosts};
use crate::files::{digest_of_entries, join, sha256_digest, FileSet, PathError};
use crate::model::{json_type, MarketplaceManifest, MarketplaceMetadata, PluginEntry, PluginManifest, PluginSource};
use crate::skill::parse_skill_md_unchecked;

/// Where the marketplace manifest lives, relative to the marketplace root.
pub const MARKETPLACE_FILE: &str = ".claude-plugin/marketplace.json";
/// Where a plugin's own manifest lives, relative to the plugin folder.
pub const PLUGIN_FILE: &str = ".claude-plugin/plugin.json";
/// The reserved folder of a marketplace tree where the caller puts the files of plugins fetched from elsewhere
/// (`github`, `url`, `git-subdir`, `archive` sources), one folder per plugin name: see [`external_folder`].
pub const EXTERNAL_ROOT: &str = ".skillport-external";

/// `.skillport-external/<plugin name>`, where an external plugin's files go; `None` when the name cannot be one
/// folder (it holds `/`, is `..`, ...).
/// Where the caller records why an external plugin could not be fetched (one short text file per plugin, outside
/// the plugin's own folder), so the plugin's status can say why instead of "not fetched yet".
pub fn external_error_file(plugin_name: &str) -> Option<String> {
    external_folder(plugin_name)?;
    join(&format!("{EXTERNAL_ROOT}/.fetch-errors"), plugin_name).ok()
}

pub fn external_folder(plugin_name: &str) -> Option<String> {
    let folder = join(EXTERNAL_ROOT, plugin_name).ok()?;
    (!plugin_name.contains('/') && folder.len() > EXTERNAL_ROOT.len() + 1).then_some(folder)
}

/// Why a marketplace could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the marketplace has no `.claude-plugin/marketplace.json`")]
    MissingManifest,
    #[error("`.claude-plugin/marketplace.json` is not valid JSON: {0}")]
    Json(String),
    #[error("`.claude-plugin/marketplace.json` {0}")]
    Manifest(String),
}

/// A marketplace with every plugin entry resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedMarketplace {
    pub manifest: MarketplaceManifest,
    /// Exactly one per entry of `manifest.plugins`, in the same order.
    pub plugins: Vec<LoadedPlugin>,
    /// Non-fatal faults of the manifest itself (an optional field that did not parse, ...).
    pub problems: Vec<String>,
}

impl LoadedMarketplace {
    pub fn plugin(&self, name: &str) -> Option<&LoadedPlugin> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

/// One plugin entry, resolved as far as it could be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedPlugin {
    /// The entry's `name`, or `#<index>` when it has none.
    pub name: String,
    /// The entry exactly as written.
    pub raw: Value,
    /// The parsed entry; `None` when it is malformed.
    pub entry: Option<PluginEntry>,
    /// `.claude-plugin/plugin.json`, when present and valid (with `strict: false`, an invalid one is ignored).
    pub manifest: Option<PluginManifest>,
    /// The plugin folder in the [`FileSet`]; `""` for the marketplace root; `None` when it is not in this tree.
    pub root: Option<String>,
    pub status: PluginStatus,
    pub skills: Vec<Skill>,
    /// Command names, from `commands/*.md` and the paths the plugin lists.
    pub commands: Vec<String>,
    /// Non-fatal faults of this plugin.
    pub problems: Vec<String>,
}

impl LoadedPlugin {
    /// plugin.json's version, else the marketplace entry's (plugin.json wins, as in Claude Code).
    pub fn version(&self) -> Option<&str> {
        self.manifest
            .as_ref()
            .and_then(|m| m.version.as_deref())
            .or_else(|| self.entry.as_ref().and_then(|e| e.version.as_deref()))
    }

    /// plugin.json's description, else the entry's.
    pub fn description(&self) -> Option<&str> {
        self.manifest
            .as_ref()
            .and_then(|m| m.description.as_deref())
            .or_else(|| self.entry.as_ref().and_then(|e| e.description.as_deref()))
    }

    /// `sha256:` over the plugin's skills (folder and digest of each): changes when any skill file changes.
    pub fn digest(&self) -> String {
        digest_of_entries(self.skills.iter().map(|s| (s.dir.as_str(), s.digest.clone())))
    }
}

/// Whether a plugin can be served from this marketplace tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PluginStatus {
    Servable,
    /// Well-formed, but its files are somewhere this crate cannot read (another repository, a package registry).
    NotServable {
        reason: String,
    },
    /// Malformed, or pointing at something that does not exist.
    Invalid {
        reason: String,
    },
}

impl PluginStatus {
    pub fn is_servable(&self) -> bool {
        matches!(self, PluginStatus::Servable)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            PluginStatus::Servable => None,
            PluginStatus::NotServable { reason } | PluginStatus::Invalid { reason } => Some(reason),
        }
    }
}

/// A skill folder (one holding `SKILL.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skill {
    /// The skill folder's name, as Claude Code names it (the plugin's name for a SKILL.md at the marketplace root).
    pub name: String,
    pub description: Option<String>,
    /// Folder path in the [`FileSet`].
    pub dir: String,
    /// The frontmatter verbatim, when there is one.
    pub frontmatter_raw: Option<String>,
    pub frontmatter: Map<String, Value>,
    /// Every file of the skill, SKILL.md included, sorted by path.
    pub files: Vec<SkillFile>,
    /// `sha256:` over the lines `"<path>\0<file sha256>\n"` of `files`.
    pub digest: String,
    pub problems: Vec<String>,
}

/// One file of a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillFile {
    /// Relative to the skill folder: `SKILL.md`, `references/x.md`.
    pub path: String,
    pub size: u64,
    /// `sha256:<hex>` of the content.
    pub sha256: String,
}

/// Where a plugin's files are, as far as this crate is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A folder of this marketplace tree (`""` is the root).
    InTree(String),
    /// Somewhere this tree does not contain.
    Elsewhere { reason: String },
    /// A path that cannot be a plugin folder (escapes the root, absolute, ...).
    Invalid { reason: String },
}

/// Decides where a plugin's files are, from the entry alone. Remote kinds (github, url, git-subdir, archive) are
/// `Elsewhere` here; the loader then looks for them under [`EXTERNAL_ROOT`], where the caller puts what
/// [`external::fetch`] read.
pub fn place_source(source: &PluginSource, metadata: Option<&MarketplaceMetadata>) -> Placement {
    match source {
        PluginSource::Relative(path) => {
            let plugin_root = metadata.and_then(|m| m.plugin_root.as_deref());
            match relative_plugin_root(path, plugin_root) {
                Ok(root) => Placement::InTree(root),
                Err(reason) => Placement::Invalid { reason },
            }
        }
        PluginSource::Npm { .. } | PluginSource::Pip { .. } => Placement::Elsewhere {
            reason: format!(
                "plugin source {} is a package; {} packages cannot be fetched or run on Cloudflare Workers",
                source.describe(),
                source.kind()
            ),
        },
        PluginSource::Other { kind, .. } => {
            Placement::Elsewhere { reason: format!("plugin source kind `{kind}` is not supported") }
        }
        PluginSource::Github { .. }
        | PluginSource::Url { .. }
        | PluginSource::GitSubdir { .. }
        | PluginSource::Archive { .. } => Placement::Elsewhere {
            reason: format!(
                "plugin source {} is outside this marketplace; no source for that host is configured",
                source.describe()
            ),
        },
    }
}

fn is_external(source: &PluginSource) -> bool {
    matches!(
        source,
        PluginSource::Github { .. }
            | PluginSource::Url { .. }
            | PluginSource::GitSubdir { .. }
            | PluginSource::Archive { .. }
    )
}

/// An external plugin is in the tree once the caller put its files under [`EXTERNAL_ROOT`]; until then the reason
/// says whether fetching it is possible at all.
fn place_external(files: &FileSet, entry: &PluginEntry, hosts: &Hosts) -> Placement {
    if let Some(folder) = external_folder(&entry.name).filter(|folder| files.is_dir(folder)) {
        return Placement::InTree(folder);
    }
    let described = entry.source.describe();
    let failure = external_error_file(&entry.name)
        .and_then(|f| files.get(&f))
        .map(|b| String::from_utf8_lossy(b).chars().take(500).collect::<String>());
    let reason = match external::resolve(&entry.source, hosts) {
        Ok(_) if failure.is_some() => format!(
            "plugin source {described} is outside this marketplace and could not be fetched: {}",
            failure.unwrap_or_default()
        ),
        Ok(_) => format!("plugin source {described} is outside this marketplace and has not been fetched yet"),
        Err(why) => format!("plugin source {described} is outside this marketplace and cannot be read: {why}"),
    };
    Placement::Elsewhere { reason }
}

/// `./x` is relative to the marketplace root; a bare `x` is relative to `metadata.pluginRoot` when that is set.
fn relative_plugin_root(path: &str, plugin_root: Option<&str>) -> Result<String, String> {
    if path.is_empty() {
        return Err("plugin source is an empty path".to_string());
    }
    let explicit = path == "." || path == ".." || path.starts_with("./") || path.starts_with("../");
    let describe = |e: PathError| match e {
        PathError::Escapes(_) => format!("plugin source `{path}` points outside the marketplace"),
        other => format!("plugin source `{path}` is not a usable path: {other}"),
    };
    let base = match plugin_root {
        Some(plugin_root) if !explicit => {
            join("", plugin_root).map_err(|e| format!("`metadata.pluginRoot` `{plugin_root}` is not usable: {e}"))?
        }
        _ => String::new(),
    };
    join(&base, path).map_err(describe)
}

/// Reads `.claude-plugin/marketplace.json` from `files` and resolves every plugin entry. External plugins are read
/// from [`EXTERNAL_ROOT`] when the caller put them there; the others are judged against [`Hosts::default`].
pub fn load_marketplace(files: &FileSet) -> Result<LoadedMarketplace, LoadError> {
    load_marketplace_with(files, &Hosts::default())
}

/// [`load_marketplace`], with the forges this Skillport reads: an external plugin that is not in the tree is "not
/// fetched yet" when its host is one of `hosts`, else not servable for the reason [`external::resolve`] gives.
pub fn load_marketplace_with(files: &FileSet, hosts: &Hosts) -> Result<LoadedMarketplace, LoadError> {
    let bytes = files.get(MARKETPLACE_FILE).ok_or(LoadError::MissingManifest)?;
    let (manifest, problems) = parse_marketplace_manifest(bytes)?;
    let plugins = manifest
        .plugins
        .iter()
        .enumerate()
        .map(|(index, raw)| load_plugin(files, manifest.metadata.as_ref(), hosts, index, raw.clone()))
        .collect();
    Ok(LoadedMarketplace { manifest, plugins: first_of_each_name(plugins), problems })
}

/// [`load_marketplace_with`] for a server, which reads the parsed forms only: without the JSON as written (each
/// plugin's `raw` is `null` and the manifest's `plugins` is empty) or each SKILL.md's frontmatter text (`None`; the
/// parsed `frontmatter` and the file itself remain). Each entry moves into its plugin and is dropped once parsed,
/// instead of being copied, so a marketplace of a thousand plugins is never held in two `Value` trees at once, and
/// the loaded form keeps about half of the memory (`cargo bench --bench memory` in the Worker crate).
pub fn load_marketplace_lean(files: &FileSet, hosts: &Hosts) -> Result<LoadedMarketplace, LoadError> {
    let bytes = files.get(MARKETPLACE_FILE).ok_or(LoadError::MissingManifest)?;
    let (mut manifest, problems) = parse_marketplace_manifest(bytes)?;
    let entries = std::mem::take(&mut manifest.plugins);
    let plugins = entries
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let mut plugin = load_plugin(files, manifest.metadata.as_ref(), hosts, index, raw);
            plugin.raw = Value::Null;
            for skill in &mut plugin.skills {
                skill.frontmatter_raw = None;
            }
            plugin
        })
        .collect();
    Ok(LoadedMarketplace { manifest, plugins: first_of_each_name(plugins), problems })
}

/// The plugin entries of `.claude-plugin/marketplace.json`, each with the name [`load_marketplace`] gives its plugin
/// and its parsed entry (`None` when the entry is malformed), without resolving any plugin's files: for a caller that
/// needs the entries alone, such as which plugins come from elsewhere.
pub fn plugin_entries(files: &FileSet) -> Result<Vec<(String, Option<PluginEntry>)>, LoadError> {
    let bytes = files.get(MARKETPLACE_FILE).ok_or(LoadError::MissingManifest)?;
    let (manifest, _) = parse_marketplace_manifest(bytes)?;
    Ok(manifest
        .plugins
        .iter()
        .enumerate()
        .map(|(index, raw)| (plugin_name(raw, index), parse_entry(raw).ok()))
        .collect())
}

/// A plugin is installed by its name (`name@marketplace`), so of several entries with one name only the first can be
/// installed: Claude Code installs the first, and so the later ones are invalid here, never served in its place.
fn first_of_each_name(mut plugins: Vec<LoadedPlugin>) -> Vec<LoadedPlugin> {
    let mut seen = std::collections::BTreeSet::new();
    for plugin in &mut plugins {
        if plugin.entry.is_some() && !seen.insert(plugin.name.clone()) {
            plugin.status = PluginStatus::Invalid {
                reason: format!(
                    "an earlier entry of this marketplace is also named `{}`; only the first is installed",
                    plugin.name
                ),
            };
            plugin.skills.clear();
            plugin.commands.clear();
        }
    }
    plugins
}

/// Claude Code's rule for each part of a plugin id (`plugin@marketplace`): letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit, at most 128 characters. An entry named otherwise cannot be installed.
pub fn is_installable_name(name: &str) -> bool {
    name.len() <= 128
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The entry's `name`, or `#<index>` when it has none.
fn plugin_name(raw: &Value, index: usize) -> String {
    raw.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| format!("#{index}"), str::to_string)
}

/// Only a missing `name` or `plugins` fails the file. An optional field that does not parse (an `owner` that is a
/// number, say) is moved to `extra`, where it still round-trips, and reported as a problem.
fn parse_marketplace_manifest(bytes: &[u8]) -> Result<(MarketplaceManifest, Vec<String>), LoadError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| LoadError::Json(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(LoadError::Manifest(format!("must be a JSON object, not {}", json_type(&value))));
    };
    match map.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        _ => return Err(LoadError::Manifest("has no `name`".to_string())),
    }
    if !matches!(map.get("plugins"), Some(Value::Array(_))) {
        return Err(LoadError::Manifest("has no `plugins` array".to_string()));
    }
    let mut problems = Vec::new();
    let mut set_aside = Map::new();
    for key in ["$schema", "owner", "description", "metadata", "renames"] {
        let Some(value) = map.get(key) else { continue };
        let check = match key {
            "owner" => serde_json::from_value::<crate::model::Person>(value.clone()).map(drop),
            "metadata" => serde_json::from_value::<MarketplaceMetadata>(value.clone()).map(drop),
            "renames" => serde_json::from_value::<std::collections::BTreeMap<String, String>>(value.clone()).map(drop),
            _ => serde_json::from_value::<String>(value.clone()).map(drop),
        };
        if let Err(e) = check {
            problems.push(format!("marketplace `{key}` is ignored: {e}"));
            set_aside.insert(key.to_string(), map.remove(key).unwrap_or_default());
        }
    }
    let mut manifest: MarketplaceManifest =
        serde_json::from_value(Value::Object(map)).map_err(|e| LoadError::Manifest(e.to_string()))?;
    manifest.extra.extend(set_aside);
    Ok((manifest, problems))
}

fn load_plugin(
    files: &FileSet,
    metadata: Option<&MarketplaceMetadata>,
    hosts: &Hosts,
    index: usize,
    raw: Value,
) -> LoadedPlugin {
    let name = plugin_name(&raw, index);
    let entry = parse_entry(&raw);
    let mut plugin = LoadedPlugin {
        name,
        raw,
        entry: None,
        manifest: None,
        root: None,
        status: PluginStatus::Servable,
        skills: Vec::new(),
        commands: Vec::new(),
        problems: Vec::new(),
    };
    let entry = match entry {
        Ok(entry) => entry,
        Err(reason) => {
            plugin.status = PluginStatus::Invalid { reason };
            return plugin;
        }
    };
    let placement = match place_source(&entry.source, metadata) {
        Placement::Elsewhere { .. } if is_external(&entry.source) => place_external(files, &entry, hosts),
        other => other,
    };
    plugin.entry = Some(entry);
    let root = match placement {
        Placement::InTree(root) => root,
        Placement::Elsewhere { reason } => {
            plugin.status = PluginStatus::NotServable { reason };
            return plugin;
        }
        Placement::Invalid { reason } => {
            plugin.status = PluginStatus::Invalid { reason };
            return plugin;
        }
    };
    if !root.is_empty() && !files.is_dir(&root) {
        plugin.status = PluginStatus::Invalid { reason: format!("plugin folder `{root}` is not in the marketplace") };
        return plugin;
    }
    plugin.root = Some(root.clone());
    if let Err(reason) = resolve_in_tree(files, &mut plugin, &root) {
        plugin.status = PluginStatus::Invalid { reason };
    }
    plugin
}

fn parse_entry(raw: &Value) -> Result<PluginEntry, String> {
    let Value::Object(map) = raw else {
        return Err(format!("plugin entry must be a JSON object, not {}", json_type(raw)));
    };
    match map.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(Value::String(_)) => return Err("plugin entry has an empty `name`".to_string()),
        Some(other) => return Err(format!("plugin entry `name` must be a string, not {}", json_type(other))),
        None => return Err("plugin entry has no `name`".to_string()),
    }
    if let Some(Value::String(name)) = map.get("name") {
        if !is_installable_name(name) {
            return Err(format!(
                "plugin name `{name}` cannot be installed: use letters, digits, `.`, `_` and `-`, starting with a \
                 letter or digit"
            ));
        }
    }
    if !map.contains_key("source") {
        return Err("plugin entry has no `source`".to_string());
    }
    // plugin.json may give its author as a plain string; Claude Code refuses an entry whose `author` is not an object.
    if let Some(author) = map.get("author").filter(|a| !a.is_object()) {
        return Err(format!(
            "plugin entry `author` must be an object (`{{\"name\": ...}}`), not {}",
            json_type(author)
        ));
    }
    PluginEntry::deserialize(raw).map_err(|e| format!("invalid plugin entry: {e}"))
}

/// Reads plugin.json, skills and commands of a plugin whose folder is in the tree. `Err` makes the plugin invalid.
fn resolve_in_tree(files: &FileSet, plugin: &mut LoadedPlugin, root: &str) -> Result<(), String> {
    let entry = plugin.entry.as_ref().expect("entry is parsed before the folder is resolved");
    let strict = entry.is_strict();
    let manifest_path = join(root, PLUGIN_FILE).map_err(|e| e.to_string())?;
    let manifest = match files.get(&manifest_path) {
        None => None,
        Some(bytes) => match serde_json::from_slice::<PluginManifest>(bytes) {
            Ok(manifest) => Some(manifest),
            Err(e) if strict => return Err(format!("`{manifest_path}` is invalid: {e}")),
            Err(e) => {
                plugin.problems.push(format!("`{manifest_path}` is invalid and was ignored (`strict: false`): {e}"));
                None
            }
        },
    };
    let mut problems = Vec::new();
    // With `strict: false` the entry is the definition, and Claude Code refuses to load a plugin whose plugin.json
    // declares components when the entry does too ("conflicting manifests"). When only plugin.json declares them,
    // Claude Code reads them (and its version) as with `strict: true`, and so does Skillport.
    if let Some(manifest) = manifest.as_ref().filter(|_| !strict) {
        let declared = manifest.declared_components();
        let in_entry = entry.declared_components();
        if !declared.is_empty() && !in_entry.is_empty() {
            return Err(format!(
                "`strict: false`, but both the marketplace entry ({}) and `{manifest_path}` ({}) declare components",
                in_entry.join(", "),
                declared.join(", ")
            ));
        }
    }
    if let Some(manifest) = &manifest {
        if manifest.name != entry.name {
            problems.push(format!(
                "`{manifest_path}` names the plugin `{}`, the marketplace `{}`",
                manifest.name, entry.name
            ));
        }
        if let (Some(a), Some(b)) = (&manifest.version, &entry.version) {
            if a != b {
                problems.push(format!("`{manifest_path}` says version {a}, the marketplace entry {b}; {a} is used"));
            }
        }
    }

    let mut listed: Vec<(&str, &str)> = Vec::new();
    if let Some(skills) = &entry.skills {
        listed.extend(skills.paths().into_iter().map(|p| ("the marketplace entry", p)));
    }
    if let Some(skills) = manifest.as_ref().and_then(|m| m.skills.as_ref()) {
        listed.extend(skills.paths().into_iter().map(|p| ("plugin.json", p)));
    }
    let dirs = skill_dirs(files, root, &listed, &mut problems);
    plugin.skills = dirs.iter().map(|dir| load_skill(files, dir, root, &plugin.name)).collect();

    let mut command_paths: Vec<&str> = Vec::new();
    for declared in [entry.commands.as_ref(), manifest.as_ref().and_then(|m| m.commands.as_ref())].into_iter().flatten()
    {
        match declared {
            Value::String(path) => command_paths.push(path),
            Value::Array(items) => command_paths.extend(items.iter().filter_map(Value::as_str)),
            // Object form (inline command definitions) has no files to list.
            _ => {}
        }
    }
    plugin.commands = command_names(files, root, &command_paths, &mut problems);
    plugin.manifest = manifest;
    plugin.problems.extend(problems);
    Ok(())
}

/// Skill folders of a plugin, de-duplicated, in discovery order: `skills/<dir>/SKILL.md`, a `SKILL.md` at the
/// plugin root, then the listed paths.
///
/// When the plugin is the marketplace root itself and lists its skills (anthropics/skills does this to split one
/// `skills/` folder among several plugins), only the listed ones count: default discovery would give every such
/// plugin every skill.
fn skill_dirs(files: &FileSet, root: &str, listed: &[(&str, &str)], problems: &mut Vec<String>) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    let has_skill = |dir: &str| files.contains(&skill_md_path(dir));
    let skills_in = |dir: &str| -> Vec<String> {
        files.subdirs(dir).into_iter().map(|sub| child(dir, sub)).filter(|d| has_skill(d)).collect()
    };
    let shared_root = root.is_empty() && !listed.is_empty();
    if !shared_root {
        dirs.extend(skills_in(&child(root, "skills")));
        if has_skill(root) {
            dirs.push(root.to_string());
        }
    }
    for (origin, path) in listed {
        let target = match join(root, path) {
            Ok(target) => target,
            Err(e) => {
                problems.push(format!("skills path `{path}` from {origin} is not usable: {e}"));
                continue;
            }
        };
        if files.contains(&target) {
            // Claude Code reads folders only: a path to a file (SKILL.md itself, say) gives no skill.
            problems.push(format!("skills path `{path}` from {origin} is a file; list the skill's folder"));
            continue;
        }
        if has_skill(&target) {
            dirs.push(target);
        } else if files.is_dir(&target) {
            let found = skills_in(&target);
            if found.is_empty() {
                problems.push(format!("skills path `{path}` from {origin} has no SKILL.md in it or its subfolders"));
            }
            dirs.extend(found);
        } else {
            problems.push(format!("skills path `{path}` from {origin} is not in the marketplace"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    dirs
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn skill_md_path(dir: &str) -> String {
    child(dir, "SKILL.md")
}

fn load_skill(files: &FileSet, dir: &str, plugin_root: &str, plugin_name: &str) -> Skill {
    let folder = if dir.is_empty() { plugin_name } else { dir.rsplit('/').next().unwrap_or(dir) };
    let mut problems = Vec::new();
    let bytes = files.get(&skill_md_path(dir)).unwrap_or_default();
    let text = String::from_utf8_lossy(bytes);
    if std::str::from_utf8(bytes).is_err() {
        problems.push("SKILL.md is not valid UTF-8".to_string());
    }
    let (frontmatter_raw, frontmatter) = match parse_skill_md_unchecked(&text) {
        Ok(md) => {
            if md.name().is_none() {
                problems.push(crate::skill::SkillError::MissingName.to_string());
            }
            if md.description().is_none() {
                problems.push(crate::skill::SkillError::MissingDescription.to_string());
            }
            (Some(md.frontmatter_raw), md.frontmatter)
        }
        Err(e) => {
            problems.push(e.to_string());
            (None, Map::new())
        }
    };
    let declared = frontmatter.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty());
    if let Some(declared) = declared {
        if declared != folder {
            problems.push(format!("skill name `{declared}` does not match its folder `{folder}`"));
        }
    }
    // Claude Code names a skill after its folder, whatever its frontmatter says (a mismatch is a problem above).
    let name = folder.to_string();
    let written = declared.unwrap_or(folder);
    if !is_valid_skill_name(written) {
        problems.push(format!("skill name `{written}` must be 1-64 lowercase letters, digits or hyphens"));
    }
    let description = frontmatter
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from);

    let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
    // A skill at the plugin root shares its folder with the plugin's own metadata, which is not part of the skill.
    let at_plugin_root = dir == plugin_root;
    let skill_files: Vec<SkillFile> = files
        .files_under(dir)
        .map(|(path, bytes)| (&path[skip..], bytes))
        .filter(|(path, _)| !(at_plugin_root && path.starts_with(".claude-plugin/")))
        .map(|(path, bytes)| SkillFile {
            path: path.to_string(),
            size: bytes.len() as u64,
            sha256: sha256_digest(bytes),
        })
        .collect();
    let digest = digest_of_entries(skill_files.iter().map(|f| (f.path.as_str(), f.sha256.clone())));
    Skill {
        name,
        description,
        dir: dir.to_string(),
        frontmatter_raw,
        frontmatter,
        files: skill_files,
        digest,
        problems,
    }
}

/// The Agent Skills rule for `name`: 1-64 characters, lowercase letters, digits and hyphens.
pub fn is_valid_skill_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `commands/*.md` of the plugin, then the listed command files or folders (`.md` files directly inside).
fn command_names(files: &FileSet, root: &str, listed: &[&str], problems: &mut Vec<String>) -> Vec<String> {
    let md_in = |dir: &str| -> Vec<String> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        files
            .files_under(dir)
            .filter_map(|(path, _)| path[skip..].strip_suffix(".md").filter(|stem| !stem.contains('/')))
            .map(String::from)
            .collect()
    };
    // A `commands` path replaces the default `commands/` folder: Claude Code reads it only when no path is given.
    let mut names = if listed.is_empty() { md_in(&child(root, "commands")) } else { Vec::new() };
    for path in listed {
        match join(root, path) {
            Ok(target) if files.contains(&target) && target.ends_with(".md") => {
                let file = target.rsplit('/').next().unwrap_or(&target);
                names.push(file.trim_end_matches(".md").to_string());
            }
            Ok(target) if files.is_dir(&target) => names.extend(md_in(&target)),
            Ok(_) => problems.push(format!("commands path `{path}` is not in the marketplace")),
            Err(e) => problems.push(format!("commands path `{path}` is not usable: {e}")),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GOOD_SKILL: &str = "---\nname: alpha\ndescription: Does alpha things.\n---\n# Alpha\n";

    fn tree(marketplace: Value, files: &[(&str, &str)]) -> FileSet {
        let mut set = FileSet::new();
        set.insert(MARKETPLACE_FILE, serde_json::to_vec(&marketplace).unwrap()).unwrap();
        for (path, content) in files {
            set.insert(path, content.as_bytes().to_vec()).unwrap();
        }
        set
    }

    fn reason(plugin: &LoadedPlugin) -> &str {
        plugin.status.reason().unwrap_or("")
    }

    #[test]
    fn manifest_errors_fail_the_load() {
        assert_eq!(load_marketplace(&FileSet::new()), Err(LoadError::MissingManifest));
        let mut set = FileSet::new();
        set.insert(MARKETPLACE_FILE, b"{not json".to_vec()).unwrap();
        assert!(matches!(load_marketplace(&set), Err(LoadError::Json(_))));
        for (value, expected) in [
            (json!([]), "must be a JSON object"),
            (json!({"plugins": []}), "has no `name`"),
            (json!({"name": "m"}), "has no `plugins` array"),
            (json!({"name": "m", "plugins": {}}), "has no `plugins` array"),
        ] {
            let err = load_marketplace(&tree(value, &[])).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn bad_optional_manifest_field_is_a_problem_and_still_round_trips() {
        let input = json!({"name": "m", "owner": 42, "plugins": []});
        let loaded = load_marketplace(&tree(input.clone(), &[])).unwrap();
        assert_eq!(loaded.manifest.owner, None);
        assert!(loaded.problems[0].contains("`owner` is ignored"), "{:?}", loaded.problems);
        assert_eq!(serde_json::to_value(&loaded.manifest).unwrap(), input);
    }

    #[test]
    fn relative_plugin_with_plugin_json_skills_and_commands() {
        let files = tree(
            json!({"name": "m", "plugins": [{"name": "p", "source": "./plugins/p", "version": "0.9"}]}),
            &[
                ("plugins/p/.claude-plugin/plugin.json", r#"{"name": "p", "version": "1.0.0"}"#),
                ("plugins/p/skills/alpha/SKILL.md", GOOD_SKILL),
                ("plugins/p/skills/alpha/references/notes.md", "notes"),
                ("plugins/p/skills/not-a-skill/README.md", "no SKILL.md here"),
                ("plugins/p/commands/deploy.md", "# deploy"),
                ("plugins/p/commands/nested/x.md", "# not top-level"),
            ],
        );
        let loaded = load_marketplace(&files).unwrap();
        let plugin = &loaded.plugins[0];
        assert_eq!(plugin.status, PluginStatus::Servable);
        assert_eq!(plugin.root.as_deref(), Some("plugins/p"));
        assert_eq!(plugin.version(), Some("1.0.0"));
        assert!(plugin.problems.iter().any(|p| p.contains("version 1.0.0, the marketplace entry 0.9")));
        assert_eq!(plugin.commands, ["deploy"]);
        assert_eq!(plugin.skills.len(), 1);
        let skill = &plugin.skills[0];
        assert_eq!((skill.name.as_str(), skill.dir.as_str()), ("alpha", "plugins/p/skills/alpha"));
        assert_eq!(skill.description.as_deref(), Some("Does alpha things."));
        assert!(skill.problems.is_empty(), "{:?}", skill.problems);
        let paths: Vec<&str> = skill.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["SKILL.md", "references/notes.md"]);
        assert_eq!(skill.files[1].size, 5);
        assert_eq!(skill.files[1].sha256, sha256_digest(b"notes"));
    }

    #[test]
    fn digests_follow_content() {
        let build = |notes: &str| {
            let files = tree(
                json!({"name": "m", "plugins": [{"name": "p", "source": "./p"}]}),
                &[("p/skills/alpha/SKILL.md", GOOD_SKILL), ("p/skills/alpha/notes.md", notes)],
            );
            load_marketplace(&files).unwrap().plugins.remove(0)
        };
        let (a, b, c) = (build("one"), build("one"), build("two"));
        assert_eq!(a.skills[0].digest, b.skills[0].digest);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.skills[0].digest, c.skills[0].digest);
        assert_ne!(a.digest(), c.digest());
        assert!(a.digest().starts_with("sha256:") && a.digest().len() == 7 + 64);
    }

    #[test]
    fn plugin_root_prefixes_bare_sources_only() {
        let files = tree(
            json!({
                "name": "m",
                "metadata": {"pluginRoot": "./plugins"},
                "plugins": [
                    {"name": "bare", "source": "bare"},
                    {"name": "dotted", "source": "./elsewhere/dotted"},
                    {"name": "escape", "source": "../outside"},
                    {"name": "abs", "source": "/etc"},
                ],
            }),
            &[("plugins/bare/SKILL.md", GOOD_SKILL), ("elsewhere/dotted/skills/alpha/SKILL.md", GOOD_SKILL)],
        );
        let loaded = load_marketplace(&files).unwrap();
        let roots: Vec<Option<&str>> = loaded.plugins.iter().map(|p| p.root.as_deref()).collect();
        assert_eq!(roots, [Some("plugins/bare"), Some("elsewhere/dotted"), None, None]);
        assert!(loaded.plugins[0].status.is_servable() && loaded.plugins[1].status.is_servable());
        // A SKILL.md at the plugin root makes a single-skill plugin, named after its folder's skill.
        assert_eq!(loaded.plugins[0].skills[0].dir, "plugins/bare");
        assert_eq!(reason(&loaded.plugins[2]), "plugin source `../outside` points outside the marketplace");
        assert!(matches!(loaded.plugins[2].status, PluginStatus::Invalid { .. }));
        assert!(reason(&loaded.plugins[3]).contains("absolute"), "{}", reason(&loaded.plugins[3]));
    }

    #[test]
    fn root_source_with_explicit_skills_takes_only_those() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "docs", "source": "./", "strict": false, "skills": ["./skills/xlsx", "./skills/gone"]},
                {"name": "art", "source": "./", "strict": false, "skills": "./skills/art/"},
            ]}),
            &[
                ("skills/xlsx/SKILL.md", "---\nname: xlsx\ndescription: Sheets.\n---\n"),
                ("skills/art/SKILL.md", "---\nname: art\ndescription: Art.\n---\n"),
                ("SKILL.md", GOOD_SKILL),
            ],
        );
        let loaded = load_marketplace(&files).unwrap();
        let docs = &loaded.plugins[0];
        assert_eq!(docs.root.as_deref(), Some(""));
        assert_eq!(docs.status, PluginStatus::Servable);
        assert_eq!(docs.manifest, None);
        let names: Vec<&str> = docs.skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["xlsx"]);
        assert!(docs
            .problems
            .iter()
            .any(|p| p == "skills path `./skills/gone` from the marketplace entry is not in the marketplace"));
        let art: Vec<&str> = loaded.plugins[1].skills.iter().map(|s| s.dir.as_str()).collect();
        assert_eq!(art, ["skills/art"]);
    }

    #[test]
    fn listed_skill_paths_add_to_default_discovery_without_duplicates() {
        let files = tree(
            json!({"name": "m", "plugins": [{"name": "p", "source": "./p", "skills": ["./skills/alpha", "./extra"]}]}),
            &[
                (
                    "p/.claude-plugin/plugin.json",
                    r#"{"name": "p", "skills": ["./more/beta/SKILL.md", "./nothing-here"]}"#,
                ),
                ("p/skills/alpha/SKILL.md", GOOD_SKILL),
                ("p/extra/gamma/SKILL.md", "---\nname: gamma\ndescription: G.\n---\n"),
                ("p/extra/delta/SKILL.md", "---\nname: delta\ndescription: D.\n---\n"),
                ("p/more/beta/SKILL.md", "---\nname: beta\ndescription: B.\n---\n"),
            ],
        );
        let plugin = load_marketplace(&files).unwrap().plugins.remove(0);
        let names: Vec<&str> = plugin.skills.iter().map(|s| s.name.as_str()).collect();
        // Claude Code reads skills paths as folders only: the path to beta's SKILL.md gives no skill.
        assert_eq!(names, ["alpha", "delta", "gamma"]);
        assert_eq!(
            plugin.problems,
            [
                "skills path `./more/beta/SKILL.md` from plugin.json is a file; list the skill's folder",
                "skills path `./nothing-here` from plugin.json is not in the marketplace"
            ]
        );
    }

    #[test]
    fn strict_false_reads_plugin_json_unless_both_declare_components() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "alone", "source": "./alone", "strict": false, "version": "3.0.0"},
                {"name": "both", "source": "./both", "strict": false, "skills": ["./more"]},
            ]}),
            &[
                ("alone/.claude-plugin/plugin.json", r#"{"name": "alone", "version": "3.1.0", "skills": ["./x"]}"#),
                ("alone/x/k/SKILL.md", "---\nname: k\ndescription: K.\n---\n"),
                ("alone/skills/alpha/SKILL.md", GOOD_SKILL),
                ("both/.claude-plugin/plugin.json", r#"{"name": "both", "skills": ["./x"]}"#),
                ("both/x/k/SKILL.md", "---\nname: k\ndescription: K.\n---\n"),
                ("both/more/m/SKILL.md", "---\nname: m\ndescription: M.\n---\n"),
            ],
        );
        let loaded = load_marketplace(&files).unwrap();
        let alone = &loaded.plugins[0];
        assert!(alone.status.is_servable());
        let names: Vec<&str> = alone.skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alpha", "k"]);
        assert_eq!(alone.version(), Some("3.1.0"));
        assert_eq!(
            reason(&loaded.plugins[1]),
            "`strict: false`, but both the marketplace entry (skills) and `both/.claude-plugin/plugin.json` (skills) \
             declare components"
        );
    }

    #[test]
    fn entries_claude_code_cannot_install_are_invalid() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "twice", "source": "./first"},
                {"name": "twice", "source": "./second"},
                {"name": "Bad Name", "source": "./first"},
                {"name": "-dash", "source": "./first"},
                {"name": "Fine_1.x", "source": "./first"},
                {"name": "author-string", "source": "./first", "author": "Someone"},
                {"name": "author-object", "source": "./first", "author": {"name": "Someone"}},
            ]}),
            &[("first/skills/alpha/SKILL.md", GOOD_SKILL), ("second/skills/beta/SKILL.md", GOOD_SKILL)],
        );
        let loaded = load_marketplace(&files).unwrap();
        let plugins = &loaded.plugins;
        assert!(plugins[0].status.is_servable());
        assert_eq!(
            reason(&plugins[1]),
            "an earlier entry of this marketplace is also named `twice`; only the first is installed"
        );
        assert!(plugins[1].skills.is_empty());
        assert!(
            reason(&plugins[2]).starts_with("plugin name `Bad Name` cannot be installed"),
            "{}",
            reason(&plugins[2])
        );
        assert!(reason(&plugins[3]).starts_with("plugin name `-dash` cannot be installed"), "{}", reason(&plugins[3]));
        assert!(plugins[4].status.is_servable());
        assert_eq!(reason(&plugins[5]), "plugin entry `author` must be an object (`{\"name\": ...}`), not a string");
        assert!(plugins[6].status.is_servable());
        // The lean load judges the same.
        let lean = load_marketplace_lean(&files, &Hosts::default()).unwrap();
        let statuses: Vec<bool> = lean.plugins.iter().map(|p| p.status.is_servable()).collect();
        assert_eq!(statuses, [true, false, false, false, true, false, true]);
        assert!(!is_installable_name(&"a".repeat(129)) && is_installable_name(&"a".repeat(128)));
    }

    #[test]
    fn a_commands_path_replaces_the_default_folder() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "default", "source": "./p"},
                {"name": "dir", "source": "./p", "commands": "./more/"},
            ]}),
            &[("p/commands/usual.md", "Usual."), ("p/more/special.md", "Special.")],
        );
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(loaded.plugins[0].commands, ["usual"]);
        assert_eq!(loaded.plugins[1].commands, ["special"]);
    }

    #[test]
    fn missing_folder_is_invalid() {
        let files = tree(json!({"name": "m", "plugins": [{"name": "x", "source": "./plugins/x"}]}), &[]);
        let plugin = &load_marketplace(&files).unwrap().plugins[0];
        assert_eq!(
            plugin.status,
            PluginStatus::Invalid { reason: "plugin folder `plugins/x` is not in the marketplace".into() }
        );
        assert!(plugin.entry.is_some());
        assert_eq!(plugin.root, None);
    }

    #[test]
    fn malformed_entries_are_invalid_alone() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "good", "source": "./good"},
                {"name": 5},
                "just a string",
                {"name": "nosource"},
                {"name": "badsource", "source": {"source": "github"}},
                {"name": "badtype", "source": "./good", "keywords": "not-a-list"},
                {"name": "npm", "source": {"source": "npm", "package": "@a/b"}},
                {"name": "later", "source": "./good"},
            ]}),
            &[("good/skills/alpha/SKILL.md", GOOD_SKILL)],
        );
        let loaded = load_marketplace(&files).unwrap();
        let names: Vec<&str> = loaded.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["good", "#1", "#2", "nosource", "badsource", "badtype", "npm", "later"]);
        let plugins = &loaded.plugins;
        assert!(plugins[0].status.is_servable() && plugins[7].status.is_servable());
        assert_eq!(reason(&plugins[1]), "plugin entry `name` must be a string, not a number");
        assert_eq!(plugins[1].raw, json!({"name": 5}));
        assert_eq!(plugins[1].entry, None);
        assert_eq!(reason(&plugins[2]), "plugin entry must be a JSON object, not a string");
        assert_eq!(reason(&plugins[3]), "plugin entry has no `source`");
        assert!(reason(&plugins[4]).contains("`github` plugin source has no `repo`"), "{}", reason(&plugins[4]));
        assert!(reason(&plugins[5]).starts_with("invalid plugin entry: invalid type"), "{}", reason(&plugins[5]));
        assert!(matches!(plugins[6].status, PluginStatus::NotServable { .. }));
        assert!(reason(&plugins[6]).contains("npm packages cannot be fetched or run on Cloudflare Workers"));
    }

    #[test]
    fn remote_sources_are_not_servable_with_a_named_reason() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "a", "source": {"source": "git-subdir", "url": "https://github.com/x/y.git", "path": "plugins/z"}},
                {"name": "b", "source": {"source": "github", "repo": "x/y", "ref": "v1"}},
                {"name": "c", "source": {"source": "svn", "url": "svn://x"}},
                {"name": "d", "source": {"source": "url", "url": "https://example.org/x/y.git"}},
                {"name": "e", "source": {"source": "url", "url": "git@github.com:x/y.git"}},
            ]}),
            &[],
        );
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(
            reason(&loaded.plugins[0]),
            "plugin source `git-subdir` (https://github.com/x/y.git, path plugins/z) is outside this marketplace and has not been fetched yet"
        );
        assert!(reason(&loaded.plugins[1]).contains("`github` (x/y at v1)"));
        assert_eq!(reason(&loaded.plugins[2]), "plugin source kind `svn` is not supported");
        assert_eq!(
            reason(&loaded.plugins[3]),
            "plugin source `url` (https://example.org/x/y.git) is outside this marketplace and cannot be read: host example.org is not a GitHub or GitLab host this Skillport is configured to read"
        );
        assert!(reason(&loaded.plugins[4]).contains("is an ssh URL"), "{}", reason(&loaded.plugins[4]));
        assert!(loaded
            .plugins
            .iter()
            .all(|p| matches!(p.status, PluginStatus::NotServable { .. }) && p.entry.is_some()));
        // With example.org configured as a GitLab host, `d` is only waiting to be fetched.
        let mut hosts = Hosts::default();
        hosts.add_gitlab("example.org", "https://example.org/api/v4").unwrap();
        let loaded = load_marketplace_with(&files, &hosts).unwrap();
        assert!(reason(&loaded.plugins[3]).ends_with("has not been fetched yet"));
    }

    #[test]
    fn external_plugin_in_the_reserved_folder_resolves_like_a_relative_one() {
        let source = json!({"source": "git-subdir", "url": "https://github.com/x/y.git", "path": "plugins/ext",
            "sha": "30287f5e3f122a646d1ac5ca3ab96e130c52a3ad"});
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "ext", "source": source, "version": "2.0.0"},
                {"name": "other", "source": {"source": "github", "repo": "x/z"}},
            ]}),
            &[
                (".skillport-external/ext/.claude-plugin/plugin.json", r#"{"name": "ext", "version": "2.0.0"}"#),
                (".skillport-external/ext/skills/alpha/SKILL.md", GOOD_SKILL),
                (".skillport-external/ext/skills/alpha/notes.md", "notes"),
                (".skillport-external/ext/commands/go.md", "# go"),
                // Another plugin's folder is not this one's, however similar the name.
                (".skillport-external/other-plugin/skills/alpha/SKILL.md", GOOD_SKILL),
            ],
        );
        let loaded = load_marketplace(&files).unwrap();
        let ext = &loaded.plugins[0];
        assert_eq!(ext.status, PluginStatus::Servable);
        assert_eq!(ext.root.as_deref(), Some(".skillport-external/ext"));
        assert_eq!(ext.manifest.as_ref().map(|m| m.name.as_str()), Some("ext"));
        assert_eq!(ext.commands, ["go"]);
        let skill = &ext.skills[0];
        assert_eq!((skill.name.as_str(), skill.dir.as_str()), ("alpha", ".skillport-external/ext/skills/alpha"));
        assert_eq!(skill.files.len(), 2);
        assert!(ext.problems.is_empty(), "{:?}", ext.problems);
        assert!(reason(&loaded.plugins[1]).ends_with("has not been fetched yet"));
        assert_eq!(external_folder("ext").as_deref(), Some(".skillport-external/ext"));
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert_eq!(external_folder(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_plugin_json_invalidates_that_plugin_only() {
        let files = tree(
            json!({"name": "m", "plugins": [
                {"name": "broken", "source": "./broken"},
                {"name": "noname", "source": "./noname"},
                {"name": "loose", "source": "./broken", "strict": false},
                {"name": "fine", "source": "./fine"},
            ]}),
            &[
                ("broken/.claude-plugin/plugin.json", "{\"name\": \"broken\",}"),
                ("broken/skills/alpha/SKILL.md", GOOD_SKILL),
                ("noname/.claude-plugin/plugin.json", r#"{"version": "1"}"#),
                ("fine/skills/alpha/SKILL.md", GOOD_SKILL),
            ],
        );
        let loaded = load_marketplace(&files).unwrap();
        assert!(
            reason(&loaded.plugins[0]).starts_with("`broken/.claude-plugin/plugin.json` is invalid: trailing comma")
        );
        assert!(reason(&loaded.plugins[1]).contains("missing field `name`"), "{}", reason(&loaded.plugins[1]));
        // Without strict, plugin.json is not the definition: the plugin loads, with the fault noted.
        assert!(loaded.plugins[2].status.is_servable());
        assert_eq!(loaded.plugins[2].skills.len(), 1);
        assert!(loaded.plugins[2].problems[0].contains("invalid and was ignored"));
        assert!(loaded.plugins[3].status.is_servable());
    }

    #[test]
    fn broken_skill_md_is_kept_with_problems() {
        let files = tree(
            json!({"name": "m", "plugins": [{"name": "p", "source": "./p"}]}),
            &[
                ("p/skills/no-front/SKILL.md", "# Just markdown\n"),
                ("p/skills/bad-yaml/SKILL.md", "---\nname: [oops\n---\n"),
                ("p/skills/renamed/SKILL.md", "---\nname: Other_Name\ndescription: d\n---\n"),
                ("p/skills/no-desc/SKILL.md", "---\nname: no-desc\n---\n"),
            ],
        );
        let plugin = load_marketplace(&files).unwrap().plugins.remove(0);
        assert!(plugin.status.is_servable());
        let by_dir = |d: &str| plugin.skills.iter().find(|s| s.dir == format!("p/skills/{d}")).unwrap();
        let s = by_dir("no-front");
        assert_eq!(s.name, "no-front");
        assert_eq!(s.frontmatter_raw, None);
        assert_eq!(s.problems, ["SKILL.md has no frontmatter: the first line must be `---`"]);
        let s = by_dir("bad-yaml");
        assert_eq!(s.name, "bad-yaml");
        assert!(s.problems[0].contains("not valid YAML"), "{:?}", s.problems);
        // Claude Code names a skill after its folder, whatever the frontmatter says.
        let s = by_dir("renamed");
        assert_eq!(s.name, "renamed");
        assert!(s.problems.contains(&"skill name `Other_Name` does not match its folder `renamed`".to_string()));
        assert!(s.problems.iter().any(|p| p.contains("must be 1-64 lowercase letters")));
        assert_eq!(by_dir("no-desc").problems, ["SKILL.md frontmatter has no `description`"]);
    }

    #[test]
    fn status_serialises_with_a_tag() {
        let status = PluginStatus::NotServable { reason: "r".into() };
        assert_eq!(serde_json::to_value(&status).unwrap(), json!({"status": "not_servable", "reason": "r"}));
        assert_eq!(serde_json::to_value(PluginStatus::Servable).unwrap(), json!({"status": "servable"}));
    }

    #[test]
    fn skill_names() {
        assert!(is_valid_skill_name("pdf-2"));
        assert!(!is_valid_skill_name(""));
        assert!(!is_valid_skill_name("Pdf"));
        assert!(!is_valid_skill_name("a_b"));
        assert!(!is_valid_skill_name(&"a".repeat(65)));
    }
}
