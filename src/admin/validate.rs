//! `skillport validate PATH`: checks a marketplace checkout (a folder with `.claude-plugin/marketplace.json`) or a single
//! plugin folder the way Skillport will read it, plus the authoring rules loading does not enforce, and reports every
//! problem with its file (and line, where a field or position says it). Meant for CI in a marketplace repository: exit
//! code 1 on any error, warnings reported but not failing.
//!
//! The folder is read into a [`FileSet`] and given to the same loader the Worker uses (`skillport_sources::load`), so
//! what passes here loads there; `skillport_sources::rules` adds the Agent Skills and marketplace rules.

use super::layers::UsageError;
use serde_json::Value;
use skillport_sources::layout::{self, Layout};
use skillport_sources::rules::{marketplace_rules, skill_rules, Severity};
use skillport_sources::tree::{MARKETPLACE_FILE, PLUGIN_FILE};
use skillport_sources::{load_marketplace, FileSet, LoadedPlugin, PluginStatus, Skill, INDEX_FILE};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One problem, at a file of the checked folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub severity: Severity,
    /// Relative to the checked folder; `None` for the folder as a whole.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl Finding {
    fn new(severity: Severity, file: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Finding {
        Finding { severity, file: Some(file.into()), line, message: message.into() }
    }
}

/// What was checked and what was found.
#[derive(Debug, Clone)]
pub struct Validation {
    /// `marketplace `acme-tools` (3 plugins, 7 skills)`.
    pub what: String,
    /// Errors first, then warnings; each in file order.
    pub findings: Vec<Finding>,
}

impl Validation {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }
}

/// What `skillport validate` prints and how it ends.
pub struct Outcome {
    pub stdout: String,
    pub code: u8,
}

/// Validates the folder at `root`; with `write_index`, also writes its `skillport-index.json` (the file list an
/// `https` marketplace is read by) when there is no error.
pub fn run(root: &Path, write_index: bool) -> Result<Outcome, UsageError> {
    if !root.is_dir() {
        return Err(UsageError(format!("{} is not a folder", root.display())));
    }
    let (files, mut read_findings) = read_folder(root)?;
    let mut validation = validate(&files, &folder_name(root))?;
    read_findings.append(&mut validation.findings);
    validation.findings = read_findings;
    validation.findings.sort();
    validation.findings.dedup();

    let mut out = String::new();
    for f in &validation.findings {
        let place = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{}:{line}", root.join(file).display()),
            (Some(file), None) => root.join(file).display().to_string(),
            (None, _) => root.display().to_string(),
        };
        let severity = if f.severity == Severity::Error { "error" } else { "warning" };
        let _ = writeln!(out, "{place}: {severity}: {}", f.message);
    }
    let errors = validation.errors();
    let warnings = validation.findings.len() - errors;
    if write_index && errors == 0 && files.contains(MARKETPLACE_FILE) {
        let mut listed = FileSet::new();
        for (path, bytes) in files.iter().filter(|(p, _)| *p != INDEX_FILE) {
            let _ = listed.insert(path, bytes.to_vec());
        }
        let target = root.join(INDEX_FILE);
        std::fs::write(&target, skillport_sources::index_for(&listed))
            .map_err(|e| UsageError(format!("cannot write {}: {e}", target.display())))?;
        let _ = writeln!(out, "wrote {} ({} files)", target.display(), listed.len());
    } else if write_index && errors == 0 {
        out.push_str("no index written: a plugin folder on its own is not served over https\n");
    } else if write_index {
        out.push_str("no index written: fix the errors first\n");
    }
    let verdict = if errors == 0 { "ok" } else { "FAILED" };
    let _ = writeln!(
        out,
        "{verdict}: {}: {} error{}, {} warning{}",
        validation.what,
        errors,
        if errors == 1 { "" } else { "s" },
        warnings,
        if warnings == 1 { "" } else { "s" }
    );
    Ok(Outcome { stdout: out, code: u8::from(errors > 0) })
}

fn folder_name(root: &Path) -> String {
    std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "plugin".into())
}

/// Every file under `root` as the sources would deliver it: `.git` left out, links left out (archives skip them).
pub fn read_folder(root: &Path) -> Result<(FileSet, Vec<Finding>), UsageError> {
    let mut files = FileSet::new();
    let mut findings = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| UsageError(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| UsageError(format!("cannot read {}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_symlink() {
                findings.push(Finding::new(
                    Severity::Warning,
                    path,
                    None,
                    "is a symbolic link: Skillport's sources leave links out, so it is not served",
                ));
            } else if kind.is_dir() {
                if name != ".git" {
                    stack.push((entry.path(), path));
                }
            } else if kind.is_file() {
                let bytes = std::fs::read(entry.path())
                    .map_err(|e| UsageError(format!("cannot read {}: {e}", entry.path().display())))?;
                if let Err(e) = files.insert(&path, bytes) {
                    findings.push(Finding::new(Severity::Error, path, None, format!("unusable path: {e}")));
                }
            }
        }
    }
    Ok((files, findings))
}

/// Checks a folder's files: a marketplace when it has `.claude-plugin/marketplace.json`, else one plugin (named
/// `folder` unless its plugin.json names it), else a folder of skills (`<name>/SKILL.md`, one plugin each, as the
/// `skills` layout serves it).
pub fn validate(files: &FileSet, folder: &str) -> Result<Validation, UsageError> {
    if files.contains(MARKETPLACE_FILE) {
        return Ok(validate_marketplace(files));
    }
    let is_plugin = files.contains(PLUGIN_FILE) || files.is_dir("skills") || files.contains("SKILL.md");
    if !is_plugin {
        // A folder of skills alone is checked as the marketplace the `skills` layout serves it as: one plugin each.
        let mut wrapped = files.clone();
        return match layout::as_marketplace(&mut wrapped, Layout::Skills, folder, folder) {
            Ok(_) => {
                let mut validation = validate_marketplace(&wrapped);
                validation.what = validation.what.replacen("marketplace", "skills-only repository", 1);
                Ok(validation)
            }
            Err(_) => Err(UsageError(format!(
                "neither a marketplace ({MARKETPLACE_FILE}), a plugin ({PLUGIN_FILE}, skills/ or SKILL.md) nor a \
                 folder of skills (<name>/SKILL.md) is here"
            ))),
        };
    }
    // A plugin alone is checked as the only plugin of a marketplace at its own root, which is how Claude Code reads
    // a plugin folder.
    let name = files
        .get(PLUGIN_FILE)
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| folder.to_owned());
    let mut wrapped = files.clone();
    let manifest =
        serde_json::json!({"name": "local", "owner": {"name": "local"}, "plugins": [{"name": name, "source": "./"}]});
    let _ = wrapped.insert(MARKETPLACE_FILE, manifest.to_string().into_bytes());
    let loaded = load_marketplace(&wrapped).map_err(|e| UsageError(e.to_string()))?;
    let mut findings = Vec::new();
    let plugin = &loaded.plugins[0];
    check_plugin(files, None, plugin, 0, &mut findings);
    sort(&mut findings);
    Ok(Validation { what: format!("plugin `{}` ({})", plugin.name, count(plugin.skills.len(), "skill")), findings })
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn sort(findings: &mut Vec<Finding>) {
    findings.sort();
    findings.dedup();
}

fn validate_marketplace(files: &FileSet) -> Validation {
    let text = String::from_utf8_lossy(files.get(MARKETPLACE_FILE).unwrap_or_default()).into_owned();
    let mut findings = Vec::new();
    let loaded = match load_marketplace(files) {
        Ok(loaded) => loaded,
        Err(e) => {
            let message = e.to_string();
            let line = number_after(&message, "line ");
            findings.push(Finding::new(Severity::Error, MARKETPLACE_FILE, line, message));
            return Validation { what: "marketplace".into(), findings };
        }
    };
    for problem in &loaded.problems {
        findings.push(Finding::new(Severity::Warning, MARKETPLACE_FILE, None, problem.clone()));
    }
    if let Ok(json) = serde_json::from_str::<Value>(&text) {
        for v in marketplace_rules(&json) {
            let line = match v.field.strip_prefix("plugins[").and_then(|r| r.split(']').next()?.parse::<usize>().ok()) {
                Some(index) => entry_line(&text, &loaded.plugins, index),
                None => key_line(&text, v.field.split('.').next().unwrap_or("")),
            };
            findings.push(Finding::new(v.severity, MARKETPLACE_FILE, line, v.message));
        }
    }
    for (index, plugin) in loaded.plugins.iter().enumerate() {
        check_plugin(files, Some((&text, &loaded.plugins)), plugin, index, &mut findings);
    }
    sort(&mut findings);
    let skills: usize = loaded.plugins.iter().map(|p| p.skills.len()).sum();
    Validation {
        what: format!(
            "marketplace `{}` ({}, {})",
            loaded.manifest.name,
            count(loaded.plugins.len(), "plugin"),
            count(skills, "skill")
        ),
        findings,
    }
}

/// The findings of one plugin. `marketplace` is the manifest's text and plugins, to point at the plugin's entry; `None`
/// when a plugin folder is checked on its own (its problems then point at its plugin.json).
fn check_plugin(
    files: &FileSet,
    marketplace: Option<(&str, &[LoadedPlugin])>,
    plugin: &LoadedPlugin,
    index: usize,
    findings: &mut Vec<Finding>,
) {
    let manifest_path = plugin.root.as_deref().map(|root| child(root, PLUGIN_FILE));
    // Where a problem of the plugin as a whole is shown: its marketplace entry, else its plugin.json.
    let (entry_file, entry_at) = match marketplace {
        Some((text, plugins)) => (MARKETPLACE_FILE.to_owned(), entry_line(text, plugins, index)),
        None => (PLUGIN_FILE.to_owned(), None),
    };
    // A message naming a file of the folder in backquotes is about that file.
    let place = |message: &str| -> (String, Option<usize>) {
        for quoted in message.split('`').skip(1).step_by(2) {
            if files.contains(quoted) {
                return (quoted.to_owned(), number_after(message, "line "));
            }
        }
        (entry_file.clone(), entry_at)
    };
    let name = &plugin.name;
    match &plugin.status {
        PluginStatus::Servable => {}
        PluginStatus::Invalid { reason } => {
            let (file, line) = place(reason);
            findings.push(Finding::new(Severity::Error, file, line, format!("plugin `{name}`: {reason}")));
        }
        PluginStatus::NotServable { reason } => {
            let (file, line) = place(reason);
            findings.push(Finding::new(
                Severity::Warning,
                file,
                line,
                format!("plugin `{name}` is not checked here: {reason}"),
            ));
        }
    }
    for problem in &plugin.problems {
        let (file, line) = place(problem);
        findings.push(Finding::new(
            plugin_problem_severity(problem),
            file,
            line,
            format!("plugin `{name}`: {problem}"),
        ));
    }
    let Some(root) = plugin.root.as_deref() else { return };

    // Skill folders the loader passes over because they have no SKILL.md.
    let skills_dir = child(root, "skills");
    for sub in files.subdirs(&skills_dir) {
        let dir = child(&skills_dir, sub);
        if files.contains(&child(&dir, "SKILL.md")) {
            continue;
        }
        let misnamed = files
            .files_under(&dir)
            .map(|(p, _)| p[dir.len() + 1..].to_owned())
            .find(|p| !p.contains('/') && p.eq_ignore_ascii_case("skill.md"));
        let message = match misnamed {
            Some(found) => format!("skill `{sub}` has `{found}`; the file must be named exactly `SKILL.md`"),
            None => format!("skill folder `{sub}` has no SKILL.md, so it is not a skill; add one or move the folder"),
        };
        findings.push(Finding::new(Severity::Error, dir, None, message));
    }

    // Component paths the loader does not read (skills and commands it checks itself).
    let manifest_json =
        manifest_path.as_deref().and_then(|p| files.get(p)).and_then(|b| serde_json::from_slice(b).ok());
    let sources: [(&str, Option<&Value>); 2] =
        [("the marketplace entry", Some(&plugin.raw)), ("plugin.json", manifest_json.as_ref())];
    for (origin, json) in sources {
        let Some(json) = json else { continue };
        for field in ["agents", "hooks", "mcpServers", "lspServers", "outputStyles"] {
            let paths: Vec<&str> = match json.get(field) {
                Some(Value::String(p)) => vec![p],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for path in paths.into_iter().filter(|p| p.starts_with("./") || p.starts_with("../")) {
                let exists = skillport_sources::join(root, path).is_ok_and(|p| files.contains(&p) || files.is_dir(&p));
                if !exists {
                    let file = if origin == "plugin.json" {
                        manifest_path.clone().unwrap_or_default()
                    } else {
                        entry_file.clone()
                    };
                    let line = if origin == "plugin.json" { None } else { entry_at };
                    findings.push(Finding::new(
                        Severity::Error,
                        file,
                        line,
                        format!("plugin `{name}`: `{field}` path `{path}` from {origin} is not in the plugin"),
                    ));
                }
            }
        }
    }

    if plugin.status.is_servable() && plugin.skills.is_empty() && plugin.commands.is_empty() {
        findings.push(Finding::new(
            Severity::Warning,
            entry_file.clone(),
            entry_at,
            format!("plugin `{name}` has no skills or commands, so Skillport has nothing of it to serve"),
        ));
    }

    for skill in &plugin.skills {
        check_skill(files, skill, findings);
    }
}

/// Most plugin problems break what Claude Code installs (a listed path that is absent, a plugin.json declaring
/// components beside `strict: false`, a name that differs from the entry); a version mismatch or an ignored
/// plugin.json of a `strict: false` plugin only makes one side win.
fn plugin_problem_severity(problem: &str) -> Severity {
    if problem.contains(" says version ") || problem.contains("was ignored") {
        Severity::Warning
    } else {
        Severity::Error
    }
}

fn check_skill(files: &FileSet, skill: &Skill, findings: &mut Vec<Finding>) {
    let file = child(&skill.dir, "SKILL.md");
    let text = String::from_utf8_lossy(files.get(&file).unwrap_or_default()).into_owned();
    let field_line = |field: &str| frontmatter_line(&text, field);
    for problem in &skill.problems {
        let line = number_after(problem, "(line ").or_else(|| {
            if problem.contains("description") {
                field_line("description")
            } else if problem.contains("name") {
                field_line("name")
            } else {
                None
            }
        });
        findings.push(Finding::new(Severity::Error, file.clone(), line, problem.clone()));
    }
    for v in skill_rules(&skill.name, &skill.frontmatter) {
        findings.push(Finding::new(v.severity, file.clone(), field_line(&v.field), v.message));
    }
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The number right after `marker` in `text` (`... at line 12 column 3` → 12).
fn number_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The 1-based line of a top-level frontmatter key (`name:`) in a SKILL.md.
fn frontmatter_line(text: &str, key: &str) -> Option<usize> {
    let mut lines = text.lines().enumerate();
    lines.next().filter(|(_, l)| l.trim_end() == "---")?;
    for (i, line) in lines {
        if line.trim_end() == "---" {
            return None;
        }
        if line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')) {
            return Some(i + 1);
        }
    }
    None
}

/// The 1-based line of the first `"key":` in a JSON text.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let needle = format!("\"{key}\"");
    text.lines().position(|l| l.contains(&needle)).map(|i| i + 1)
}

/// The line of the `index`th plugin entry's `"name"`: the n-th line naming it, n counting earlier entries of the same
/// name.
fn entry_line(text: &str, plugins: &[LoadedPlugin], index: usize) -> Option<usize> {
    let name = plugins.get(index)?.raw.get("name")?.as_str()?;
    let quoted = serde_json::to_string(name).ok()?;
    let nth = plugins[..index].iter().filter(|p| p.raw.get("name").and_then(Value::as_str) == Some(name)).count();
    text.lines().enumerate().filter(|(_, l)| l.contains("\"name\"") && l.contains(&quoted)).nth(nth).map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> FileSet {
        let mut set = FileSet::new();
        for (p, c) in files {
            set.insert(p, c.as_bytes().to_vec()).unwrap();
        }
        set
    }

    #[test]
    fn a_plugin_folder_alone() {
        let files = set(&[
            (".claude-plugin/plugin.json", r#"{"name": "solo", "agents": "./agents/missing.md"}"#),
            ("skills/good/SKILL.md", "---\nname: good\ndescription: Does good things.\n---\nbody"),
            ("skills/empty/notes.md", "no skill here"),
        ]);
        let v = validate(&files, "folder").unwrap();
        assert_eq!(v.what, "plugin `solo` (1 skill)");
        let messages: Vec<String> = v.findings.iter().map(|f| format!("{:?} {}", f.file, f.message)).collect();
        assert_eq!(v.errors(), 2, "{messages:#?}");
        assert!(messages.iter().any(|m| m.contains("`agents` path `./agents/missing.md`")), "{messages:#?}");
        assert!(messages.iter().any(|m| m.contains("skills/empty") && m.contains("no SKILL.md")), "{messages:#?}");
    }

    #[test]
    fn lines_are_found() {
        let md = "---\nname: x\ndescription: y\n---\n";
        assert_eq!(frontmatter_line(md, "name"), Some(2));
        assert_eq!(frontmatter_line(md, "description"), Some(3));
        assert_eq!(frontmatter_line(md, "license"), None);
        assert_eq!(number_after("expected `,` at line 12 column 3", "line "), Some(12));
    }

    #[test]
    fn neither_marketplace_nor_plugin_is_a_usage_error() {
        let err = validate(&set(&[("README.md", "hi")]), "x").unwrap_err();
        assert!(err.0.contains("nor a folder of skills (<name>/SKILL.md)"), "{}", err.0);
    }

    #[test]
    fn a_folder_of_skills_is_checked_as_one_plugin_per_skill() {
        let files = set(&[
            ("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\nbody"),
            ("docx/SKILL.md", "---\nname: docx\n---\nno description"),
            ("README.md", "# Skills"),
        ]);
        let v = validate(&files, "My Skills").unwrap();
        assert_eq!(v.what, "skills-only repository `my-skills` (2 plugins, 2 skills)");
        let messages: Vec<String> = v.findings.iter().map(|f| format!("{:?} {}", f.file, f.message)).collect();
        assert!(messages.iter().any(|m| m.contains("docx/SKILL.md") && m.contains("description")), "{messages:#?}");
        assert_eq!(v.errors(), 1, "{messages:#?}");
    }
}
