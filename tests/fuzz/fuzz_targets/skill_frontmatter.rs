//! `SKILL.md` frontmatter (`skillport_sources::parse_skill_md` and `parse_skill_md_unchecked`, YAML through
//! yaml-rust2), and the same file read by the loader as a plugin's skill.
//!
//! Invariants: no panic (nor stack overflow on deep YAML); the raw frontmatter is a slice of the input and the body
//! its tail; the checked parser succeeds exactly when the unchecked one does and finds a `name` and a
//! `description`; the loader turns the file into exactly one skill whatever it holds, with its problems listed
//! rather than the plugin failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillport_sources::{load_marketplace, parse_skill_md, skill::parse_skill_md_unchecked, FileSet, SkillError};
use std::sync::OnceLock;

mod common;

fn tree() -> &'static FileSet {
    static TREE: OnceLock<FileSet> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut files = FileSet::new();
        let manifest = r#"{"name":"fuzz","plugins":[{"name":"p","source":"./plugins/p"}]}"#;
        files.insert(".claude-plugin/marketplace.json", manifest.as_bytes().to_vec()).expect("fixed path");
        files.insert("plugins/p/skills/s/references/r.md", b"ref\n".to_vec()).expect("fixed path");
        files
    })
}

fuzz_target!(|data: &[u8]| {
    // The loader reads SKILL.md as lossy UTF-8; do the same so every input reaches the parser.
    let text = String::from_utf8_lossy(data);
    let unchecked = parse_skill_md_unchecked(&text);
    let checked = parse_skill_md(&text);
    match &unchecked {
        Ok(md) => {
            let stripped = text.strip_prefix('\u{feff}').unwrap_or(&text);
            assert!(stripped.contains(md.frontmatter_raw.as_str()), "frontmatter is not a slice of the input");
            assert!(stripped.ends_with(md.body.as_str()), "body is not the tail of the input");
            assert!(md.frontmatter_raw.len() + md.body.len() <= stripped.len());
            serde_json::to_vec(&md.frontmatter).expect("frontmatter JSON serialises");
            match (&checked, md.name(), md.description()) {
                (Ok(c), Some(_), Some(_)) => assert_eq!(c, md),
                (Err(SkillError::MissingName), None, _) => {}
                (Err(SkillError::MissingDescription), Some(_), None) => {}
                (c, n, d) => panic!("checked parse {c:?} disagrees with name {n:?} / description {d:?}"),
            }
        }
        Err(e) => assert_eq!(checked.as_ref().err(), Some(e), "checked and unchecked parsers disagree"),
    }

    let mut files = tree().clone();
    files.insert("plugins/p/skills/s/SKILL.md", data.to_vec()).expect("fixed path");
    let loaded = load_marketplace(&files).expect("fixed manifest");
    common::check_loaded(&files, &loaded);
    let plugin = loaded.plugin("p").expect("entry p");
    assert!(plugin.status.is_servable(), "a SKILL.md made its plugin {:?}", plugin.status);
    assert_eq!(plugin.skills.len(), 1, "exactly the one skill");
    let skill = &plugin.skills[0];
    assert_eq!(skill.files.len(), 2);
    if unchecked.is_err() {
        assert!(skill.frontmatter_raw.is_none() && !skill.problems.is_empty());
    }
});
