//! The Worker's configuration layers, assembled on the admin's machine from the files a deployment is made of.
//!
//! The Worker merges the built-in defaults, `config/skillport.toml` (both embedded when it is built) and its string
//! bindings (`crate::config::load`). Here the bindings are gathered the way `wrangler dev`/`wrangler deploy` would
//! hand them over, later wins:
//! 1. `wrangler.toml` `[vars]`, or with `--env NAME` `[env.NAME.vars]` alone (wrangler does not inherit vars into an
//!    environment). Only text vars: the Worker reads string bindings only, so a number or table var is ignored, and
//!    said so;
//! 2. the dotenv files `wrangler dev` reads beside `wrangler.toml`: `.dev.vars.<env>` or `.dev.vars`, else `.env`,
//!    `.env.local`, `.env.<env>`, `.env.<env>.local`; or exactly the `--env-file` files given;
//! 3. this process's environment: `SKILLPORT_*` variables, and the secrets the configuration names (how CI supplies
//!    them).
//!
//! Every binding keeps where it came from, so each value and each error can name the file or variable to edit.

use crate::config::{self, ConfigError, ADMIN_LAYER, DEFAULTS_LAYER, DEFAULT_TOML, ENV_PREFIX, WORKER_LAYER};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The admin file read when `--config` is not given.
pub const DEFAULT_ADMIN_FILE: &str = "config/skillport.toml";
/// The wrangler configuration read when `--wrangler` is not given.
pub const DEFAULT_WRANGLER_FILE: &str = "wrangler.toml";
/// What `--assume-secrets` binds each missing secret to: long enough for every key-length check.
const ASSUMED_SECRET: &str = "assumed-by-skillport-config-check-0123456789";

/// Where to read the layers from.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The admin file; [`DEFAULT_ADMIN_FILE`] when it exists, else the copy embedded in this build.
    pub config: Option<PathBuf>,
    /// The wrangler configuration; [`DEFAULT_WRANGLER_FILE`] when it exists.
    pub wrangler: Option<PathBuf>,
    /// A wrangler environment (`--env NAME`).
    pub env: Option<String>,
    /// Dotenv files read instead of `.dev.vars` (`--env-file`, in order, later wins).
    pub env_files: Vec<PathBuf>,
    /// Treat every secret the configuration names and no layer sets as set (CI without the production secrets).
    pub assume_secrets: bool,
}

/// Where one binding came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `[vars]` or `[env.NAME.vars]` of a wrangler file.
    WranglerVars {
        file: String,
        section: String,
    },
    DotEnv(String),
    Environment,
    /// Bound by `--assume-secrets`.
    Assumed,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::WranglerVars { file, section } => write!(f, "{file} [{section}]"),
            Origin::DotEnv(file) => f.write_str(file),
            Origin::Environment => f.write_str("environment"),
            Origin::Assumed => f.write_str("--assume-secrets"),
        }
    }
}

/// A problem found while assembling the layers, before the configuration itself is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub key: String,
    pub origin: String,
    pub message: String,
}

/// The arguments are wrong (a file that does not exist, an unknown environment): exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The layers as the Worker would see them, with where every binding came from.
#[derive(Debug, Clone)]
pub struct Layers {
    /// How values from the admin file are attributed: its path, or that the embedded copy was used.
    pub admin_label: String,
    pub admin_text: String,
    /// Every binding the Worker would be given: names to values (secret values included: never print them).
    pub bindings: BTreeMap<String, String>,
    pub origins: BTreeMap<String, Origin>,
    /// What was read, one line per source, for the report's header.
    pub sources: Vec<String>,
    /// Problems of the files themselves (wrangler.toml does not parse, a var is not text...).
    pub findings: Vec<Finding>,
}

/// A secret the configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The key naming it: `marketplaces[0].token_secret`.
    pub key: String,
    pub name: String,
}

/// Whether a secret is bound, never its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    Set,
    Empty,
    Missing,
    Assumed,
}

impl fmt::Display for SecretState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretState::Set => "[set]",
            SecretState::Empty => "[empty]",
            SecretState::Missing => "[missing]",
            SecretState::Assumed => "[assumed]",
        })
    }
}

impl Layers {
    /// Reads every layer. `process_env` is this process's environment (a parameter, so tests pass their own).
    pub fn read(opts: &Options, process_env: &BTreeMap<String, String>) -> Result<Layers, UsageError> {
        let (admin_label, admin_text) = read_admin(opts.config.as_deref())?;
        let mut layers = Layers {
            sources: vec![
                "1. built-in defaults  config/default.toml, embedded in this build".to_owned(),
                format!("2. admin file         {admin_label}"),
            ],
            admin_label,
            admin_text,
            bindings: BTreeMap::new(),
            origins: BTreeMap::new(),
            findings: Vec::new(),
        };
        let mut worker = Vec::new();

        let wrangler = opts.wrangler.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_WRANGLER_FILE));
        let wrangler_dir = wrangler.parent().map(Path::to_path_buf).unwrap_or_default();
        if wrangler.is_file() {
            worker.push(layers.read_wrangler(&wrangler, opts.env.as_deref())?);
        } else if opts.wrangler.is_some() || opts.env.is_some() {
            return Err(UsageError(format!("{} does not exist", wrangler.display())));
        } else {
            worker.push(format!("{DEFAULT_WRANGLER_FILE}: not present"));
        }

        let dotenv_files = if opts.env_files.is_empty() {
            default_dotenv_files(&wrangler_dir, opts.env.as_deref())
        } else {
            for file in &opts.env_files {
                if !file.is_file() {
                    return Err(UsageError(format!("--env-file {} does not exist", file.display())));
                }
            }
            opts.env_files.clone()
        };
        if dotenv_files.is_empty() {
            worker.push(".dev.vars: not present".into());
        }
        for file in &dotenv_files {
            worker.push(layers.read_dotenv(file)?);
        }

        let mut from_env = 0;
        for (name, value) in process_env.iter().filter(|(n, _)| n.starts_with(ENV_PREFIX)) {
            layers.bind(name, value, Origin::Environment);
            from_env += 1;
        }
        // The secrets the configuration names, now that every layer that could name one is in.
        let mut secrets_from_env = 0;
        for secret in layers.secret_refs() {
            if let Some(value) = process_env.get(&secret.name) {
                layers.bind(&secret.name, value, Origin::Environment);
                secrets_from_env += 1;
            }
        }
        worker.push(format!("environment: {from_env} {ENV_PREFIX}* variable(s), {secrets_from_env} named secret(s)"));
        if opts.assume_secrets {
            for secret in layers.secret_refs() {
                if layers.bindings.get(&secret.name).is_none_or(|v| v.is_empty()) {
                    layers.bind(&secret.name, ASSUMED_SECRET, Origin::Assumed);
                }
            }
            worker.push("--assume-secrets: every named secret no layer sets counts as set".into());
        }
        for secret in layers.secret_refs() {
            if let Some(origin @ Origin::WranglerVars { .. }) = layers.origins.get(&secret.name) {
                layers.findings.push(Finding {
                    error: false,
                    key: secret.name.clone(),
                    origin: origin.to_string(),
                    message: format!(
                        "is a plain-text var, committed with wrangler.toml and shown in the dashboard, but `{}` names \
                         it as a secret; remove it from the vars and use `wrangler secret put {}`",
                        secret.key, secret.name
                    ),
                });
            }
        }

        for (i, line) in worker.into_iter().enumerate() {
            let label = if i == 0 { "3. Worker bindings    " } else { "                      " };
            layers.sources.push(format!("{label}{line}"));
        }
        Ok(layers)
    }

    fn bind(&mut self, name: &str, value: &str, origin: Origin) {
        self.bindings.insert(name.to_owned(), value.to_owned());
        self.origins.insert(name.to_owned(), origin);
    }

    fn read_wrangler(&mut self, path: &Path, env: Option<&str>) -> Result<String, UsageError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| UsageError(format!("cannot read {file}: {e}")))?;
        let table: toml::Table = match toml::from_str(&text) {
            Ok(table) => table,
            Err(e) => {
                self.findings.push(Finding {
                    error: true,
                    key: "(file)".into(),
                    origin: file.clone(),
                    message: format!("is not valid TOML: {}", e.message()),
                });
                return Ok(format!("{file}: does not parse"));
            }
        };
        let (section, vars) = match env {
            Some(name) => {
                let Some(environment) = table.get("env").and_then(|e| e.get(name)) else {
                    return Err(UsageError(format!("{file} has no [env.{name}]")));
                };
                (format!("env.{name}.vars"), environment.get("vars"))
            }
            None => ("vars".to_owned(), table.get("vars")),
        };
        let Some(vars) = vars else { return Ok(format!("{file} [{section}]: none")) };
        let Some(vars) = vars.as_table() else {
            self.findings.push(Finding {
                error: true,
                key: section.clone(),
                origin: file.clone(),
                message: "must be a table of vars".into(),
            });
            return Ok(format!("{file} [{section}]: not a table"));
        };
        let mut count = 0;
        for (name, value) in vars {
            match value.as_str() {
                Some(text) => {
                    self.bind(name, text, Origin::WranglerVars { file: file.clone(), section: section.clone() });
                    count += 1;
                }
                None if name.starts_with(ENV_PREFIX) => self.findings.push(Finding {
                    error: false,
                    key: name.clone(),
                    origin: format!("{file} [{section}]"),
                    message: format!(
                        "is {} {}, but the Worker reads text bindings only, so Skillport ignores it; write it as a \
                         string (`{name} = \"{}\"`)",
                        if value.type_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
                        value.type_str(),
                        value.to_string().replace('"', "\\\"")
                    ),
                }),
                None => {}
            }
        }
        Ok(format!("{file} [{section}]: {count} var(s)"))
    }

    fn read_dotenv(&mut self, path: &Path) -> Result<String, UsageError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| UsageError(format!("cannot read {file}: {e}")))?;
        let entries = parse_dotenv(&text);
        for (name, value) in &entries {
            self.bind(name, value, Origin::DotEnv(file.clone()));
        }
        Ok(format!("{file}: {} entr{}", entries.len(), if entries.len() == 1 { "y" } else { "ies" }))
    }

    /// Every secret the merged layers name (values of keys ending in `_secret`), in key order.
    pub fn secret_refs(&self) -> Vec<SecretRef> {
        let settings = config::settings(DEFAULT_TOML, &self.admin_text, &self.bindings).unwrap_or_default();
        settings
            .into_iter()
            .filter(|s| s.key.ends_with("_secret"))
            .filter_map(|s| match s.value {
                figment::value::Value::String(_, name) if !name.trim().is_empty() => {
                    Some(SecretRef { key: s.key, name })
                }
                _ => None,
            })
            .collect()
    }

    pub fn secret_state(&self, name: &str) -> SecretState {
        match (self.bindings.get(name), self.origins.get(name)) {
            (_, Some(Origin::Assumed)) => SecretState::Assumed,
            (Some(v), _) if v.is_empty() => SecretState::Empty,
            (Some(_), _) => SecretState::Set,
            (None, _) => SecretState::Missing,
        }
    }

    /// What to call `layer` (one of the config module's layer names) for a value or error at `key`: the admin file's
    /// real path, and for the Worker layer the file and variable that set it.
    pub fn origin(&self, key: &str, layer: &str) -> String {
        match layer {
            DEFAULTS_LAYER => "built-in defaults".into(),
            ADMIN_LAYER => self.admin_label.clone(),
            WORKER_LAYER => match self.binding_for(key) {
                Some((name, origin)) => format!("{origin} {name}"),
                None => WORKER_LAYER.into(),
            },
            other => other.into(),
        }
    }

    /// The name of the binding that set `key`, when a binding did.
    pub fn binding_name(&self, key: &str) -> Option<&str> {
        self.binding_for(key).map(|(name, _)| name)
    }

    /// The binding that set `key`: the binding of that name (errors about a malformed binding name use it as the
    /// key), else the most specific `SKILLPORT_*` binding whose key path leads to it (`SKILLPORT_AUTH__ORG` over
    /// `SKILLPORT_AUTH`), as the Worker layer merges them.
    fn binding_for(&self, key: &str) -> Option<(&str, &Origin)> {
        if let Some((name, origin)) = self.origins.get_key_value(key) {
            return Some((name, origin));
        }
        let mut path = Vec::new();
        for segment in key.split('.') {
            let (name, indexed) = match segment.split_once('[') {
                Some((name, _)) => (name, true),
                None => (segment, false),
            };
            path.push(name.to_ascii_lowercase());
            if indexed {
                break;
            }
        }
        let mut best: Option<(usize, &str, &Origin)> = None;
        for (name, origin) in &self.origins {
            let Some(var_path) = config::env_var_key_path(name) else { continue };
            let leads_to_key = var_path.len() <= path.len() && path[..var_path.len()] == var_path[..];
            // `>=`: of two names for one path, the later in BTreeMap order is the one the Worker layer keeps.
            if leads_to_key && best.is_none_or(|(len, ..)| var_path.len() >= len) {
                best = Some((var_path.len(), name, origin));
            }
        }
        best.map(|(_, name, origin)| (name, origin))
    }

    /// A configuration error with its layer named as [`Layers::origin`] names it.
    pub fn finding(&self, error: &ConfigError) -> Finding {
        Finding {
            error: true,
            key: error.key.clone(),
            origin: self.origin(&error.key, &error.layer),
            message: error.message.clone(),
        }
    }
}

fn read_admin(path: Option<&Path>) -> Result<(String, String), UsageError> {
    let (path, explicit) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_ADMIN_FILE), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path.display().to_string(), text)),
        Err(e) if explicit => Err(UsageError(format!("cannot read --config {}: {e}", path.display()))),
        Err(_) => {
            Ok((format!("{DEFAULT_ADMIN_FILE}, embedded in this build (no such file here)"), config::ADMIN_TOML.into()))
        }
    }
}

/// The dotenv files `wrangler dev` reads when none is named: `.dev.vars.<env>` or `.dev.vars`, else the `.env` family.
fn default_dotenv_files(dir: &Path, env: Option<&str>) -> Vec<PathBuf> {
    let dev_vars = dir.join(".dev.vars");
    if let Some(env) = env {
        let specific = dir.join(format!(".dev.vars.{env}"));
        if specific.is_file() {
            return vec![specific];
        }
    }
    if dev_vars.is_file() {
        return vec![dev_vars];
    }
    let mut names = vec![".env".to_owned(), ".env.local".to_owned()];
    if let Some(env) = env {
        names.push(format!(".env.{env}"));
        names.push(format!(".env.{env}.local"));
    }
    names.into_iter().map(|n| dir.join(n)).filter(|p| p.is_file()).collect()
}

/// `KEY=value` lines as the dotenv package wrangler uses reads them: `export ` and `KEY: value` accepted, `#` comments,
/// values in single, double or back quotes (which may span lines; `\n` is a newline in double quotes only), and an
/// unquoted value ends at ` #`. No variable expansion (wrangler does none in `.dev.vars`). Later entries win.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let text = text.replace("\r\n", "\n");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = after;
        let line = line.trim_start();
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(split) = line.find(['=', ':']) else { continue };
        let key = line[..split].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            continue;
        }
        let value = line[split + 1..].trim_start();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'' | '`')) => {
                // The closing quote may be on a later line.
                let mut body = String::from(&value[1..]);
                let mut closed = body.find(q);
                while closed.is_none() && !rest.is_empty() {
                    let (next, after) = rest.split_once('\n').unwrap_or((rest, ""));
                    body.push('\n');
                    body.push_str(next);
                    rest = after;
                    closed = body.find(q);
                }
                match closed {
                    Some(end) => {
                        let inner = &body[..end];
                        if q == '"' {
                            inner.replace("\\n", "\n").replace("\\r", "\r")
                        } else {
                            inner.to_owned()
                        }
                    }
                    // Unterminated: dotenv takes the line as written.
                    None => value.lines().next().unwrap_or("").trim().to_owned(),
                }
            }
            _ => value.split(" #").next().unwrap_or("").trim().to_owned(),
        };
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_forms() {
        let text =
            "# comment\nA=1\nexport B = two words # trailing\nC=\"line\\nbreak\"\nD='it''s'\nE=\"multi\nline\"\n\
                    F: colon\nA=override\nnot a pair\nG=\n";
        let parsed: BTreeMap<String, String> = parse_dotenv(text).into_iter().collect();
        assert_eq!(parsed["A"], "override");
        assert_eq!(parsed["B"], "two words");
        assert_eq!(parsed["C"], "line\nbreak");
        assert_eq!(parsed["D"], "it");
        assert_eq!(parsed["E"], "multi\nline");
        assert_eq!(parsed["F"], "colon");
        assert_eq!(parsed["G"], "");
        assert_eq!(parsed.len(), 7);
    }

    fn layers_with(origins: &[(&str, Origin)]) -> Layers {
        Layers {
            admin_label: "a.toml".into(),
            admin_text: String::new(),
            bindings: origins.iter().map(|(n, _)| (n.to_string(), "x".into())).collect(),
            origins: origins.iter().map(|(n, o)| (n.to_string(), o.clone())).collect(),
            sources: vec![],
            findings: vec![],
        }
    }

    #[test]
    fn worker_values_are_traced_to_the_most_specific_binding() {
        let vars = Origin::WranglerVars { file: "wrangler.toml".into(), section: "vars".into() };
        let layers = layers_with(&[
            ("SKILLPORT_AUTH", vars.clone()),
            ("SKILLPORT_AUTH__ORG", Origin::DotEnv(".dev.vars".into())),
            ("SKILLPORT_MARKETPLACES", Origin::Environment),
        ]);
        assert_eq!(layers.origin("auth.org", WORKER_LAYER), ".dev.vars SKILLPORT_AUTH__ORG");
        assert_eq!(layers.origin("auth.provider", WORKER_LAYER), "wrangler.toml [vars] SKILLPORT_AUTH");
        assert_eq!(layers.origin("marketplaces[1].id", WORKER_LAYER), "environment SKILLPORT_MARKETPLACES");
        assert_eq!(layers.origin("server.name", WORKER_LAYER), WORKER_LAYER);
        assert_eq!(layers.origin("server.name", ADMIN_LAYER), "a.toml");
        assert_eq!(layers.origin("server.name", DEFAULTS_LAYER), "built-in defaults");
    }
}
