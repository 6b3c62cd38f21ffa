//! What one plugin exports as: its files relative to its own folder, the plugin.json each form needs, and the name
//! it is exported under (unique across marketplaces, and one the target accepts).

use crate::catalogue::{MarketplaceEntry, PluginRef};
use serde_json::{json, Map, Value};
use skillport_sources::tree::{MARKETPLACE_FILE, PLUGIN_FILE};
use skillport_sources::{LoadedPlugin, EXTERNAL_ROOT};
use std::collections::{BTreeMap, BTreeSet};

use super::files::pretty;

/// The plugin entries of the marketplace file as written, in the order the loader gives its plugins (one per entry).
pub(super) fn raw_entries(m: &MarketplaceEntry) -> Vec<Value> {
    m.files
        .get(MARKETPLACE_FILE)
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .and_then(|v| v.get("plugins").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// The plugin's files, relative to its folder: everything under its root but the skills hidden from the user, and,
/// for a plugin at the marketplace root, neither the marketplace file nor the fetched copies of other plugins.
pub(super) fn plugin_files<'a>(p: &PluginRef<'a>) -> Vec<(String, &'a [u8])> {
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
pub(super) fn org_manifest(p: &PluginRef<'_>, raw: Option<&Value>, name: &str) -> Value {
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
pub(super) fn metadata_manifest(raw: Option<&Value>, name: &str) -> Value {
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
pub(super) fn object_author(map: &mut Map<String, Value>) {
    if let Some(Value::String(author)) = map.get("author") {
        let author = json!({ "name": author });
        map.insert("author".into(), author);
    }
}

/// The plugin's own plugin.json with its `name` set to the exported one (kept as is when it is not a JSON object).
pub(super) fn renamed_manifest(bytes: &[u8], name: &str) -> Vec<u8> {
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
pub(super) fn unique_names(plugins: &[(&str, &str)]) -> Vec<String> {
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
pub(super) fn valid_org_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=64).contains(&count)
        && name.chars().all(|c| c == '-' || c.is_ascii_digit() || (c.is_alphabetic() && c.is_lowercase()))
}

/// A name that is one ordinary folder under `plugins/`: a marketplace's plugin name is untrusted text, and must never
/// write outside the export (`..`, `a/b`) or hide itself (`.x`).
pub(super) fn safe_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
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
