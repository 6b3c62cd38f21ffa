//! One running connector: its validated configuration, its sign-in setup and its catalogue, built once per isolate.
//! What a request does with them is the routing table's business (`crate::routes`).

use crate::bundle::NoNetwork;
use crate::catalogue::refresh::{self, MemoryStore, SnapshotStore};
use crate::catalogue::Catalogue;
use crate::config::{self, AuthConfig, Config, ConfigErrors};
use crate::signin::SignInSetup;
use skillport_http::HttpClient;
use skillport_providers::Identity;
use std::collections::BTreeMap;

pub struct App {
    pub config: Result<Config, ConfigErrors>,
    pub catalogue: Catalogue,
    /// The identity provider and OAuth keys; an error (never holding a secret) when they could not be set up.
    pub signin: Result<SignInSetup, String>,
    /// The well-known discovery documents, rendered once from the configuration.
    pub(crate) documents: Option<crate::oauth::metadata::Documents>,
}

impl App {
    /// Loads the embedded configuration layers plus the Worker's string bindings and builds the catalogue, with no
    /// network and no stored copies: what native tests and the embedded default need.
    pub async fn from_env(env: &BTreeMap<String, String>) -> App {
        App::build(config::load_embedded(env), None, &NoNetwork, &MemoryStore::default(), 0).await
    }

    /// Builds (or rebuilds, given the catalogue served so far) the app for `config`.
    pub async fn build(
        config: Result<Config, ConfigErrors>,
        previous: Option<&Catalogue>,
        client: &dyn HttpClient,
        store: &dyn SnapshotStore,
        now: u64,
    ) -> App {
        let catalogue = match &config {
            Ok(cfg) => refresh::refresh_all(cfg, previous, client, store, now).await,
            Err(_) => Catalogue::default(),
        };
        App { catalogue, ..App::without_catalogue(config) }
    }

    /// The app for `config` with an empty catalogue: all that the requests which never read the catalogue need
    /// ([`crate::routes::reads_catalogue`]), so that a fresh isolate answers them before its catalogue is loaded.
    pub fn without_catalogue(config: Result<Config, ConfigErrors>) -> App {
        let signin = match &config {
            Ok(cfg) => crate::signin::setup(cfg).map_err(|e| e.to_string()),
            Err(_) => Err("the configuration is invalid".to_owned()),
        };
        let documents = config
            .as_ref()
            .ok()
            .map(|cfg| crate::oauth::metadata::Documents::new(&cfg.server.public_url, &cfg.server.name));
        App { config, catalogue: Catalogue::default(), signin, documents }
    }

    /// The line logged when an isolate starts: what is configured, never a secret.
    pub fn start_log_line(&self) -> String {
        match &self.config {
            Ok(cfg) => {
                let mut line = format!("skillport: configuration loaded: {}", cfg.describe());
                match (&cfg.auth, &self.signin) {
                    (_, Err(e)) => line.push_str(&format!("; SIGN-IN IS BROKEN, /mcp will answer 503: {e}")),
                    (AuthConfig::Local { open: true, .. }, _) => line.push_str(
                        "; auth: local development sign-in, /mcp is OPEN without a token to requests on a loopback \
                         host (refused on any other host)",
                    ),
                    (AuthConfig::Local { open: false, .. }, _) => line.push_str(
                        "; auth: local development sign-in, automatic through the OAuth flow on loopback hosts",
                    ),
                    _ => {}
                }
                for m in &self.catalogue.marketplaces {
                    match &m.loaded {
                        Ok(l) => line.push_str(&format!("; marketplace {}: {} plugins", m.id, l.plugins.len())),
                        Err(e) => line.push_str(&format!("; marketplace {}: NOT LOADED: {e}", m.id)),
                    }
                    if let (Ok(_), Some(e)) = (&m.loaded, &m.error) {
                        line.push_str(&format!(
                            " (serving the copy of {}s since refresh failed: {e})",
                            m.fetched_at.unwrap_or(0)
                        ));
                    }
                }
                line
            }
            Err(errors) => format!("skillport: configuration is INVALID, every request will get 500:\n{errors}"),
        }
    }

    /// The context MCP messages of this request are answered in.
    pub fn mcp_context<'a>(
        &'a self,
        cfg: &'a Config,
        headers: &'a [(String, String)],
        identity: &'a Identity,
    ) -> crate::mcp::Context<'a> {
        crate::mcp::Context { config: cfg, catalogue: &self.catalogue, client_surface: None, headers, identity }
    }
}
