use super::*;

/// Found by fuzzing: numbers with more digits than a double holds must be read to the nearest double, or a
/// manifest's unknown fields change (one ULP) when written and read again.
#[test]
fn long_numbers_survive_a_write_and_a_re_read() {
    for text in [
        r#"{"name":"m","plugins":[73333333333000001068985666e3],"x":6666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666}"#,
    ] {
        let first: MarketplaceManifest = serde_json::from_str(text).unwrap();
        let again: MarketplaceManifest = serde_json::from_slice(&serde_json::to_vec(&first).unwrap()).unwrap();
        assert_eq!(first, again);
    }
}
use serde_json::json;

fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(input: Value) -> T {
    let parsed: T = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), input);
    parsed
}

#[test]
fn person_as_string_or_object() {
    let p: Person = round_trip(json!("Jane Doe"));
    assert_eq!(p.name, "Jane Doe");
    assert_eq!(p.email, None);
    let p: Person = round_trip(json!({"name": "Jane", "email": "j@x.org", "url": "https://x.org", "x-team": 1}));
    assert_eq!(
        (p.name.as_str(), p.email.as_deref(), p.url.as_deref()),
        ("Jane", Some("j@x.org"), Some("https://x.org"))
    );
    assert_eq!(p.extra["x-team"], json!(1));
    let p: Person = round_trip(json!({"name": "Jane"}));
    assert!(!p.as_string);
    assert!(serde_json::from_value::<Person>(json!({"email": "j@x.org"})).is_err());
    let err = serde_json::from_value::<Person>(json!(5)).unwrap_err().to_string();
    assert!(err.contains("name string"), "{err}");
}

#[test]
fn plugin_source_round_trips_every_kind() {
    let cases = [
        (json!("./plugins/x"), "relative"),
        (json!({"source": "github", "repo": "o/r", "ref": "v1", "sha": "abc", "path": "p", "x": [1]}), "github"),
        (json!({"source": "github", "repo": "o/r"}), "github"),
        (json!({"source": "url", "url": "https://gitlab.com/o/r.git", "ref": "main", "sha": "abc"}), "url"),
        (json!({"source": "url", "url": "https://h/r.git", "path": "sub"}), "url"),
        (
            json!({"source": "git-subdir", "url": "https://h/r.git", "path": "plugins/z", "ref": "v2", "sha": "d"}),
            "git-subdir",
        ),
        (json!({"source": "npm", "package": "@acme/p", "version": "^1.0.0", "registry": "https://r"}), "npm"),
        (json!({"source": "pip", "package": "acme", "version": "1.0"}), "pip"),
        (json!({"source": "archive", "url": "https://h/p.tar.gz", "sha256": "ff"}), "archive"),
        (json!({"source": "hg", "url": "https://h/r", "anything": {"goes": true}}), "hg"),
    ];
    for (input, kind) in cases {
        let source: PluginSource = round_trip(input.clone());
        assert_eq!(source.kind(), kind, "{input}");
    }
    let source: PluginSource = serde_json::from_value(json!({"source": "url", "url": "u", "path": "sub"})).unwrap();
    match source {
        PluginSource::Url { url, extra, .. } => {
            assert_eq!(url, "u");
            assert_eq!(extra["path"], json!("sub"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plugin_source_errors_are_specific() {
    let err = |v: Value| serde_json::from_value::<PluginSource>(v).unwrap_err().to_string();
    assert!(err(json!({"source": "github"})).contains("`github` plugin source has no `repo`"));
    assert!(err(json!({"repo": "o/r"})).contains("no `source` kind"));
    assert!(err(json!({"source": "url", "url": 3})).contains("`url` of a `url` plugin source must be a string"));
    assert!(err(json!(7)).contains("path string or an object"));
}

#[test]
fn path_list_one_or_many() {
    let one: PathList = round_trip(json!("./skills/a"));
    assert_eq!(one.paths(), ["./skills/a"]);
    let many: PathList = round_trip(json!(["./a", "./b"]));
    assert_eq!(many.paths(), ["./a", "./b"]);
    assert!(serde_json::from_value::<PathList>(json!(["./a", 1])).is_err());
    assert!(serde_json::from_value::<PathList>(json!({"a": 1})).is_err());
}

#[test]
fn plugin_entry_keeps_unknown_fields() {
    let input = json!({
        "name": "p",
        "source": {"source": "github", "repo": "o/r", "future": 1},
        "description": "d",
        "author": "Jane",
        "repository": {"type": "git", "url": "https://x"},
        "keywords": ["a"],
        "strict": false,
        "skills": ["./skills/a"],
        "mcpServers": {"s": {"command": "x"}},
        "lspServers": "./lsp.json",
        "outputStyles": "./styles",
        "displayName": "P",
        "surfaces": ["claude-ai"],
        "somethingNew": {"nested": [1, 2]},
    });
    let entry: PluginEntry = round_trip(input);
    assert!(!entry.is_strict());
    assert_eq!(entry.display_name.as_deref(), Some("P"));
    assert_eq!(entry.extra["somethingNew"], json!({"nested": [1, 2]}));
    assert_eq!(entry.author.unwrap().name, "Jane");
}

#[test]
fn marketplace_manifest_keeps_schema_renames_and_unknowns() {
    let input = json!({
        "$schema": "https://anthropic.com/claude-code/marketplace.schema.json",
        "name": "m",
        "owner": {"name": "O", "email": "o@x"},
        "metadata": {"description": "d", "version": "1", "pluginRoot": "./plugins", "more": true},
        "renames": {"old": "new"},
        "plugins": [{"name": 5}, "garbage"],
        "top": "level",
    });
    let manifest: MarketplaceManifest = round_trip(input);
    assert_eq!(manifest.schema.as_deref(), Some("https://anthropic.com/claude-code/marketplace.schema.json"));
    assert_eq!(manifest.renames["old"], "new");
    assert_eq!(manifest.metadata.unwrap().plugin_root.as_deref(), Some("./plugins"));
    assert_eq!(manifest.plugins.len(), 2);
    assert_eq!(manifest.extra["top"], json!("level"));
}

#[test]
fn plugin_manifest_requires_name_and_lists_components() {
    let manifest: PluginManifest =
        round_trip(json!({"name": "p", "version": "1.0.0", "skills": "./s", "hooks": {}, "x": 1}));
    assert_eq!(manifest.declared_components(), ["skills", "hooks"]);
    let err = serde_json::from_value::<PluginManifest>(json!({"version": "1"})).unwrap_err().to_string();
    assert!(err.contains("missing field `name`"), "{err}");
}
