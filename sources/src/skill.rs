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
    let (raw, body) = split_frontmatter(text)?;
    Ok(SkillMarkdown { frontmatter_raw: raw.to_string(), frontmatter: yaml_mapping(raw)?, body: body.to_string() })
}

/// The frontmatter of a `SKILL.md`, verbatim and parsed, as [`parse_skill_md_unchecked`] gives them, without
/// copying the body: what a catalogue load needs of every skill.
pub fn skill_frontmatter(text: &str) -> Result<(&str, Map<String, Value>), SkillError> {
    let (raw, _) = split_frontmatter(text)?;
    Ok((raw, yaml_mapping(raw)?))
}

/// The text between the `---` fences, and what follows the closing one.
fn split_frontmatter(text: &str) -> Result<(&str, &str), SkillError> {
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
            return Ok((&text[start..line_start], after));
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
    match plain_mapping(raw) {
        Some(map) => Ok(map),
        None => parsed_mapping(raw),
    }
}

/// The frontmatter as yaml_rust2 reads it.
fn parsed_mapping(raw: &str) -> Result<Map<String, Value>, SkillError> {
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

/// The frontmatter most skills have, `key: value` lines and nothing else, read without the YAML parser (most of a
/// catalogue load's time went there), giving exactly what yaml_rust2 gives; `None` for anything else, which the
/// parser then reads. Accepted, and so provably read the same: lines that are empty or a key at column 0 (a letter,
/// then letters, digits, `-` or `_`), `:`, spaces, and a plain one-line value that cannot be read any other way (no
/// leading indicator or space, no trailing space, no `: `, ` #` or final `:`), each key once, without tabs, carriage
/// returns, control characters or the characters YAML treats as breaks or byte order marks. Each key and value is
/// resolved by yaml_rust2's own rule for plain scalars (`Yaml::from_str`), so `1.0`, `true` or `~` come out as the
/// parser gives them. `skill::tests::plain_frontmatter_reads_as_the_yaml_parser_reads_it` compares both on many
/// generated inputs.
fn plain_mapping(raw: &str) -> Option<Map<String, Value>> {
    if !raw.chars().all(plain_char) {
        return None;
    }
    let mut map = Map::new();
    let mut keys: Vec<Yaml> = Vec::new();
    for line in raw.split('\n') {
        if line.is_empty() {
            continue;
        }
        let colon = line.find(':')?;
        let (key, value) = (&line[..colon], line[colon + 1..].trim_start_matches(' '));
        let mut key_chars = key.chars();
        if !(key_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key_chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && key.len() <= 64
            && line[colon + 1..].starts_with(' ')
            && is_plain_value(value))
        {
            return None;
        }
        let (key, value) = (Yaml::from_str(key), Yaml::from_str(value));
        if keys.contains(&key) {
            // yaml_rust2 refuses a duplicated key: its error is the one to give.
            return None;
        }
        keys.push(key.clone());
        map.insert(yaml_key(key), yaml_to_json(value));
    }
    (!map.is_empty()).then_some(map)
}

/// Characters a plain frontmatter may hold: printable, and none that YAML reads as a break, a tab or a BOM.
fn plain_char(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fefe}'
        | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..)
}

/// A one-line plain scalar with nothing YAML could read as structure: no indicator first, no space at either end,
/// no `: ` or ` #` inside, no `:` last.
fn is_plain_value(value: &str) -> bool {
    let Some(first) = value.chars().next() else { return false };
    !"-?:,[]{}#&*!|>'\"%@` ".contains(first)
        && !value.ends_with([' ', ':'])
        && !value.contains(": ")
        && !value.contains(" #")
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

    /// The plain reading must agree with yaml_rust2 on every input it accepts. Inputs are generated from lines
    /// that mix the common shape with YAML's hard cases (quotes, `#`, `: ` inside values, indicators, multi-line
    /// values, tabs, CRLF, BOM and other breaks, duplicate keys, scalars that resolve to numbers, booleans or null).
    #[test]
    fn plain_frontmatter_reads_as_the_yaml_parser_reads_it() {
        #[rustfmt::skip]
        const KEYS: &[&str] = &[
            "name", "description", "version", "a-b", "a_b", "x1", "true", "True", "FALSE", "null", "Null", "inf",
            "nan", "NaN", "e1", "y", "on", "1", "-x", "two words", "#c", "k\t", "ключ", "a:b", "?q", "&a", "'q'",
            "\"q\"", "[k]", "k ", " k", "\u{feff}k",
        ];
        #[rustfmt::skip]
        const SEPS: &[&str] = &[": ", ":  ", ":", ":\t", " : ", ":\n  ", ":\n", ": \t", ": |\n  ", ": >\n  "];
        #[rustfmt::skip]
        const VALUES: &[&str] = &[
            "skill-0001", "Synthetic skill number 3 for the catalogue.", "1", "1.0", "1e3", "-1e-5", "0x1F", "0o17",
            "+5", "-5", "1_000", ".inf", "-.inf", ".nan", "inf", "infinity", "NaN", "true", "False", "TRUE", "yes",
            "~", "null", "NULL", "", "a: b", "a:b", "a #b", "a#b", "http://x.y/z?q=1#f", "C# and F#", "'q'",
            "\"q\"", "'it''s'", "\"a\\\"b\"", "- item", "-item", "[a, b]", "{a: 1}", "a, b", "a]b", "&anchor x",
            "*alias", "!tag x", "!!str 1", "|", ">", "%x", "@x", "`x`", "x ", " x", "x:", "x::", "...", "---", "—",
            "em — dash", "emoji 🚀", "\u{85}nel", "a\u{2028}b", "a\u{feff}b", "tab\there", "cr\r", "é", "?x",
            ":x", ",x", "x\\y", "\"unterminated", "a\u{0}b", "a\u{7f}b", "a\u{9f}b", "\u{fffe}", "end.",
            "Use when: the user asks", "0", "00", "1.", ".5", "+.5", "0b1", "1:2", "12:30:00", "2024-01-01",
        ];
        #[rustfmt::skip]
        const OTHER_LINES: &[&str] =
            &["", "  ", "# comment", "  indented: x", "- list", "  - item", "...", "---", "\t", "key", "  more text"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut plain, mut total) = (0, 0);
        for _ in 0..40_000 {
            let mut raw = String::new();
            let crlf = next(20) == 0;
            for _ in 0..1 + next(5) {
                let line = match next(10) {
                    // Mostly the common shape, so that a good share of the inputs takes the plain reading.
                    0..=5 => format!("{}: {}", KEYS[next(KEYS.len().min(17))], VALUES[next(VALUES.len())]),
                    6..=7 => {
                        format!("{}{}{}", KEYS[next(KEYS.len())], SEPS[next(SEPS.len())], VALUES[next(VALUES.len())])
                    }
                    _ => OTHER_LINES[next(OTHER_LINES.len())].to_string(),
                };
                raw.push_str(&line);
                raw.push_str(if crlf { "\r\n" } else { "\n" });
            }
            total += 1;
            if let Some(map) = plain_mapping(&raw) {
                plain += 1;
                assert_eq!(parsed_mapping(&raw), Ok(map), "{raw:?}");
            }
        }
        assert!(plain > total / 20, "only {plain} of {total} inputs took the plain reading");
    }

    #[test]
    fn common_frontmatter_takes_the_plain_reading() {
        for raw in [
            "name: skill-0001\ndescription: Synthetic skill number 1 for the catalogue benchmark.\n",
            "name: pdf\ndescription: Use when the user asks about PDFs (forms, tables, text) — or anything close.\n\nlicense: MIT\n",
            "name: x\nversion: 1.0\nenabled: true\n",
        ] {
            assert!(plain_mapping(raw).is_some(), "{raw:?}");
            assert_eq!(plain_mapping(raw).map(Ok), Some(parsed_mapping(raw)));
        }
        for raw in ["name: x\nname: y\n", "name: x\r\n", "name: 'x'\n", "description: a: b\n", "name:\n  x\n", "\n"] {
            assert_eq!(plain_mapping(raw), None, "{raw:?}");
        }
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
