use super::*;
use crate::files::sha256_digest;
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
            ("p/.claude-plugin/plugin.json", r#"{"name": "p", "skills": ["./more/beta/SKILL.md", "./nothing-here"]}"#),
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
    assert!(reason(&plugins[2]).starts_with("plugin name `Bad Name` cannot be installed"), "{}", reason(&plugins[2]));
    assert!(reason(&plugins[3]).starts_with("plugin name `-dash` cannot be installed"), "{}", reason(&plugins[3]));
    assert!(plugins[4].status.is_servable());
    assert_eq!(reason(&plugins[5]), "plugin entry `author` must be an object (`{\"name\": ...}`), not a string");
    assert!(plugins[6].status.is_servable());
    // The lean load judges the same.
    let lean = load_marketplace_lean(&files, &Hosts::default(), &Default::default()).unwrap();
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
    assert!(loaded.plugins.iter().all(|p| matches!(p.status, PluginStatus::NotServable { .. }) && p.entry.is_some()));
    // With example.org configured as a GitLab host, `d` is only waiting to be fetched.
    let mut hosts = Hosts::default();
    hosts.add_gitlab("example.org", "https://example.org/api/v4").unwrap();
    let loaded = load_marketplace_with(&files, &hosts).unwrap();
    assert!(reason(&loaded.plugins[3]).ends_with("has not been fetched yet"));
}

#[test]
fn an_external_plugin_that_failed_to_fetch_says_why() {
    let files = tree(
        json!({"name": "m", "plugins": [
            {"name": "a", "source": {"source": "github", "repo": "x/a"}},
            {"name": "b", "source": {"source": "github", "repo": "x/b"}},
            {"name": "c", "source": {"source": "github", "repo": "x/c"}},
        ]}),
        &[
            (".skillport-external/b/skills/alpha/SKILL.md", GOOD_SKILL),
            // A tree cannot speak for the fetch: only what the caller passes counts.
            (".skillport-external/.fetch-errors/c", "made up"),
        ],
    );
    let long = "é".repeat(600);
    let failures = [("a".to_string(), long.clone()), ("b".to_string(), "HTTP 404".to_string())].into();
    let loaded = load_marketplace_lean(&files, &Hosts::default(), &failures).unwrap();
    assert_eq!(
        reason(&loaded.plugins[0]),
        format!("plugin source `github` (x/a) is outside this marketplace and could not be fetched: {}", &long[..1000])
    );
    // Fetched since: the files in the tree win over an older failure.
    assert!(loaded.plugins[1].status.is_servable());
    assert!(reason(&loaded.plugins[2]).ends_with("has not been fetched yet"));
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
    assert!(reason(&loaded.plugins[0]).starts_with("`broken/.claude-plugin/plugin.json` is invalid: trailing comma"));
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
