//! The `auth0` provider: OpenID Connect against an Auth0 tenant (`https://<domain>/`).
//!
//! Auth0 puts roles and groups in the ID token only through an Action, under namespaced claims (Auth0 refuses
//! non-namespaced custom claims), e.g. `https://skillport.example.com/roles`; both claims named here feed
//! [`Identity::groups`]. Auth0 applications default to `client_secret_post` at the token endpoint.

use crate::oidc::{ClientAuth, OidcProvider, OidcSettings};
use crate::{CallbackParams, ClientId, HttpClient, Identity, IdentityProvider, ProviderError, Secret, SignInStart};

/// Plain settings for an Auth0 tenant.
#[derive(Debug, Clone)]
pub struct Auth0Settings {
    /// The tenant or custom domain, e.g. `example.eu.auth0.com` (a scheme or trailing slash is tolerated).
    pub domain: String,
    pub client_id: ClientId,
    pub client_secret: Secret,
    /// Scopes to request (`openid` is always requested); empty means `openid email profile`.
    pub scopes: Vec<String>,
    /// Claim path of the roles, e.g. `https://skillport.example.com/roles`.
    pub roles_claim: Option<String>,
    /// Claim path of the groups, e.g. `https://skillport.example.com/groups`.
    pub groups_claim: Option<String>,
    /// When not empty, only verified emails in these domains may sign in.
    pub allowed_domains: Vec<String>,
    pub require_verified_email: bool,
    pub client_auth: ClientAuth,
    /// The issuer when it is not `https://<domain>/` (a local test provider).
    pub issuer_override: Option<String>,
}

impl Auth0Settings {
    pub fn new(domain: impl Into<String>, client_id: ClientId, client_secret: Secret) -> Self {
        Auth0Settings {
            domain: domain.into(),
            client_id,
            client_secret,
            scopes: Vec::new(),
            roles_claim: None,
            groups_claim: None,
            allowed_domains: Vec::new(),
            require_verified_email: true,
            client_auth: ClientAuth::Post,
            issuer_override: None,
        }
    }

    /// The issuer Auth0 states for this domain: `https://<domain>/`, trailing slash included.
    pub fn issuer(&self) -> String {
        let host = self.domain.trim();
        let host = host.strip_prefix("https://").unwrap_or(host);
        format!("https://{}/", host.trim_end_matches('/'))
    }
}

pub struct Auth0Provider {
    inner: OidcProvider,
}

impl Auth0Provider {
    pub fn new(settings: Auth0Settings) -> Result<Self, ProviderError> {
        let issuer = settings.issuer_override.clone().unwrap_or_else(|| settings.issuer());
        let mut oidc = OidcSettings::new(issuer, settings.client_id, Some(settings.client_secret));
        if !settings.scopes.is_empty() {
            oidc.scopes = settings.scopes;
        }
        oidc.client_auth = settings.client_auth;
        oidc.groups_claims = settings.roles_claim.into_iter().chain(settings.groups_claim).collect();
        oidc.allowed_domains = settings.allowed_domains;
        oidc.require_verified_email = settings.require_verified_email;
        Ok(Auth0Provider { inner: OidcProvider::with_kind("auth0", oidc)? })
    }
}

#[async_trait::async_trait(?Send)]
impl IdentityProvider for Auth0Provider {
    fn kind(&self) -> &'static str {
        "auth0"
    }

    async fn start(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        self.inner.start(client, redirect_uri, state).await
    }

    async fn finish(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Identity, ProviderError> {
        self.inner.finish(client, callback, kept, redirect_uri, now).await
    }
}
