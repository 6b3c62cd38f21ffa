//! Validation: the merged layers, section by section, into one [`Config`], recording every problem with its key and
//! layer instead of stopping at the first. The [`Loader`] and its plumbing live here; each section's rules live in the
//! file named after it (`server`, `marketplaces`, `auth`, `access`), and checks on single values in `super::values`.
//!
//! The order sections are checked in is the order errors are listed in, which tests and `skillport check` pin.

mod access;
mod auth;
mod marketplaces;
mod server;

use std::collections::BTreeMap;

use figment::error::Kind;
use figment::value::{Dict, Value};
use figment::Figment;
use serde::de::DeserializeOwned;
use url::Url;

use super::errors::{describe_kind, ConfigError};
use super::layers::{env_key_path, ADMIN_VAR, DEFAULTS_LAYER, ENV_PREFIX, WORKER_LAYER};
use super::model::Config;
use super::raw::{child, KeyPath, Segment, Text};
use super::values::{check_web_url, derive_download_key, missing_secret_message};
use super::Secret;

/// The top-level tables a configuration may have. Anything else is a typo that would otherwise be silently ignored.
const SECTIONS: [&str; 6] = ["server", "marketplaces", "auth", "catalogue", "access", "prompts"];

/// Validates the merged layers section by section, recording every problem instead of stopping at the first.
///
/// Each `fn` returns `None` exactly when it has recorded at least one error.
pub(super) struct Loader<'a> {
    pub(super) figment: &'a Figment,
    pub(super) root: &'a Value,
    pub(super) env: &'a BTreeMap<String, String>,
    pub(super) errors: Vec<ConfigError>,
    /// Values of the secrets resolved so far, blanked from any error message as a last safeguard.
    pub(super) resolved: Vec<&'a str>,
}

impl<'a> Loader<'a> {
    pub(super) fn config(&mut self) -> Option<Config> {
        self.check_sections();
        let server = self.server();
        let catalogue = self.catalogue();
        let marketplaces = self.marketplaces();
        let auth = self.auth(server.as_ref().map(|s| &s.public_url));
        let tokens = self.tokens(auth.as_ref());
        let mut server = server;
        if let (Some(server), Some(tokens)) = (&mut server, &tokens) {
            // Without a key of their own, download links are signed with one derived from the OAuth master key.
            if server.download_key.is_none() {
                server.download_key = tokens.master_key.as_ref().map(derive_download_key);
            }
        }
        if let (Some(server), Some(auth)) = (&server, &auth) {
            self.check_download_key(server, auth);
        }
        let access = self.access();
        let prompts = self.prompts();
        Some(Config {
            server: server?,
            marketplaces: marketplaces?,
            auth: auth?,
            catalogue: catalogue?,
            access: access?,
            prompts: prompts?,
            tokens: tokens?,
        })
    }

    // --- plumbing --------------------------------------------------------------------------------------------------

    /// The layer that set `path`, or, when nothing did, the layer that set its nearest ancestor: for a missing key,
    /// that is the layer that wrote the table it is missing from.
    fn layer(&self, path: &KeyPath) -> String {
        let mut node = self.root;
        for segment in &path.0 {
            match child(node, segment) {
                Some(next) => node = next,
                None => break,
            }
        }
        self.figment.get_metadata(node.tag()).map_or_else(|| DEFAULTS_LAYER.to_owned(), |m| m.name.to_string())
    }

    fn lookup(&self, path: &KeyPath) -> Option<&'a Value> {
        let mut node = self.root;
        for segment in &path.0 {
            node = child(node, segment)?;
        }
        Some(node)
    }

    fn fail(&mut self, path: &KeyPath, message: impl Into<String>) {
        let layer = self.layer(path);
        self.errors.push(ConfigError { key: path.to_string(), layer, message: message.into() });
    }

    /// Records `result`'s error at `path`, if it has one.
    fn check<T>(&mut self, path: &KeyPath, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.fail(path, message)).ok()
    }

    /// Deserializes the value at `path`, turning each figment error into a [`ConfigError`] at the exact key.
    fn parse<T: DeserializeOwned>(&mut self, path: &KeyPath, value: &Value) -> Option<T> {
        match value.deserialize::<T>() {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                for e in error {
                    let mut at = path.clone();
                    let mut node = Some(value);
                    for key in &e.path {
                        let segment = match (node, key.parse::<usize>()) {
                            (Some(Value::Array(..)), Ok(index)) => Segment::Index(index),
                            _ => Segment::Key(key.clone()),
                        };
                        node = node.and_then(|n| child(n, &segment));
                        at.0.push(segment);
                    }
                    // figment already ends the path with an unknown key's name; this keeps it so if that changes.
                    if let Kind::UnknownField(field, _) = &e.kind {
                        if e.path.last() != Some(field) {
                            at.0.push(Segment::Key(field.clone()));
                        }
                    }
                    self.fail(&at, describe_kind(&e.kind));
                }
                None
            }
        }
    }

    /// A top-level table, as `T`; an absent one reads as empty, so its required keys are reported one by one.
    ///
    /// An unknown key is reported and then left out, so the section's other keys are still checked: a typo must not
    /// hide the problems next to it.
    fn section<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let path = KeyPath::default().key(name);
        let mut value = self.lookup(&path).cloned().unwrap_or_else(|| Value::from(Dict::new()));
        loop {
            let unknown: Vec<(String, Kind)> = match value.deserialize::<T>() {
                Ok(parsed) => return Some(parsed),
                Err(error) => error
                    .into_iter()
                    .filter(|e| e.path.len() <= 1)
                    .filter_map(|e| match &e.kind {
                        Kind::UnknownField(field, _) => Some((field.clone(), e.kind.clone())),
                        _ => None,
                    })
                    .collect(),
            };
            let Value::Dict(_, dict) = &mut value else { break };
            let removed: Vec<(String, Kind)> = unknown.into_iter().filter(|(f, _)| dict.remove(f).is_some()).collect();
            if removed.is_empty() {
                break;
            }
            for (field, kind) in removed {
                self.fail(&path.key(&field), describe_kind(&kind));
            }
        }
        // The unknown keys already failed the configuration; what parses lets the rest be checked.
        self.parse(&path, &value)
    }

    fn required<T>(&mut self, path: &KeyPath, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.fail(path, "is required and not set in any layer");
        }
        value
    }

    fn required_text(&mut self, path: &KeyPath, value: Option<Text>) -> Option<String> {
        let text = self.required(path, value)?;
        self.optional_text(path, Some(text))
    }

    /// An optional setting. Set to blank text it is refused: that is more likely a slip than a way to unset it.
    fn optional_text(&mut self, path: &KeyPath, value: Option<Text>) -> Option<String> {
        let Text(text) = value?;
        if text.trim().is_empty() {
            self.fail(path, "must not be empty; remove the key to leave it unset");
            return None;
        }
        Some(text)
    }

    /// A required number, shaped by `check` (a range from `super::values`); errors at `path`.
    fn required_number(
        &mut self,
        path: &KeyPath,
        value: Option<u64>,
        check: impl FnOnce(u64) -> Result<u64, String>,
    ) -> Option<u64> {
        let n = self.required(path, value)?;
        self.check(path, check(n))
    }

    fn text_list(&mut self, path: &KeyPath, value: Option<Vec<Text>>) -> Vec<String> {
        let mut out = Vec::new();
        for (i, text) in value.unwrap_or_default().into_iter().enumerate() {
            if let Some(text) = self.optional_text(&path.index(i), Some(text)) {
                out.push(text);
            }
        }
        out
    }

    /// Each entry of a list, shaped by `check`; errors at the entry's own index.
    fn checked_list(
        &mut self,
        path: &KeyPath,
        value: Option<Vec<Text>>,
        check: fn(&str) -> Result<String, String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (i, text) in self.text_list(path, value).into_iter().enumerate() {
            if let Some(text) = self.check(&path.index(i), check(&text)) {
                out.push(text);
            }
        }
        out
    }

    /// Looks up the secret `name` in the Worker's bindings.
    fn secret(&mut self, path: &KeyPath, name: &str) -> Option<Secret> {
        let env = self.env;
        match env.get(name) {
            Some(value) if !value.is_empty() => {
                self.resolved.push(value.as_str());
                Some(Secret::new(value.as_str()))
            }
            found => {
                self.fail(path, missing_secret_message(name, found.is_some()));
                None
            }
        }
    }

    /// A provider's client secret, named by `auth.client_secret_secret`.
    fn client_secret(&mut self, auth: &KeyPath, name: Option<Text>) -> Option<Secret> {
        let path = auth.key("client_secret_secret");
        let name = self.required_text(&path, name)?;
        self.secret(&path, &name)
    }

    fn web_url(&mut self, path: &KeyPath, text: &str, query_allowed: bool) -> Option<Url> {
        self.check(path, check_web_url(text, query_allowed))
    }

    // --- the whole --------------------------------------------------------------------------------------------------

    /// Bindings that start with the prefix but name no key, which the layer itself skips.
    pub(super) fn check_env_names(&mut self) {
        for name in self.env.keys() {
            if name.starts_with(ENV_PREFIX) && name != ADMIN_VAR && env_key_path(name).is_none() {
                self.errors.push(ConfigError {
                    key: name.clone(),
                    layer: WORKER_LAYER.into(),
                    message: format!(
                        "is not a configuration key: after {ENV_PREFIX}, `__` must separate non-empty names, as in \
                         SKILLPORT_AUTH__PROVIDER"
                    ),
                });
            }
        }
    }

    fn check_sections(&mut self) {
        let Value::Dict(_, sections) = self.root else { return };
        for name in sections.keys() {
            if !SECTIONS.contains(&name.as_str()) {
                let message = format!("unknown section `{name}`; expected one of {}", SECTIONS.join(", "));
                self.fail(&KeyPath::default().key(name), message);
            }
        }
    }
}
