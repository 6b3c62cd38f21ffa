//! `.claude-plugin/plugin.json` through the real loader: a fixed marketplace whose plugins all read the fuzzed
//! plugin.json, as a strict entry (plugin.json is the authority), a `strict: false` entry (its plugin.json read as
//! Claude Code reads it), and a plugin at the marketplace root, so the manifest's `skills` and `commands`
//! paths are resolved against real folders.
//!
//! Invariants: no panic; the loader's promises (common::check_loaded); a strict plugin is invalid exactly when the
//! bytes are not a `PluginManifest`, and otherwise carries that very manifest; a `strict: false` plugin ignores an
//! invalid plugin.json, carries a valid one, and is invalid exactly when both it and its entry declare components.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillport_sources::{load_marketplace, FileSet, PluginManifest, PluginStatus};
use std::sync::OnceLock;

mod common;

const MARKETPLACE: &str = r#"{
  "name": "fuzz",
  "plugins": [
    {"name": "p", "source": "./plugins/p", "version": "1.0.0"},
    {"name": "loose", "source": "./plugins/p", "strict": false, "skills": ["./skills/s"]},
    {"name": "root", "source": "./", "description": "the marketplace root as a plugin"}
  ]
}"#;

fn tree() -> &'static FileSet {
    static TREE: OnceLock<FileSet> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut files = common::plugin_tree();
        let mut put = |path: &str, text: &str| files.insert(path, text.as_bytes().to_vec()).expect("fixed path");
        put(".claude-plugin/marketplace.json", MARKETPLACE);
        put("plugins/p/skills/s/SKILL.md", common::SKILL_OK);
        put("plugins/p/skills/s/scripts/run.sh", "echo hi\n");
        put("plugins/p/more/t/SKILL.md", "---\nname: t\ndescription: listed\n---\n");
        put("plugins/p/commands/go.md", "Go.\n");
        put("plugins/p/extra-commands/a.md", "A.\n");
        put("plugins/p/SKILL.md", "---\nname: p\ndescription: at the plugin root\n---\n");
        files
    })
}

fuzz_target!(|data: &[u8]| {
    let mut files = tree().clone();
    files.insert("plugins/p/.claude-plugin/plugin.json", data.to_vec()).expect("fixed path");
    files.insert(".claude-plugin/plugin.json", data.to_vec()).expect("fixed path");
    let loaded = load_marketplace(&files).expect("the marketplace manifest is fixed and valid");
    common::check_loaded(&files, &loaded);

    let parsed = serde_json::from_slice::<PluginManifest>(data);
    let strict = loaded.plugin("p").expect("entry p");
    match &parsed {
        Ok(manifest) => {
            assert!(strict.status.is_servable(), "valid plugin.json made `p` {:?}", strict.status);
            assert_eq!(strict.manifest.as_ref(), Some(manifest));
            assert_eq!(strict.version(), manifest.version.as_deref().or(Some("1.0.0")));
        }
        Err(_) => {
            assert!(matches!(strict.status, PluginStatus::Invalid { .. }), "invalid plugin.json left `p` usable");
            assert!(strict.manifest.is_none());
        }
    }
    // `strict: false`, as Claude Code reads it: an invalid plugin.json is ignored; a valid one is read (its version),
    // unless it declares components too, since the entry (which declares `skills`) does: then the plugin is invalid.
    let loose = loaded.plugin("loose").expect("entry loose");
    match &parsed {
        Ok(manifest) if !manifest.declared_components().is_empty() => {
            assert!(matches!(loose.status, PluginStatus::Invalid { .. }), "conflicting components: {:?}", loose.status);
        }
        Ok(manifest) => {
            assert!(loose.status.is_servable(), "a plugin.json without components: {:?}", loose.status);
            assert_eq!(loose.manifest.as_ref(), Some(manifest));
            assert!(loose.skills.iter().any(|s| s.dir == "plugins/p/skills/s"));
        }
        Err(_) => {
            assert!(loose.status.is_servable(), "an invalid plugin.json is ignored: {:?}", loose.status);
            assert!(loose.manifest.is_none());
            assert!(loose.skills.iter().any(|s| s.dir == "plugins/p/skills/s"));
        }
    }
    if let Ok(manifest) = &parsed {
        let written = serde_json::to_vec(manifest).expect("plugin.json serialises");
        let again: PluginManifest = serde_json::from_slice(&written).expect("a written plugin.json reads back");
        assert_eq!(&again, manifest, "plugin.json changed in a write and re-read");
    }
});
