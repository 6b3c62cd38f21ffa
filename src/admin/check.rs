//! `skillport config check`: the configuration the Worker would start with, each value with the file or variable that
//! set it, the secrets it names (set or missing, never their values), and every problem with its key and origin.

use super::layers::{Finding, Layers, Options, SecretState, UsageError};
use crate::config::{self, Config, SourceKind, DEFAULT_TOML};
use figment::value::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Values longer than this do not widen the value column; their origin comment just follows them.
const MAX_VALUE_COLUMN: usize = 44;

/// What a check found, printed as `text`.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub errors: usize,
    pub warnings: usize,
}

/// Loads the layers as `opts` says and reports on them.
pub fn check(opts: &Options, process_env: &BTreeMap<String, String>) -> Result<Report, UsageError> {
    let layers = Layers::read(opts, process_env)?;
    let loaded = config::load(DEFAULT_TOML, &layers.admin_text, &layers.bindings);
    let mut findings = layers.findings.clone();
    match &loaded {
        Ok(cfg) => findings.extend(bundled_warnings(cfg)),
        Err(errors) => findings.extend(errors.0.iter().map(|e| layers.finding(e))),
    }
    let errors = findings.iter().filter(|f| f.error).count();
    let warnings = findings.len() - errors;

    let mut out = String::new();
    out.push_str("Layers, later wins:\n");
    for line in &layers.sources {
        let _ = writeln!(out, "  {line}");
    }

    out.push_str("\nEffective configuration:\n");
    match config::settings(DEFAULT_TOML, &layers.admin_text, &layers.bindings) {
        Some(settings) => out.push_str(&settings_table(&layers, &settings)),
        None => out.push_str("  not available: a layer does not parse (see the problems below)\n"),
    }

    let secrets = layers.secret_refs();
    out.push_str("\nSecrets (values are never printed):\n");
    if secrets.is_empty() {
        out.push_str("  none named\n");
    }
    let name_width = secrets.iter().map(|s| shown_secret_name(&s.name).len()).max().unwrap_or(0);
    for secret in &secrets {
        let state = layers.secret_state(&secret.name);
        let from = match (state, layers.origins.get(&secret.name)) {
            (SecretState::Set | SecretState::Empty, Some(origin)) => format!("from {origin}"),
            _ => String::new(),
        };
        let line = format!(
            "  {:name_width$}  {:9}  {:24}  named by {}",
            shown_secret_name(&secret.name),
            state.to_string(),
            from,
            secret.key
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }

    if !findings.is_empty() {
        out.push_str("\nProblems:\n");
        for finding in findings.iter().filter(|f| f.error).chain(findings.iter().filter(|f| !f.error)) {
            let _ = writeln!(out, "  {}", describe(finding));
        }
    }

    out.push('\n');
    match &loaded {
        Ok(cfg) if errors == 0 => {
            let _ = writeln!(out, "The Worker would log: skillport: configuration loaded: {}", cfg.describe());
            let _ = writeln!(out, "OK: the configuration is valid ({}).", count(warnings, "warning"));
        }
        _ => {
            let _ = writeln!(
                out,
                "INVALID: {}, {}. The Worker would start with this configuration refused and answer every request \
                 with 500.",
                count(errors, "error"),
                count(warnings, "warning")
            );
        }
    }
    Ok(Report { text: out, errors, warnings })
}

/// `error: `key` (from origin): message`, the Worker log's own shape.
fn describe(f: &Finding) -> String {
    format!("{}: `{}` (from {}): {}", if f.error { "error" } else { "warning" }, f.key, f.origin, f.message)
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A secret's name, unless it looks like a pasted secret value rather than a name (its problem then says so).
fn shown_secret_name(name: &str) -> String {
    if config::looks_like_secret_name(name) {
        name.to_owned()
    } else {
        "(hidden)".to_owned()
    }
}

/// `key = value  # origin`, aligned, a blank line between top-level sections.
fn settings_table(layers: &Layers, settings: &[config::Setting]) -> String {
    let secret_names: Vec<String> = layers.secret_refs().into_iter().map(|s| s.name).collect();
    let rows: Vec<(&str, String, String)> = settings
        .iter()
        .map(|s| {
            let mut value = render(&s.value);
            if s.key.ends_with("_secret") {
                if let Value::String(_, name) = &s.value {
                    value = if config::looks_like_secret_name(name) {
                        format!("{value} {}", layers.secret_state(name))
                    } else {
                        format!("(not shown: may be the secret itself) {}", layers.secret_state(name))
                    };
                }
            }
            // A secret named like a configuration binding (`SKILLPORT_TOKEN`) is also read as configuration.
            if s.layer == config::WORKER_LAYER
                && layers.binding_name(&s.key).is_some_and(|n| secret_names.iter().any(|s| s == n))
            {
                value = "(the value of a secret: not shown)".into();
            }
            (s.key.as_str(), value, layers.origin(&s.key, &s.layer))
        })
        .collect();
    let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.1.chars().count()).filter(|&w| w <= MAX_VALUE_COLUMN).max().unwrap_or(0);
    let mut out = String::new();
    let mut section = None;
    for (key, value, origin) in rows {
        let top = key.split(['.', '[']).next();
        if section.is_some() && section != top {
            out.push('\n');
        }
        section = top;
        let _ = writeln!(out, "  {key:key_width$} = {value:value_width$}  # {origin}");
    }
    out
}

/// A value as TOML would write it.
fn render(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{:?}", c.to_string()),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(..) => match (value.to_u128(), value.to_i128(), value.to_f64()) {
            (Some(n), ..) => n.to_string(),
            (None, Some(n), _) => n.to_string(),
            (None, None, Some(n)) => n.to_string(),
            _ => "?".into(),
        },
        Value::Empty(..) => "(empty)".into(),
        Value::Array(_, items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::Dict(_, dict) => {
            let entries: Vec<String> = dict.iter().map(|(k, v)| format!("{k} = {}", render(v))).collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A bundled marketplace whose folder is neither embedded in this build nor under `examples/` here would fail to load
/// in the Worker: the configuration is valid, but that marketplace would serve nothing.
fn bundled_warnings(cfg: &Config) -> Vec<Finding> {
    cfg.marketplaces
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == SourceKind::Bundled)
        .filter(|(_, m)| {
            crate::bundle::bundled_files(&m.location).is_none()
                && !std::path::Path::new("examples").join(&m.location).join(".claude-plugin/marketplace.json").is_file()
        })
        .map(|(i, m)| Finding {
            error: false,
            key: format!("marketplaces[{i}].location"),
            origin: "this build".into(),
            message: format!(
                "no examples/{}/.claude-plugin/marketplace.json is embedded in this build or present here; the \
                 Worker is built with the folders under examples/ and would not find this marketplace",
                m.location
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_toml() {
        let v: Value = "[1, \"a\", true, {x = 2}]".parse().unwrap();
        assert_eq!(render(&v), "[1, \"a\", true, {x = 2}]");
        let v: Value = "-3".parse().unwrap();
        assert_eq!(render(&v), "-3");
    }
}
