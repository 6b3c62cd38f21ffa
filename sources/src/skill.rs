//! `SKILL.md`: YAML frontmatter between `---` fences, then a markdown body.
//!
//! The frontmatter is kept twice: verbatim (so the connector can hand it on byte for byte) and converted to JSON (so
//! callers can read fields without a YAML dependency of their own).

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// A parsed `SKILL.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillMarkdown {
    /// The exact text between the `---` fences, line endings included.
    pub frontmatter_raw: String,
    /// The frontmatter as JSON.
    pub frontmatter: Map<String, Value>,
    /// Everything after the closing fence.
    pub body: String,
}

impl SkillMarkdown {
    pub fn name(&self) -> Option<&str> {
        non_empty_str(&self.frontmatter, "name")
    }

    pub fn description(&self) -> Option<&str> {
        non_empty_str(&self.frontmatter, "description")
    }
}

/// What is wrong with a `SKILL.md`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkillError {
    #[error("SKILL.md has no frontmatter: the first line must be `---`")]
    NoFrontmatter,
    #[error("SKILL.md frontmatter is not terminated: no closing `---` line")]
    Unterminated,
    #[error("SKILL.md frontmatter is not valid YAML (line {line}, column {column}): {message}")]
    Yaml { line: usize, column: usize, message: String },
    #[error("SKILL.md frontmatter must be a YAML mapping, not {0}")]
    NotMapping(&'static str),
    #[error("SKILL.md frontmatter has no `name`")]
    MissingName,
    #[error("SKILL.md frontmatter has no `description`")]
    MissingDescription,
}

/// Parses a `SKILL.md` and checks the fields every skill needs (`name`, `description`).
pub fn parse_skill_md(text: &str) -> Result<SkillMarkdown, SkillError> {
    let parsed = parse_skill_md_unchecked(text)?;
    if parsed.name().is_none() {
        return Err(SkillError::MissingName);
    }
    if parsed.description().is_none() {
        return Err(SkillError::MissingDescription);
    }
    Ok(parsed)
}

/// Like [`parse_skill_md`] without the required-field checks: the loader wants the frontmatter even when `name` is
/// missing, and reports the missing field as a problem instead.
pub fn parse_skill_md_unchecked(text: &str) -> Result<SkillMarkdown, SkillError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first, mut rest) = split_line(text);
    if !is_fence(first) {
        return Err(SkillError::NoFrontmatter);
    }
    let start = text.len() - rest.len();
    loop {
        if rest.is_empty() {
            return Err(SkillError::Unterminated);
        }
        let line_start = text.len() - rest.len();
        let (line, after) = split_line(rest);
        if is_fence(line) {
            let raw = &text[start..line_start];
            return Ok(SkillMarkdown {
                frontmatter_raw: raw.to_string(),
                frontmatter: yaml_mapping(raw)?,
                body: after.to_string(),
            });
        }
        rest = after;
    }
}

/// Splits off the first line, returning it (with its line ending) and the rest.
fn split_line(text: &str) -> (&str, &str) {
    match text.find('\n') {
        Some(end) => text.split_at(end + 1),
        None => (text, ""),
    }
}

fn is_fence(line: &str) -> bool {
    line.trim_end_matches(['\n', '\r']).trim_end_matches([' ', '\t']) == "---"
}

fn yaml_mapping(raw: &str) -> Result<Map<String, Value>, SkillError> {
    let docs = YamlLoader::load_from_str(raw).map_err(|e| SkillError::Yaml {
        // The frontmatter starts on line 2 of the file (after the opening fence); report file lines.
        line: e.marker().line() + 1,
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    match docs.into_iter().next() {
        // An empty frontmatter is an empty mapping; the missing fields are reported by the caller.
        None | Some(Yaml::Null) => Ok(Map::new()),
        Some(Yaml::Hash(hash)) => Ok(hash.into_iter().map(|(k, v)| (yaml_key(k), yaml_to_json(v))).collect()),
        Some(other) => Err(SkillError::NotMapping(yaml_type(&other))),
    }
}

/// YAML scalars become the matching JSON scalars; floats that JSON cannot hold (`.nan`, `.inf`) stay strings.
pub fn yaml_to_json(yaml: Yaml) -> Value {
    match yaml {
        Yaml::String(s) => Value::String(s),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(s) => yaml_rust2::Yaml::Real(s.clone())
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::String(s), Value::Number),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(hash) => Value::Object(hash.into_iter().map(|(k, v)| (yaml_key(k), yaml_to_json(v))).collect()),
        // Aliases are not resolved by yaml-rust2; frontmatter has no use for them.
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

/// JSON keys are strings; a YAML key like `1` or `true` keeps its written form.
fn yaml_key(key: Yaml) -> String {
    match key {
        Yaml::String(s) | Yaml::Real(s) => s,
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".to_string(),
        other => yaml_to_json(other).to_string(),
    }
}

fn yaml_type(yaml: &Yaml) -> &'static str {
    match yaml {
        Yaml::String(_) => "a string",
        Yaml::Integer(_) | Yaml::Real(_) => "a number",
        Yaml::Boolean(_) => "a boolean",
        Yaml::Array(_) => "a list",
        Yaml::Hash(_) => "a mapping",
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => "null",
    }
}

fn non_empty_str<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folded_and_literal_scalars_lists_and_maps() {
        let text = "---\nname: data-analyzer\ndescription: >\n  Analyzes CSV\n  and JSON.\nnotes: |\n  line one\n  line two\nallowed-tools:\n  - Read\n  - Bash\nmetadata:\n  version: 1.2\n  count: 3\n  public: true\n  owner: ~\n---\n# Body\n";
        let skill = parse_skill_md(text).unwrap();
        assert_eq!(skill.name(), Some("data-analyzer"));
        assert_eq!(skill.frontmatter["description"], json!("Analyzes CSV and JSON.\n"));
        assert_eq!(skill.frontmatter["notes"], json!("line one\nline two\n"));
        assert_eq!(skill.frontmatter["allowed-tools"], json!(["Read", "Bash"]));
        assert_eq!(skill.frontmatter["metadata"], json!({"version": 1.2, "count": 3, "public": true, "owner": null}));
        assert!(skill.frontmatter_raw.starts_with("name: data-analyzer\n"));
        assert!(skill.frontmatter_raw.ends_with("  owner: ~\n"));
        assert_eq!(skill.body, "# Body\n");
    }

    #[test]
    fn crlf_and_bom_are_tolerated() {
        let text = "\u{feff}---\r\nname: x\r\ndescription: y\r\n---\r\nbody\r\n";
        let skill = parse_skill_md(text).unwrap();
        assert_eq!(skill.name(), Some("x"));
        assert_eq!(skill.description(), Some("y"));
        assert_eq!(skill.frontmatter_raw, "name: x\r\ndescription: y\r\n");
        assert_eq!(skill.body, "body\r\n");
    }

    #[test]
    fn closing_fence_at_end_of_file_without_newline() {
        let skill = parse_skill_md("---\nname: x\ndescription: y\n---").unwrap();
        assert_eq!(skill.body, "");
    }

    #[test]
    fn missing_fences() {
        assert_eq!(parse_skill_md("# Title\nname: x\n"), Err(SkillError::NoFrontmatter));
        assert_eq!(parse_skill_md("\n---\nname: x\n---\n"), Err(SkillError::NoFrontmatter));
        assert_eq!(parse_skill_md("---\nname: x\ndescription: y\n"), Err(SkillError::Unterminated));
        // A `----` or `--- x` line is not a fence.
        assert_eq!(parse_skill_md("---\nname: x\n----\n"), Err(SkillError::Unterminated));
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let err = parse_skill_md("---\nname: x\ndescription: [unclosed\n---\n").unwrap_err();
        match &err {
            SkillError::Yaml { line, .. } => assert!(*line >= 3, "{err}"),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("not valid YAML (line"), "{err}");
        let err = parse_skill_md("---\nname: x\n  bad: indent\n---\n").unwrap_err();
        // Line 3 of the file: the fence is line 1, so frontmatter lines are shifted by one.
        assert!(matches!(err, SkillError::Yaml { line: 3, column: 6, .. }), "{err:?}");
    }

    #[test]
    fn frontmatter_must_be_a_mapping_with_name_and_description() {
        assert_eq!(parse_skill_md("---\n- a\n- b\n---\n"), Err(SkillError::NotMapping("a list")));
        assert_eq!(parse_skill_md("---\njust text\n---\n"), Err(SkillError::NotMapping("a string")));
        assert_eq!(parse_skill_md("---\ndescription: d\n---\n"), Err(SkillError::MissingName));
        assert_eq!(parse_skill_md("---\nname: \"\"\ndescription: d\n---\n"), Err(SkillError::MissingName));
        assert_eq!(parse_skill_md("---\nname: n\n---\n"), Err(SkillError::MissingDescription));
        assert_eq!(parse_skill_md("---\n---\n"), Err(SkillError::MissingName));
        // The unchecked parse still yields the frontmatter, for the loader to report on.
        let unchecked = parse_skill_md_unchecked("---\ndescription: d\n---\n").unwrap();
        assert_eq!(unchecked.description(), Some("d"));
    }

    #[test]
    fn yaml_edge_values() {
        let skill =
            parse_skill_md("---\nname: x\ndescription: y\n1: one\nnan: .nan\nbig: 1e3\nq: \"042\"\n---\n").unwrap();
        assert_eq!(skill.frontmatter["1"], json!("one"));
        assert_eq!(skill.frontmatter["nan"], json!(".nan"));
        assert_eq!(skill.frontmatter["big"], json!(1000.0));
        assert_eq!(skill.frontmatter["q"], json!("042"));
    }
}
