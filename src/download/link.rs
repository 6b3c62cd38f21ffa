//! Issuing download links: the key they are signed with and the link `fetch_skill` hands out (the signature itself
//! is `catalogue::package::sign_download`, which the download checks with `verify_download`).

use super::{max_bytes, PREFIX};
use crate::catalogue::package;
use crate::catalogue::PluginRef;
use crate::config::{AuthConfig, Config};
use sha2::{Digest, Sha256};
use skillport_sources::Skill;

/// The development key's seed: `local` only ever serves loopback, so a key anyone can derive protects nothing worth
/// a secret, and saves a developer from creating one.
const DEV_KEY_SEED: &[u8] = b"skillport: local development download key (loopback only)";

/// The key links are signed with: the configured secret, else (with the `local` provider only) the development key.
/// `None` when neither applies, which configuration validation already refuses.
pub fn signing_key(cfg: &Config) -> Option<Vec<u8>> {
    if let Some(key) = &cfg.server.download_key {
        return Some(key.expose().as_bytes().to_vec());
    }
    matches!(cfg.auth, AuthConfig::Local { .. }).then(|| Sha256::digest(DEV_KEY_SEED).to_vec())
}

/// A download link for one skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub expires: u64,
    pub file_name: String,
    /// `sha256:` of the ZIP's bytes (the archive is deterministic, so the download has exactly this digest).
    pub sha256: String,
}

/// Builds the link for a skill of `plugin`, valid from `now` for the configured time, with the archive's digest
/// (the archive is built to learn it once per marketplace copy). The error is a sentence for the model.
pub fn link(cfg: &Config, plugin: &PluginRef<'_>, skill: &Skill, now: u64) -> Result<Link, String> {
    let key = signing_key(cfg)
        .ok_or("no download key is configured (server.download_key_secret), so no download link can be signed")?;
    let sha256 = plugin.marketplace.package_digest(skill, max_bytes(cfg)).map_err(|e| e.to_string())?;
    let file_name =
        package::package_file_name(skill).ok_or_else(|| format!("skill `{}` has no usable name", skill.name))?;
    let expires = now.saturating_add(cfg.server.download_ttl_seconds);
    let token = package::sign_download(&key, &plugin.qualified_name(), &skill.name, &skill.digest, expires);
    let url = cfg.server.public_url.join(&format!("{PREFIX}{token}")).map_err(|e| e.to_string())?;
    Ok(Link { url: url.to_string(), expires, file_name, sha256 })
}
