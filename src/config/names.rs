//! The closed sets and checked names configuration is written in: surfaces, marketplace ids, source kinds and
//! provider kinds. Each prints as the exact text configuration uses, and each is compared as a type, never as text.
//!
//! Not for: anything about a whole configuration (see `model`), or checks that need to know which key a value came
//! from (see `validate`).

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Claude surface a deployment, plugin or client belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    ClaudeCode,
    ClaudeDesktop,
    ClaudeAi,
}

impl Surface {
    pub const ALL: [Surface; 3] = [Surface::ClaudeCode, Surface::ClaudeDesktop, Surface::ClaudeAi];

    /// The name used in configuration: `claude-code`, `claude-desktop`, `claude-ai`.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::ClaudeCode => "claude-code",
            Surface::ClaudeDesktop => "claude-desktop",
            Surface::ClaudeAi => "claude-ai",
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A marketplace's id: how plugins are qualified (`plugin@id`) and how access rules name it.
///
/// 1-64 characters of `a-z 0-9 - _ .`, starting with a letter or digit, so it is safe in URLs, cache keys and file
/// names without escaping, and `.`/`..` can never be one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MarketplaceId(String);

/// Why a string is not a [`MarketplaceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMarketplaceId(String);

impl MarketplaceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MarketplaceId {
    type Err = InvalidMarketplaceId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        if s.is_empty() || s.len() > 64 {
            return Err(InvalidMarketplaceId(format!("marketplace id `{s}` must be 1-64 characters long")));
        }
        if !s.chars().all(allowed) || !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(InvalidMarketplaceId(format!(
                "marketplace id `{s}` may only contain a-z, 0-9, `-`, `_` and `.`, and must start with a letter or \
                 digit"
            )));
        }
        Ok(MarketplaceId(s.to_owned()))
    }
}

impl TryFrom<String> for MarketplaceId {
    type Error = InvalidMarketplaceId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MarketplaceId> for String {
    fn from(id: MarketplaceId) -> String {
        id.0
    }
}

impl Deref for MarketplaceId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MarketplaceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for MarketplaceId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for MarketplaceId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for MarketplaceId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<MarketplaceId> for str {
    fn eq(&self, other: &MarketplaceId) -> bool {
        self == other.0
    }
}

impl PartialEq<MarketplaceId> for &str {
    fn eq(&self, other: &MarketplaceId) -> bool {
        *self == other.0
    }
}

impl PartialEq<MarketplaceId> for String {
    fn eq(&self, other: &MarketplaceId) -> bool {
        *self == other.0
    }
}

impl fmt::Display for MarketplaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so a table's `{:width$}` lines ids up.
        f.pad(&self.0)
    }
}

/// Where a marketplace is read from: the sources crate owns the kinds, so adding one is a variant there.
pub use skillport_sources::SourceKind;

/// Which identity provider signs users in (`auth.provider`). Code compares this, never the name; the name
/// ([`ProviderKind::as_str`]) is what configuration, the status page, audit lines and errors spell, and what the
/// provider's own `IdentityProvider::kind` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// The loopback-only development user; the one kind that needs no master key and may skip consent.
    Local,
    Github,
    Oidc,
    Google,
    Auth0,
}

impl ProviderKind {
    /// Every kind, in the order errors list them.
    pub const ALL: [ProviderKind; 5] =
        [ProviderKind::Local, ProviderKind::Github, ProviderKind::Oidc, ProviderKind::Google, ProviderKind::Auth0];

    /// The kinds that sign users in at an upstream provider (all but `local`), as a sentence names them:
    /// `github, oidc, google or auth0`.
    pub fn upstream_names() -> String {
        let names: Vec<&str> =
            ProviderKind::ALL.into_iter().filter(|k| *k != ProviderKind::Local).map(ProviderKind::as_str).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The name written in `auth.provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::Github => "github",
            ProviderKind::Oidc => "oidc",
            ProviderKind::Google => "google",
            ProviderKind::Auth0 => "auth0",
        }
    }

    /// The kind named exactly `name`; `None` for any other text.
    pub fn parse(name: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
