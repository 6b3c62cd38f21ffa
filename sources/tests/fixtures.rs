//! The loader against real marketplaces (see `shared/fixtures/README.md`).

use std::path::Path;

use serde_json::Value;
use skillport_sources::{
    load_marketplace, load_marketplace_lean, plugin_entries, sha256_digest, FileSet, Hosts, PluginEntry, PluginSource,
    PluginStatus,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/real-marketplaces");

fn read(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (the shared fixtures sit beside the repository)"))
}

fn marketplace_only(name: &str) -> (FileSet, Value) {
    let bytes = read(name);
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let mut files = FileSet::new();
    files.insert(".claude-plugin/marketplace.json", bytes).unwrap();
    (files, value)
}

fn read_dir_into(files: &mut FileSet, root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_dir_into(files, root, &path);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_str().unwrap().replace(std::path::MAIN_SEPARATOR, "/");
            files.insert(&rel, std::fs::read(&path).unwrap()).unwrap();
        }
    }
}

#[test]
fn official_marketplace_loads_every_entry() {
    let (files, input) = marketplace_only("claude-plugins-official.marketplace.json");
    let loaded = load_marketplace(&files).unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.plugins.len(), 286);
    let raw_plugins = input["plugins"].as_array().unwrap();
    for (plugin, raw) in loaded.plugins.iter().zip(raw_plugins) {
        assert_eq!(&plugin.raw, raw);
        assert_eq!(plugin.name, raw["name"].as_str().unwrap());
        assert!(plugin.entry.is_some(), "{}: {:?}", plugin.name, plugin.status);
    }

    let (mut remote, mut subdir, mut relative) = (0, 0, 0);
    for plugin in &loaded.plugins {
        let entry = plugin.entry.as_ref().unwrap();
        match (&entry.source, &plugin.status) {
            (PluginSource::Url { url, .. }, PluginStatus::NotServable { reason }) => {
                assert!(reason.contains("`url`") && reason.contains(url.as_str()), "{reason}");
                remote += 1;
            }
            (PluginSource::GitSubdir { url, path, .. }, PluginStatus::NotServable { reason }) => {
                assert!(reason.contains("`git-subdir`") && reason.contains(url.as_str()), "{reason}");
                assert!(reason.contains(path.as_str()), "{reason}");
                subdir += 1;
            }
            (PluginSource::Relative(path), PluginStatus::Invalid { reason }) => {
                let folder = path.trim_start_matches("./");
                assert_eq!(reason, &format!("plugin folder `{folder}` is not in the marketplace"));
                relative += 1;
            }
            (source, status) => panic!("{}: unexpected {} with {status:?}", plugin.name, source.kind()),
        }
    }
    assert_eq!((remote, subdir, relative), (150, 83, 53));

    assert_eq!(loaded.manifest.schema.as_deref(), Some("https://anthropic.com/claude-code/marketplace.schema.json"));
    assert_eq!(loaded.manifest.renames.get("vals").map(String::as_str), Some("valtown"));
    assert_eq!(loaded.manifest.renames.len(), input["renames"].as_object().unwrap().len());
    assert_eq!(serde_json::to_value(&loaded.manifest).unwrap(), input);
}

#[test]
fn official_entries_round_trip_through_the_typed_model() {
    let (_, input) = marketplace_only("claude-plugins-official.marketplace.json");
    for raw in input["plugins"].as_array().unwrap() {
        let entry: PluginEntry = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(&serde_json::to_value(&entry).unwrap(), raw, "{}", entry.name);
    }
}

#[test]
fn anthropic_agent_skills_keeps_all_entries() {
    let (files, input) = marketplace_only("anthropic-agent-skills.marketplace.json");
    let loaded = load_marketplace(&files).unwrap();
    let names: Vec<&str> = loaded.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["document-skills", "example-skills", "claude-api"]);
    for (plugin, raw) in loaded.plugins.iter().zip(input["plugins"].as_array().unwrap()) {
        let entry = plugin.entry.as_ref().unwrap();
        assert_eq!(entry.strict, Some(false));
        assert_eq!(plugin.root.as_deref(), Some(""), "`./` is the marketplace root");
        // Only marketplace.json is in the tree, so every listed skill folder is absent: reported, not dropped.
        let listed = raw["skills"].as_array().unwrap();
        assert_eq!(plugin.problems.len(), listed.len(), "{:?}", plugin.problems);
        for (problem, path) in plugin.problems.iter().zip(listed) {
            let path = path.as_str().unwrap();
            assert_eq!(problem, &format!("skills path `{path}` from the marketplace entry is not in the marketplace"));
        }
        assert!(plugin.skills.is_empty());
    }
    assert_eq!(loaded.plugins[1].entry.as_ref().unwrap().skills.as_ref().unwrap().paths().len(), 12);
    assert_eq!(serde_json::to_value(&loaded.manifest).unwrap(), input);
}

#[test]
fn skillport_marketplace_folder_is_fully_servable() {
    let root = Path::new(FIXTURES).join("skillport-marketplace");
    let mut files = FileSet::new();
    read_dir_into(&mut files, &root, &root);
    let loaded = load_marketplace(&files).unwrap();
    assert_eq!(loaded.plugins.len(), 6);
    for plugin in &loaded.plugins {
        assert_eq!(plugin.status, PluginStatus::Servable, "{}", plugin.name);
        assert_eq!(plugin.root.as_deref(), Some(format!("plugins/{}", plugin.name).as_str()));
        assert!(plugin.problems.is_empty(), "{}: {:?}", plugin.name, plugin.problems);
        let manifest = plugin.manifest.as_ref().expect("every plugin has a plugin.json");
        assert_eq!(manifest.name, plugin.name);
        assert_eq!(plugin.version(), manifest.version.as_deref());
        // Each plugin of this marketplace holds exactly one skill, named like the plugin.
        assert_eq!(plugin.skills.len(), 1, "{}", plugin.name);
        let skill = &plugin.skills[0];
        assert_eq!(skill.dir, format!("plugins/{0}/skills/{0}", plugin.name));
        let skill_md = std::str::from_utf8(files.get(&format!("{}/SKILL.md", skill.dir)).unwrap()).unwrap();
        let parsed = skillport_sources::parse_skill_md(skill_md).unwrap();
        assert_eq!(Some(skill.name.as_str()), parsed.name());
        assert_eq!(skill.name, plugin.name);
        assert!(skill.description.as_deref().is_some_and(|d| !d.is_empty()));
        assert!(skill.problems.is_empty(), "{}: {:?}", skill.name, skill.problems);
        assert!(skill.files.iter().any(|f| f.path == "SKILL.md"));
    }

    let analyzer = loaded.plugin("data-analyzer").unwrap();
    let skill = &analyzer.skills[0];
    assert!(skill.description.as_deref().unwrap().starts_with("Analyzes CSV and JSON data files"));
    let paths: Vec<&str> = skill.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["SKILL.md", "references/supported_formats.md"]);
    for file in &skill.files {
        let bytes = std::fs::read(root.join("plugins/data-analyzer/skills/data-analyzer").join(&file.path)).unwrap();
        assert_eq!(file.sha256, sha256_digest(&bytes));
        assert_eq!(file.size, bytes.len() as u64);
    }

    let meeting = loaded.plugin("meeting-digest").unwrap();
    let paths: Vec<&str> = meeting.skills[0].files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["SKILL.md", "templates/single-meeting.md", "templates/weekly-digest.md"]);
}

/// The lean load is the full load without the JSON as written and the frontmatter text, and nothing else differs.
#[test]
fn lean_load_is_the_full_load_less_the_text_as_written() {
    let root = Path::new(FIXTURES).join("skillport-marketplace");
    let mut folder = FileSet::new();
    read_dir_into(&mut folder, &root, &root);
    let sets = [
        marketplace_only("claude-plugins-official.marketplace.json").0,
        marketplace_only("anthropic-agent-skills.marketplace.json").0,
        folder,
    ];
    for files in sets {
        let mut want = load_marketplace(&files).unwrap();
        want.manifest.plugins.clear();
        let mut frontmatters = 0;
        for plugin in &mut want.plugins {
            plugin.raw = Value::Null;
            for skill in &mut plugin.skills {
                frontmatters += usize::from(skill.frontmatter_raw.take().is_some());
            }
        }
        assert_eq!(load_marketplace_lean(&files, &Hosts::default(), &Default::default()).unwrap(), want);
        // The entries alone name and parse each plugin as the load does.
        let entries: Vec<_> = want.plugins.iter().map(|p| (p.name.clone(), p.entry.clone())).collect();
        assert_eq!(plugin_entries(&files).unwrap(), entries);
        assert!(files.len() == 1 || frontmatters > 0);
    }
}
