//! Repository layouts other than a marketplace, served as one.
//!
//! Claude Code reads a marketplace from `.claude-plugin/marketplace.json`. Many repositories are not laid out that
//! way: a single plugin (`.claude-plugin/plugin.json` or a `skills/` folder at the root), or a bare collection of
//! skills (`skills/<name>/SKILL.md` or `<name>/SKILL.md` folders, as in anthropics/skills). [`as_marketplace`] writes
//! the marketplace manifest such a tree would have into the tree itself, so the loader, the catalogue, digests and
//! update checks read it exactly as they read a real marketplace:
//! - a plugin repository becomes a marketplace of one plugin with source `./`; its name is plugin.json's `name`
//!   when that is a valid plugin name, else the repository's; no version is written, so plugin.json's version is
//!   used when it has one, else the marketplace revision (the commit), as Claude Code does for a git source;
//! - a skills-only repository becomes one plugin per skill folder, named after the folder, each a `strict: false`
//!   entry at the root listing its one skill folder (the form anthropics/skills' own marketplace.json uses).
//!
//! The manifest written carries [`LAYOUT_KEY`], which says how the tree was read.

use crate::files::FileSet;
use crate::tree::{MARKETPLACE_FILE, PLUGIN_FILE, SKILLS_DIR, SKILL_FILE};
use serde_json::{json, Value};

/// The top-level key of a written manifest that names the layout it was written for (`plugin` or `skills`).
pub const LAYOUT_KEY: &str = "x-skillport-layout";

/// How a marketplace's tree is to be read (configuration key `layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `.claude-plugin/marketplace.json` when present, else a plugin, else a collection of skills.
    #[default]
    Auto,
    Marketplace,
    Plugin,
    Skills,
}

impl Layout {
    pub const NAMES: [&'static str; 4] = ["auto", "marketplace", "plugin", "skills"];

    pub fn parse(text: &str) -> Option<Layout> {
        match text {
            "auto" => Some(Layout::Auto),
            "marketplace" => Some(Layout::Marketplace),
            "plugin" => Some(Layout::Plugin),
            "skills" => Some(Layout::Skills),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Marketplace => "marketplace",
            Layout::Plugin => "plugin",
            Layout::Skills => "skills",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a tree cannot be read in the layout asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "nothing here is a marketplace, a plugin or a skill: looked for `{MARKETPLACE_FILE}`, `{PLUGIN_FILE}` or a \
         `skills/` folder at the root, and `<name>/SKILL.md` folders"
    )]
    Unrecognised,
    #[error("layout `plugin`: neither `{PLUGIN_FILE}` nor a `skills/` folder is at the root")]
    NoPlugin,
    #[error("layout `skills`: no `skills/<name>/SKILL.md` or `<name>/SKILL.md` folder is here")]
    NoSkills,
}

/// Which layout `files` has under `layout`: `layout` itself unless it is `auto`, which picks marketplace.json when
/// present, else a plugin (plugin.json or `skills/` at the root), else skill folders. Never [`Layout::Auto`].
pub fn detect(files: &FileSet, layout: Layout) -> Result<Layout, LayoutError> {
    match layout {
        Layout::Auto if files.contains(MARKETPLACE_FILE) => Ok(Layout::Marketplace),
        Layout::Auto if is_plugin(files) => Ok(Layout::Plugin),
        Layout::Auto if !skill_folders(files).is_empty() => Ok(Layout::Skills),
        Layout::Auto => Err(LayoutError::Unrecognised),
        other => Ok(other),
    }
}

fn is_plugin(files: &FileSet) -> bool {
    files.contains(PLUGIN_FILE) || files.is_dir(SKILLS_DIR)
}

/// Reads `files` as `layout` and, unless it is a marketplace already, writes the marketplace manifest that serves
/// it (replacing any `.claude-plugin/marketplace.json` the tree had). `fallback_name` names a plugin whose
/// plugin.json gives no usable name (the repository's name, say). Returns the layout the tree was read as.
///
/// A tree read as a marketplace is left as it is: a missing manifest is then the loader's error, as before.
pub fn as_marketplace(
    files: &mut FileSet,
    layout: Layout,
    marketplace_name: &str,
    fallback_name: &str,
) -> Result<Layout, LayoutError> {
    let found = detect(files, layout)?;
    let plugins = match found {
        Layout::Marketplace | Layout::Auto => return Ok(found),
        Layout::Plugin => {
            if !is_plugin(files) {
                return Err(LayoutError::NoPlugin);
            }
            let declared = files
                .get(PLUGIN_FILE)
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
                .filter(|n| is_plugin_name(n));
            vec![json!({"name": declared.unwrap_or_else(|| plugin_name_from(fallback_name)), "source": "./"})]
        }
        Layout::Skills => {
            let folders = skill_folders(files);
            if folders.is_empty() {
                return Err(LayoutError::NoSkills);
            }
            folders
                .into_iter()
                .map(|(name, dir)| {
                    let mut entry = json!({
                        "name": name,
                        "source": "./",
                        "strict": false,
                        "skills": [format!("./{dir}")],
                    });
                    if let Some(d) = skill_description(files, &dir) {
                        entry["description"] = json!(d);
                    }
                    entry
                })
                .collect()
        }
    };
    let name = plugin_name_from(marketplace_name);
    // Claude Code requires an owner: the marketplace's own name stands in.
    let manifest = json!({
        "name": name,
        "owner": {"name": name},
        "plugins": plugins,
        LAYOUT_KEY: found.as_str(),
    });
    // The path is a constant and valid, so this cannot fail.
    let _ = files.insert(MARKETPLACE_FILE, manifest.to_string().into_bytes());
    Ok(found)
}

/// The layout a loaded manifest was written for by [`as_marketplace`], `marketplace` for any other.
pub fn layout_of(extra: &serde_json::Map<String, Value>) -> Layout {
    match extra.get(LAYOUT_KEY).and_then(Value::as_str).and_then(Layout::parse) {
        Some(l @ (Layout::Plugin | Layout::Skills)) => l,
        _ => Layout::Marketplace,
    }
}

/// Skill folders of a skills-only tree, as (plugin name, folder): `skills/<name>/SKILL.md`, then top-level
/// `<name>/SKILL.md` folders (not hidden ones such as `.github`). A name taken already (two folders that differ only
/// in case or punctuation) is left out.
fn skill_folders(files: &FileSet) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let nested = files.subdirs(SKILLS_DIR).into_iter().map(|d| format!("{SKILLS_DIR}/{d}"));
    let top = files.subdirs("").into_iter().filter(|d| !d.starts_with('.') && *d != SKILLS_DIR).map(str::to_owned);
    for dir in nested.chain(top) {
        if !files.contains(&format!("{dir}/{SKILL_FILE}")) {
            continue;
        }
        let name = plugin_name_from(dir.rsplit('/').next().unwrap_or(&dir));
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, dir));
        }
    }
    out
}

fn skill_description(files: &FileSet, dir: &str) -> Option<String> {
    let text = std::str::from_utf8(files.get(&format!("{dir}/{SKILL_FILE}"))?).ok()?;
    let parsed = crate::skill::parse_skill_md_unchecked(text).ok()?;
    parsed.frontmatter.get("description").and_then(Value::as_str).map(str::to_owned)
}

/// Kebab-case: `a-z 0-9` in words joined by single hyphens, at most 64 characters.
pub fn is_plugin_name(name: &str) -> bool {
    name.len() <= 64
        && !name.is_empty()
        && name.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A valid plugin name made from `text`: lower-cased, every run of other characters a single hyphen, at most 64
/// characters; `plugin` when nothing is left.
pub fn plugin_name_from(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(64);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "plugin".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load_marketplace, PluginStatus};

    fn set(files: &[(&str, &str)]) -> FileSet {
        let mut s = FileSet::new();
        for (p, b) in files {
            s.insert(p, b.as_bytes().to_vec()).unwrap();
        }
        s
    }

    fn skill(name: &str, description: &str) -> String {
        format!("---\nname: {name}\ndescription: {description}\n---\nBody of {name}.\n")
    }

    fn read(files: &mut FileSet, layout: Layout) -> Result<Layout, LayoutError> {
        as_marketplace(files, layout, "acme", "acme-repo")
    }

    #[test]
    fn a_marketplace_is_left_as_it_is() {
        let manifest = r#"{"name":"m","plugins":[]}"#;
        let mut files = set(&[(MARKETPLACE_FILE, manifest), (PLUGIN_FILE, r#"{"name":"p"}"#)]);
        assert_eq!(read(&mut files, Layout::Auto), Ok(Layout::Marketplace));
        assert_eq!(files.get(MARKETPLACE_FILE), Some(manifest.as_bytes()));
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(layout_of(&loaded.manifest.extra), Layout::Marketplace);
        // Asked for explicitly, a missing manifest stays the loader's error.
        let mut bare = set(&[("skills/a/SKILL.md", &skill("a", "A."))]);
        assert_eq!(read(&mut bare, Layout::Marketplace), Ok(Layout::Marketplace));
        assert!(load_marketplace(&bare).is_err());
    }

    #[test]
    fn a_plugin_repository_is_a_marketplace_of_one() {
        let mut files = set(&[
            (PLUGIN_FILE, r#"{"name":"deploy-tools","version":"2.1.0","description":"Deploys."}"#),
            ("skills/ship/SKILL.md", &skill("ship", "Ships it.")),
            ("skills/roll-back/SKILL.md", &skill("roll-back", "Rolls back.")),
            ("commands/go.md", "Go."),
        ]);
        assert_eq!(read(&mut files, Layout::Auto), Ok(Layout::Plugin));
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(loaded.manifest.name, "acme");
        assert_eq!(layout_of(&loaded.manifest.extra), Layout::Plugin);
        let [plugin] = &loaded.plugins[..] else { panic!("one plugin: {:?}", loaded.plugins) };
        assert_eq!(plugin.name, "deploy-tools");
        assert_eq!(plugin.status, PluginStatus::Servable);
        assert_eq!(plugin.version(), Some("2.1.0"));
        assert_eq!(plugin.description(), Some("Deploys."));
        let names: Vec<&str> = plugin.skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["roll-back", "ship"]);
        assert_eq!(plugin.commands, ["go"]);
        assert!(plugin.problems.is_empty(), "{:?}", plugin.problems);
    }

    #[test]
    fn a_plugin_without_plugin_json_or_a_usable_name_is_named_after_the_repository() {
        // `skills/` alone makes a plugin; no version is written, so the revision will be its version.
        let mut files = set(&[("skills/ship/SKILL.md", &skill("ship", "Ships it."))]);
        assert_eq!(read(&mut files, Layout::Auto), Ok(Layout::Plugin));
        let plugin = load_marketplace(&files).unwrap().plugins.remove(0);
        assert_eq!((plugin.name.as_str(), plugin.version()), ("acme-repo", None));
        assert_eq!(plugin.skills.len(), 1);

        let mut files = set(&[(PLUGIN_FILE, r#"{"name":"Not Valid!"}"#), ("skills/s/SKILL.md", &skill("s", "S."))]);
        read(&mut files, Layout::Plugin).unwrap();
        let plugin = load_marketplace(&files).unwrap().plugins.remove(0);
        assert_eq!(plugin.name, "acme-repo");
        // The loader still says plugin.json disagrees.
        assert!(plugin.problems.iter().any(|p| p.contains("Not Valid!")), "{:?}", plugin.problems);
        assert_eq!(plugin_name_from("My_Repo.git"), "my-repo-git");
        assert_eq!(plugin_name_from("--"), "plugin");
    }

    #[test]
    fn a_skills_only_repository_is_one_plugin_per_skill() {
        let mut files = set(&[
            ("pdf/SKILL.md", &skill("pdf", "Reads PDFs.")),
            ("pdf/scripts/extract.py", "print(1)"),
            ("docx/SKILL.md", &skill("docx", "Writes Word files.")),
            ("README.md", "# Skills"),
            ("template/notes.md", "not a skill"),
            (".github/SKILL.md", &skill("hidden", "Not served.")),
        ]);
        assert_eq!(read(&mut files, Layout::Auto), Ok(Layout::Skills));
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(layout_of(&loaded.manifest.extra), Layout::Skills);
        let got: Vec<(&str, Vec<&str>, Option<&str>)> = loaded
            .plugins
            .iter()
            .map(|p| (p.name.as_str(), p.skills.iter().map(|s| s.dir.as_str()).collect(), p.description()))
            .collect();
        assert_eq!(
            got,
            [("docx", vec!["docx"], Some("Writes Word files.")), ("pdf", vec!["pdf"], Some("Reads PDFs."))]
        );
        assert!(loaded.plugins.iter().all(|p| p.status == PluginStatus::Servable && p.version().is_none()));
        assert_eq!(loaded.plugins[1].skills[0].files.len(), 2);
    }

    #[test]
    fn the_skills_layout_splits_a_skills_folder_that_auto_reads_as_one_plugin() {
        let tree = set(&[
            ("skills/pdf/SKILL.md", &skill("pdf", "Reads PDFs.")),
            ("skills/xlsx/SKILL.md", &skill("xlsx", "Sheets.")),
            ("extra/SKILL.md", &skill("extra", "Top-level.")),
            ("extra_/SKILL.md", &skill("extra", "Same name once made valid: left out.")),
        ]);
        let mut auto = tree.clone();
        assert_eq!(read(&mut auto, Layout::Auto), Ok(Layout::Plugin));
        let plugins = load_marketplace(&auto).unwrap().plugins;
        assert_eq!(plugins.len(), 1);
        // A plugin reads only its skills/ folder: the top-level skill folder is not part of it.
        assert_eq!(plugins[0].skills.iter().map(|s| s.dir.as_str()).collect::<Vec<_>>(), ["skills/pdf", "skills/xlsx"]);

        let mut split = tree;
        assert_eq!(read(&mut split, Layout::Skills), Ok(Layout::Skills));
        let plugins = load_marketplace(&split).unwrap().plugins;
        let got: Vec<(&str, &str)> = plugins.iter().map(|p| (p.name.as_str(), p.skills[0].dir.as_str())).collect();
        assert_eq!(got, [("pdf", "skills/pdf"), ("xlsx", "skills/xlsx"), ("extra", "extra")]);
        assert!(plugins.iter().all(|p| p.skills.len() == 1 && p.problems.is_empty()));
    }

    #[test]
    fn a_layout_asked_for_replaces_a_marketplace_manifest() {
        let mut files = set(&[
            (MARKETPLACE_FILE, r#"{"name":"m","plugins":[{"name":"other","source":"./nowhere"}]}"#),
            (PLUGIN_FILE, r#"{"name":"solo"}"#),
        ]);
        assert_eq!(read(&mut files, Layout::Plugin), Ok(Layout::Plugin));
        let loaded = load_marketplace(&files).unwrap();
        assert_eq!(loaded.plugins.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["solo"]);
    }

    #[test]
    fn an_unrecognisable_tree_is_refused_naming_what_was_looked_for() {
        for files in [
            FileSet::new(),
            set(&[("README.md", "hello"), ("docs/guide.md", "no skills"), ("SKILL.md", &skill("root", "R."))]),
        ] {
            let mut f = files.clone();
            let err = read(&mut f, Layout::Auto).unwrap_err();
            assert_eq!(err, LayoutError::Unrecognised);
            assert_eq!(f, files, "nothing written");
            let text = err.to_string();
            for looked_for in [MARKETPLACE_FILE, PLUGIN_FILE, "skills/", "<name>/SKILL.md"] {
                assert!(text.contains(looked_for), "{text}");
            }
            assert_eq!(read(&mut files.clone(), Layout::Plugin), Err(LayoutError::NoPlugin));
            assert_eq!(read(&mut files.clone(), Layout::Skills), Err(LayoutError::NoSkills));
        }
        // A `skills/` folder without a single SKILL.md is still a plugin (of no skills), as Claude Code reads it.
        let mut f = set(&[("skills/readme.txt", "x")]);
        assert_eq!(read(&mut f, Layout::Auto), Ok(Layout::Plugin));
        assert_eq!(read(&mut set(&[("skills/readme.txt", "x")]), Layout::Skills), Err(LayoutError::NoSkills));
    }

    #[test]
    fn layout_names_round_trip() {
        for name in Layout::NAMES {
            assert_eq!(Layout::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(Layout::parse("Plugin"), None);
        assert_eq!(Layout::default(), Layout::Auto);
    }
}
