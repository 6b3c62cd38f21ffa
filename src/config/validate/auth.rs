//! `[auth]`: the identity provider chosen by `auth.provider` with that provider's settings, and the OAuth server's own
//! master key, lifetimes and client limits, read from the same table.

use skillport_providers::local::is_loopback_host;
use url::Url;

use super::Loader;
use crate::config::model::{AuthConfig, TokenConfig};
use crate::config::names::ProviderKind;
use crate::config::raw::{KeyPath, RawAuth, Text};
use crate::config::values::{check_auth0_domain, check_between, check_domain, check_signing_key};

/// Scopes an `oidc` provider asks for when the admin names none.
const DEFAULT_OIDC_SCOPES: [&str; 3] = ["openid", "email", "profile"];

impl Loader<'_> {
    pub(super) fn auth(&mut self, public_url: Option<&Url>) -> Option<AuthConfig> {
        let path = KeyPath::default().key("auth");
        let raw: RawAuth = self.section("auth")?;
        let provider_path = path.key("provider");
        let provider = self.required_text(&provider_path, raw.provider)?;
        let before = self.errors.len();
        let auth = match ProviderKind::parse(&provider) {
            Some(ProviderKind::Local) => {
                if let Some(url) = public_url {
                    if !url.host_str().is_some_and(is_loopback_host) {
                        self.fail(
                            &provider_path,
                            format!(
                                "the local provider is for development only and is refused for the public URL {url}; \
                                 configure {}",
                                ProviderKind::upstream_names()
                            ),
                        );
                    }
                }
                AuthConfig::Local { user: raw.user.unwrap_or_default(), open: raw.open.unwrap_or(false) }
            }
            Some(ProviderKind::Github) => {
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
            Some(ProviderKind::Oidc) => {
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
            Some(ProviderKind::Google) => {
                let client_id = self.required_text(&path.key("client_id"), raw.client_id);
                let client_secret = self.client_secret(&path, raw.client_secret_secret);
                let allowed_domains =
                    self.checked_list(&path.key("allowed_domains"), raw.allowed_domains, check_domain);
                let issuer = self.issuer_override(&path, raw.issuer);
                AuthConfig::Google { client_id: client_id?, client_secret: client_secret?, allowed_domains, issuer }
            }
            Some(ProviderKind::Auth0) => {
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
            None => {
                let kinds: Vec<&str> = ProviderKind::ALL.into_iter().map(ProviderKind::as_str).collect();
                self.fail(
                    &provider_path,
                    format!("unknown provider kind `{provider}`; expected one of {}", kinds.join(", ")),
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
    pub(super) fn tokens(&mut self, auth: Option<&AuthConfig>) -> Option<TokenConfig> {
        let path = KeyPath::default().key("auth");
        let raw: RawAuth = self.section("auth")?;
        let provider: Option<ProviderKind> = match auth {
            Some(a) => Some(a.provider()),
            None => raw.provider.as_ref().and_then(|t| ProviderKind::parse(&t.0)),
        };
        let before = self.errors.len();
        let key_path = path.key("master_key_secret");
        let master_key_secret = self.optional_text(&key_path, raw.master_key_secret);
        let mut master_key = None;
        match &master_key_secret {
            Some(name) => {
                master_key = self.secret(&key_path, name);
                if let Some(key) = &master_key {
                    self.check(&key_path, check_signing_key(name, key));
                }
            }
            None => match provider {
                // An unknown provider is reported as such; asking it for a key would only add noise.
                None | Some(ProviderKind::Local) => {}
                Some(kind) => self.fail(
                    &key_path,
                    format!(
                        "required with the `{kind}` provider: it protects sign-in state and consent; create one with \
                         `openssl rand -base64 32 | wrangler secret put OAUTH_KEY` and set this key to \"OAUTH_KEY\"",
                    ),
                ),
            },
        }
        let ttl = |this: &mut Self, key: &str, value: Option<u64>, max: u64| {
            this.required_number(&path.key(key), value, |n| check_between(n, 1, max, " seconds"))
        };
        let code = ttl(self, "code_ttl_seconds", raw.code_ttl_seconds, 600);
        let access = ttl(self, "access_ttl_seconds", raw.access_ttl_seconds, 86_400);
        let refresh = ttl(self, "refresh_ttl_seconds", raw.refresh_ttl_seconds, 365 * 86_400);
        let sweep = ttl(self, "sweep_seconds", raw.sweep_seconds, 86_400);
        let count = |this: &mut Self, key: &str, value: Option<u64>, max: u64| {
            this.required_number(&path.key(key), value, |n| check_between(n, 1, max, ""))
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
}
