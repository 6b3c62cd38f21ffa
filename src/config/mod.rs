//! Skillport's configuration: three figment layers, validated once at start-up into one typed [`Config`].
//!
//! Layers, later wins:
//! 1. [`DEFAULTS_LAYER`]: `config/default.toml`, embedded at build time. It is the one place defaults live, so the
//!    code has no second copy of them to drift.
//! 2. [`ADMIN_LAYER`]: `config/skillport.toml`, embedded the same way, so an admin customises by committing a file.
//! 3. [`WORKER_LAYER`]: the Worker's vars and secrets. Every binding named `SKILLPORT_<A>__<B>` sets `a.b`, so one
//!    deployment can differ from the file (another public URL, another provider) without a rebuild.
//!
//! Merging replaces lists wholesale (figment's `merge`): a `[[marketplaces]]` table in the admin file, or a
//! `SKILLPORT_MARKETPLACES` var, replaces the default list rather than appending to it.
//!
//! Why validate everything here, and report every problem at once: a Worker that starts with a half-valid
//! configuration fails on some later request, far from the cause and once per fix. Each [`ConfigError`] names the key
//! and the layer the offending value came from, so the admin knows which file or var to edit.
//!
//! Secrets never live in a layer: keys such as `token_secret` and `client_secret_secret` hold the *name* of a Worker
//! secret, and the value is looked up in the full map of bindings, wrapped in a [`Secret`] that cannot be printed.
//!
//! Not for: reading the process environment (a Worker has none; figment's own `Env` provider panics on wasm), reloading
//! at run time, or evaluating access rules (they are parsed and checked here, and applied elsewhere).
//!
//! The code follows the stages of a load: `layers` reads and merges the three layers; `raw` is the
//! shape serde reads each section into; `validate` turns that into the typed [`Config`] of `model`, section by
//! section, with the checks on single values in `values` and the typed names (marketplace ids, source and provider
//! kinds, surfaces) in `names`; `errors` is what a failed load reports. Every public item is re-exported here, so
//! the rest of the Worker only ever names `crate::config::X`.

mod errors;
mod layers;
mod model;
mod names;
mod raw;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use errors::{ConfigError, ConfigErrors};
pub use layers::{
    env_var_key_path, layers, parse_embedded, settings, Setting, ADMIN_LAYER, ADMIN_TOML, ADMIN_VAR, ADMIN_VAR_LAYER,
    DEFAULTS_LAYER, DEFAULT_TOML, ENV_PREFIX, WORKER_LAYER,
};
pub use model::{
    AccessConfig, AccessDecision, AccessRule, Admins, AuthConfig, CatalogueConfig, Config, InstallPolicy,
    MarketplaceConfig, PromptsConfig, ServerConfig, TokenConfig,
};
pub use names::{InvalidMarketplaceId, MarketplaceId, ProviderKind, SourceKind, Surface};
/// A secret's value: the one `Secret` type of the workspace (its `Debug` and `Display` print `[redacted]`; the value
/// is only reachable through `expose`, which is easy to grep for).
pub use skillport_http::Secret;
pub use values::{looks_like_secret_name, MIN_WEBHOOK_SECRET_LEN};

use errors::describe_kind;
use layers::layers_named;
use validate::Loader;

/// Loads the embedded [`DEFAULT_TOML`] and [`ADMIN_TOML`] (or the admin file given as [`ADMIN_VAR`]) under the
/// Worker's bindings.
pub fn load_embedded(env: &BTreeMap<String, String>) -> Result<Config, ConfigErrors> {
    match env.get(ADMIN_VAR) {
        Some(admin) => load_from(DEFAULT_TOML, admin, ADMIN_VAR_LAYER, env),
        None => load(DEFAULT_TOML, ADMIN_TOML, env),
    }
}

/// Merges `defaults`, then `admin`, then the `SKILLPORT_*` entries of `env`, and validates the result.
///
/// `env` is every string binding of the Worker, vars and secrets alike: the `SKILLPORT_*` ones are configuration, and
/// any of them may be named as a secret.
pub fn load(defaults: &str, admin: &str, env: &BTreeMap<String, String>) -> Result<Config, ConfigErrors> {
    load_from(defaults, admin, ADMIN_LAYER, env)
}

/// [`load`], naming the admin layer `admin_layer` in errors.
fn load_from(
    defaults: &str,
    admin: &str,
    admin_layer: &'static str,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigErrors> {
    let figment = layers_named(defaults, admin, admin_layer, env);

    // Only a TOML syntax error fails here; nothing else can be checked until both files parse.
    let root = match figment.find_value("") {
        Ok(root) => root,
        Err(error) => {
            return Err(ConfigErrors(
                error
                    .into_iter()
                    .map(|e| ConfigError {
                        key: if e.path.is_empty() { "(file)".into() } else { e.path.join(".") },
                        layer: e.metadata.map_or_else(|| DEFAULTS_LAYER.into(), |m| m.name.into_owned()),
                        message: describe_kind(&e.kind),
                    })
                    .collect(),
            ))
        }
    };

    let mut loader = Loader { figment: &figment, root: &root, env, errors: Vec::new(), resolved: Vec::new() };
    loader.check_env_names();
    let config = loader.config();
    let Loader { mut errors, resolved, .. } = loader;
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => {
            debug_assert!(!errors.is_empty(), "a section failed without recording why");
            // Belt and braces: no message is built from a secret's value, but should one ever be, it is blanked.
            for error in &mut errors {
                for value in resolved.iter().filter(|v| v.len() >= 4) {
                    error.message = error.message.replace(value, "[redacted]");
                    error.key = error.key.replace(value, "[redacted]");
                }
            }
            Err(ConfigErrors(errors))
        }
    }
}
