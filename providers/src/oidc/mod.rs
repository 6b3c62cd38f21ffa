//! The `oidc` provider: any OpenID Connect provider, with `openidconnect`'s rules and types.
//!
//! Discovery reads `<issuer>/.well-known/openid-configuration` and the JWKS once per isolate (both are cached in the
//! provider; the JWKS is fetched again, once, when an ID token names a key it does not hold, which is how key
//! rotation shows). Sign-in is the authorization code flow with PKCE S256 and a nonce; the ID token is validated
//! (signature from the JWKS, issuer, audience, nonce, expiry with [`LEEWAY_SECS`] of clock skew) before anything in
//! it is believed; then userinfo is read when the provider publishes an endpoint. Claims map to [`Identity`]; groups
//! come from configured claim paths ([`claim_strings`]).
//!
//! [`crate::google`] and [`crate::auth0`] are this provider with their own rules on top. HTTP goes through the
//! `skillport-http` seam (`seam`). `openidconnect` supplies the key, algorithm and URL types and the PKCE challenge;
//! the authorization URL is written, and the answers (discovery, key set, token, ID token, userinfo) are read and
//! checked, here, with its rules, into plain structs (see `jwt` for why).
//!
//! One file per stage: this one holds the settings, the provider and the start of a sign-in; `discovery` the
//! provider's documents and keys, `callback` the code exchange and userinfo, `jwt` the checks of the ID token (and
//! of a signed userinfo answer), `claims` the reading of claim paths, and `seam` the HTTP requests.

use std::cell::RefCell;
use std::rc::Rc;

use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{AuthUrl, IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl, RedirectUrl, TokenUrl, UserInfoUrl};
use serde_json::{Map, Value};

mod callback;
mod claims;
mod discovery;
mod jwt;
mod seam;

pub use claims::claim_strings;

use crate::jws::Jwk;
use crate::{
    check_domain, CallbackParams, ClientId, HttpClient, Identity, IdentityProvider, ProviderError, Secret, SignInStart,
};

/// Clock skew tolerated on `exp` (and on an `iat` in the future), in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic (the OAuth default).
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// Plain settings for one OpenID Connect provider; the worker maps its configuration to these.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer exactly as the provider's discovery document states it (`https://idp.example.com/realms/x`).
    pub issuer: String,
    pub client_id: ClientId,
    /// `None` for a public client (PKCE only).
    pub client_secret: Option<Secret>,
    pub client_auth: ClientAuth,
    /// Scopes to request; `openid` is always requested.
    pub scopes: Vec<String>,
    /// Claim paths whose string (or array of strings) values become [`Identity::groups`], e.g. `groups` or
    /// `https://example.com/roles`: an exact key first, else a dotted path into nested objects.
    pub groups_claims: Vec<String>,
    /// When not empty, only users whose verified email is in one of these domains may sign in.
    pub allowed_domains: Vec<String>,
    /// Refuse users whose email the provider does not vouch for (`email_verified` true).
    pub require_verified_email: bool,
}

impl OidcSettings {
    /// Settings with the defaults: scopes `openid email profile`, Basic client auth, verified email required, no
    /// group claim, every domain allowed.
    pub fn new(issuer: impl Into<String>, client_id: ClientId, client_secret: Option<Secret>) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            client_id,
            client_secret,
            client_auth: ClientAuth::Basic,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            groups_claims: Vec::new(),
            allowed_domains: Vec::new(),
            require_verified_email: true,
        }
    }
}

/// What sign-in keeps of the provider's discovery document, and its key set. (`openidconnect`'s `ProviderMetadata`
/// holds all ~30 members of the document; each copy and clone of it weighed in the Worker's wasm.)
#[derive(Clone)]
pub(crate) struct ProviderMetadata {
    authorization_endpoint: AuthUrl,
    token_endpoint: Option<TokenUrl>,
    userinfo_endpoint: Option<UserInfoUrl>,
    jwks_uri: JsonWebKeySetUrl,
    jwks: JsonWebKeySet<Jwk>,
}

impl ProviderMetadata {
    pub(crate) fn token_endpoint(&self) -> Option<&TokenUrl> {
        self.token_endpoint.as_ref()
    }

    pub(crate) fn userinfo_endpoint(&self) -> Option<&UserInfoUrl> {
        self.userinfo_endpoint.as_ref()
    }

    pub(crate) fn jwks(&self) -> &JsonWebKeySet<Jwk> {
        &self.jwks
    }
}

/// The signature algorithms accepted on ID tokens: asymmetric only (a shared-secret HS256 token proves nothing the
/// client secret does not already).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A user checked by an OpenID Connect provider, before provider-specific rules: the identity and the validated ID
/// token's claims (which [`crate::google`] reads `hd` from).
pub(crate) struct Verified {
    pub identity: Identity,
    pub id_token_claims: Map<String, Value>,
}

/// A generic OpenID Connect provider. Holds the discovery document and JWKS for the life of the isolate: keep one
/// per configured provider, not one per request. Not `Sync` (interior cache); Workers isolates are single-threaded.
pub struct OidcProvider {
    kind: &'static str,
    issuer: IssuerUrl,
    settings: OidcSettings,
    /// Extra authorization request parameters (Google's `hd` hint).
    extra_params: Vec<(String, String)>,
    metadata: RefCell<Option<Rc<ProviderMetadata>>>,
}

impl OidcProvider {
    /// A generic provider (`kind` `oidc`). Fails on an issuer that is not an `https` URL (plain `http` is accepted
    /// only for loopback hosts, for local test providers).
    pub fn new(settings: OidcSettings) -> Result<Self, ProviderError> {
        Self::with_kind("oidc", settings)
    }

    pub(crate) fn with_kind(kind: &'static str, settings: OidcSettings) -> Result<Self, ProviderError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|_| ProviderError::Misconfigured(format!("the issuer `{}` is not a URL", settings.issuer)))?;
        let url = issuer.url();
        let loopback = url.host_str().is_some_and(crate::local::is_loopback_host);
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(ProviderError::Misconfigured(format!("the issuer `{}` must be an https URL", settings.issuer)));
        }
        if settings.client_id.is_empty() {
            return Err(ProviderError::Misconfigured("the client id is empty".into()));
        }
        Ok(OidcProvider { kind, issuer, settings, extra_params: Vec::new(), metadata: RefCell::new(None) })
    }

    pub(crate) fn add_authorize_param(mut self, name: &str, value: &str) -> Self {
        self.extra_params.push((name.to_string(), value.to_string()));
        self
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The authorization request: the code flow with PKCE S256, the nonce and the scopes, as `openidconnect`'s
    /// `authorize_url` wrote it (the same parameters in the same order: `response_type`, `client_id`, `state`,
    /// `code_challenge`, `code_challenge_method`, `redirect_uri`, `scope` with `openid` first, then the provider's
    /// extra parameters and the `nonce`), appended to any query the endpoint already has.
    pub(crate) async fn start_oidc(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        let metadata = self.metadata(client).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|_| ProviderError::Misconfigured("the redirect URI is not a URL".into()))?;
        let (challenge, verifier) = crate::new_pkce();
        // 16 random bytes, base64url: as `Nonce::new_random` makes it (see `crate::new_pkce` for why not with it).
        let nonce = crate::random_base64url(16);
        let scopes = std::iter::once("openid")
            .chain(self.settings.scopes.iter().map(String::as_str).filter(|s| *s != "openid" && !s.is_empty()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut url = metadata.authorization_endpoint.url().clone();
        url.query_pairs_mut()
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", self.settings.client_id.as_str()),
                ("state", state),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("redirect_uri", redirect.as_str()),
                ("scope", &scopes),
            ])
            .extend_pairs(self.extra_params.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .append_pair("nonce", &nonce);
        Ok(SignInStart {
            authorize_url: url.to_string(),
            state: state.to_string(),
            pkce_verifier: Secret::new(verifier.secret().clone()),
            nonce: Some(Secret::new(nonce)),
        })
    }
}

#[async_trait::async_trait(?Send)]
impl IdentityProvider for OidcProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn start(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        self.start_oidc(client, redirect_uri, state).await
    }

    async fn finish(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Identity, ProviderError> {
        let verified = self.verify(client, callback, kept, redirect_uri, now).await?;
        check_domain(verified.identity.domain.as_deref(), &self.settings.allowed_domains)?;
        Ok(verified.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_https() {
        let id = ClientId::new("c".into());
        assert!(OidcProvider::new(OidcSettings::new("http://idp.example.com", id.clone(), None)).is_err());
        assert!(OidcProvider::new(OidcSettings::new("not a url", id.clone(), None)).is_err());
        assert!(OidcProvider::new(OidcSettings::new("http://127.0.0.1:9000", id.clone(), None)).is_ok());
        assert!(OidcProvider::new(OidcSettings::new("https://idp.example.com", ClientId::new(String::new()), None))
            .is_err());
    }
}
