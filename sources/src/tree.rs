//! The layout of a marketplace tree: where its manifests, skills and commands sit, and the reserved folder where
//! plugins fetched from elsewhere are put.
//!
//! A leaf: it imports nothing from the rest of the crate, so every module (archives, sources, the loader, layouts)
//! can name these places without depending on one another.

/// Where the marketplace manifest lives, relative to the marketplace root.
pub const MARKETPLACE_FILE: &str = ".claude-plugin/marketplace.json";
/// Where a plugin's own manifest lives, relative to the plugin folder.
pub const PLUGIN_FILE: &str = ".claude-plugin/plugin.json";
/// The folder of both manifests; an archive whose single top folder is this one is not a wrapper folder.
pub const MANIFEST_DIR: &str = ".claude-plugin";
/// The file that makes a folder a skill.
pub const SKILL_FILE: &str = "SKILL.md";
/// A plugin's conventional skills folder (`skills/<name>/SKILL.md`).
pub const SKILLS_DIR: &str = "skills";
/// A plugin's conventional commands folder (`commands/*.md`).
pub const COMMANDS_DIR: &str = "commands";
/// The reserved folder of a marketplace tree where the caller puts the files of plugins fetched from elsewhere
/// (`github`, `url`, `git-subdir`, `archive` sources), one folder per plugin name: see [`external_folder`].
pub const EXTERNAL_ROOT: &str = ".skillport-external";

/// `.skillport-external/<plugin name>`, where an external plugin's files go; `None` when the name cannot be one
/// folder (it is empty, `.` or `..`, or holds `/`, `\` or NUL).
pub fn external_folder(plugin_name: &str) -> Option<String> {
    let one_folder = !matches!(plugin_name, "" | "." | "..") && !plugin_name.contains(['/', '\\', '\0']);
    one_folder.then(|| format!("{EXTERNAL_ROOT}/{plugin_name}"))
}

/// `<dir>/<name>`, or `name` alone at the root (`dir` empty).
pub fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::join;

    #[test]
    fn external_folder_is_the_joined_path_of_a_one_segment_name() {
        // The rule the loader used before this module existed: a normalised join that adds exactly one segment.
        let by_join = |name: &str| {
            let folder = join(EXTERNAL_ROOT, name).ok()?;
            (!name.contains('/') && folder.len() > EXTERNAL_ROOT.len() + 1).then_some(folder)
        };
        for name in ["p", "writing-tools", ".hidden", "a.b", "", ".", "..", "a/b", "../x", "a\\b", "a\0b", "/abs", "x "]
        {
            assert_eq!(external_folder(name), by_join(name), "{name:?}");
        }
    }

    #[test]
    fn child_of_the_root_is_the_name() {
        assert_eq!(child("", SKILL_FILE), "SKILL.md");
        assert_eq!(child("p/skills", "a"), "p/skills/a");
    }
}
