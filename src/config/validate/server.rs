//! `[server]` and `[catalogue]`: the public URL, limits, and the key that signs download links.

use super::Loader;
use crate::config::model::{AuthConfig, CatalogueConfig, ServerConfig};
use crate::config::raw::{KeyPath, RawCatalogue, RawServer};
use crate::config::values::{check_at_most, check_between, check_positive, check_signing_key};

/// Longest a download link may be configured to live.
const MAX_DOWNLOAD_TTL_SECONDS: u64 = 86_400;
/// The largest `server.sse_backlog_bytes` (64 MiB): a Workers isolate has 128 MB, shared by the sessions it holds.
const MAX_SSE_BACKLOG_BYTES: u64 = 64 << 20;

impl Loader<'_> {
    pub(super) fn server(&mut self) -> Option<ServerConfig> {
        let path = KeyPath::default().key("server");
        let raw: RawServer = self.section("server")?;
        let url_path = path.key("public_url");
        let public_url = self.required_text(&url_path, raw.public_url).and_then(|u| self.web_url(&url_path, &u, false));
        let name = self.required_text(&path.key("name"), raw.name);
        let max_body_bytes = self.required_number(&path.key("max_body_bytes"), raw.max_body_bytes, check_positive);
        let download_ttl_seconds =
            self.required_number(&path.key("download_ttl_seconds"), raw.download_ttl_seconds, |n| {
                check_at_most(
                    n,
                    MAX_DOWNLOAD_TTL_SECONDS,
                    "(a day): a download link is a bearer capability, keep it short-lived",
                )
            });
        let sse_backlog_bytes = self.required_number(&path.key("sse_backlog_bytes"), raw.sse_backlog_bytes, |n| {
            check_at_most(n, MAX_SSE_BACKLOG_BYTES, "(64 MiB): a Workers isolate has 128 MB for every session it holds")
        });
        let key_path = path.key("download_key_secret");
        let before = self.errors.len();
        let download_key_secret = self.optional_text(&key_path, raw.download_key_secret);
        let mut download_key = None;
        if let Some(name) = &download_key_secret {
            download_key = self.secret(&key_path, name);
            if let Some(key) = &download_key {
                self.check(&key_path, check_signing_key(name, key));
            }
        }
        if self.errors.len() != before {
            return None;
        }
        Some(ServerConfig {
            public_url: public_url?,
            name: name?,
            max_body_bytes: max_body_bytes?,
            download_key_secret,
            download_key,
            download_ttl_seconds: download_ttl_seconds?,
            sse_backlog_bytes: sse_backlog_bytes?,
        })
    }

    /// Download links must be signed with a key only this deployment knows; `local` alone may fall back to a fixed
    /// development key, since it is refused for any non-loopback public URL.
    pub(super) fn check_download_key(&mut self, server: &ServerConfig, auth: &AuthConfig) {
        if server.download_key.is_some() || matches!(auth, AuthConfig::Local { .. }) {
            return;
        }
        let path = KeyPath::default().key("server").key("download_key_secret");
        self.fail(
            &path,
            format!(
                "required for fetch_skill download links with the `{}` provider (unless auth.master_key_secret is \
                 set, from which it is then derived): create a random key with \
                 `openssl rand -base64 32 | wrangler secret put DOWNLOAD_KEY` and set this key to \"DOWNLOAD_KEY\"",
                auth.kind()
            ),
        );
    }

    pub(super) fn catalogue(&mut self) -> Option<CatalogueConfig> {
        let path = KeyPath::default().key("catalogue");
        let raw: RawCatalogue = self.section("catalogue")?;
        let surfaces_path = path.key("surfaces");
        let surfaces = self.required(&surfaces_path, raw.surfaces).and_then(|list| {
            let mut unique = Vec::new();
            for surface in list {
                if !unique.contains(&surface) {
                    unique.push(surface);
                }
            }
            let served = if unique.is_empty() {
                Err("lists no surface, so this deployment would serve nothing; name at least one of claude-code, \
                     claude-desktop, claude-ai"
                    .to_owned())
            } else {
                Ok(unique)
            };
            self.check(&surfaces_path, served)
        });
        let refresh_seconds = self.required(&path.key("refresh_seconds"), raw.refresh_seconds);
        let stale_seconds = self.required(&path.key("stale_seconds"), raw.stale_seconds);
        let max_file_bytes = self.required_number(&path.key("max_file_bytes"), raw.max_file_bytes, check_positive);
        let upstream_timeout_ms =
            self.required_number(&path.key("upstream_timeout_ms"), raw.upstream_timeout_ms, |n| {
                check_between(n, 100, 60_000, "")
            });
        let subrequests_per_refresh =
            self.required_number(&path.key("subrequests_per_refresh"), raw.subrequests_per_refresh, |n| {
                check_between(n, 5, 10_000, "")
            });
        Some(CatalogueConfig {
            surfaces: surfaces?,
            refresh_seconds: refresh_seconds?,
            stale_seconds: stale_seconds?,
            max_file_bytes: max_file_bytes?,
            upstream_timeout_ms: upstream_timeout_ms?,
            subrequests_per_refresh: subrequests_per_refresh?,
        })
    }
}
