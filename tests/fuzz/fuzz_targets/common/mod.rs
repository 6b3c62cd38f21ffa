//! What the marketplace targets share: a small plugin tree for fuzzed manifests to point into, and the invariants
//! every loaded marketplace must keep, whatever its JSON said.
#![allow(dead_code)]

use skillport_sources::{FileSet, LoadedMarketplace, PluginStatus};

pub const SKILL_OK: &str = "---\nname: one\ndescription: A skill.\n---\nBody.\n";

/// A marketplace tree without its manifest: plugins in the usual places, a skill at a plugin root, skills shared
/// from the marketplace root (anthropics/skills style), commands, and one external plugin already fetched.
pub fn plugin_tree() -> FileSet {
    let mut files = FileSet::new();
    let mut put = |path: &str, text: &str| files.insert(path, text.as_bytes().to_vec()).expect("fixed path");
    put("plugins/alpha/.claude-plugin/plugin.json", r#"{"name":"alpha","version":"1.0.0","description":"A"}"#);
    put("plugins/alpha/skills/one/SKILL.md", SKILL_OK);
    put("plugins/alpha/skills/one/references/x.md", "# x\n");
    put("plugins/alpha/skills/two/SKILL.md", "---\nname: two\n---\n");
    put("plugins/alpha/commands/hello.md", "Say hello.\n");
    put("plugins/beta/SKILL.md", "---\nname: beta\ndescription: root skill\n---\n");
    put("plugins/beta/.claude-plugin/plugin.json", r#"{"name":"beta","skills":["./extra"],"commands":"./cmds"}"#);
    put("plugins/beta/extra/three/SKILL.md", "---\nname: three\ndescription: d\n---\n");
    put("plugins/beta/cmds/run.md", "Run.\n");
    put("skills/shared/SKILL.md", "---\nname: shared\ndescription: shared\n---\n");
    put("skills/other/SKILL.md", "no frontmatter\n");
    put("commands/root.md", "Root command.\n");
    put(".skillport-external/ext/skills/e/SKILL.md", "---\nname: e\ndescription: external\n---\n");
    files
}

fn is_normalised(path: &str) -> bool {
    path.is_empty()
        || (!path.starts_with('/')
            && !path.contains('\\')
            && !path.contains('\0')
            && path.split('/').all(|s| !s.is_empty() && s != "." && s != ".."))
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The loader's promises (sources/src/load.rs): one result per entry, in order; a servable plugin has a folder in
/// the tree; every skill is a folder of the tree holding SKILL.md, and lists exactly files of the tree; every path
/// is normalised (nothing escapes the marketplace root); the whole result serialises.
pub fn check_loaded(files: &FileSet, loaded: &LoadedMarketplace) {
    assert_eq!(loaded.plugins.len(), loaded.manifest.plugins.len(), "one loaded plugin per manifest entry");
    assert!(!loaded.manifest.name.trim().is_empty(), "a loaded manifest has a name");
    for (plugin, raw) in loaded.plugins.iter().zip(&loaded.manifest.plugins) {
        assert_eq!(&plugin.raw, raw, "entries keep their order and raw form");
        assert!(!plugin.name.is_empty());
        match (&plugin.status, &plugin.root) {
            (PluginStatus::Servable, None) => panic!("servable plugin `{}` without a folder", plugin.name),
            (PluginStatus::Servable, Some(_)) => assert!(plugin.entry.is_some()),
            _ => {}
        }
        if let Some(root) = &plugin.root {
            assert!(is_normalised(root), "plugin root `{root}` is not normalised");
            assert!(root.is_empty() || files.is_dir(root), "plugin root `{root}` is not a folder of the tree");
        }
        if !plugin.status.is_servable() {
            assert!(plugin.status.reason().is_some_and(|r| !r.is_empty()));
        }
        for skill in &plugin.skills {
            assert!(is_normalised(&skill.dir), "skill dir `{}` is not normalised", skill.dir);
            assert!(files.contains(&child(&skill.dir, "SKILL.md")), "skill `{}` has no SKILL.md", skill.dir);
            assert!(!skill.name.is_empty());
            assert!(skill.digest.starts_with("sha256:"));
            for file in &skill.files {
                assert!(is_normalised(&file.path) && !file.path.is_empty(), "skill file `{}`", file.path);
                let full = child(&skill.dir, &file.path);
                let bytes = files.get(&full).unwrap_or_else(|| panic!("skill file `{full}` is not in the tree"));
                assert_eq!(bytes.len() as u64, file.size);
            }
        }
        let mut dirs: Vec<&str> = plugin.skills.iter().map(|s| s.dir.as_str()).collect();
        dirs.sort_unstable();
        dirs.dedup();
        assert_eq!(dirs.len(), plugin.skills.len(), "skills of `{}` are de-duplicated", plugin.name);
        let _ = (plugin.version(), plugin.description(), plugin.digest());
    }
    serde_json::to_vec(loaded).expect("a loaded marketplace serialises");
}
