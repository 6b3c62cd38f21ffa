//! The `google` provider: OpenID Connect against `https://accounts.google.com`, plus the Workspace domain rule.
//!
//! Google's `hd` claim names the Google Workspace domain of the account (absent for consumer accounts). The `hd`
//! authorization parameter sent in [`IdentityProvider::start`] only narrows the account chooser; anyone can edit it
//! out of the URL, so the rule is enforced on the validated ID token's `hd` in [`IdentityProvider::finish`].
//! A verified email is always required.

use crate::oidc::{ClientAuth, OidcProvider, OidcSettings};
use crate::{CallbackParams, ClientId, HttpClient, Identity, IdentityProvider, ProviderError, Secret, SignInStart};

/// Google's issuer, as its discovery document states it.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// Plain settings for Google sign-in.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub client_id: ClientId,
    pub client_secret: Secret,
    /// Scopes to request (`openid` is always requested); empty means `openid email profile`.
    pub scopes: Vec<String>,
    /// Workspace domains (`hd`) allowed to sign in. Empty allows every Google account, consumer ones included.
    pub allowed_domains: Vec<String>,
    /// Another issuer speaking Google's protocol (a local test provider, a proxy); [`GOOGLE_ISSUER`] when `None`.
    pub issuer: Option<String>,
}

impl GoogleSettings {
    pub fn new(client_id: ClientId, client_secret: Secret, allowed_domains: Vec<String>) -> Self {
        GoogleSettings { client_id, client_secret, scopes: Vec::new(), allowed_domains, issuer: None }
    }
}

pub struct GoogleProvider {
    inner: OidcProvider,
    allowed_domains: Vec<String>,
}

impl GoogleProvider {
    pub fn new(settings: GoogleSettings) -> Result<Self, ProviderError> {
        let issuer = settings.issuer.unwrap_or_else(|| GOOGLE_ISSUER.to_owned());
        let mut oidc = OidcSettings::new(issuer, settings.client_id, Some(settings.client_secret));
        if !settings.scopes.is_empty() {
            oidc.scopes = settings.scopes;
        }
        oidc.client_auth = ClientAuth::Basic;
        oidc.require_verified_email = true;
        // The domain rule is on `hd`, below, not on the email's domain.
        oidc.allowed_domains = Vec::new();
        // Google documents `accounts.google.com` as a second `iss` for ID tokens; `openidconnect` cannot parse a
        // scheme-less issuer, and the code flow's tokens carry `https://accounts.google.com`, so only that is
        // accepted.
        let mut inner = OidcProvider::with_kind("google", oidc)?;
        // A hint for the account chooser: one domain by name, several as `*` (any Workspace account).
        match settings.allowed_domains.as_slice() {
            [] => {}
            [one] => inner = inner.add_authorize_param("hd", one),
            _ => inner = inner.add_authorize_param("hd", "*"),
        }
        Ok(GoogleProvider { inner, allowed_domains: settings.allowed_domains })
    }
}

#[async_trait::async_trait(?Send)]
impl IdentityProvider for GoogleProvider {
    fn kind(&self) -> &'static str {
        "google"
    }

    async fn start(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        self.inner.start_oidc(client, redirect_uri, state).await
    }

    async fn finish(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Identity, ProviderError> {
        let verified = self.inner.verify(client, callback, kept, redirect_uri, now).await?;
        let hd = verified.id_token_claims.get("hd").and_then(|v| v.as_str()).map(str::to_ascii_lowercase);
        if !self.allowed_domains.is_empty() {
            match &hd {
                Some(hd) if self.allowed_domains.iter().any(|d| d.eq_ignore_ascii_case(hd)) => {}
                Some(hd) => {
                    return Err(ProviderError::Rejected(format!(
                        "the Google Workspace domain `{hd}` is not allowed to sign in"
                    )))
                }
                None => {
                    return Err(ProviderError::Rejected(
                        "only Google Workspace accounts of allowed domains may sign in; this account has none".into(),
                    ))
                }
            }
        }
        let mut identity = verified.identity;
        if hd.is_some() {
            identity.domain = hd;
        }
        Ok(identity)
    }
}
