//! Skillport's configuration: three figment layers, validated once at start-up into one typed [`Config`].
//!
//! Layers, later wins:
//! 1. [`DEFAULTS_LAYER`]: `config/default.toml`, embedded at build time. It is the one place defaults live, so the
//!    code below has no second copy of them to drift.
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

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use figment::error::{Actual, Kind};
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::{self, DeserializeOwned, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use skillport_providers::local::{is_loopback_host, LocalUser};
use skillport_sources::archive::ArchiveFormat;
use skillport_sources::Layout;
use url::Url;

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

/// The top-level tables a configuration may have. Anything else is a typo that would otherwise be silently ignored.
const SECTIONS: [&str; 6] = ["server", "marketplaces", "auth", "catalogue", "access", "prompts"];

/// Shortest download-signing key accepted: HMAC-SHA256 wants at least 32 bytes of key to be worth its tag.
const MIN_DOWNLOAD_KEY_LEN: usize = 32;
/// Longest a download link may be configured to live.
const MAX_DOWNLOAD_TTL_SECONDS: u64 = 86_400;
/// The largest `server.sse_backlog_bytes` (64 MiB): a Workers isolate has 128 MB, shared by the sessions it holds.
const MAX_SSE_BACKLOG_BYTES: u64 = 64 << 20;

/// Scopes an `oidc` provider asks for when the admin names none.
const DEFAULT_OIDC_SCOPES: [&str; 3] = ["openid", "email", "profile"];

// ---------------------------------------------------------------------------------------------------------------------
// The validated configuration
// ---------------------------------------------------------------------------------------------------------------------

/// Everything a Skillport deployment is configured with, checked for consistency.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    /// Never empty; ids are unique.
    pub marketplaces: Vec<MarketplaceConfig>,
    pub auth: AuthConfig,
    pub catalogue: CatalogueConfig,
    pub access: AccessConfig,
    pub prompts: PromptsConfig,
    /// The OAuth server's key and token lifetimes (from `[auth]`).
    pub tokens: TokenConfig,
}

/// What the OAuth authorization server needs beyond the provider: its master key and how long what it issues lives.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The name of the Worker secret holding the master key (at least 32 characters) from which the keys sealing
    /// identities, signing consent cookies and CSRF tokens are derived. Required with every provider but `local`.
    pub master_key_secret: Option<String>,
    pub master_key: Option<Secret>,
    pub code_ttl_seconds: u64,
    pub access_ttl_seconds: u64,
    pub refresh_ttl_seconds: u64,
    /// How often the grant store's alarm starts a pass that deletes expired codes, tokens, grants and counters.
    pub sweep_seconds: u64,
    /// Most clients stored at once (registered, or fetched from metadata documents).
    pub max_clients: u64,
    /// Most new clients (of both kinds) per hour from one IPv4 address or IPv6 /64.
    pub new_clients_per_address_per_hour: u64,
    /// Most new clients (of both kinds) per hour from everyone together.
    pub new_clients_per_hour: u64,
    /// How long a client that no grant uses is kept after it was stored.
    pub unused_client_seconds: u64,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where clients reach this Worker: https, or http on a loopback host; no query or fragment.
    pub public_url: Url,
    /// The name the MCP server reports to clients.
    pub name: String,
    /// Largest request body accepted.
    pub max_body_bytes: u64,
    /// The name of the Worker secret holding the key that signs `fetch_skill` download links. Required with every
    /// provider but `local`, which signs with a fixed development key (it only ever serves loopback).
    pub download_key_secret: Option<String>,
    /// The key itself, resolved from `download_key_secret`.
    pub download_key: Option<Secret>,
    /// How long a download link stays valid.
    pub download_ttl_seconds: u64,
    /// Most bytes of answers one legacy SSE stream may hold for a client that does not read them; past it, messages
    /// posted to that session are refused (429 with Retry-After) until the client reads.
    pub sse_backlog_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueConfig {
    /// The surfaces this deployment serves, never empty, without duplicates.
    pub surfaces: Vec<Surface>,
    /// How often a marketplace is re-read from its source.
    pub refresh_seconds: u64,
    /// How long a last-good copy may be served after its source starts failing.
    pub stale_seconds: u64,
    /// Largest single plugin file served.
    pub max_file_bytes: u64,
    /// How long one upstream request (GitHub, GitLab, HTTPS) may take before it counts as failed.
    pub upstream_timeout_ms: u64,
    /// Upstream requests one refresh may make (a Worker invocation may make 50 subrequests on the free plan); what
    /// a cold load cannot fetch within it is fetched by the next refreshes.
    pub subrequests_per_refresh: u64,
}

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

impl fmt::Display for MarketplaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a marketplace is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Github,
    Gitlab,
    Https,
    /// Embedded into the Worker at build time from `examples/<location>`.
    Bundled,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [SourceKind::Github, SourceKind::Gitlab, SourceKind::Https, SourceKind::Bundled];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Github => "github",
            SourceKind::Gitlab => "gitlab",
            SourceKind::Https => "https",
            SourceKind::Bundled => "bundled",
        }
    }

    fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Git hosts have refs, tokens and self-hosted API bases; the other kinds have none of these.
    fn is_git_host(self) -> bool {
        matches!(self, SourceKind::Github | SourceKind::Gitlab)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct MarketplaceConfig {
    pub id: MarketplaceId,
    pub kind: SourceKind,
    /// `owner/repo` for github, `group/project` or a numeric project id for gitlab, an https URL for https, a folder
    /// under `examples/` for bundled. Checked for its kind's shape.
    pub location: String,
    /// Branch, tag or commit (TOML key `ref`); github and gitlab only. The default branch when unset.
    pub git_ref: Option<String>,
    /// The name of the Worker secret holding the access token, kept so the start-up log can say where it came from.
    pub token_secret: Option<String>,
    /// The token itself, resolved from `token_secret`.
    pub token: Option<Secret>,
    /// GitHub Enterprise Server or self-managed GitLab; github and gitlab only.
    pub api_base: Option<Url>,
    /// The name of the Worker secret that signs this marketplace's webhooks (`POST /hooks/<id>`); none: no webhooks.
    pub webhook_secret: Option<String>,
    /// The webhook key itself, resolved from `webhook_secret`.
    pub webhook_key: Option<Secret>,
    /// How the tree is read: a marketplace, a single plugin, or one plugin per skill folder. Other than
    /// `marketplace` and `auto` only where a whole tree is read (github, gitlab, an https archive, bundled).
    pub layout: Layout,
}

impl MarketplaceConfig {
    /// `id (kind location@ref, token from NAME)`, the location as users may see it (`shown_locations`: no query or
    /// user part, in case one carries a key).
    pub fn describe(&self) -> String {
        let mut location = skillport_sources::shown_locations(&self.location).into_owned();
        if let Some(git_ref) = &self.git_ref {
            location = format!("{location}@{git_ref}");
        }
        let mut out = format!("{} ({} {location}", self.id, self.kind);
        if let Some(name) = &self.token_secret {
            out.push_str(&format!(", token from {name}"));
        }
        if let Some(api_base) = &self.api_base {
            out.push_str(&format!(", api {}", skillport_sources::shown_locations(api_base.as_str())));
        }
        if let Some(name) = &self.webhook_secret {
            out.push_str(&format!(", webhooks signed with {name}"));
        }
        if self.layout != Layout::Auto {
            out.push_str(&format!(", layout {}", self.layout));
        }
        out.push(')');
        out
    }
}

/// Who may sign in, and how. Chosen by `auth.provider`; that provider's settings sit in the same `[auth]` table.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// Everyone is the one development user. Only accepted with a loopback `server.public_url`.
    Local {
        user: LocalUser,
        /// `auth.open`: `/mcp` and `/sse` answer loopback requests without a token (tests, benchmarks, tools that
        /// cannot sign in). Off by default, so a local run goes through the same OAuth flow as production.
        open: bool,
    },
    Github {
        client_id: String,
        /// Resolved from `client_secret_secret`, the name of a Worker secret.
        client_secret: Secret,
        /// GitHub Enterprise Server's API; github.com when unset.
        api_base: Option<Url>,
        /// Where users sign in, when it is not the API base without `/api/v3` (GHES) or github.com.
        web_base: Option<Url>,
        /// The organisation whose membership (and `teams`) the identity carries.
        org: Option<String>,
        teams: Vec<String>,
    },
    Oidc {
        /// Exactly as written (an issuer is compared as a string: a trailing `/` matters), checked to be a URL.
        issuer: String,
        client_id: String,
        client_secret: Secret,
        /// Always includes `openid`.
        scopes: Vec<String>,
        groups_claim: Option<String>,
    },
    Google {
        client_id: String,
        client_secret: Secret,
        /// Lower-case Workspace domains allowed to sign in; any Google account when empty.
        allowed_domains: Vec<String>,
        /// `auth.issuer`: another issuer speaking for Google (a test provider, a proxy); Google's when unset.
        issuer: Option<String>,
    },
    Auth0 {
        /// The tenant's bare, lower-case domain, e.g. `acme.eu.auth0.com`.
        domain: String,
        client_id: String,
        client_secret: Secret,
        roles_claim: Option<String>,
        groups_claim: Option<String>,
        /// `auth.issuer`: the issuer when it is not `https://<domain>/` (a test provider).
        issuer: Option<String>,
    },
}

impl AuthConfig {
    /// The provider's name as written in `auth.provider`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthConfig::Local { .. } => "local",
            AuthConfig::Github { .. } => "github",
            AuthConfig::Oidc { .. } => "oidc",
            AuthConfig::Google { .. } => "google",
            AuthConfig::Auth0 { .. } => "auth0",
        }
    }

    fn describe(&self) -> String {
        match self {
            AuthConfig::Local { user, open: false } => format!("local (everyone is {})", user.email),
            AuthConfig::Local { user, open: true } => {
                format!("local (everyone is {}; open to loopback requests without a token)", user.email)
            }
            AuthConfig::Github { org, teams, api_base, .. } => {
                let mut details = Vec::new();
                if let Some(api_base) = api_base {
                    details.push(format!("api {api_base}"));
                }
                if let Some(org) = org {
                    details.push(format!("org {org}"));
                }
                if !teams.is_empty() {
                    details.push(format!("teams {}", teams.join(",")));
                }
                if details.is_empty() {
                    "github".into()
                } else {
                    format!("github ({})", details.join(", "))
                }
            }
            AuthConfig::Oidc { issuer, .. } => format!("oidc (issuer {issuer})"),
            AuthConfig::Google { allowed_domains, .. } if allowed_domains.is_empty() => "google (any domain)".into(),
            AuthConfig::Google { allowed_domains, .. } => format!("google (domains {})", allowed_domains.join(",")),
            AuthConfig::Auth0 { domain, .. } => format!("auth0 ({domain})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessDecision {
    Allow,
    Deny,
}

impl fmt::Display for AccessDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccessDecision::Allow => "allow",
            AccessDecision::Deny => "deny",
        })
    }
}

/// What a group is asked to do with a plugin it may see (`policy` of an access rule): install it (`required`), consider
/// it (`recommended`), or nothing in particular (`available`, also what applies when no rule with a policy does).
/// Ordered from the least to the most insistent; the order never decides between rules (the most specific rule does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallPolicy {
    Available,
    Recommended,
    Required,
}

impl InstallPolicy {
    pub const ALL: [InstallPolicy; 3] = [InstallPolicy::Required, InstallPolicy::Recommended, InstallPolicy::Available];

    pub fn as_str(self) -> &'static str {
        match self {
            InstallPolicy::Available => "available",
            InstallPolicy::Recommended => "recommended",
            InstallPolicy::Required => "required",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text.trim())
    }
}

impl fmt::Display for InstallPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// The decision for a request no rule matches.
    pub default: AccessDecision,
    /// In the order written.
    pub rules: Vec<AccessRule>,
    /// `access.admins`: who may open the admin status page.
    pub admins: Admins,
}

/// `access.admins`: the users who may open `/status`. A user is an admin when they match any listed value (the same
/// matching as an `allow` rule's, so an unverified email never makes anyone an admin). Empty means nobody, except
/// with the `local` provider, where the development user is the admin (see `access::is_admin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admins {
    /// Lower-case.
    pub emails: Vec<String>,
    /// Lower-case.
    pub domains: Vec<String>,
    pub orgs: Vec<String>,
    pub teams: Vec<String>,
    pub groups: Vec<String>,
}

impl Admins {
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty()
            && self.domains.is_empty()
            && self.orgs.is_empty()
            && self.teams.is_empty()
            && self.groups.is_empty()
    }

    /// For the start-up log: how many of each are listed, never who.
    fn describe(&self, auth: &AuthConfig) -> String {
        if self.is_empty() {
            return match auth {
                AuthConfig::Local { .. } => "admins: the development user".into(),
                _ => "admins: none (/status refuses everyone)".into(),
            };
        }
        let parts: Vec<String> = [
            ("email", &self.emails),
            ("domain", &self.domains),
            ("org", &self.orgs),
            ("team", &self.teams),
            ("group", &self.groups),
        ]
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(what, list)| format!("{} {what}{}", list.len(), if list.len() == 1 { "" } else { "s" }))
        .collect();
        format!("admins: {}", parts.join(", "))
    }
}

/// Whether skills are offered as MCP prompts (slash commands in Claude Code, the attachment menu in Claude Desktop
/// and Claude.ai), and from which marketplaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptsConfig {
    /// Off: no `prompts` capability, and `prompts/*` are methods this server does not have.
    pub enabled: bool,
    /// Only the skills of these marketplaces become prompts (never empty, all configured); `None` means every one.
    pub marketplaces: Option<Vec<MarketplaceId>>,
}

impl PromptsConfig {
    /// Whether the skills of marketplace `id` are offered as prompts.
    pub fn offers(&self, id: &str) -> bool {
        self.enabled && self.marketplaces.as_ref().is_none_or(|ids| ids.iter().any(|m| m.as_str() == id))
    }

    fn describe(&self) -> String {
        match (&self.marketplaces, self.enabled) {
            (_, false) => "off".into(),
            (None, true) => "on".into(),
            (Some(ids), true) => {
                let ids: Vec<&str> = ids.iter().map(MarketplaceId::as_str).collect();
                format!("on for {}", ids.join(", "))
            }
        }
    }
}

/// One access rule. What it applies to is narrowed by `marketplace`/`plugin`/`skill` (everything when none is set);
/// who it applies to by `emails`/`domains`/`orgs`/`teams`/`groups` (everyone when all are empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub effect: AccessDecision,
    /// Always one of the configured marketplaces.
    pub marketplace: Option<MarketplaceId>,
    pub plugin: Option<String>,
    pub skill: Option<String>,
    /// Lower-case.
    pub emails: Vec<String>,
    /// Lower-case.
    pub domains: Vec<String>,
    pub orgs: Vec<String>,
    pub teams: Vec<String>,
    pub groups: Vec<String>,
    /// Only on `allow` rules whose target is not a skill (a policy is about installing a plugin).
    pub policy: Option<InstallPolicy>,
}

impl Config {
    /// A one-line summary for the start-up log. It names secrets but never holds their values, and leaves out an https
    /// location's query.
    pub fn describe(&self) -> String {
        let marketplaces: Vec<String> = self.marketplaces.iter().map(MarketplaceConfig::describe).collect();
        let surfaces: Vec<&str> = self.catalogue.surfaces.iter().map(|s| s.as_str()).collect();
        format!(
            "{} at {}; auth {}; marketplaces {}; surfaces {}; refresh {}s, stale {}s, max file {} bytes; \
             access default {}, {} rule(s), {}; prompts {}",
            self.server.name,
            self.server.public_url,
            self.auth.describe(),
            marketplaces.join(", "),
            surfaces.join(","),
            self.catalogue.refresh_seconds,
            self.catalogue.stale_seconds,
            self.catalogue.max_file_bytes,
            self.access.default,
            self.access.rules.len(),
            self.access.admins.describe(&self.auth),
            self.prompts.describe(),
        )
    }
}

/// A secret's value: the one `Secret` type of the workspace (its `Debug` and `Display` print `[redacted]`; the value
/// is only reachable through `expose`, which is easy to grep for).
pub use skillport_sources::http::Secret;

// ---------------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------------

/// One configuration problem: the key (`marketplaces[2].kind`), the layer its value came from, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` (from {layer}): {message}")]
pub struct ConfigError {
    pub key: String,
    pub layer: String,
    pub message: String,
}

/// Every problem found in one load, so an admin can fix them all in one pass. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

// ---------------------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------------------

/// The Worker var that, when set, replaces the embedded admin file with its text: one build can then be re-pointed
/// to another configuration (a worked example, a staging setup) without recompiling.
pub const ADMIN_VAR: &str = "SKILLPORT_ADMIN_TOML";
/// The layer name of an admin file given as [`ADMIN_VAR`].
pub const ADMIN_VAR_LAYER: &str = "admin file (Worker var SKILLPORT_ADMIN_TOML)";

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

/// One embedded TOML document as a layer, under the name errors show for it.
struct TomlLayer<'a> {
    name: &'static str,
    text: &'a str,
}

impl Provider for TomlLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(self.text).data()
    }
}

/// The `SKILLPORT_*` Worker bindings as a layer.
///
/// figment's `Env` reads the process environment, which a Worker does not have (it panics on wasm), so this reads the
/// bindings map instead, with the same rules: `__` nests, names are lower-cased, and values are parsed as figment's
/// `Value::from_str` does (`true`/`false`, numbers, `[lists]`, `{tables}`, `"quoted text"`, else the text as is).
struct WorkerVars<'a>(&'a BTreeMap<String, String>);

/// The key path a Worker binding sets: `SKILLPORT_AUTH__PROVIDER` → `["auth", "provider"]`. `None` for bindings
/// without the prefix, and for malformed names (an empty segment), which [`Loader::check_env_names`] reports.
fn env_key_path(name: &str) -> Option<Vec<String>> {
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

/// A place in the configuration, printed as `marketplaces[2].kind`.
#[derive(Debug, Clone, Default)]
struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    fn index(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The child of `value` at `segment`, if there is one.
fn child<'v>(value: &'v Value, segment: &Segment) -> Option<&'v Value> {
    match (segment, value) {
        (Segment::Key(key), Value::Dict(_, dict)) => dict.get(key),
        (Segment::Index(index), Value::Array(_, items)) => items.get(*index),
        _ => None,
    }
}

/// Text in a raw layer. Numbers and booleans are accepted as their text because a Worker var such as
/// `SKILLPORT_AUTH__CLIENT_ID=12345` is parsed into a number before anything knows a string was wanted (and a GitLab
/// project id is naturally written as one). Fractions are not accepted: `1.10` would come back as `1.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

// The raw shapes of each section: every field optional, so that a missing one is reported by its key rather than
// as serde's "missing field", and unknown keys refused, so that a typo is an error rather than a silent default.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    public_url: Option<Text>,
    name: Option<Text>,
    max_body_bytes: Option<u64>,
    download_key_secret: Option<Text>,
    download_ttl_seconds: Option<u64>,
    sse_backlog_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    surfaces: Option<Vec<Surface>>,
    refresh_seconds: Option<u64>,
    stale_seconds: Option<u64>,
    max_file_bytes: Option<u64>,
    upstream_timeout_ms: Option<u64>,
    subrequests_per_refresh: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompts {
    enabled: Option<bool>,
    marketplaces: Option<Vec<Text>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    default: Option<AccessDecision>,
    /// Read element by element later, so one bad rule does not hide the problems of the others.
    #[allow(dead_code)]
    rules: Option<IgnoredAny>,
    /// Read on its own, like the rules.
    #[allow(dead_code)]
    admins: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmins {
    emails: Option<Vec<Text>>,
    domains: Option<Vec<Text>>,
    orgs: Option<Vec<Text>>,
    teams: Option<Vec<Text>>,
    groups: Option<Vec<Text>>,
}

/// The union of every provider's settings: the layers may leave another provider's settings in `[auth]` (the defaults
/// set `auth.user` for `local`), and those are ignored rather than refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    provider: Option<Text>,
    user: Option<LocalUser>,
    client_id: Option<Text>,
    client_secret_secret: Option<Text>,
    api_base: Option<Text>,
    org: Option<Text>,
    teams: Option<Vec<Text>>,
    issuer: Option<Text>,
    scopes: Option<Vec<Text>>,
    groups_claim: Option<Text>,
    allowed_domains: Option<Vec<Text>>,
    domain: Option<Text>,
    roles_claim: Option<Text>,
    web_base: Option<Text>,
    open: Option<bool>,
    master_key_secret: Option<Text>,
    code_ttl_seconds: Option<u64>,
    access_ttl_seconds: Option<u64>,
    refresh_ttl_seconds: Option<u64>,
    sweep_seconds: Option<u64>,
    max_clients: Option<u64>,
    new_clients_per_address_per_hour: Option<u64>,
    new_clients_per_hour: Option<u64>,
    unused_client_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarketplace {
    id: Option<Text>,
    kind: Option<Text>,
    location: Option<Text>,
    #[serde(rename = "ref")]
    git_ref: Option<Text>,
    token_secret: Option<Text>,
    api_base: Option<Text>,
    webhook_secret: Option<Text>,
    layout: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    effect: Option<AccessDecision>,
    marketplace: Option<Text>,
    plugin: Option<Text>,
    skill: Option<Text>,
    emails: Option<Vec<Text>>,
    domains: Option<Vec<Text>>,
    orgs: Option<Vec<Text>>,
    teams: Option<Vec<Text>>,
    groups: Option<Vec<Text>>,
    policy: Option<InstallPolicy>,
}

/// Validates the merged layers section by section, recording every problem instead of stopping at the first.
///
/// Each `fn` returns `None` exactly when it has recorded at least one error.
struct Loader<'a> {
    figment: &'a Figment,
    root: &'a Value,
    env: &'a BTreeMap<String, String>,
    errors: Vec<ConfigError>,
    /// Values of the secrets resolved so far, blanked from any error message as a last safeguard.
    resolved: Vec<&'a str>,
}

impl<'a> Loader<'a> {
    fn config(&mut self) -> Option<Config> {
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

    // --- sections --------------------------------------------------------------------------------------------------

    /// Bindings that start with the prefix but name no key, which the layer itself skips.
    fn check_env_names(&mut self) {
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

    fn server(&mut self) -> Option<ServerConfig> {
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
    fn check_download_key(&mut self, server: &ServerConfig, auth: &AuthConfig) {
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

    fn catalogue(&mut self) -> Option<CatalogueConfig> {
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

    fn marketplaces(&mut self) -> Option<Vec<MarketplaceConfig>> {
        let path = KeyPath::default().key("marketplaces");
        let items = match self.lookup(&path) {
            Some(Value::Array(_, items)) if !items.is_empty() => items,
            Some(Value::Array(..)) | None => {
                self.fail(&path, "no marketplace is configured; add a [[marketplaces]] table to config/skillport.toml");
                return None;
            }
            Some(_) => {
                self.fail(&path, "must be a list of marketplace tables ([[marketplaces]])");
                return None;
            }
        };
        let before = self.errors.len();
        let mut first_use: BTreeMap<MarketplaceId, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let at = path.index(index);
            if let Some(raw) = self.parse::<RawMarketplace>(&at, item) {
                if let Some(marketplace) = self.marketplace(&at, index, raw, &mut first_use) {
                    out.push(marketplace);
                }
            }
        }
        (self.errors.len() == before).then_some(out)
    }

    fn marketplace(
        &mut self,
        path: &KeyPath,
        index: usize,
        raw: RawMarketplace,
        first_use: &mut BTreeMap<MarketplaceId, usize>,
    ) -> Option<MarketplaceConfig> {
        let before = self.errors.len();

        let id_path = path.key("id");
        let id = self
            .required_text(&id_path, raw.id)
            .and_then(|id| self.check(&id_path, id.parse::<MarketplaceId>().map_err(|e| e.to_string())));
        if let Some(id) = &id {
            match first_use.get(id) {
                Some(first) => self
                    .fail(&id_path, format!("duplicate marketplace id `{id}` (first used by marketplaces[{first}])")),
                None => {
                    first_use.insert(id.clone(), index);
                }
            }
        }

        let kind_path = path.key("kind");
        let kind = self.required_text(&kind_path, raw.kind).and_then(|kind| {
            let known = SourceKind::parse(&kind).ok_or_else(|| {
                format!("unknown marketplace kind `{kind}`; expected one of github, gitlab, https, bundled")
            });
            self.check(&kind_path, known)
        });

        let location_path = path.key("location");
        let location = self.required_text(&location_path, raw.location);
        if let (Some(kind), Some(location)) = (kind, &location) {
            self.check(&location_path, check_location(kind, location));
        }

        let ref_path = path.key("ref");
        let git_ref = self.optional_text(&ref_path, raw.git_ref);
        if let (Some(kind), Some(_)) = (kind, &git_ref) {
            if !kind.is_git_host() {
                self.fail(&ref_path, format!("only github and gitlab marketplaces have a ref, not {kind}"));
            }
        }

        let token_path = path.key("token_secret");
        let token_secret = self.optional_text(&token_path, raw.token_secret);
        let mut token = None;
        if let Some(name) = &token_secret {
            if kind == Some(SourceKind::Bundled) {
                self.fail(&token_path, "a bundled marketplace is read from the Worker itself and takes no token");
            } else {
                token = self.secret(&token_path, name);
            }
        }

        let api_path = path.key("api_base");
        let mut api_base = None;
        if let Some(text) = self.optional_text(&api_path, raw.api_base) {
            match kind {
                Some(kind) if !kind.is_git_host() => {
                    self.fail(&api_path, format!("only github and gitlab marketplaces have an api_base, not {kind}"));
                }
                _ => api_base = self.web_url(&api_path, &text, false),
            }
        }

        let hook_path = path.key("webhook_secret");
        let webhook_secret = self.optional_text(&hook_path, raw.webhook_secret);
        let mut webhook_key = None;
        if let Some(name) = &webhook_secret {
            if kind == Some(SourceKind::Bundled) {
                self.fail(&hook_path, "a bundled marketplace is built into the Worker and never changes: no webhook");
            } else {
                webhook_key = self.secret(&hook_path, name);
                if webhook_key.as_ref().is_some_and(|k| k.expose().len() < MIN_WEBHOOK_SECRET_LEN) {
                    self.fail(
                        &hook_path,
                        format!(
                            "names a secret shorter than {MIN_WEBHOOK_SECRET_LEN} characters, which anyone could \
                             guess: `openssl rand -hex 32 | wrangler secret put {name}`"
                        ),
                    );
                    webhook_key = None;
                }
            }
        }

        let layout_path = path.key("layout");
        let mut layout = Layout::Auto;
        if let Some(text) = self.optional_text(&layout_path, raw.layout) {
            match Layout::parse(&text) {
                None => self.fail(
                    &layout_path,
                    format!("unknown layout `{text}`; expected one of {}", Layout::NAMES.join(", ")),
                ),
                Some(l @ (Layout::Plugin | Layout::Skills))
                    if kind == Some(SourceKind::Https)
                        && location.as_deref().is_some_and(|u| ArchiveFormat::from_url(u).is_none()) =>
                {
                    self.fail(
                        &layout_path,
                        format!(
                            "an https marketplace that is not an archive (.zip, .tar.gz, .tgz) is read file by file from \
                             its marketplace.json, so it cannot have layout `{l}`; serve the repository as an archive"
                        ),
                    )
                }
                Some(l) => layout = l,
            }
        }

        if self.errors.len() != before {
            return None;
        }
        Some(MarketplaceConfig {
            id: id?,
            kind: kind?,
            location: location?,
            git_ref,
            token_secret,
            token,
            api_base,
            webhook_secret,
            webhook_key,
            layout,
        })
    }

    fn auth(&mut self, public_url: Option<&Url>) -> Option<AuthConfig> {
        let path = KeyPath::default().key("auth");
        let raw: RawAuth = self.section("auth")?;
        let provider_path = path.key("provider");
        let provider = self.required_text(&provider_path, raw.provider)?;
        let before = self.errors.len();
        let auth = match provider.as_str() {
            "local" => {
                if let Some(url) = public_url {
                    if !url.host_str().is_some_and(is_loopback_host) {
                        self.fail(
                            &provider_path,
                            format!(
                                "the local provider is for development only and is refused for the public URL {url}; \
                                 configure github, oidc, google or auth0"
                            ),
                        );
                    }
                }
                AuthConfig::Local { user: raw.user.unwrap_or_default(), open: raw.open.unwrap_or(false) }
            }
            "github" => {
                let client_id = self.required_text(&path.key("client_id"), raw.client_id);
                let client_secret = self.client_secret(&path, raw.client_secret_secret);
                let api_path = path.key("api_base");
                let api_base =
                    self.optional_text(&api_path, raw.api_base).and_then(|u| self.web_url(&api_path, &u, false));
                let web_path = path.key("web_base");
                let web_base =
                    self.optional_text(&web_path, raw.web_base).and_then(|u| self.web_url(&web_path, &u, false));
                let org = self.optional_text(&path.key("org"), raw.org);
                let teams = self.text_list(&path.key("teams"), raw.teams);
                AuthConfig::Github {
                    client_id: client_id?,
                    client_secret: client_secret?,
                    api_base,
                    web_base,
                    org,
                    teams,
                }
            }
            "oidc" => {
                let issuer_path = path.key("issuer");
                let issuer = self
                    .required_text(&issuer_path, raw.issuer)
                    .and_then(|u| self.web_url(&issuer_path, &u, false).map(|_| u));
                let client_id = self.required_text(&path.key("client_id"), raw.client_id);
                let client_secret = self.client_secret(&path, raw.client_secret_secret);
                let scopes_path = path.key("scopes");
                let scopes = match raw.scopes {
                    Some(scopes) => self.text_list(&scopes_path, Some(scopes)),
                    None => DEFAULT_OIDC_SCOPES.map(String::from).to_vec(),
                };
                if !scopes.iter().any(|s| s == "openid") {
                    self.fail(&scopes_path, "must include `openid`: without it the provider issues no ID token");
                }
                let groups_claim = self.optional_text(&path.key("groups_claim"), raw.groups_claim);
                AuthConfig::Oidc {
                    issuer: issuer?,
                    client_id: client_id?,
                    client_secret: client_secret?,
                    scopes,
                    groups_claim,
                }
            }
            "google" => {
                let client_id = self.required_text(&path.key("client_id"), raw.client_id);
                let client_secret = self.client_secret(&path, raw.client_secret_secret);
                let allowed_domains =
                    self.checked_list(&path.key("allowed_domains"), raw.allowed_domains, check_domain);
                let issuer = self.issuer_override(&path, raw.issuer);
                AuthConfig::Google { client_id: client_id?, client_secret: client_secret?, allowed_domains, issuer }
            }
            "auth0" => {
                let domain_path = path.key("domain");
                let domain = self
                    .required_text(&domain_path, raw.domain)
                    .and_then(|d| self.check(&domain_path, check_auth0_domain(&d)));
                let client_id = self.required_text(&path.key("client_id"), raw.client_id);
                let client_secret = self.client_secret(&path, raw.client_secret_secret);
                let roles_claim = self.optional_text(&path.key("roles_claim"), raw.roles_claim);
                let groups_claim = self.optional_text(&path.key("groups_claim"), raw.groups_claim);
                let issuer = self.issuer_override(&path, raw.issuer);
                AuthConfig::Auth0 {
                    domain: domain?,
                    client_id: client_id?,
                    client_secret: client_secret?,
                    roles_claim,
                    groups_claim,
                    issuer,
                }
            }
            other => {
                self.fail(
                    &provider_path,
                    format!("unknown provider kind `{other}`; expected one of local, github, oidc, google, auth0"),
                );
                return None;
            }
        };
        (self.errors.len() == before).then_some(auth)
    }

    fn issuer_override(&mut self, auth: &KeyPath, raw: Option<Text>) -> Option<String> {
        let path = auth.key("issuer");
        self.optional_text(&path, raw).and_then(|u| self.web_url(&path, &u, false).map(|_| u))
    }

    /// `[auth]`'s OAuth server settings: the master key (required but for `local`) and token lifetimes.
    /// `auth` is `None` when `[auth]` had errors: the key is then judged by the provider named, so a missing master
    /// key is reported together with the provider's own problems.
    fn tokens(&mut self, auth: Option<&AuthConfig>) -> Option<TokenConfig> {
        let path = KeyPath::default().key("auth");
        let raw: RawAuth = self.section("auth")?;
        let provider: String = match auth {
            Some(a) => a.kind().to_owned(),
            None => raw.provider.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        };
        let before = self.errors.len();
        let key_path = path.key("master_key_secret");
        let master_key_secret = self.optional_text(&key_path, raw.master_key_secret);
        let mut master_key = None;
        match &master_key_secret {
            Some(name) => {
                master_key = self.secret(&key_path, name);
                if master_key.as_ref().is_some_and(|k| k.expose().len() < MIN_DOWNLOAD_KEY_LEN) {
                    self.fail(
                        &key_path,
                        format!(
                            "names the secret `{name}`, which is shorter than {MIN_DOWNLOAD_KEY_LEN} characters; store \
                             a random key instead: `openssl rand -base64 32 | wrangler secret put {name}`"
                        ),
                    );
                }
            }
            // An unknown provider is reported as such; asking it for a key would only add noise.
            None if matches!(provider.as_str(), "github" | "oidc" | "google" | "auth0") => self.fail(
                &key_path,
                format!(
                    "required with the `{provider}` provider: it protects sign-in state and consent; create one with \
                     `openssl rand -base64 32 | wrangler secret put OAUTH_KEY` and set this key to \"OAUTH_KEY\"",
                ),
            ),
            None => {}
        }
        let ttl = |this: &mut Self, key: &str, value: Option<u64>, max: u64| {
            let p = path.key(key);
            this.required(&p, value).and_then(|n| {
                let ok = if n == 0 || n > max { Err(format!("must be between 1 and {max} seconds")) } else { Ok(n) };
                this.check(&p, ok)
            })
        };
        let code = ttl(self, "code_ttl_seconds", raw.code_ttl_seconds, 600);
        let access = ttl(self, "access_ttl_seconds", raw.access_ttl_seconds, 86_400);
        let refresh = ttl(self, "refresh_ttl_seconds", raw.refresh_ttl_seconds, 365 * 86_400);
        let sweep = ttl(self, "sweep_seconds", raw.sweep_seconds, 86_400);
        let count = |this: &mut Self, key: &str, value: Option<u64>, max: u64| {
            let p = path.key(key);
            this.required(&p, value).and_then(|n| {
                let ok = if n == 0 || n > max { Err(format!("must be between 1 and {max}")) } else { Ok(n) };
                this.check(&p, ok)
            })
        };
        let max_clients = count(self, "max_clients", raw.max_clients, 1_000_000);
        let per_address =
            count(self, "new_clients_per_address_per_hour", raw.new_clients_per_address_per_hour, 1_000_000);
        let per_hour = count(self, "new_clients_per_hour", raw.new_clients_per_hour, 1_000_000);
        let unused = ttl(self, "unused_client_seconds", raw.unused_client_seconds, 365 * 86_400);
        if self.errors.len() != before {
            return None;
        }
        Some(TokenConfig {
            master_key_secret,
            master_key,
            code_ttl_seconds: code?,
            access_ttl_seconds: access?,
            refresh_ttl_seconds: refresh?,
            sweep_seconds: sweep?,
            max_clients: max_clients?,
            new_clients_per_address_per_hour: per_address?,
            new_clients_per_hour: per_hour?,
            unused_client_seconds: unused?,
        })
    }

    fn access(&mut self) -> Option<AccessConfig> {
        let path = KeyPath::default().key("access");
        let marketplaces = self.configured_ids();
        let raw: RawAccess = self.section("access")?;
        let default = self.required(&path.key("default"), raw.default);
        let rules_path = path.key("rules");
        let before = self.errors.len();
        let mut rules = Vec::new();
        match self.lookup(&rules_path) {
            None => {}
            Some(Value::Array(_, items)) => {
                for (index, item) in items.iter().enumerate() {
                    let at = rules_path.index(index);
                    if let Some(raw) = self.parse::<RawRule>(&at, item) {
                        if let Some(rule) = self.rule(&at, raw, marketplaces.as_deref()) {
                            rules.push(rule);
                        }
                    }
                }
            }
            Some(_) => self.fail(&rules_path, "must be a list of rule tables ([[access.rules]])"),
        }
        let admins_path = path.key("admins");
        let admins = match self.lookup(&admins_path).cloned() {
            None => Admins::default(),
            Some(value @ Value::Dict(..)) => match self.parse::<RawAdmins>(&admins_path, &value) {
                Some(raw) => Admins {
                    emails: self.checked_list(&admins_path.key("emails"), raw.emails, check_email),
                    domains: self.checked_list(&admins_path.key("domains"), raw.domains, check_domain),
                    orgs: self.text_list(&admins_path.key("orgs"), raw.orgs),
                    teams: self.text_list(&admins_path.key("teams"), raw.teams),
                    groups: self.text_list(&admins_path.key("groups"), raw.groups),
                },
                None => Admins::default(),
            },
            Some(_) => {
                self.fail(&admins_path, "must be a table ([access.admins]) of emails, domains, orgs, teams and groups");
                Admins::default()
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(AccessConfig { default: default?, rules, admins })
    }

    fn prompts(&mut self) -> Option<PromptsConfig> {
        let path = KeyPath::default().key("prompts");
        let configured = self.configured_ids();
        let raw: RawPrompts = self.section("prompts")?;
        let enabled = self.required(&path.key("enabled"), raw.enabled);
        let before = self.errors.len();
        let list_path = path.key("marketplaces");
        let marketplaces = raw.marketplaces.map(|items| {
            if items.is_empty() {
                self.fail(
                    &list_path,
                    "must name at least one marketplace; leave it out for all of them, or set prompts.enabled = false",
                );
            }
            let mut ids: Vec<MarketplaceId> = Vec::new();
            for (index, Text(text)) in items.into_iter().enumerate() {
                let at = list_path.index(index);
                let Some(id) = self.check(&at, text.trim().parse::<MarketplaceId>().map_err(|e| e.to_string())) else {
                    continue;
                };
                self.check_configured(&at, &id, configured.as_deref());
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        });
        if self.errors.len() != before {
            return None;
        }
        Some(PromptsConfig { enabled: enabled?, marketplaces })
    }

    /// Records an error at `path` when `id` is not one of the `configured` marketplaces (when they are known).
    fn check_configured(&mut self, path: &KeyPath, id: &MarketplaceId, configured: Option<&[MarketplaceId]>) -> bool {
        let Some(configured) = configured else { return true };
        if configured.contains(id) {
            return true;
        }
        let ids: Vec<&str> = configured.iter().map(MarketplaceId::as_str).collect();
        self.fail(path, format!("names marketplace `{id}`, which is not configured (configured: {})", ids.join(", ")));
        false
    }

    /// The ids of the configured marketplaces, read straight from the merged layers so that rules are checked
    /// against them even when a marketplace has other problems. `None` when some id is missing or invalid, as a rule
    /// naming it cannot then be judged.
    fn configured_ids(&self) -> Option<Vec<MarketplaceId>> {
        let Value::Array(_, items) = self.lookup(&KeyPath::default().key("marketplaces"))? else { return None };
        items
            .iter()
            .map(|item| {
                let Text(id) = child(item, &Segment::Key("id".into()))?.deserialize::<Text>().ok()?;
                id.parse().ok()
            })
            .collect()
    }

    fn rule(&mut self, path: &KeyPath, raw: RawRule, marketplaces: Option<&[MarketplaceId]>) -> Option<AccessRule> {
        let before = self.errors.len();
        let effect = self.required(&path.key("effect"), raw.effect);
        let marketplace_path = path.key("marketplace");
        let marketplace = self.optional_text(&marketplace_path, raw.marketplace).and_then(|text| {
            let id = self.check(&marketplace_path, text.parse::<MarketplaceId>().map_err(|e| e.to_string()))?;
            self.check_configured(&marketplace_path, &id, marketplaces).then_some(id)
        });
        let plugin = self.optional_text(&path.key("plugin"), raw.plugin);
        let skill = self.optional_text(&path.key("skill"), raw.skill);
        let emails = self.checked_list(&path.key("emails"), raw.emails, check_email);
        let domains = self.checked_list(&path.key("domains"), raw.domains, check_domain);
        let orgs = self.text_list(&path.key("orgs"), raw.orgs);
        let teams = self.text_list(&path.key("teams"), raw.teams);
        let groups = self.text_list(&path.key("groups"), raw.groups);
        let policy = raw.policy;
        if policy.is_some() {
            let policy_path = path.key("policy");
            if effect == Some(AccessDecision::Deny) {
                self.fail(
                    &policy_path,
                    "a deny rule cannot carry a policy: it hides what it targets, and a hidden plugin has no policy; \
                     put the policy on an allow rule",
                );
            }
            if skill.is_some() {
                self.fail(
                    &policy_path,
                    "a rule naming a skill cannot carry a policy: policies are about installing plugins; \
                     leave `skill` out",
                );
            }
        }
        if self.errors.len() != before {
            return None;
        }
        Some(AccessRule { effect: effect?, marketplace, plugin, skill, emails, domains, orgs, teams, groups, policy })
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Checks on single values
// ---------------------------------------------------------------------------------------------------------------------

/// An https URL, or http on a loopback host so tests and `wrangler dev` can use local stand-ins.
/// The download-link key derived from the OAuth master key: HMAC-SHA256(master, purpose), hex. A separate purpose
/// string keeps it unrelated to the OAuth server's own derived keys.
fn derive_download_key(master: &Secret) -> Secret {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(master.expose().as_bytes()).expect("any key length");
    mac.update(b"skillport download links v1");
    let bytes = mac.finalize().into_bytes();
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn check_web_url(text: &str, query_allowed: bool) -> Result<Url, String> {
    // A URL with `@` may carry a password; it is then not repeated in the message.
    let shown = if text.contains('@') { "this URL".to_owned() } else { format!("`{text}`") };
    let url = Url::parse(text).map_err(|e| format!("{shown} is not a valid URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password; name a Worker secret for credentials instead".into());
    }
    let Some(host) = url.host_str() else { return Err(format!("{shown} has no host")) };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(format!(
                "{shown} must use https; plain http is only accepted for a loopback host such as localhost"
            ))
        }
        other => return Err(format!("{shown} must be an https URL, not {other}:")),
    }
    if url.fragment().is_some() {
        return Err(format!("{shown} must not have a #fragment"));
    }
    if !query_allowed && url.query().is_some() {
        return Err(format!("{shown} must not have a ?query"));
    }
    Ok(url)
}

/// A path segment of a repository or folder name: what GitHub and GitLab allow, which also rules out `.` and `..`.
fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_location(kind: SourceKind, location: &str) -> Result<(), String> {
    match kind {
        SourceKind::Github => {
            let parts: Vec<&str> = location.split('/').collect();
            if parts.len() != 2 || !parts.iter().all(|p| is_path_segment(p)) {
                return Err(format!("`{location}` is not a GitHub repository; write it as owner/repo"));
            }
        }
        SourceKind::Gitlab => {
            let numeric = location.chars().all(|c| c.is_ascii_digit());
            let parts: Vec<&str> = location.split('/').collect();
            if !numeric && (parts.len() < 2 || !parts.iter().all(|p| is_path_segment(p))) {
                return Err(format!(
                    "`{location}` is not a GitLab project; write it as group/project (subgroups allowed) or the \
                     numeric project id"
                ));
            }
        }
        SourceKind::Https => {
            check_web_url(location, true)?;
        }
        SourceKind::Bundled => {
            if !location.split('/').all(is_path_segment) {
                return Err(format!(
                    "`{location}` is not a folder under examples/; write a relative folder name such as `marketplace`"
                ));
            }
        }
    }
    Ok(())
}

/// A bare domain, lower-cased: letters, digits, `-` and `.` (so `localhost`, the `local` user's domain, passes).
fn check_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().to_ascii_lowercase();
    let valid = !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if valid {
        Ok(domain)
    } else {
        Err(format!("`{domain}` is not a domain; write it bare, as in example.com"))
    }
}

fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_ascii_lowercase();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => Ok(email),
        _ => Err(format!("`{email}` is not an email address")),
    }
}

fn check_auth0_domain(domain: &str) -> Result<String, String> {
    if domain.contains("://") || domain.contains('/') {
        return Err(format!(
            "`{domain}` must be the tenant's domain alone, such as acme.eu.auth0.com, without https:// or a path"
        ));
    }
    let domain = check_domain(domain)?;
    if !domain.contains('.') {
        return Err(format!("`{domain}` is not a tenant domain such as acme.eu.auth0.com"));
    }
    Ok(domain)
}

/// Whether `name` looks like a Worker binding: UPPER_SNAKE_CASE, as `wrangler secret put` is conventionally used.
fn looks_like_binding_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The shortest webhook secret accepted: a guessable one would let anyone trigger refreshes.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// Why a named secret could not be used. The name is only repeated when it looks like a binding name: an admin who
/// pasted the token itself where its name belongs must not find it in the log.
fn missing_secret_message(name: &str, empty: bool) -> String {
    if !looks_like_binding_name(name) {
        return "names a Worker secret that is not set. The name is not repeated here because it does not look like \
                one (UPPER_SNAKE_CASE) and may be the secret itself: store the secret with `wrangler secret put NAME` \
                and set this key to NAME"
            .into();
    }
    if empty {
        format!("names the secret `{name}`, which is empty; set it with `wrangler secret put {name}`")
    } else {
        format!("names the secret `{name}`, which is not set; add it with `wrangler secret put {name}`")
    }
}

/// figment's error text, reworded for an admin and without string values: a string that fails to parse may be a
/// secret set under a `SKILLPORT_` name by mistake, and the key and layer already say where to look.
fn describe_kind(kind: &Kind) -> String {
    fn actual(a: &Actual) -> String {
        match a {
            Actual::Str(_) | Actual::Bytes(_) | Actual::Char(_) => "text".into(),
            Actual::Bool(b) => format!("`{b}`"),
            Actual::Unsigned(n) => format!("the number {n}"),
            Actual::Signed(n) => format!("the number {n}"),
            Actual::Float(n) => format!("the number {n}"),
            Actual::Seq => "a list".into(),
            Actual::Map => "a table".into(),
            Actual::Unit | Actual::Option => "nothing".into(),
            other => other.to_string(),
        }
    }
    fn expected(e: &str) -> String {
        match e {
            _ if e.starts_with("struct ") => "a table".into(),
            "a sequence" => "a list".into(),
            "u64" | "u32" | "usize" => "a whole number of 0 or more".into(),
            other => other.into(),
        }
    }
    match kind {
        Kind::InvalidType(a, e) => format!("expected {}, found {}", expected(e), actual(a)),
        Kind::InvalidValue(a, e) => format!("expected {}, found {}", expected(e), actual(a)),
        Kind::UnknownVariant(v, expected) => format!("unknown value `{v}`; expected one of {}", expected.join(", ")),
        Kind::UnknownField(field, expected) => {
            format!("unknown key `{field}`; expected one of {}", expected.join(", "))
        }
        Kind::MissingField(field) => format!("missing key `{field}`"),
        other => other.to_string(),
    }
}

// =====================================================================================================================
// For the admin command line (`skillport config check`, src/admin): the merged layers themselves, so that it can show
// which layer set each value with the same figment metadata the errors above are attributed with.
// =====================================================================================================================

/// The three layers merged, exactly as [`load`] merges them (it calls this).
pub fn layers(defaults: &str, admin: &str, env: &BTreeMap<String, String>) -> Figment {
    layers_named(defaults, admin, ADMIN_LAYER, env)
}

fn layers_named(defaults: &str, admin: &str, admin_layer: &'static str, env: &BTreeMap<String, String>) -> Figment {
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
/// by entry (`marketplaces[1].id`). `None` when a layer does not parse; [`load`] says why.
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

/// Whether `name`, found where a secret's name belongs, looks like one (UPPER_SNAKE_CASE) rather than like a pasted
/// secret value, which must then not be printed.
pub fn looks_like_secret_name(name: &str) -> bool {
    looks_like_binding_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_timeout_is_bounded() {
        let env: BTreeMap<String, String> =
            [("SKILLPORT_CATALOGUE__UPSTREAM_TIMEOUT_MS".to_string(), "5".to_string())].into_iter().collect();
        let errors = load_embedded(&env).unwrap_err().to_string();
        assert!(errors.contains("catalogue.upstream_timeout_ms") && errors.contains("Worker vars"), "{errors}");
        assert_eq!(load_embedded(&BTreeMap::new()).unwrap().catalogue.upstream_timeout_ms, 15_000);
    }

    /// The bindings `pairs`, plus a download-signing key under `DOWNLOAD_KEY` unless they set one: configurations
    /// with a real provider name it (`server.download_key_secret`), and tests of other keys need not repeat it.
    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.entry("DOWNLOAD_KEY".into()).or_insert_with(|| DOWNLOAD_KEY_VALUE.into());
        env.entry("OAUTH_KEY".into()).or_insert_with(|| "oauth-key-0123456789abcdef0123456789abcdef".into());
        env
    }

    const DOWNLOAD_KEY_VALUE: &str = "dl-key-0123456789abcdef0123456789abcdef";

    fn ok(admin: &str, pairs: &[(&str, &str)]) -> Config {
        match load(DEFAULT_TOML, admin, &env(pairs)) {
            Ok(config) => config,
            Err(errors) => panic!("expected a valid configuration, got:\n{errors}"),
        }
    }

    fn fails(admin: &str, pairs: &[(&str, &str)]) -> Vec<ConfigError> {
        match load(DEFAULT_TOML, admin, &env(pairs)) {
            Ok(config) => panic!("expected errors, got {config:?}"),
            Err(ConfigErrors(errors)) => errors,
        }
    }

    /// The one error at `key`, checked to come from `layer`.
    fn error_at<'e>(errors: &'e [ConfigError], key: &str, layer: &str) -> &'e ConfigError {
        let found: Vec<&ConfigError> = errors.iter().filter(|e| e.key == key).collect();
        assert_eq!(found.len(), 1, "expected one error at `{key}`, got {errors:#?}");
        assert_eq!(found[0].layer, layer, "wrong layer for `{key}`: {errors:#?}");
        found[0]
    }

    const GITHUB_AUTH: &str = r#"
        [server]
        public_url = "https://skills.example.com"
        download_key_secret = "DOWNLOAD_KEY"
        [auth]
        provider = "github"
        client_id = "Iv1.abc"
        client_secret_secret = "GITHUB_CLIENT_SECRET"
        master_key_secret = "OAUTH_KEY"
    "#;

    // --- layers ------------------------------------------------------------------------------------------------------

    #[test]
    fn defaults_alone_load() {
        let config = ok("", &[]);
        assert_eq!(config.server.public_url.as_str(), "http://localhost:8787/");
        assert_eq!(config.server.name, "Skillport");
        assert_eq!(config.server.max_body_bytes, 1_048_576);
        assert_eq!(config.server.sse_backlog_bytes, 1 << 20);
        assert_eq!(config.catalogue.surfaces, Surface::ALL.to_vec());
        assert_eq!(config.catalogue.refresh_seconds, 300);
        assert_eq!(config.catalogue.stale_seconds, 86_400);
        assert_eq!(config.catalogue.max_file_bytes, 5 * 1024 * 1024);
        assert_eq!(
            config.access,
            AccessConfig { default: AccessDecision::Allow, rules: vec![], admins: Admins::default() }
        );
        match &config.auth {
            AuthConfig::Local { user, .. } => assert_eq!(user, &LocalUser::default()),
            other => panic!("expected local, got {other:?}"),
        }
    }

    #[test]
    fn embedded_files_load_with_an_empty_env() {
        let config = load_embedded(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.auth.kind(), "local");
        assert_eq!(config.marketplaces.len(), 1);
        let example = &config.marketplaces[0];
        assert_eq!(example.id, "example");
        assert_eq!(example.kind, SourceKind::Bundled);
        assert_eq!(example.location, "marketplace");
        assert!(example.token.is_none() && example.git_ref.is_none() && example.api_base.is_none());
    }

    #[test]
    fn admin_file_overrides_a_default() {
        let config = ok("[catalogue]\nrefresh_seconds = 60\n[server]\nname = \"Acme Skills\"", &[]);
        assert_eq!(config.catalogue.refresh_seconds, 60);
        assert_eq!(config.server.name, "Acme Skills");
        // Keys the admin did not set keep their defaults, even in a table the admin wrote.
        assert_eq!(config.catalogue.stale_seconds, 86_400);
        assert_eq!(config.server.max_body_bytes, 1_048_576);
    }

    #[test]
    fn env_var_overrides_both() {
        let config = ok("[catalogue]\nrefresh_seconds = 60", &[("SKILLPORT_CATALOGUE__REFRESH_SECONDS", "30")]);
        assert_eq!(config.catalogue.refresh_seconds, 30);
    }

    #[test]
    fn nested_env_keys() {
        let config = ok(
            "",
            &[
                ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
                ("SKILLPORT_AUTH__PROVIDER", "oidc"),
                ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DOWNLOAD_KEY"),
                ("SKILLPORT_AUTH__ISSUER", "https://login.example.com/realms/acme"),
                ("SKILLPORT_AUTH__CLIENT_ID", "skillport"),
                ("SKILLPORT_AUTH__CLIENT_SECRET_SECRET", "OIDC_SECRET"),
                ("SKILLPORT_AUTH__MASTER_KEY_SECRET", "OAUTH_KEY"),
                ("SKILLPORT_AUTH__GROUPS_CLAIM", "groups"),
                ("OIDC_SECRET", "s3cret"),
                ("SKILLPORT_CATALOGUE__SURFACES", "[claude-code, claude-ai]"),
            ],
        );
        assert_eq!(config.server.public_url.as_str(), "https://skills.example.com/");
        assert_eq!(config.catalogue.surfaces, vec![Surface::ClaudeCode, Surface::ClaudeAi]);
        match &config.auth {
            AuthConfig::Oidc { issuer, client_id, client_secret, scopes, groups_claim } => {
                assert_eq!(issuer, "https://login.example.com/realms/acme");
                assert_eq!(client_id, "skillport");
                assert_eq!(client_secret.expose(), "s3cret");
                assert_eq!(scopes, &["openid", "email", "profile"]);
                assert_eq!(groups_claim.as_deref(), Some("groups"));
            }
            other => panic!("expected oidc, got {other:?}"),
        }
    }

    #[test]
    fn env_array_replaces_the_marketplace_list() {
        let admin = "[[marketplaces]]\nid = \"one\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\n\
                     [[marketplaces]]\nid = \"two\"\nkind = \"bundled\"\nlocation = \"marketplace\"";
        let config = ok(admin, &[("SKILLPORT_MARKETPLACES", r#"[{id="a",kind="github",location="o/r"}]"#)]);
        assert_eq!(config.marketplaces.len(), 1);
        assert_eq!(config.marketplaces[0].id, "a");
        assert_eq!(config.marketplaces[0].kind, SourceKind::Github);
        assert_eq!(config.marketplaces[0].location, "o/r");
    }

    #[test]
    fn admin_marketplaces_replace_the_default_list() {
        let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\nref = \"v1.2\"";
        let config = ok(admin, &[]);
        let ids: Vec<&str> = config.marketplaces.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["tools"]);
        assert_eq!(config.marketplaces[0].git_ref.as_deref(), Some("v1.2"));
    }

    #[test]
    fn other_bindings_are_not_configuration_but_can_be_secrets() {
        let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                     token_secret = \"GITHUB_TOKEN\"";
        let config = ok(
            admin,
            &[
                ("GITHUB_TOKEN", "ghp_token"),
                // Would be an invalid provider, and an unknown section, if it were read as configuration.
                ("AUTH__PROVIDER", "nonsense"),
                ("MARKETPLACES", "[]"),
            ],
        );
        assert_eq!(config.auth.kind(), "local");
        assert_eq!(config.marketplaces[0].token.as_ref().map(Secret::expose), Some("ghp_token"));
        assert_eq!(config.marketplaces[0].token_secret.as_deref(), Some("GITHUB_TOKEN"));
    }

    #[test]
    fn env_values_are_parsed_like_figment_env() {
        let config = ok(
            "",
            &[
                (
                    "SKILLPORT_MARKETPLACES",
                    r#"[{id = "gl", kind = "gitlab", location = 4242, ref = "main"},
                        {id = "ex", kind = "bundled", location = "marketplace"}]"#,
                ),
                ("SKILLPORT_SERVER__NAME", "Acme Skills"),
                ("SKILLPORT_SERVER__MAX_BODY_BYTES", "2048"),
                ("SKILLPORT_ACCESS__DEFAULT", "deny"),
                ("SKILLPORT_ACCESS__RULES", r#"[{effect = "allow", domains = ["Example.com"]}]"#),
            ],
        );
        // A numeric GitLab project id arrives as a number and is accepted as the text it was.
        assert_eq!(config.marketplaces[0].location, "4242");
        assert_eq!(config.server.name, "Acme Skills");
        assert_eq!(config.server.max_body_bytes, 2048);
        assert_eq!(config.access.default, AccessDecision::Deny);
        assert_eq!(config.access.rules[0].domains, ["example.com"]);
    }

    #[test]
    fn a_whole_table_var_is_refined_by_a_nested_var() {
        let config = ok(
            "",
            &[
                ("SKILLPORT_CATALOGUE", "{refresh_seconds = 10, stale_seconds = 20}"),
                ("SKILLPORT_CATALOGUE__STALE_SECONDS", "30"),
            ],
        );
        assert_eq!(config.catalogue.refresh_seconds, 10);
        assert_eq!(config.catalogue.stale_seconds, 30);
        // A table from a var replaces only the keys it names; the rest stay from the files.
        assert_eq!(config.catalogue.max_file_bytes, 5 * 1024 * 1024);
    }

    #[test]
    fn every_provider_kind_loads() {
        let secrets = [("GITHUB_CLIENT_SECRET", "x1"), ("CS", "x2")];
        let github = ok(&format!("{GITHUB_AUTH}\norg = \"acme\"\nteams = [\"platform\"]"), &secrets);
        match &github.auth {
            AuthConfig::Github { org, teams, .. } => {
                assert_eq!(org.as_deref(), Some("acme"));
                assert_eq!(teams, &["platform"]);
            }
            other => panic!("{other:?}"),
        }

        let google = "[server]\npublic_url = \"https://s.example.com\"\ndownload_key_secret = \"DOWNLOAD_KEY\"\n\
                      [auth]\nprovider = \"google\"\n\
                      client_id = \"1-abc.apps.googleusercontent.com\"\nclient_secret_secret = \"CS\"\n\
                      allowed_domains = [\"Example.COM\"]\nmaster_key_secret = \"OAUTH_KEY\"";
        match ok(google, &secrets).auth {
            AuthConfig::Google { allowed_domains, client_secret, .. } => {
                assert_eq!(allowed_domains, ["example.com"]);
                assert_eq!(client_secret.expose(), "x2");
            }
            other => panic!("{other:?}"),
        }

        let auth0 = "[server]\npublic_url = \"https://s.example.com\"\ndownload_key_secret = \"DOWNLOAD_KEY\"\n\
                     [auth]\nprovider = \"auth0\"\n\
                     domain = \"acme.eu.auth0.com\"\nclient_id = \"abc\"\nclient_secret_secret = \"CS\"\n\
                     roles_claim = \"https://s.example.com/roles\"\nmaster_key_secret = \"OAUTH_KEY\"";
        match ok(auth0, &secrets).auth {
            AuthConfig::Auth0 { domain, roles_claim, groups_claim, .. } => {
                assert_eq!(domain, "acme.eu.auth0.com");
                assert_eq!(roles_claim.as_deref(), Some("https://s.example.com/roles"));
                assert_eq!(groups_claim, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn local_provider_accepts_loopback_public_urls() {
        for url in ["http://127.0.0.1:8787", "http://[::1]:8787", "http://app.localhost"] {
            let config = ok("", &[("SKILLPORT_SERVER__PUBLIC_URL", url)]);
            assert_eq!(config.auth.kind(), "local");
        }
    }

    #[test]
    fn access_rules_are_parsed() {
        let admin = r#"
            [access]
            default = "deny"
            [[access.rules]]
            effect = "allow"
            marketplace = "example"
            plugin = "writing-tools"
            skill = "commit-message"
            emails = ["Ada@Example.com"]
            domains = ["example.com"]
            orgs = ["acme"]
            teams = ["platform"]
            groups = ["engineering"]
        "#;
        let config = ok(admin, &[]);
        assert_eq!(config.access.default, AccessDecision::Deny);
        assert_eq!(
            config.access.rules,
            [AccessRule {
                effect: AccessDecision::Allow,
                marketplace: Some("example".parse().unwrap()),
                plugin: Some("writing-tools".into()),
                skill: Some("commit-message".into()),
                emails: vec!["ada@example.com".into()],
                domains: vec!["example.com".into()],
                orgs: vec!["acme".into()],
                teams: vec!["platform".into()],
                groups: vec!["engineering".into()],
                policy: None,
            }]
        );
    }

    #[test]
    fn access_rule_policies_are_parsed_and_checked() {
        let admin = r#"
            [[access.rules]]
            effect = "allow"
            plugin = "writing-tools"
            groups = ["engineering"]
            policy = "required"
            [[access.rules]]
            effect = "allow"
            marketplace = "example"
            policy = "recommended"
            [[access.rules]]
            effect = "allow"
            domains = ["example.com"]
        "#;
        let config = ok(admin, &[]);
        let policies: Vec<Option<InstallPolicy>> = config.access.rules.iter().map(|r| r.policy).collect();
        assert_eq!(policies, [Some(InstallPolicy::Required), Some(InstallPolicy::Recommended), None]);
        // The Worker-var form of the rules carries it too.
        let config = ok("", &[("SKILLPORT_ACCESS__RULES", r#"[{effect="allow",plugin="p",policy="available"}]"#)]);
        assert_eq!(config.access.rules[0].policy, Some(InstallPolicy::Available));

        let admin = r#"
            [[access.rules]]
            effect = "deny"
            plugin = "writing-tools"
            policy = "required"
            [[access.rules]]
            effect = "allow"
            plugin = "writing-tools"
            skill = "commit-message"
            policy = "recommended"
            [[access.rules]]
            effect = "allow"
            policy = "mandatory"
        "#;
        let errors = fails(admin, &[]);
        let deny = error_at(&errors, "access.rules[0].policy", ADMIN_LAYER);
        assert!(deny.message.contains("deny rule cannot carry a policy"), "{deny}");
        let skill = error_at(&errors, "access.rules[1].policy", ADMIN_LAYER);
        assert!(skill.message.contains("naming a skill"), "{skill}");
        let unknown = errors.iter().find(|e| e.key.starts_with("access.rules[2]")).expect("an error for rule 2");
        assert!(unknown.to_string().contains("mandatory"), "{unknown}");
    }

    #[test]
    fn prompts_are_on_for_every_marketplace_by_default_and_can_be_limited_or_turned_off() {
        let config = ok("", &[]);
        assert_eq!(config.prompts, PromptsConfig { enabled: true, marketplaces: None });
        assert!(config.prompts.offers("example"));
        assert!(config.describe().ends_with("prompts on"), "{}", config.describe());

        let admin = r#"
            [[marketplaces]]
            id = "acme"
            kind = "github"
            location = "acme/plugins"
            [[marketplaces]]
            id = "vendor"
            kind = "bundled"
            location = "marketplace"
            [prompts]
            marketplaces = ["acme"]
        "#;
        let config = ok(admin, &[]);
        assert!(config.prompts.offers("acme") && !config.prompts.offers("vendor"));
        assert!(config.describe().ends_with("prompts on for acme"), "{}", config.describe());

        let config = ok(admin, &[("SKILLPORT_PROMPTS__ENABLED", "false")]);
        assert!(!config.prompts.enabled && !config.prompts.offers("acme"));
        assert!(config.describe().ends_with("prompts off"), "{}", config.describe());
    }

    #[test]
    fn prompts_keys_are_checked() {
        let errors = fails("[prompts]\nmarketplaces = [\"example\", \"nope\"]\n", &[]);
        let error = error_at(&errors, "prompts.marketplaces[1]", ADMIN_LAYER);
        assert_eq!(error.message, "names marketplace `nope`, which is not configured (configured: example)");
        let errors = fails("[prompts]\nmarketplaces = []\n", &[]);
        assert!(error_at(&errors, "prompts.marketplaces", ADMIN_LAYER).message.contains("at least one"));
        let errors = fails("", &[("SKILLPORT_PROMPTS__MARKETPLACES", r#"["Bad Id"]"#)]);
        assert!(error_at(&errors, "prompts.marketplaces[0]", WORKER_LAYER).message.contains("may only contain"));
        let errors = fails("[prompts]\nenabled = \"yes\"\n", &[]);
        error_at(&errors, "prompts.enabled", ADMIN_LAYER);
        let errors = fails("[prompts]\nenable = false\n", &[]);
        error_at(&errors, "prompts.enable", ADMIN_LAYER);
    }

    // --- validation --------------------------------------------------------------------------------------------------

    #[test]
    fn unknown_provider_kind() {
        let errors = fails("", &[("SKILLPORT_AUTH__PROVIDER", "foo")]);
        let error = error_at(&errors, "auth.provider", WORKER_LAYER);
        assert_eq!(
            error.to_string(),
            "`auth.provider` (from Worker vars and secrets): unknown provider kind `foo`; expected one of local, \
             github, oidc, google, auth0"
        );
    }

    #[test]
    fn unknown_marketplace_kind() {
        let admin = r#"
            [[marketplaces]]
            id = "a"
            kind = "bundled"
            location = "marketplace"
            [[marketplaces]]
            id = "b"
            kind = "github"
            location = "acme/b"
            [[marketplaces]]
            id = "c"
            kind = "svn"
            location = "svn://example.com/c"
        "#;
        let errors = fails(admin, &[]);
        let error = error_at(&errors, "marketplaces[2].kind", ADMIN_LAYER);
        assert_eq!(error.message, "unknown marketplace kind `svn`; expected one of github, gitlab, https, bundled");
        assert_eq!(errors.len(), 1, "{errors:#?}");
    }

    #[test]
    fn type_errors_name_key_and_layer_and_are_all_collected() {
        let errors = fails(
            "[catalogue]\nrefresh_seconds = \"soon\"",
            &[("SKILLPORT_SERVER__MAX_BODY_BYTES", "lots"), ("SKILLPORT_MARKETPLACES", r#"[{id = "a", kind = 7}]"#)],
        );
        let refresh = error_at(&errors, "catalogue.refresh_seconds", ADMIN_LAYER);
        assert_eq!(refresh.message, "expected a whole number of 0 or more, found text");
        error_at(&errors, "server.max_body_bytes", WORKER_LAYER);
        // A number is accepted as text, so `kind = 7` is an unknown kind, and the missing location is reported too.
        error_at(&errors, "marketplaces[0].kind", WORKER_LAYER);
        error_at(&errors, "marketplaces[0].location", WORKER_LAYER);
        assert_eq!(errors.len(), 4, "{errors:#?}");
    }

    #[test]
    fn unknown_keys_and_sections_are_refused() {
        let errors = fails("[catalogue]\nrefresh_second = 5\n[marketplace]\nid = \"x\"", &[("SKILLPORT_FOO", "1")]);
        let typo = error_at(&errors, "catalogue.refresh_second", ADMIN_LAYER);
        assert!(typo.message.starts_with("unknown key `refresh_second`; expected one of surfaces, refresh_seconds"));
        error_at(&errors, "marketplace", ADMIN_LAYER);
        error_at(&errors, "foo", WORKER_LAYER);
        assert_eq!(errors.len(), 3, "{errors:#?}");
    }

    #[test]
    fn malformed_env_names_are_reported() {
        let errors = fails("", &[("SKILLPORT_AUTH____PROVIDER", "github"), ("SKILLPORT_", "x")]);
        error_at(&errors, "SKILLPORT_AUTH____PROVIDER", WORKER_LAYER);
        error_at(&errors, "SKILLPORT_", WORKER_LAYER);
    }

    #[test]
    fn toml_syntax_errors_name_the_file() {
        let errors = fails("[server\nname = 1", &[]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].layer, ADMIN_LAYER);
    }

    #[test]
    fn missing_secret() {
        let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                     token_secret = \"GITHUB_TOKEN\"";
        let errors = fails(admin, &[]);
        let error = error_at(&errors, "marketplaces[0].token_secret", ADMIN_LAYER);
        assert_eq!(
            error.message,
            "names the secret `GITHUB_TOKEN`, which is not set; add it with `wrangler secret put GITHUB_TOKEN`"
        );

        let errors = fails(GITHUB_AUTH, &[("GITHUB_CLIENT_SECRET", "")]);
        let error = error_at(&errors, "auth.client_secret_secret", ADMIN_LAYER);
        assert!(error.message.contains("which is empty"), "{error}");

        let errors = fails(GITHUB_AUTH, &[("SKILLPORT_AUTH__CLIENT_SECRET_SECRET", "GH_SECRET")]);
        let error = error_at(&errors, "auth.client_secret_secret", WORKER_LAYER);
        assert!(error.message.contains("`GH_SECRET`, which is not set"), "{error}");
    }

    #[test]
    fn secret_values_are_never_printed() {
        const VALUE: &str = "ghp_SuperSecretValue123";
        let admin = format!(
            "{GITHUB_AUTH}\n[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
             token_secret = \"GITHUB_TOKEN\"\n\
             [[marketplaces]]\nid = \"pasted\"\nkind = \"github\"\nlocation = \"acme/other\"\n\
             token_secret = \"{VALUE}\""
        );
        let bindings = env(&[("GITHUB_TOKEN", VALUE), ("GITHUB_CLIENT_SECRET", VALUE)]);

        // The second marketplace names the token itself instead of the secret: an error, which must not repeat it.
        let errors = load(DEFAULT_TOML, &admin, &bindings).unwrap_err();
        let pasted = error_at(&errors.0, "marketplaces[1].token_secret", ADMIN_LAYER);
        assert!(pasted.message.contains("may be the secret itself"));
        for printed in [errors.to_string(), format!("{errors:?}"), format!("{errors:#?}")] {
            assert!(!printed.contains(VALUE), "secret printed in: {printed}");
        }

        // Loaded successfully, the secrets are in the configuration and in none of its printed forms.
        let admin = admin.split("[[marketplaces]]\nid = \"pasted\"").next().unwrap();
        let config = load(DEFAULT_TOML, admin, &bindings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.marketplaces[0].token.as_ref().unwrap().expose(), VALUE);
        for printed in [config.describe(), format!("{config:?}"), format!("{config:#?}")] {
            assert!(!printed.contains(VALUE), "secret printed in: {printed}");
        }
        assert_eq!(format!("{:?} {}", Secret::new(VALUE), Secret::new(VALUE)), "[redacted] [redacted]");
    }

    #[test]
    fn malformed_urls() {
        let admin = r#"
            [auth]
            provider = "oidc"
            issuer = "http://login.example.com"
            client_id = "c"
            client_secret_secret = "CS"
            [[marketplaces]]
            id = "a"
            kind = "github"
            location = "acme/a"
            api_base = "ftp://github.example.com"
            [[marketplaces]]
            id = "b"
            kind = "https"
            location = "http://plugins.example.com/marketplace.json"
            [[marketplaces]]
            id = "c"
            kind = "github"
            location = "just-an-owner"
            [[marketplaces]]
            id = "d"
            kind = "https"
            location = "https://user:pw@plugins.example.com/m.json"
        "#;
        let errors = fails(admin, &[("SKILLPORT_SERVER__PUBLIC_URL", "skills.example.com"), ("CS", "x")]);
        let public = error_at(&errors, "server.public_url", WORKER_LAYER);
        assert!(public.message.contains("is not a valid URL"), "{public}");
        let issuer = error_at(&errors, "auth.issuer", ADMIN_LAYER);
        assert!(issuer.message.contains("must use https"), "{issuer}");
        error_at(&errors, "marketplaces[0].api_base", ADMIN_LAYER);
        error_at(&errors, "marketplaces[1].location", ADMIN_LAYER);
        let github = error_at(&errors, "marketplaces[2].location", ADMIN_LAYER);
        assert!(github.message.contains("owner/repo"), "{github}");
        let creds = error_at(&errors, "marketplaces[3].location", ADMIN_LAYER);
        assert!(!creds.message.contains("pw"), "{creds}");
        // [auth] failed, and its missing master key is reported with it rather than after a second attempt.
        error_at(&errors, "auth.master_key_secret", ADMIN_LAYER);
        assert_eq!(errors.len(), 7, "{errors:#?}");
    }

    #[test]
    fn layouts_are_checked_against_the_kind() {
        let admin = r#"
            [[marketplaces]]
            id = "one"
            kind = "github"
            location = "acme/solo-plugin"
            layout = "plugin"
            [[marketplaces]]
            id = "skills"
            kind = "gitlab"
            location = "acme/skills"
            layout = "skills"
            [[marketplaces]]
            id = "zip"
            kind = "https"
            location = "https://cdn.example.com/skills.tar.gz"
            layout = "skills"
            [[marketplaces]]
            id = "plain"
            kind = "https"
            location = "https://cdn.example.com/.claude-plugin/marketplace.json"
            layout = "marketplace"
            [[marketplaces]]
            id = "default"
            kind = "github"
            location = "acme/plugins"
        "#;
        let config = ok(admin, &[]);
        let layouts: Vec<Layout> = config.marketplaces.iter().map(|m| m.layout).collect();
        assert_eq!(layouts, [Layout::Plugin, Layout::Skills, Layout::Skills, Layout::Marketplace, Layout::Auto]);
        // `config check` shows a layout that is not the default.
        assert!(
            config.marketplaces[0].describe().contains(", layout plugin)"),
            "{}",
            config.marketplaces[0].describe()
        );
        assert!(!config.marketplaces[4].describe().contains("layout"));

        let admin = r#"
            [[marketplaces]]
            id = "plain"
            kind = "https"
            location = "https://cdn.example.com/.claude-plugin/marketplace.json"
            layout = "skills"
            [[marketplaces]]
            id = "typo"
            kind = "github"
            location = "acme/plugins"
            layout = "plugins"
        "#;
        let errors = fails(admin, &[]);
        let plain = error_at(&errors, "marketplaces[0].layout", ADMIN_LAYER);
        assert!(plain.message.contains("cannot have layout `skills`"), "{plain}");
        let typo = error_at(&errors, "marketplaces[1].layout", ADMIN_LAYER);
        assert!(typo.message.contains("expected one of auto, marketplace, plugin, skills"), "{typo}");
    }

    #[test]
    fn an_unknown_key_does_not_hide_the_problems_beside_it() {
        let errors = fails("[catalogue]\nrefresh_second = 60\nsurfaces = [\"claude-web\"]", &[]);
        error_at(&errors, "catalogue.refresh_second", ADMIN_LAYER);
        error_at(&errors, "catalogue.surfaces[0]", ADMIN_LAYER);
    }

    #[test]
    fn loopback_http_is_accepted_for_stand_ins() {
        let admin = r#"
            [[marketplaces]]
            id = "local-https"
            kind = "https"
            location = "http://127.0.0.1:9000/marketplace.json?sig=abc"
            token_secret = "T"
            [[marketplaces]]
            id = "local-ghe"
            kind = "github"
            location = "acme/tools"
            api_base = "http://localhost:9001/api/v3"
        "#;
        let config = ok(admin, &[("T", "t")]);
        assert_eq!(config.marketplaces[1].api_base.as_ref().map(Url::as_str), Some("http://localhost:9001/api/v3"));
        // The start-up line leaves out the https location's query, which may carry a key.
        assert!(!config.describe().contains("sig=abc"), "{}", config.describe());
    }

    #[test]
    fn duplicate_marketplace_id() {
        let admin = r#"
            [[marketplaces]]
            id = "x"
            kind = "bundled"
            location = "marketplace"
            [[marketplaces]]
            id = "y"
            kind = "bundled"
            location = "marketplace"
            [[marketplaces]]
            id = "z"
            kind = "bundled"
            location = "marketplace"
            [[marketplaces]]
            id = "x"
            kind = "github"
            location = "acme/x"
        "#;
        let errors = fails(admin, &[]);
        let error = error_at(&errors, "marketplaces[3].id", ADMIN_LAYER);
        assert_eq!(error.message, "duplicate marketplace id `x` (first used by marketplaces[0])");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn invalid_marketplace_id() {
        let errors = fails("", &[("SKILLPORT_MARKETPLACES", r#"[{id="Bad ID!",kind="bundled",location="m"}]"#)]);
        let error = error_at(&errors, "marketplaces[0].id", WORKER_LAYER);
        assert!(error.message.contains("may only contain a-z, 0-9"), "{error}");

        assert!("a-b_c.9".parse::<MarketplaceId>().is_ok());
        assert!("x".repeat(64).parse::<MarketplaceId>().is_ok());
        for bad in ["", "..", ".hidden", "UPPER", "with space", "a/b", &"x".repeat(65)] {
            assert!(bad.parse::<MarketplaceId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_provider_is_refused_for_a_public_url() {
        let errors = fails("", &[("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com")]);
        // The offending value is the provider, which here comes from the defaults.
        let error = error_at(&errors, "auth.provider", DEFAULTS_LAYER);
        assert_eq!(
            error.message,
            "the local provider is for development only and is refused for the public URL \
             https://skills.example.com/; configure github, oidc, google or auth0"
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn no_marketplaces() {
        let errors = fails("", &[("SKILLPORT_MARKETPLACES", "[]")]);
        error_at(&errors, "marketplaces", WORKER_LAYER);

        let defaults = DEFAULT_TOML.split("[[marketplaces]]").next().unwrap();
        let errors = load(defaults, "", &BTreeMap::new()).unwrap_err().0;
        error_at(&errors, "marketplaces", DEFAULTS_LAYER);
    }

    #[test]
    fn missing_required_keys_are_reported_by_key() {
        let errors = load("", "", &BTreeMap::new()).unwrap_err().0;
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        for key in [
            "server.public_url",
            "server.name",
            "server.max_body_bytes",
            "catalogue.surfaces",
            "marketplaces",
            "auth.provider",
            "access.default",
        ] {
            assert!(keys.contains(&key), "no error at {key}: {errors:#?}");
        }
    }

    #[test]
    fn other_marketplace_and_rule_mistakes() {
        let admin = r#"
            [[marketplaces]]
            id = "a"
            kind = "bundled"
            location = "../etc"
            token_secret = "T"
            [[marketplaces]]
            id = "b"
            kind = "https"
            location = "https://example.com/m.json"
            ref = "main"
            [[access.rules]]
            effect = "allow"
            marketplace = "nope"
            emails = ["not-an-email"]
            [[access.rules]]
            domains = ["a@b.com"]
        "#;
        let errors = fails(admin, &[("T", "t")]);
        error_at(&errors, "marketplaces[0].location", ADMIN_LAYER);
        error_at(&errors, "marketplaces[0].token_secret", ADMIN_LAYER);
        error_at(&errors, "marketplaces[1].ref", ADMIN_LAYER);
        error_at(&errors, "access.rules[0].marketplace", ADMIN_LAYER);
        error_at(&errors, "access.rules[0].emails[0]", ADMIN_LAYER);
        error_at(&errors, "access.rules[1].effect", ADMIN_LAYER);
        error_at(&errors, "access.rules[1].domains[0]", ADMIN_LAYER);
        assert_eq!(errors.len(), 7, "{errors:#?}");
    }

    #[test]
    fn admins_are_parsed_validated_and_summarised() {
        let config = ok(
            r#"
            [access.admins]
            emails = ["Ops@Example.com"]
            domains = ["Example.com"]
            groups = ["skillport-admins"]
            "#,
            &[("SKILLPORT_ACCESS__ADMINS__TEAMS", r#"["acme/ops"]"#)],
        );
        assert_eq!(
            config.access.admins,
            Admins {
                emails: vec!["ops@example.com".into()],
                domains: vec!["example.com".into()],
                orgs: vec![],
                teams: vec!["acme/ops".into()],
                groups: vec!["skillport-admins".into()],
            }
        );
        let line = config.describe();
        assert!(line.contains("admins: 1 email, 1 domain, 1 team, 1 group;"), "{line}");
        assert!(!line.contains("ops@example.com"), "the log counts admins, never names them");
        assert!(ok("", &[]).describe().contains("admins: the development user;"));

        let errors = fails(
            r#"
            [access.admins]
            emails = ["not-an-email"]
            domains = ["a@b.com"]
            "#,
            &[],
        );
        error_at(&errors, "access.admins.emails[0]", ADMIN_LAYER);
        error_at(&errors, "access.admins.domains[0]", ADMIN_LAYER);
        let errors = fails("[access.admins]\nroles = [\"x\"]", &[]);
        assert!(error_at(&errors, "access.admins.roles", ADMIN_LAYER).message.contains("emails, domains, orgs"));
        let errors = fails("", &[("SKILLPORT_ACCESS__ADMINS", r#"["ops@example.com"]"#)]);
        assert!(error_at(&errors, "access.admins", WORKER_LAYER).message.contains("[access.admins]"), "{errors:#?}");
    }

    #[test]
    fn errors_display_one_per_line() {
        let errors = load("", "", &BTreeMap::new()).unwrap_err();
        assert_eq!(errors.to_string().lines().count(), errors.0.len());
    }

    #[test]
    fn describe_is_one_secret_free_line() {
        let admin = format!(
            "{GITHUB_AUTH}\norg = \"acme\"\n[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\n\
             location = \"acme/tools\"\nref = \"main\"\ntoken_secret = \"GITHUB_TOKEN\""
        );
        let config = ok(&admin, &[("GITHUB_TOKEN", "tok-value"), ("GITHUB_CLIENT_SECRET", "cs-value")]);
        let line = config.describe();
        assert!(!line.contains('\n'));
        assert!(!line.contains("tok-value") && !line.contains("cs-value"), "{line}");
        assert!(line.contains("auth github (org acme)"), "{line}");
        assert!(line.contains("tools (github acme/tools@main, token from GITHUB_TOKEN)"), "{line}");
        assert!(line.contains("admins: none (/status refuses everyone);"), "{line}");
    }
    // --- download links ----------------------------------------------------------------------------------------------

    #[test]
    fn local_needs_no_download_key() {
        let config = ok("", &[]);
        assert!(config.server.download_key.is_none() && config.server.download_key_secret.is_none());
        assert_eq!(config.server.download_ttl_seconds, 900);
        let config = ok("[server]\ndownload_ttl_seconds = 60", &[]);
        assert_eq!(config.server.download_ttl_seconds, 60);
    }

    #[test]
    fn download_key_is_resolved_from_its_secret() {
        let config = ok(GITHUB_AUTH, &[("GITHUB_CLIENT_SECRET", "x")]);
        assert_eq!(config.server.download_key_secret.as_deref(), Some("DOWNLOAD_KEY"));
        assert_eq!(config.server.download_key.as_ref().map(Secret::expose), Some(DOWNLOAD_KEY_VALUE));
        for printed in [config.describe(), format!("{config:?}")] {
            assert!(!printed.contains(DOWNLOAD_KEY_VALUE), "download key printed in: {printed}");
        }
        // A Worker var names it as well as the file does.
        let config =
            ok("", &[("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DL"), ("DL", "an-env-key-an-env-key-an-env-key-42")]);
        assert_eq!(
            config.server.download_key.as_ref().map(Secret::expose),
            Some("an-env-key-an-env-key-an-env-key-42")
        );
    }

    #[test]
    fn download_key_is_derived_from_the_master_key_when_not_set() {
        let without = GITHUB_AUTH.replace("download_key_secret = \"DOWNLOAD_KEY\"", "");
        let derived = ok(&without, &[("GITHUB_CLIENT_SECRET", "x")]).server.download_key.unwrap();
        assert_eq!(derived.expose().len(), 64);
        assert_ne!(derived.expose(), DOWNLOAD_KEY_VALUE);
        let again = ok(&without, &[("GITHUB_CLIENT_SECRET", "x")]).server.download_key.unwrap();
        assert_eq!(derived.expose(), again.expose(), "stable across isolates");
        let other =
            ok(&without, &[("GITHUB_CLIENT_SECRET", "x"), ("OAUTH_KEY", "another-master-key-0123456789abcdef")]);
        assert_ne!(other.server.download_key.unwrap().expose(), derived.expose());

        // Without either key, both are reported.
        let errors = fails(
            "",
            &[
                ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
                ("SKILLPORT_AUTH", r#"{provider="github",client_id="x",client_secret_secret="GH"}"#),
                ("GH", "s"),
            ],
        );
        error_at(&errors, "server.download_key_secret", WORKER_LAYER);
        error_at(&errors, "auth.master_key_secret", WORKER_LAYER);
    }

    #[test]
    fn download_key_secret_must_be_set_and_long_enough() {
        let errors = fails("[server]\ndownload_key_secret = \"NOPE\"", &[]);
        let error = error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
        assert_eq!(error.message, "names the secret `NOPE`, which is not set; add it with `wrangler secret put NOPE`");

        let errors = fails("[server]\ndownload_key_secret = \"SHORT\"", &[("SHORT", "tooshort-value")]);
        let error = error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
        assert!(error.message.contains("shorter than 32 characters"), "{error}");
        let shown = ConfigErrors(errors.clone()).to_string();
        assert!(!shown.contains("tooshort-value"), "{shown}");

        let errors = fails("[server]\ndownload_key_secret = \"\"", &[]);
        error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
    }

    #[test]
    fn download_ttl_is_bounded() {
        let errors = fails("", &[("SKILLPORT_SERVER__DOWNLOAD_TTL_SECONDS", "0")]);
        assert_eq!(error_at(&errors, "server.download_ttl_seconds", WORKER_LAYER).message, "must be greater than 0");
        let errors = fails("[server]\ndownload_ttl_seconds = 86401", &[]);
        assert!(error_at(&errors, "server.download_ttl_seconds", ADMIN_LAYER).message.contains("at most 86400"));
    }

    #[test]
    fn grant_store_sweep_interval() {
        assert_eq!(ok("", &[]).tokens.sweep_seconds, 3600);
        assert_eq!(ok("", &[("SKILLPORT_AUTH__SWEEP_SECONDS", "1")]).tokens.sweep_seconds, 1);
        let errors = fails("[auth]\nsweep_seconds = 0", &[]);
        assert!(error_at(&errors, "auth.sweep_seconds", ADMIN_LAYER).message.contains("between 1 and 86400"));
        let errors = fails("", &[("SKILLPORT_AUTH__SWEEP_SECONDS", "86401")]);
        error_at(&errors, "auth.sweep_seconds", WORKER_LAYER);
    }

    #[test]
    fn client_limits() {
        let config = ok("", &[]);
        assert_eq!(
            (
                config.tokens.max_clients,
                config.tokens.new_clients_per_address_per_hour,
                config.tokens.new_clients_per_hour
            ),
            (10_000, 300, 3_000)
        );
        assert_eq!(ok("", &[("SKILLPORT_AUTH__MAX_CLIENTS", "5")]).tokens.max_clients, 5);
        let errors = fails("[auth]\nmax_clients = 0", &[]);
        assert!(error_at(&errors, "auth.max_clients", ADMIN_LAYER).message.contains("between 1 and 1000000"));
        let errors = fails("", &[("SKILLPORT_AUTH__NEW_CLIENTS_PER_HOUR", "0")]);
        error_at(&errors, "auth.new_clients_per_hour", WORKER_LAYER);
        assert_eq!(config.tokens.unused_client_seconds, 86_400);
        let errors = fails("[auth]\nunused_client_seconds = 0", &[]);
        assert!(error_at(&errors, "auth.unused_client_seconds", ADMIN_LAYER).message.contains("between 1 and"));
    }

    #[test]
    fn sse_backlog_is_bounded() {
        let config = ok("", &[("SKILLPORT_SERVER__SSE_BACKLOG_BYTES", "65536")]);
        assert_eq!(config.server.sse_backlog_bytes, 65_536);
        let errors = fails("", &[("SKILLPORT_SERVER__SSE_BACKLOG_BYTES", "0")]);
        assert_eq!(error_at(&errors, "server.sse_backlog_bytes", WORKER_LAYER).message, "must be greater than 0");
        let errors = fails("[server]\nsse_backlog_bytes = 67108865", &[]);
        assert!(error_at(&errors, "server.sse_backlog_bytes", ADMIN_LAYER).message.contains("at most 67108864"));
    }

    #[test]
    fn webhook_secret_names_a_secret_of_a_fetched_marketplace() {
        const KEY: &str = "0123456789abcdef0123";
        let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                     webhook_secret = \"HOOK_KEY\"";
        let config = load(DEFAULT_TOML, admin, &env(&[("HOOK_KEY", KEY)])).unwrap_or_else(|e| panic!("{e}"));
        let m = &config.marketplaces[0];
        assert_eq!(
            (m.webhook_secret.as_deref(), m.webhook_key.as_ref().map(|k| k.expose())),
            (Some("HOOK_KEY"), Some(KEY))
        );
        assert!(m.describe().contains("webhooks signed with HOOK_KEY") && !m.describe().contains(KEY));
        // Missing, too short, or on a bundled marketplace: errors at the key.
        let errors = load(DEFAULT_TOML, admin, &env(&[])).unwrap_err();
        assert!(error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER).message.contains("not set"));
        let errors = load(DEFAULT_TOML, admin, &env(&[("HOOK_KEY", "tiny1")])).unwrap_err();
        let short = error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER);
        assert!(short.message.contains("shorter than 16"), "{}", short.message);
        let bundled = "[[marketplaces]]\nid = \"ex\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\
                       webhook_secret = \"HOOK_KEY\"";
        let errors = load(DEFAULT_TOML, bundled, &env(&[("HOOK_KEY", KEY)])).unwrap_err();
        assert!(error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER).message.contains("no webhook"));
    }
}
