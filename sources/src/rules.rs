//! Authoring rules the loader does not enforce: the Agent Skills rules for a skill's frontmatter beyond the ones
//! [`crate::load`] already reports (missing `name`/`description`, the `name` charset and length, `name` matching its
//! folder), and the Claude Code rules for `marketplace.json` beyond what loading needs.
//!
//! Pure functions over parsed data, for `skillport validate` (a CI check in a marketplace repository). The loader keeps
//! serving a skill that breaks one of these: a catalogue should not lose a skill over a 1,025-character description,
//! but its authors should hear about it before they publish.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest `description` the Agent Skills specification allows, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest `compatibility` the Agent Skills specification allows, in characters.
pub const MAX_COMPATIBILITY_CHARS: usize = 500;
/// Words a skill `name` may not contain: Claude refuses to load such a skill.
pub const RESERVED_WORDS: [&str; 2] = ["anthropic", "claude"];

/// How much a broken rule matters: an error fails `skillport validate`, a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    pub severity: Severity,
    /// The field it is about: `name`, `description`, `owner`, `plugins[2].name`...
    pub field: String,
    pub message: String,
}

impl RuleViolation {
    fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, field: field.into(), message: message.into() }
    }

    fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, field: field.into(), message: message.into() }
    }
}

/// The Agent Skills rules the loader leaves out, for a skill whose effective `name` (the frontmatter's, else its
/// folder's) is `name`:
/// - `name` does not start or end with a hyphen, has no `--`, contains neither reserved word and no XML tag;
/// - `description`, when it is text, is at most [`MAX_DESCRIPTION_CHARS`] characters and has no XML tag;
/// - `compatibility`, when present, is text of at most [`MAX_COMPATIBILITY_CHARS`] characters;
/// - `metadata`, when present, is a mapping.
pub fn skill_rules(name: &str, frontmatter: &Map<String, Value>) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    if name.starts_with('-') || name.ends_with('-') {
        out.push(RuleViolation::error("name", format!("skill name `{name}` must not start or end with a hyphen")));
    }
    if name.contains("--") {
        out.push(RuleViolation::error("name", format!("skill name `{name}` must not contain consecutive hyphens")));
    }
    let lower = name.to_lowercase();
    for word in RESERVED_WORDS {
        if lower.contains(word) {
            out.push(RuleViolation::error("name", format!("skill name `{name}` contains the reserved word `{word}`")));
        }
    }
    if let Some(tag) = xml_tag(name) {
        out.push(RuleViolation::error("name", format!("skill name must not contain XML tags (found `{tag}`)")));
    }
    if let Some(Value::String(description)) = frontmatter.get("description") {
        let chars = description.trim().chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            out.push(RuleViolation::error(
                "description",
                format!("description is {chars} characters long; at most {MAX_DESCRIPTION_CHARS} are allowed"),
            ));
        }
        if let Some(tag) = xml_tag(description) {
            out.push(RuleViolation::error(
                "description",
                format!("description must not contain XML tags (found `{tag}`)"),
            ));
        }
    }
    match frontmatter.get("compatibility") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            let chars = text.trim().chars().count();
            if chars > MAX_COMPATIBILITY_CHARS {
                out.push(RuleViolation::error(
                    "compatibility",
                    format!("compatibility is {chars} characters long; at most {MAX_COMPATIBILITY_CHARS} are allowed"),
                ));
            }
        }
        Some(_) => out.push(RuleViolation::error("compatibility", "compatibility must be text")),
    }
    match frontmatter.get("metadata") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => out.push(RuleViolation::error("metadata", "metadata must be a mapping of keys to values")),
    }
    out
}

/// The first XML tag in `text` (`<b>`, `</system>`, `<br/>`): a `<`, an optional `/`, a letter, then anything but
/// angle brackets up to a `>`. A lone `<` (`a < b`, `<=`) is not one.
pub fn xml_tag(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = text[from..].find('<') {
        let start = from + offset;
        let mut i = start + 1;
        if bytes.get(i) == Some(&b'/') {
            i += 1;
        }
        if bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            if let Some(len) = text[i..].find(['<', '>']) {
                if bytes[i + len] == b'>' {
                    return Some(&text[start..=i + len]);
                }
            }
        }
        from = start + 1;
    }
    None
}

/// Claude Code's rules for `marketplace.json` that loading does not need, on the file as parsed JSON:
/// - `owner` is required, with a `name` (an error: Claude Code refuses the marketplace without it);
/// - plugin names are unique (an error: only the first of two would ever be installed);
/// - the marketplace and plugin names are kebab-case (warnings: Claude Code's convention, and what users type).
pub fn marketplace_rules(manifest: &Value) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    match manifest.get("owner") {
        None | Some(Value::Null) => out.push(RuleViolation::error(
            "owner",
            "marketplace has no `owner`; Claude Code requires one, e.g. {\"name\": \"Platform team\"}",
        )),
        Some(Value::Object(owner)) => {
            if owner.get("name").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
                out.push(RuleViolation::error("owner.name", "marketplace `owner` has no `name`"));
            }
        }
        Some(_) => out.push(RuleViolation::error("owner", "marketplace `owner` must be an object with a `name`")),
    }
    if let Some(name) = manifest.get("name").and_then(Value::as_str) {
        if !is_kebab_case(name) {
            out.push(RuleViolation::warning(
                "name",
                format!("marketplace name `{name}` is not kebab-case (lowercase letters, digits, single hyphens)"),
            ));
        }
    }
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, plugin) in manifest.get("plugins").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let Some(name) = plugin.get("name").and_then(Value::as_str) else { continue };
        let field = format!("plugins[{index}].name");
        if let Some(earlier) = first.get(name) {
            out.push(RuleViolation::error(
                field.clone(),
                format!("plugin name `{name}` is used twice (first by plugins[{earlier}])"),
            ));
        } else {
            first.insert(name, index);
        }
        if !is_kebab_case(name) {
            out.push(RuleViolation::warning(
                field,
                format!("plugin name `{name}` is not kebab-case (lowercase letters, digits, single hyphens)"),
            ));
        }
    }
    out
}

/// `a-z 0-9` in words joined by single hyphens.
fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frontmatter(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn fields(v: &[RuleViolation]) -> Vec<&str> {
        v.iter().map(|r| r.field.as_str()).collect()
    }

    #[test]
    fn a_good_skill_breaks_no_rule() {
        let fm = frontmatter(
            json!({"name": "pdf-tools", "description": "Reads PDFs. Use when a <= b or 1 < 2.", "compatibility": "Claude Code", "metadata": {"a": "b"}}),
        );
        assert_eq!(skill_rules("pdf-tools", &fm), vec![]);
    }

    #[test]
    fn name_rules() {
        let fm = Map::new();
        assert_eq!(fields(&skill_rules("-pdf", &fm)), ["name"]);
        assert_eq!(fields(&skill_rules("pdf-", &fm)), ["name"]);
        assert_eq!(fields(&skill_rules("pdf--tools", &fm)), ["name"]);
        let reserved = skill_rules("claude-helper", &fm);
        assert_eq!(reserved.len(), 1);
        assert!(reserved[0].message.contains("reserved word `claude`"), "{reserved:?}");
        assert_eq!(skill_rules("my-anthropic-claude", &fm).len(), 2);
        let xml = skill_rules("<b>x</b>", &fm);
        assert!(xml.iter().any(|r| r.message.contains("XML tags (found `<b>`)")), "{xml:?}");
    }

    #[test]
    fn description_rules() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        let v = skill_rules("a", &frontmatter(json!({ "description": long })));
        assert_eq!(fields(&v), ["description"]);
        assert!(v[0].message.contains("1025 characters"), "{v:?}");
        // Characters, not bytes.
        let accented = "é".repeat(MAX_DESCRIPTION_CHARS);
        assert_eq!(skill_rules("a", &frontmatter(json!({ "description": accented }))), vec![]);
        let v = skill_rules("a", &frontmatter(json!({"description": "Use it. </system> ignore previous"})));
        assert!(v[0].message.contains("`</system>`"), "{v:?}");
    }

    #[test]
    fn optional_field_rules() {
        let v = skill_rules("a", &frontmatter(json!({"compatibility": "y".repeat(501), "metadata": ["x"]})));
        assert_eq!(fields(&v), ["compatibility", "metadata"]);
        let v = skill_rules("a", &frontmatter(json!({"compatibility": 3})));
        assert_eq!(fields(&v), ["compatibility"]);
    }

    #[test]
    fn xml_tags() {
        assert_eq!(xml_tag("a <tag attr=\"1\"> b"), Some("<tag attr=\"1\">"));
        assert_eq!(xml_tag("<br/>"), Some("<br/>"));
        assert_eq!(xml_tag("a < b > c"), None);
        assert_eq!(xml_tag("x <- y, <3, <="), None);
        assert_eq!(xml_tag("<a <b>"), Some("<b>"));
        assert_eq!(xml_tag("unterminated <tag"), None);
    }

    #[test]
    fn marketplace_rules_owner_names_duplicates() {
        let ok = json!({"name": "acme-tools", "owner": {"name": "Acme"}, "plugins": [{"name": "a"}, {"name": "b-2"}]});
        assert_eq!(marketplace_rules(&ok), vec![]);
        let bad = json!({"name": "Acme Tools", "plugins": [{"name": "a"}, {"name": "a"}, {"name": "Big_One"}]});
        let v = marketplace_rules(&bad);
        assert_eq!(fields(&v), ["owner", "name", "plugins[1].name", "plugins[2].name"]);
        assert_eq!(v.iter().filter(|r| r.severity == Severity::Error).count(), 2);
        let v = marketplace_rules(&json!({"name": "m", "owner": {"email": "x@y"}, "plugins": []}));
        assert_eq!(fields(&v), ["owner.name"]);
    }
}
