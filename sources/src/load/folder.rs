//! The files of a plugin whose folder is in the tree: its `plugin.json`, its skill folders (conventional, at the
//! plugin root, and listed) and its commands, read the way Claude Code reads them.

use serde_json::{Map, Value};

use super::{LoadedPlugin, Skill, SkillFile};
use crate::files::{digest_of_entries, join, sha256_digest, FileSet};
use crate::model::PluginManifest;
use crate::skill::skill_frontmatter;
use crate::tree::{child, COMMANDS_DIR, MANIFEST_DIR, PLUGIN_FILE, SKILLS_DIR, SKILL_FILE};

/// Reads plugin.json, skills and commands of a plugin whose folder is in the tree. `Err` makes the plugin invalid.
pub(super) fn resolve_in_tree(files: &FileSet, plugin: &mut LoadedPlugin, root: &str) -> Result<(), String> {
    let entry = plugin.entry.as_ref().expect("entry is parsed before the folder is resolved");
    let strict = entry.is_strict();
    let manifest_path = join(root, PLUGIN_FILE).map_err(|e| e.to_string())?;
    let manifest = match files.get(&manifest_path) {
        None => None,
        Some(bytes) => match serde_json::from_slice::<PluginManifest>(bytes) {
            Ok(manifest) => Some(manifest),
            Err(e) if strict => return Err(format!("`{manifest_path}` is invalid: {e}")),
            Err(e) => {
                plugin.problems.push(format!("`{manifest_path}` is invalid and was ignored (`strict: false`): {e}"));
                None
            }
        },
    };
    let mut problems = Vec::new();
    // With `strict: false` the entry is the definition, and Claude Code refuses to load a plugin whose plugin.json
    // declares components when the entry does too ("conflicting manifests"). When only plugin.json declares them,
    // Claude Code reads them (and its version) as with `strict: true`, and so does Skillport.
    if let Some(manifest) = manifest.as_ref().filter(|_| !strict) {
        let declared = manifest.declared_components();
        let in_entry = entry.declared_components();
        if !declared.is_empty() && !in_entry.is_empty() {
            return Err(format!(
                "`strict: false`, but both the marketplace entry ({}) and `{manifest_path}` ({}) declare components",
                in_entry.join(", "),
                declared.join(", ")
            ));
        }
    }
    if let Some(manifest) = &manifest {
        if manifest.name != entry.name {
            problems.push(format!(
                "`{manifest_path}` names the plugin `{}`, the marketplace `{}`",
                manifest.name, entry.name
            ));
        }
        if let (Some(a), Some(b)) = (&manifest.version, &entry.version) {
            if a != b {
                problems.push(format!("`{manifest_path}` says version {a}, the marketplace entry {b}; {a} is used"));
            }
        }
    }

    let mut listed: Vec<(&str, &str)> = Vec::new();
    if let Some(skills) = &entry.skills {
        listed.extend(skills.paths().into_iter().map(|p| ("the marketplace entry", p)));
    }
    if let Some(skills) = manifest.as_ref().and_then(|m| m.skills.as_ref()) {
        listed.extend(skills.paths().into_iter().map(|p| ("plugin.json", p)));
    }
    let dirs = skill_dirs(files, root, &listed, &mut problems);
    plugin.skills = dirs.iter().map(|dir| load_skill(files, dir, root, &plugin.name)).collect();

    let mut command_paths: Vec<&str> = Vec::new();
    for declared in [entry.commands.as_ref(), manifest.as_ref().and_then(|m| m.commands.as_ref())].into_iter().flatten()
    {
        match declared {
            Value::String(path) => command_paths.push(path),
            Value::Array(items) => command_paths.extend(items.iter().filter_map(Value::as_str)),
            // Object form (inline command definitions) has no files to list.
            _ => {}
        }
    }
    plugin.commands = command_names(files, root, &command_paths, &mut problems);
    plugin.manifest = manifest;
    plugin.problems.extend(problems);
    Ok(())
}

/// Skill folders of a plugin, de-duplicated, in discovery order: `skills/<dir>/SKILL.md`, a `SKILL.md` at the
/// plugin root, then the listed paths.
///
/// When the plugin is the marketplace root itself and lists its skills (anthropics/skills does this to split one
/// `skills/` folder among several plugins), only the listed ones count: default discovery would give every such
/// plugin every skill.
fn skill_dirs(files: &FileSet, root: &str, listed: &[(&str, &str)], problems: &mut Vec<String>) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    let has_skill = |dir: &str| files.contains(&skill_md_path(dir));
    let skills_in = |dir: &str| -> Vec<String> {
        files.subdirs(dir).into_iter().map(|sub| child(dir, sub)).filter(|d| has_skill(d)).collect()
    };
    let shared_root = root.is_empty() && !listed.is_empty();
    if !shared_root {
        dirs.extend(skills_in(&child(root, SKILLS_DIR)));
        if has_skill(root) {
            dirs.push(root.to_string());
        }
    }
    for (origin, path) in listed {
        let target = match join(root, path) {
            Ok(target) => target,
            Err(e) => {
                problems.push(format!("skills path `{path}` from {origin} is not usable: {e}"));
                continue;
            }
        };
        if files.contains(&target) {
            // Claude Code reads folders only: a path to a file (SKILL.md itself, say) gives no skill.
            problems.push(format!("skills path `{path}` from {origin} is a file; list the skill's folder"));
            continue;
        }
        if has_skill(&target) {
            dirs.push(target);
        } else if files.is_dir(&target) {
            let found = skills_in(&target);
            if found.is_empty() {
                problems.push(format!("skills path `{path}` from {origin} has no SKILL.md in it or its subfolders"));
            }
            dirs.extend(found);
        } else {
            problems.push(format!("skills path `{path}` from {origin} is not in the marketplace"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    dirs
}

fn skill_md_path(dir: &str) -> String {
    child(dir, SKILL_FILE)
}

fn load_skill(files: &FileSet, dir: &str, plugin_root: &str, plugin_name: &str) -> Skill {
    let folder = if dir.is_empty() { plugin_name } else { dir.rsplit('/').next().unwrap_or(dir) };
    let mut problems = Vec::new();
    let bytes = files.get(&skill_md_path(dir)).unwrap_or_default();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            problems.push("SKILL.md is not valid UTF-8".to_string());
            String::from_utf8_lossy(bytes)
        }
    };
    let non_empty = |map: &Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty())
    };
    // The frontmatter alone: the body is read from the files when a skill is fetched.
    let (frontmatter_raw, frontmatter) = match skill_frontmatter(&text) {
        Ok((raw, frontmatter)) => {
            if !non_empty(&frontmatter, "name") {
                problems.push(crate::skill::SkillError::MissingName.to_string());
            }
            if !non_empty(&frontmatter, "description") {
                problems.push(crate::skill::SkillError::MissingDescription.to_string());
            }
            (Some(raw.to_string()), frontmatter)
        }
        Err(e) => {
            problems.push(e.to_string());
            (None, Map::new())
        }
    };
    let declared = frontmatter.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty());
    if let Some(declared) = declared {
        if declared != folder {
            problems.push(format!("skill name `{declared}` does not match its folder `{folder}`"));
        }
    }
    // Claude Code names a skill after its folder, whatever its frontmatter says (a mismatch is a problem above).
    let name = folder.to_string();
    let written = declared.unwrap_or(folder);
    if !is_valid_skill_name(written) {
        problems.push(format!("skill name `{written}` must be 1-64 lowercase letters, digits or hyphens"));
    }
    let description = frontmatter
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from);

    let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
    // A skill at the plugin root shares its folder with the plugin's own metadata, which is not part of the skill.
    let at_plugin_root = dir == plugin_root;
    let skill_files: Vec<SkillFile> = files
        .files_under(dir)
        .map(|(path, bytes)| (&path[skip..], bytes))
        .filter(|(path, _)| {
            !(at_plugin_root && path.strip_prefix(MANIFEST_DIR).is_some_and(|rest| rest.starts_with('/')))
        })
        .map(|(path, bytes)| SkillFile {
            path: path.to_string(),
            size: bytes.len() as u64,
            sha256: sha256_digest(bytes),
        })
        .collect();
    let digest = digest_of_entries(skill_files.iter().map(|f| (f.path.as_str(), f.sha256.as_str())));
    Skill {
        name,
        description,
        dir: dir.to_string(),
        frontmatter_raw,
        frontmatter,
        files: skill_files,
        digest,
        problems,
    }
}

/// The Agent Skills rule for `name`: 1-64 characters, lowercase letters, digits and hyphens.
pub fn is_valid_skill_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `commands/*.md` of the plugin, then the listed command files or folders (`.md` files directly inside).
fn command_names(files: &FileSet, root: &str, listed: &[&str], problems: &mut Vec<String>) -> Vec<String> {
    let md_in = |dir: &str| -> Vec<String> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        files
            .files_under(dir)
            .filter_map(|(path, _)| path[skip..].strip_suffix(".md").filter(|stem| !stem.contains('/')))
            .map(String::from)
            .collect()
    };
    // A `commands` path replaces the default `commands/` folder: Claude Code reads it only when no path is given.
    let mut names = if listed.is_empty() { md_in(&child(root, COMMANDS_DIR)) } else { Vec::new() };
    for path in listed {
        match join(root, path) {
            Ok(target) if files.contains(&target) && target.ends_with(".md") => {
                let file = target.rsplit('/').next().unwrap_or(&target);
                names.push(file.trim_end_matches(".md").to_string());
            }
            Ok(target) if files.is_dir(&target) => names.extend(md_in(&target)),
            Ok(_) => problems.push(format!("commands path `{path}` is not in the marketplace")),
            Err(e) => problems.push(format!("commands path `{path}` is not usable: {e}")),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}
