//! One running connector: its validated configuration and its catalogue, built once per isolate, plus the
//! request handling that sits in front of every route (configuration failure, sign-in, Origin checks).

use crate::catalogue::{Catalogue, MarketplaceEntry};
use crate::config::{self, AuthConfig, Config, ConfigErrors, MarketplaceConfig, SourceKind};
use crate::http::{HttpRequest, HttpResponse};
use skillport_providers::local::{is_loopback_host, LocalProvider};
use skillport_providers::Identity;
use skillport_sources::bundled::BundledSource;
use skillport_sources::load::load_marketplace;
use skillport_sources::{Fetched, FileSet, MarketplaceSource};
use std::collections::BTreeMap;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

pub struct App {
    pub config: Result<Config, ConfigErrors>,
    pub catalogue: Catalogue,
}

/// Files of a marketplace folder embedded at build time from `examples/<name>/`.
pub fn bundled_files(name: &str) -> Option<FileSet> {
    let (_, files) = embedded::BUNDLES.iter().find(|(n, _)| *n == name)?;
    let mut set = FileSet::new();
    for (path, bytes) in files.iter() {
        // Paths come from our own build script walking a real folder; one that does not fit is skipped.
        let _ = set.insert(path, bytes.to_vec());
    }
    Some(set)
}

impl App {
    /// Loads the embedded configuration layers plus the Worker's string bindings and builds the catalogue.
    pub async fn from_env(env: &BTreeMap<String, String>) -> App {
        App::from_config(config::load_embedded(env)).await
    }

    pub async fn from_config(config: Result<Config, ConfigErrors>) -> App {
        let mut catalogue = Catalogue::default();
        if let Ok(cfg) = &config {
            for m in &cfg.marketplaces {
                catalogue.marketplaces.push(load_one(m).await);
            }
        }
        App { config, catalogue }
    }

    /// The line logged when an isolate starts: what is configured, never a secret.
    pub fn start_log_line(&self) -> String {
        match &self.config {
            Ok(cfg) => {
                let mut line = format!("skillport: configuration loaded: {}", cfg.describe());
                if matches!(cfg.auth, AuthConfig::Local { .. }) {
                    line.push_str(
                        "; auth: local development sign-in, /mcp is OPEN without sign-in to requests on a loopback host \
                         (refused on any other host)",
                    );
                }
                for m in &self.catalogue.marketplaces {
                    match &m.loaded {
                        Ok(l) => line.push_str(&format!("; marketplace {}: {} plugins", m.id, l.plugins.len())),
                        Err(e) => line.push_str(&format!("; marketplace {}: NOT LOADED: {e}", m.id)),
                    }
                }
                line
            }
            Err(errors) => format!("skillport: configuration is INVALID, every request will get 500:\n{errors}"),
        }
    }

    /// Signs the request in with the configured provider, or says why not.
    fn identify(&self, cfg: &Config, req: &HttpRequest) -> Result<Identity, HttpResponse> {
        match &cfg.auth {
            AuthConfig::Local { user } => LocalProvider::new(user.clone()).sign_in(req.host()).map_err(|e| {
                HttpResponse::json(403, &serde_json::json!({"error": "forbidden", "error_description": e.to_string()}))
            }),
            other => Err(HttpResponse::json(
                503,
                &serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": format!(
                        "sign-in through the `{}` provider is configured, but this build of Skillport does not yet include the OAuth server for it",
                        other.kind()
                    )
                }),
            )),
        }
    }

    pub fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let resp = match &self.config {
            Err(_) => HttpResponse::text(
                500,
                "Skillport's configuration is invalid, so it cannot serve requests. The details are in the Worker log (wrangler tail).",
            ),
            Ok(cfg) => self.route(cfg, req),
        };
        with_cors(req, resp)
    }

    /// The routing table: every endpoint in one place.
    fn route(&self, cfg: &Config, req: &HttpRequest) -> HttpResponse {
        if let Some(origin) = req.header("origin") {
            if !origin_allowed(cfg, origin) {
                return HttpResponse::json(
                    403,
                    &serde_json::json!({"error": "forbidden", "error_description": format!("Origin `{origin}` is not allowed")}),
                );
            }
        }
        match req.path.as_str() {
            "/mcp" => {
                if req.method == "OPTIONS" {
                    return HttpResponse::new(204);
                }
                if let Err(resp) = self.identify(cfg, req) {
                    return resp;
                }
                let ctx = crate::mcp::Context { config: cfg, catalogue: &self.catalogue, client_surface: None };
                crate::mcp::transport::handle(&ctx, req)
            }
            "/" => HttpResponse::text(
                200,
                "Skillport: Claude plugin marketplaces over MCP. Add this server's /mcp URL as a custom connector.\n",
            ),
            _ => HttpResponse::text(404, "not found\n"),
        }
    }
}

async fn load_one(m: &MarketplaceConfig) -> MarketplaceEntry {
    let (kind, fetched): (&'static str, Result<Fetched, String>) = match m.kind {
        SourceKind::Bundled => match bundled_files(&m.location) {
            Some(files) => ("bundled", BundledSource::new(files).fetch(None).await.map_err(|e| e.to_string())),
            None => ("bundled", Err(format!("no bundled marketplace `{}` is embedded in this build", m.location))),
        },
        other => {
            (other.as_str(), Err(format!("marketplace kind `{}` is not available in this build yet", other.as_str())))
        }
    };
    match fetched {
        Ok(Fetched::Tree { revision, files }) => MarketplaceEntry {
            id: m.id.to_string(),
            kind,
            revision: Some(revision),
            loaded: load_marketplace(&files).map_err(|e| e.to_string()),
            files,
        },
        Ok(Fetched::NotModified) => MarketplaceEntry {
            id: m.id.to_string(),
            kind,
            revision: None,
            loaded: Err("source answered not-modified with no copy in hand".into()),
            files: FileSet::new(),
        },
        Err(e) => {
            MarketplaceEntry { id: m.id.to_string(), kind, revision: None, loaded: Err(e), files: FileSet::new() }
        }
    }
}

/// DNS-rebinding protection: a browser may call us only from our own origin, or from loopback while developing
/// with the local provider.
fn origin_allowed(cfg: &Config, origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else { return false };
    let public = &cfg.server.public_url;
    if url.scheme() == public.scheme()
        && url.host_str() == public.host_str()
        && url.port_or_known_default() == public.port_or_known_default()
    {
        return true;
    }
    matches!(cfg.auth, AuthConfig::Local { .. }) && url.host_str().is_some_and(is_loopback_host)
}

fn with_cors(req: &HttpRequest, resp: HttpResponse) -> HttpResponse {
    let Some(origin) = req.header("origin") else { return resp };
    if resp.status == 403 {
        return resp;
    }
    let origin = origin.to_string();
    resp.header("access-control-allow-origin", &origin)
        .header("vary", "Origin")
        .header("access-control-expose-headers", crate::mcp::transport::EXPOSE_HEADERS)
        .header("access-control-allow-headers", crate::mcp::transport::ALLOW_HEADERS)
        .header("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")
        .header("access-control-max-age", "86400")
}
