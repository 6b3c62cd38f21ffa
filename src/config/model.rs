//! The validated configuration: what the rest of the Worker reads, each value already checked and every secret
//! resolved. Built only by `validate`; nothing here reads the layers or reports errors.

use serde::{Deserialize, Serialize};
use skillport_providers::local::LocalUser;
use skillport_sources::Layout;
use std::fmt;
use url::Url;

use super::names::{MarketplaceId, ProviderKind, SourceKind, Surface};
use super::Secret;

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
    /// Which provider this is: what code compares.
    pub fn provider(&self) -> ProviderKind {
        match self {
            AuthConfig::Local { .. } => ProviderKind::Local,
            AuthConfig::Github { .. } => ProviderKind::Github,
            AuthConfig::Oidc { .. } => ProviderKind::Oidc,
            AuthConfig::Google { .. } => ProviderKind::Google,
            AuthConfig::Auth0 { .. } => ProviderKind::Auth0,
        }
    }

    /// The provider's name as written in `auth.provider`: what pages and messages print.
    pub fn kind(&self) -> &'static str {
        self.provider().as_str()
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
