//! `[server]` and `[catalogue]`: the public URL, limits, and the key that signs download links.

use super::{Loader, MAX_DOWNLOAD_TTL_SECONDS, MAX_SSE_BACKLOG_BYTES, MIN_DOWNLOAD_KEY_LEN};
use crate::config::model::{AuthConfig, CatalogueConfig, ServerConfig};
use crate::config::raw::{KeyPath, RawCatalogue, RawServer};

impl Loader<'_> {
    pub(super) fn server(&mut self) -> Option<ServerConfig> {
        let path = KeyPath::default().key("server");
        let raw: RawServer = self.section("server")?;
        let url_path = path.key("public_url");
        let public_url = self.required_text(&url_path, raw.public_url).and_then(|u| self.web_url(&url_path, &u, false));
        let name = self.required_text(&path.key("name"), raw.name);
        let max_body_path = path.key("max_body_bytes");
        let max_body_bytes = self.required(&max_body_path, raw.max_body_bytes).and_then(|n| {
            let positive = if n == 0 { Err("must be greater than 0".to_owned()) } else { Ok(n) };
            self.check(&max_body_path, positive)
        });
        let ttl_path = path.key("download_ttl_seconds");
        let download_ttl_seconds = self.required(&ttl_path, raw.download_ttl_seconds).and_then(|n| {
            let in_range = match n {
                0 => Err("must be greater than 0".to_owned()),
                n if n > MAX_DOWNLOAD_TTL_SECONDS => Err(format!(
                    "must be at most {MAX_DOWNLOAD_TTL_SECONDS} (a day): a download link is a bearer capability, keep \
                     it short-lived"
                )),
                n => Ok(n),
            };
            self.check(&ttl_path, in_range)
        });
        let backlog_path = path.key("sse_backlog_bytes");
        let sse_backlog_bytes = self.required(&backlog_path, raw.sse_backlog_bytes).and_then(|n| {
            let in_range = match n {
                0 => Err("must be greater than 0".to_owned()),
                n if n > MAX_SSE_BACKLOG_BYTES => Err(format!(
                    "must be at most {MAX_SSE_BACKLOG_BYTES} (64 MiB): a Workers isolate has 128 MB for every \
                     session it holds"
                )),
                n => Ok(n),
            };
            self.check(&backlog_path, in_range)
        });
        let key_path = path.key("download_key_secret");
        let before = self.errors.len();
        let download_key_secret = self.optional_text(&key_path, raw.download_key_secret);
        let mut download_key = None;
        if let Some(name) = &download_key_secret {
            download_key = self.secret(&key_path, name);
            if download_key.as_ref().is_some_and(|k| k.expose().len() < MIN_DOWNLOAD_KEY_LEN) {
                self.fail(
                    &key_path,
                    format!(
                        "names the secret `{name}`, which is shorter than {MIN_DOWNLOAD_KEY_LEN} characters; store a \
                         random key instead: `openssl rand -base64 32 | wrangler secret put {name}`"
                    ),
                );
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
        let max_file_path = path.key("max_file_bytes");
        let max_file_bytes = self.required(&max_file_path, raw.max_file_bytes).and_then(|n| {
            let positive = if n == 0 { Err("must be greater than 0".to_owned()) } else { Ok(n) };
            self.check(&max_file_path, positive)
        });
        let timeout_path = path.key("upstream_timeout_ms");
        let upstream_timeout_ms = self.required(&timeout_path, raw.upstream_timeout_ms).and_then(|n| {
            let ok = if (100..=60_000).contains(&n) { Ok(n) } else { Err("must be between 100 and 60000".to_owned()) };
            self.check(&timeout_path, ok)
        });
        let budget_path = path.key("subrequests_per_refresh");
        let subrequests_per_refresh = self.required(&budget_path, raw.subrequests_per_refresh).and_then(|n| {
            let ok = if (5..=10_000).contains(&n) { Ok(n) } else { Err("must be between 5 and 10000".to_owned()) };
            self.check(&budget_path, ok)
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
