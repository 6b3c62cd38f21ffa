//! The three figment layers, later wins: the built-in defaults, the admin's file (embedded, or given as a Worker var),
//! and the `SKILLPORT_*` Worker bindings. Here they are only read and merged; `validate` judges the result.

use std::collections::BTreeMap;
use std::convert::Infallible;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::raw::KeyPath;

/// The built-in defaults, layer 1.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// The admin's file, layer 2.
pub const ADMIN_TOML: &str = include_str!("../../config/skillport.toml");

/// The name errors give layer 1.
pub const DEFAULTS_LAYER: &str = "built-in defaults (config/default.toml)";
/// The name errors give layer 2.
pub const ADMIN_LAYER: &str = "admin file (config/skillport.toml)";
/// The name errors give layer 3.
pub const WORKER_LAYER: &str = "Worker vars and secrets";
/// Worker bindings with this prefix are configuration; all others are only candidates for secret look-ups.
pub const ENV_PREFIX: &str = "SKILLPORT_";

/// The Worker var that, when set, replaces the embedded admin file with its text: one build can then be re-pointed
/// to another configuration (a worked example, a staging setup) without recompiling.
pub const ADMIN_VAR: &str = "SKILLPORT_ADMIN_TOML";
/// The layer name of an admin file given as [`ADMIN_VAR`].
pub const ADMIN_VAR_LAYER: &str = "admin file (Worker var SKILLPORT_ADMIN_TOML)";

/// One embedded TOML document as a layer, under the name errors show for it.
pub(super) struct TomlLayer<'a> {
    name: &'static str,
    text: &'a str,
}

impl Provider for TomlLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let embedded = [DEFAULT_TOML, ADMIN_TOML].iter().position(|t| *t == self.text);
        match embedded {
            Some(i) => PARSED_EMBEDDED.with(|cache| cache[i].get_or_init(|| Toml::string(self.text).data()).clone()),
            None => Toml::string(self.text).data(),
        }
    }
}

thread_local! {
    /// The embedded files parsed once per isolate ([`DEFAULT_TOML`], [`ADMIN_TOML`], in that order): the text never
    /// changes, and figment tags a layer's values when it merges it, not when the provider parses it, so the parsed
    /// form can be handed out again.
    pub(super) static PARSED_EMBEDDED: [std::cell::OnceCell<Result<Map<Profile, Dict>, figment::Error>>; 2] =
        const { [std::cell::OnceCell::new(), std::cell::OnceCell::new()] };
}

/// Parses the embedded files now, so that the first configuration load only merges them with the Worker's vars. The
/// Worker calls this when its module is instantiated, before any request: Cloudflare evaluates a Worker's module
/// while the TLS handshake of the request that woke the isolate is still under way, and the TOML parser's code is
/// compiled then rather than on the first request.
pub fn parse_embedded() {
    for text in [DEFAULT_TOML, ADMIN_TOML] {
        let _ = TomlLayer { name: DEFAULTS_LAYER, text }.data();
    }
}

/// The `SKILLPORT_*` Worker bindings as a layer.
///
/// figment's `Env` reads the process environment, which a Worker does not have (it panics on wasm), so this reads the
/// bindings map instead, with the same rules: `__` nests, names are lower-cased, and values are parsed as figment's
/// `Value::from_str` does (`true`/`false`, numbers, `[lists]`, `{tables}`, `"quoted text"`, else the text as is).
struct WorkerVars<'a>(&'a BTreeMap<String, String>);

/// The key path a Worker binding sets: `SKILLPORT_AUTH__PROVIDER` → `["auth", "provider"]`. `None` for bindings
/// without the prefix, and for malformed names (an empty segment), which
/// [`Loader::check_env_names`](super::validate::Loader::check_env_names) reports.
pub(super) fn env_key_path(name: &str) -> Option<Vec<String>> {
    if name == ADMIN_VAR {
        return None;
    }
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return None;
    }
    Some(path)
}

impl Provider for WorkerVars<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(WORKER_LAYER).interpolater(|_: &Profile, keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("{ENV_PREFIX}{}", keys.join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        // BTreeMap order puts `SKILLPORT_AUTH` before `SKILLPORT_AUTH__ORG`, so a nested var refines a whole-table one.
        for (name, text) in self.0 {
            if let Some(path) = env_key_path(name) {
                let value: Value = text.parse().unwrap_or_else(|never: Infallible| match never {});
                insert_nested(&mut dict, &path, value);
            }
        }
        let mut map = Map::new();
        map.insert(Profile::Default, dict);
        Ok(map)
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict.entry(first.clone()).or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        insert_nested(inner, rest, value);
    }
}

// For the admin command line (`skillport config check`, src/admin): the merged layers themselves, so that it can show
// which layer set each value with the same figment metadata load errors are attributed with.

/// The three layers merged, exactly as [`load`](super::load) merges them (it calls this).
pub fn layers(defaults: &str, admin: &str, env: &BTreeMap<String, String>) -> Figment {
    layers_named(defaults, admin, ADMIN_LAYER, env)
}

pub(super) fn layers_named(
    defaults: &str,
    admin: &str,
    admin_layer: &'static str,
    env: &BTreeMap<String, String>,
) -> Figment {
    Figment::new()
        .merge(TomlLayer { name: DEFAULTS_LAYER, text: defaults })
        .merge(TomlLayer { name: admin_layer, text: admin })
        .merge(WorkerVars(env))
}

/// One value of the merged layers: a scalar, a list of scalars, or an empty table or list.
#[derive(Debug, Clone)]
pub struct Setting {
    /// As errors print keys: `marketplaces[0].token_secret`.
    pub key: String,
    pub value: Value,
    /// The layer that set it ([`DEFAULTS_LAYER`], [`ADMIN_LAYER`] or [`WORKER_LAYER`]).
    pub layer: String,
}

/// Every value of the merged layers, in key order, each with the layer that set it. Lists of tables are listed entry
/// by entry (`marketplaces[1].id`). `None` when a layer does not parse; [`load`](super::load) says why.
pub fn settings(defaults: &str, admin: &str, env: &BTreeMap<String, String>) -> Option<Vec<Setting>> {
    let figment = layers(defaults, admin, env);
    let root = figment.find_value("").ok()?;
    let mut out = Vec::new();
    collect_settings(&figment, &KeyPath::default(), &root, &mut out);
    Some(out)
}

fn collect_settings(figment: &Figment, path: &KeyPath, value: &Value, out: &mut Vec<Setting>) {
    match value {
        Value::Dict(_, dict) if !dict.is_empty() => {
            for (key, child) in dict {
                collect_settings(figment, &path.key(key), child, out);
            }
        }
        Value::Array(_, items) if items.iter().any(|i| matches!(i, Value::Dict(..) | Value::Array(..))) => {
            for (index, child) in items.iter().enumerate() {
                collect_settings(figment, &path.index(index), child, out);
            }
        }
        leaf => out.push(Setting {
            key: path.to_string(),
            value: leaf.clone(),
            layer: figment.get_metadata(leaf.tag()).map_or_else(|| DEFAULTS_LAYER.to_owned(), |m| m.name.to_string()),
        }),
    }
}

/// The key path a Worker binding sets (`SKILLPORT_AUTH__ORG` → `["auth", "org"]`); `None` for other names.
pub fn env_var_key_path(name: &str) -> Option<Vec<String>> {
    env_key_path(name)
}
