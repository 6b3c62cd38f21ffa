//! The sign-in setup of one deployment, built once per isolate from the configuration: the identity provider
//! (`[auth] provider`), the OAuth server's keys (from the `master_key_secret` Worker secret) and token lifetimes.
//!
//! Adding a provider is one file in `providers/` plus one configuration variant: a `ProviderKind` variant
//! (`config/names.rs`), from which the compiler leads to the `AuthConfig` variant (`config/model.rs`), its validation
//! arm (`config/validate/auth.rs`) and one arm here; new keys go in `RawAuth` (`config/raw.rs`). ARCHITECTURE.md has
//! the whole recipe.

use skillport_providers::auth0::{Auth0Provider, Auth0Settings};
use skillport_providers::github::{GitHubProvider, GitHubSettings};
use skillport_providers::google::{GoogleProvider, GoogleSettings};
use skillport_providers::local::LocalProvider;
use skillport_providers::oidc::{OidcProvider, OidcSettings};
use skillport_providers::{ClientId, IdentityProvider, ProviderError};

use crate::config::{AuthConfig, Config};
use crate::oauth::flow::Upstream;
use crate::oauth::{ServerKeys, TokenSettings};

/// The key `local` derives its OAuth keys from. It is public, which is fine only because `local` is refused for any
/// non-loopback deployment: whoever can reach the server is already on the machine.
const LOCAL_DEVELOPMENT_KEY: &[u8] = b"skillport local development key: loopback deployments only";

/// Who signs users in.
pub enum Provider {
    Local(LocalProvider),
    Remote(Box<dyn IdentityProvider>),
}

pub struct SignInSetup {
    pub provider: Provider,
    pub keys: ServerKeys,
    pub settings: TokenSettings,
}

impl SignInSetup {
    pub fn upstream(&self) -> Upstream<'_> {
        match &self.provider {
            Provider::Local(l) => Upstream::Local(l),
            Provider::Remote(p) => Upstream::Provider(p.as_ref()),
        }
    }
}

/// Builds the provider and keys `cfg` asks for. Fails only on settings the configuration check cannot see (the
/// provider's own validation of its URLs); the message names no secret.
pub fn setup(cfg: &Config) -> Result<SignInSetup, ProviderError> {
    let t = &cfg.tokens;
    let settings = TokenSettings {
        code_ttl_seconds: t.code_ttl_seconds,
        access_ttl_seconds: t.access_ttl_seconds,
        refresh_ttl_seconds: t.refresh_ttl_seconds,
        clients: crate::oauth::limits::ClientLimits {
            max_clients: t.max_clients,
            per_address_per_hour: t.new_clients_per_address_per_hour,
            per_hour: t.new_clients_per_hour,
            unused_seconds: t.unused_client_seconds,
        },
    };
    let keys = match (&cfg.auth, &t.master_key) {
        (_, Some(key)) => ServerKeys::derive(key.expose().as_bytes()),
        (AuthConfig::Local { .. }, None) => ServerKeys::derive(LOCAL_DEVELOPMENT_KEY),
        // The configuration check requires the key for every other provider.
        (other, None) => {
            return Err(ProviderError::Misconfigured(format!(
                "the `{}` provider needs auth.master_key_secret",
                other.provider()
            )))
        }
    };
    let provider = match &cfg.auth {
        AuthConfig::Local { user, .. } => Provider::Local(LocalProvider::new(user.clone())),
        AuthConfig::Github { client_id, client_secret, api_base, web_base, org, teams } => {
            let id = ClientId::new(client_id.clone());
            let mut s = match api_base {
                None => GitHubSettings::github_com(id, client_secret.clone()),
                Some(api) => {
                    let api = api.as_str().trim_end_matches('/').to_owned();
                    let web = match web_base {
                        Some(w) => w.as_str().trim_end_matches('/').to_owned(),
                        None => api.strip_suffix("/api/v3").unwrap_or(&api).to_owned(),
                    };
                    let mut s = GitHubSettings::github_com(id, client_secret.clone());
                    s.api_base = api;
                    s.web_base = web;
                    s
                }
            };
            if let (None, Some(w)) = (api_base, web_base) {
                s.web_base = w.as_str().trim_end_matches('/').to_owned();
            }
            s.org = org.clone();
            s.teams = teams.clone();
            Provider::Remote(Box::new(GitHubProvider::new(s)?))
        }
        AuthConfig::Oidc { issuer, client_id, client_secret, scopes, groups_claim } => {
            let mut s =
                OidcSettings::new(issuer.clone(), ClientId::new(client_id.clone()), Some(client_secret.clone()));
            s.scopes = scopes.clone();
            s.groups_claims = groups_claim.iter().cloned().collect();
            Provider::Remote(Box::new(OidcProvider::new(s)?))
        }
        AuthConfig::Google { client_id, client_secret, allowed_domains, issuer } => {
            let mut s =
                GoogleSettings::new(ClientId::new(client_id.clone()), client_secret.clone(), allowed_domains.clone());
            s.issuer = issuer.clone();
            Provider::Remote(Box::new(GoogleProvider::new(s)?))
        }
        AuthConfig::Auth0 { domain, client_id, client_secret, roles_claim, groups_claim, issuer } => {
            let mut s = Auth0Settings::new(domain.clone(), ClientId::new(client_id.clone()), client_secret.clone());
            s.roles_claim = roles_claim.clone();
            s.groups_claim = groups_claim.clone();
            s.issuer_override = issuer.clone();
            Provider::Remote(Box::new(Auth0Provider::new(s)?))
        }
    };
    Ok(SignInSetup { provider, keys, settings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::config::ProviderKind;

    fn config(env: &[(&str, &str)]) -> Config {
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        crate::config::load_embedded(&env).unwrap()
    }

    const KEYS: [(&str, &str); 4] = [
        ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
        ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DL"),
        ("DL", "0123456789abcdef0123456789abcdef"),
        ("OAUTH_KEY", "fedcba9876543210fedcba9876543210"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Config {
        let mut env = KEYS.to_vec();
        env.extend_from_slice(extra);
        config(&env)
    }

    #[test]
    fn every_provider_kind_is_built_from_config() {
        assert!(matches!(setup(&config(&[])).unwrap().provider, Provider::Local(_)));
        let cases = [
            (
                ProviderKind::Github,
                r#"{provider="github",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY",org="acme"}"#,
            ),
            (
                ProviderKind::Github,
                r#"{provider="github",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY",api_base="https://ghe.example.com/api/v3"}"#,
            ),
            (
                ProviderKind::Oidc,
                r#"{provider="oidc",issuer="https://idp.example.com/realms/x",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY",groups_claim="groups"}"#,
            ),
            (
                ProviderKind::Google,
                r#"{provider="google",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY",allowed_domains=["acme.com"]}"#,
            ),
            (
                ProviderKind::Auth0,
                r#"{provider="auth0",domain="acme.eu.auth0.com",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY"}"#,
            ),
            (
                ProviderKind::Auth0,
                r#"{provider="auth0",domain="acme.eu.auth0.com",issuer="http://127.0.0.1:9000",client_id="x",client_secret_secret="S",master_key_secret="OAUTH_KEY"}"#,
            ),
        ];
        for (kind, auth) in cases {
            let cfg = with(&[("SKILLPORT_AUTH", auth), ("S", "gh-s3cr3t-value")]);
            match setup(&cfg).unwrap().provider {
                // The flow knows a provider by the name it reports, which must be the one configuration uses.
                Provider::Remote(p) => {
                    assert_eq!(p.kind(), kind.as_str());
                    assert_eq!(ProviderKind::parse(p.kind()), Some(kind));
                    assert_eq!(cfg.auth.provider(), kind);
                }
                Provider::Local(_) => panic!("{kind}"),
            }
        }
    }

    #[test]
    fn the_master_key_is_required_outside_local() {
        let env = [
            ("SKILLPORT_AUTH", r#"{provider="github",client_id="x",client_secret_secret="S"}"#),
            ("S", "gh-s3cr3t-value"),
        ];
        let mut all = KEYS.to_vec();
        all.extend_from_slice(&env);
        let env: BTreeMap<String, String> = all.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let errors = crate::config::load_embedded(&env).unwrap_err().to_string();
        assert!(errors.contains("auth.master_key_secret"), "{errors}");
    }
}
