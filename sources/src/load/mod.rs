//! Resolving a marketplace tree into plugins and skills, the way Claude Code does.
//!
//! Only `.claude-plugin/marketplace.json` itself can fail a load ([`LoadError`]). Everything below it is judged per
//! plugin: a malformed entry, a missing folder or a broken `plugin.json` marks that one plugin
//! [`PluginStatus::Invalid`], a source this crate cannot read marks it [`PluginStatus::NotServable`], and smaller
//! faults (a skill without frontmatter, a listed path that is absent) become `problems` beside the data. Nothing is
//! dropped, so a status page can show every entry with the reason it is or is not served.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::external::{self, Hosts};
use crate::files::{digest_of_entries, FileSet};
use crate::model::{json_type, MarketplaceManifest, MarketplaceMetadata, PluginEntry, PluginManifest, PluginSource};
use crate::placement::{place_source, Placement};

mod folder;

pub use folder::is_valid_skill_name;
// The tree's places were the loader's; these names keep the older paths working.
use crate::tree::{external_folder, MARKETPLACE_FILE};

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
        digest_of_entries(self.skills.iter().map(|s| (s.dir.as_str(), s.digest.as_str())))
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
/// says whether fetching it is possible at all, and why the last try failed when the caller says so in `failures`.
fn place_external(
    files: &FileSet,
    entry: &PluginEntry,
    hosts: &Hosts,
    failures: &BTreeMap<String, String>,
) -> Placement {
    if let Some(folder) = external_folder(&entry.name).filter(|folder| files.is_dir(folder)) {
        return Placement::InTree(folder);
    }
    let described = entry.source.describe();
    let failure = failures.get(&entry.name).map(|e| e.chars().take(500).collect::<String>());
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
    let no_failures = BTreeMap::new();
    let plugins = manifest
        .plugins
        .iter()
        .enumerate()
        .map(|(index, raw)| load_plugin(files, manifest.metadata.as_ref(), hosts, &no_failures, index, raw.clone()))
        .collect();
    Ok(LoadedMarketplace { manifest, plugins: first_of_each_name(plugins), problems })
}

/// [`load_marketplace_with`] for a server, which reads the parsed forms only: without the JSON as written (each
/// plugin's `raw` is `null` and the manifest's `plugins` is empty) or each SKILL.md's frontmatter text (`None`; the
/// parsed `frontmatter` and the file itself remain). Each entry moves into its plugin and is dropped once parsed,
/// instead of being copied, so a marketplace of a thousand plugins is never held in two `Value` trees at once, and
/// the loaded form keeps about half of the memory (`cargo bench --bench memory` in the Worker crate).
///
/// `failures` says, by plugin name, why an external plugin that is not in the tree could not be fetched the last time
/// it was tried: its status then says "could not be fetched: <why>" rather than "has not been fetched yet".
pub fn load_marketplace_lean(
    files: &FileSet,
    hosts: &Hosts,
    failures: &BTreeMap<String, String>,
) -> Result<LoadedMarketplace, LoadError> {
    let bytes = files.get(MARKETPLACE_FILE).ok_or(LoadError::MissingManifest)?;
    let (mut manifest, problems) = parse_marketplace_manifest(bytes)?;
    let entries = std::mem::take(&mut manifest.plugins);
    let plugins = entries
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let mut plugin = load_plugin(files, manifest.metadata.as_ref(), hosts, failures, index, raw);
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
    failures: &BTreeMap<String, String>,
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
        Placement::Elsewhere { .. } if is_external(&entry.source) => place_external(files, &entry, hosts, failures),
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
    if let Err(reason) = folder::resolve_in_tree(files, &mut plugin, &root) {
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

#[cfg(test)]
mod tests;
