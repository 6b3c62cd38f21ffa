//! The `oidc` provider: any OpenID Connect provider, through the `openidconnect` crate.
//!
//! Discovery reads `<issuer>/.well-known/openid-configuration` and the JWKS once per isolate (both are cached in the
//! provider; the JWKS is fetched again, once, when an ID token names a key it does not hold, which is how key
//! rotation shows). Sign-in is the authorization code flow with PKCE S256 and a nonce; the ID token is validated
//! (signature from the JWKS, issuer, audience, nonce, expiry with [`LEEWAY_SECS`] of clock skew) before anything in
//! it is believed; then userinfo is read when the provider publishes an endpoint. Claims map to [`Identity`]; groups
//! come from configured claim paths ([`claim_strings`]).
//!
//! [`crate::google`] and [`crate::auth0`] are this provider with their own rules on top. HTTP goes through the
//! `skillport-http` seam; [`Seam`] adapts it to `openidconnect`'s `AsyncHttpClient`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientSecret,
    CsrfToken, DiscoveryError, EmptyAdditionalProviderMetadata, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdTokenClaims, IdTokenFields, IdTokenVerifier, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, Nonce, OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl, RequestTokenError, ResponseTypes,
    Scope, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse, TokenUrl,
    UserInfoError, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jws::{self, Jwk};
use crate::{
    check_callback, check_domain, email_domain, oauth_code, transport, CallbackParams, ClientId, HttpClient, HttpError,
    HttpRequest, Identity, IdentityProvider, ProviderError, Secret, SignInStart,
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

/// Every claim the token or userinfo carried beyond the standard ones (groups, roles, `hd`, namespaced claims).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OtherClaims(#[serde(default)] pub Map<String, Value>);
impl AdditionalClaims for OtherClaims {}

type OidcTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// `ProviderMetadata` with [`Jwk`] keys: signatures are checked as `crate::jws` explains.
type ProviderMetadata = openidconnect::ProviderMetadata<
    EmptyAdditionalProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    Jwk,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    Jwk,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    OidcTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

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

    /// The discovery document (with its JWKS), fetched on first use and kept.
    async fn metadata(&self, client: &dyn HttpClient) -> Result<Rc<ProviderMetadata>, ProviderError> {
        if let Some(metadata) = self.metadata.borrow().as_ref() {
            return Ok(Rc::clone(metadata));
        }
        let metadata = self.discover(client).await.map_err(|e| discovery_error("discovery", e))?;
        let metadata = Rc::new(metadata);
        *self.metadata.borrow_mut() = Some(Rc::clone(&metadata));
        Ok(metadata)
    }

    /// `<issuer>/.well-known/openid-configuration`, then the JWKS it names: `ProviderMetadata::discover_async`'s steps
    /// and checks (see [`Discovery`] for the one difference), with its errors.
    async fn discover(&self, client: &dyn HttpClient) -> Result<ProviderMetadata, DiscoveryError<SeamError>> {
        let url = self.issuer.join(".well-known/openid-configuration").map_err(DiscoveryError::UrlParse)?;
        let request = openidconnect::http::Request::get(url.as_str())
            .header(openidconnect::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| DiscoveryError::Other(e.to_string()))?;
        let response = Seam::new(client).call(request).await.map_err(DiscoveryError::Request)?;
        let (status, body) = (response.status(), response.body());
        let json = response.headers().get("content-type").is_none_or(|value| {
            value.to_str().is_ok_and(|v| v[..v.find(';').unwrap_or(v.len())].eq_ignore_ascii_case("application/json"))
        });
        if status != 200 || !json {
            return Err(DiscoveryError::Response(status, body.clone(), "unexpected answer".into()));
        }
        let doc: Discovery = serde_json::from_slice(body).map_err(|e| DiscoveryError::Other(e.to_string()))?;
        if doc.issuer != self.issuer {
            return Err(DiscoveryError::Validation(format!("unexpected issuer URI `{}`", doc.issuer.as_str())));
        }
        let algs = doc.id_token_signing_alg_values_supported.into_iter().filter_map(|a| serde_json::from_value(a).ok());
        let metadata = ProviderMetadata::new(
            doc.issuer,
            doc.authorization_endpoint,
            doc.jwks_uri,
            doc.response_types_supported,
            doc.subject_types_supported,
            algs.collect(),
            EmptyAdditionalProviderMetadata {},
        )
        .set_token_endpoint(doc.token_endpoint)
        .set_userinfo_endpoint(doc.userinfo_endpoint);
        let jwks = JsonWebKeySet::<Jwk>::fetch_async(metadata.jwks_uri(), &Seam::new(client)).await?;
        Ok(metadata.set_jwks(jwks))
    }

    /// Fetches the JWKS again (a token named a key we do not hold: the provider rotated its keys).
    async fn refresh_jwks(
        &self,
        client: &dyn HttpClient,
        metadata: &ProviderMetadata,
    ) -> Result<Rc<ProviderMetadata>, ProviderError> {
        let jwks = JsonWebKeySet::<Jwk>::fetch_async(metadata.jwks_uri(), &Seam::new(client))
            .await
            .map_err(|e| discovery_error("key set", e))?;
        let metadata = Rc::new(metadata.clone().set_jwks(jwks));
        *self.metadata.borrow_mut() = Some(Rc::clone(&metadata));
        Ok(metadata)
    }

    fn client(&self, metadata: &ProviderMetadata, redirect_uri: &str) -> Result<OidcClient, ProviderError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|_| ProviderError::Misconfigured("the redirect URI is not a URL".into()))?;
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_string()));
        let auth = match self.settings.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        };
        Ok(OidcClient::from_provider_metadata(metadata.clone(), self.settings.client_id.clone(), secret)
            .set_redirect_uri(redirect)
            .set_auth_type(auth))
    }

    fn verify_id_token(
        &self,
        metadata: &ProviderMetadata,
        id_token: &openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
        now: u64,
    ) -> Result<IdTokenClaims<OtherClaims, CoreGenderClaim>, ClaimsVerificationError> {
        let checked_at = unix_time(now.saturating_sub(LEEWAY_SECS));
        let latest_iat = unix_time(now.saturating_add(LEEWAY_SECS));
        let verifier = IdTokenVerifier::new_public_client(
            self.settings.client_id.clone(),
            self.issuer.clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(move || checked_at)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > latest_iat {
                Err("issued in the future".to_string())
            } else {
                Ok(())
            }
        });
        Ok(id_token.claims(&verifier, nonce)?.clone())
    }

    /// The flow up to a checked identity, without the allowed-domain rule (Google applies its own, on `hd`).
    pub(crate) async fn verify(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Verified, ProviderError> {
        let code = check_callback(callback, kept)?;
        let nonce = Nonce::new(kept.nonce.as_ref().ok_or(ProviderError::BadState)?.expose().to_string());
        let metadata = self.metadata(client).await?;
        let oidc = self.client(&metadata, redirect_uri)?;
        let token = oidc
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .map_err(|_| ProviderError::Misconfigured("the provider publishes no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(kept.pkce_verifier.expose().to_string()))
            .request_async(&Seam::new(client))
            .await
            .map_err(token_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProviderError::InvalidToken("the token response carries no ID token".into()))?;

        // The signature is checked ahead, asynchronously (WebCrypto on Workers), for the keys the verifier may pick.
        let compact = id_token.to_string();
        jws::precheck(&compact, metadata.jwks(), &ALLOWED_ALGS).await;
        let claims = match self.verify_id_token(&metadata, id_token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let metadata = self.refresh_jwks(client, &metadata).await?;
                jws::precheck(&compact, metadata.jwks(), &ALLOWED_ALGS).await;
                self.verify_id_token(&metadata, id_token, &nonce, now)
            }
            other => other,
        }
        .map_err(id_token_error)?;
        let id_token_claims = match serde_json::to_value(&claims) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ProviderError::InvalidToken("the ID token's claims could not be read".into())),
        };

        // Userinfo fills what the ID token left out; the validated ID token wins where both speak.
        let mut merged = Map::new();
        if metadata.userinfo_endpoint().is_some() {
            let metadata = self.metadata(client).await?;
            let oidc = self.client(&metadata, redirect_uri)?;
            let request = oidc
                .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|_| ProviderError::Misconfigured("the userinfo endpoint is not usable".into()))?;
            let userinfo: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> =
                request.request_async(&Seam::with_keys(client, metadata.jwks())).await.map_err(userinfo_error)?;
            if let Ok(Value::Object(map)) = serde_json::to_value(&userinfo) {
                merged = map;
            }
        }
        merged.extend(id_token_claims.clone());

        let identity = self.identity(claims.subject().as_str(), &merged)?;
        Ok(Verified { identity, id_token_claims })
    }

    fn identity(&self, subject: &str, claims: &Map<String, Value>) -> Result<Identity, ProviderError> {
        let email = claims.get("email").and_then(Value::as_str).map(str::to_string);
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        if self.settings.require_verified_email && !(email.is_some() && email_verified) {
            return Err(ProviderError::Rejected(match email {
                Some(_) => "the email address is not verified at the identity provider".into(),
                None => "the identity provider did not share an email address".into(),
            }));
        }
        let name = claims
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| claims.get("preferred_username").and_then(Value::as_str))
            .map(str::to_string);
        let domain = if email_verified { email.as_deref().and_then(email_domain) } else { None };
        let mut groups: Vec<String> = Vec::new();
        for path in &self.settings.groups_claims {
            for group in claim_strings(claims, path) {
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }
        Ok(Identity {
            provider: self.kind.to_string(),
            subject: subject.to_string(),
            email,
            email_verified,
            name,
            domain,
            groups,
            orgs: Vec::new(),
            teams: Vec::new(),
        })
    }

    pub(crate) async fn start_oidc(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError> {
        let metadata = self.metadata(client).await?;
        let oidc = self.client(&metadata, redirect_uri)?;
        let (challenge, verifier) = crate::new_pkce();
        // 16 random bytes, base64url: as `Nonce::new_random` makes it (see `crate::new_pkce` for why not with it).
        let nonce = Nonce::new(crate::random_base64url(16));
        let (state_owned, nonce_owned) = (state.to_string(), nonce.clone());
        let mut request = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_owned),
                move || nonce_owned,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid" && !s.is_empty()) {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in &self.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, _, _) = request.url();
        Ok(SignInStart {
            authorize_url: url.to_string(),
            state: state.to_string(),
            pkce_verifier: Secret::new(verifier.secret().clone()),
            nonce: Some(Secret::new(nonce.secret().clone())),
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

/// The string values at claim `path`: the exact key first (namespaced claims such as `https://example.com/roles`
/// contain dots), else a dotted path into nested objects, trying the longest key at each level. A string gives one
/// value, an array its string elements; anything else none.
pub fn claim_strings(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    match claim_at(claims, path) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    // Longest prefix key first, so `a.b.c` prefers key `a.b` over key `a`.
    for (dot, _) in path.match_indices('.').collect::<Vec<_>>().into_iter().rev() {
        if let Some(Value::Object(inner)) = claims.get(&path[..dot]) {
            if let Some(value) = claim_at(inner, &path[dot + 1..]) {
                return Some(value);
            }
        }
    }
    None
}

fn unix_time(secs: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX / 2), 0).unwrap_or_default()
}

fn discovery_error(step: &str, error: DiscoveryError<SeamError>) -> ProviderError {
    match error {
        DiscoveryError::Request(e) => e.into_provider_error(step),
        DiscoveryError::Response(status, _, _) => {
            ProviderError::Misconfigured(format!("the provider's {step} document answered {}", status.as_u16()))
        }
        DiscoveryError::Validation(_) => {
            ProviderError::Misconfigured(format!("the provider's {step} document does not match the configured issuer"))
        }
        _ => ProviderError::Misconfigured(format!("the provider's {step} document could not be read")),
    }
}

fn token_error(error: RequestTokenError<SeamError, StandardErrorResponse<CoreErrorResponseType>>) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => {
                ProviderError::Misconfigured("the token endpoint refused the client credentials".into())
            }
            CoreErrorResponseType::InvalidGrant => ProviderError::Exchange("invalid_grant".into()),
            CoreErrorResponseType::Extension(code) => ProviderError::Exchange(oauth_code(code)),
            other => ProviderError::Exchange(oauth_code(other.as_ref())),
        },
        RequestTokenError::Request(e) => e.into_provider_error("token endpoint"),
        RequestTokenError::Parse(_, _) => {
            ProviderError::InvalidToken("the token response or its ID token is malformed".into())
        }
        RequestTokenError::Other(_) => ProviderError::Exchange("token_request_failed".into()),
    }
}

fn id_token_error(error: ClaimsVerificationError) -> ProviderError {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    ProviderError::InvalidToken(
        match error {
            C::Expired(_) => "expired (or issued in the future)",
            C::InvalidAudience(_) => "issued for another client (audience)",
            C::InvalidIssuer(_) => "issued by another issuer",
            C::InvalidNonce(_) => "its nonce does not match this sign-in",
            C::InvalidSubject(_) => "subject mismatch",
            C::SignatureVerification(S::NoMatchingKey) => "no published key matches its key id",
            C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_)) => "signature algorithm not accepted",
            C::SignatureVerification(S::NoSignature) => "unsigned",
            C::SignatureVerification(S::AmbiguousKeyId(_)) => "several published keys match it",
            C::SignatureVerification(_) => "signature does not verify",
            _ => "malformed",
        }
        .into(),
    )
}

fn userinfo_error(error: UserInfoError<SeamError>) -> ProviderError {
    match error {
        UserInfoError::Request(e) => e.into_provider_error("userinfo endpoint"),
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            ProviderError::InvalidToken("userinfo describes another subject".into())
        }
        UserInfoError::ClaimsVerification(e) => id_token_error(e),
        UserInfoError::Response(status, _, _) => {
            ProviderError::Unavailable(format!("userinfo endpoint answered {}", status.as_u16()))
        }
        _ => ProviderError::Unavailable("userinfo endpoint sent an unreadable answer".into()),
    }
}

/// Why a request through [`Seam`] produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeamError {
    #[error(transparent)]
    Transport(HttpError),
    /// A 5xx or 429: the provider is down or shedding load, whatever the body says.
    #[error("answered {0}")]
    Status(u16),
    #[error("the response could not be represented")]
    Malformed,
}

impl SeamError {
    fn into_provider_error(self, step: &str) -> ProviderError {
        match self {
            SeamError::Transport(e) => transport(step, &e),
            SeamError::Status(status) => ProviderError::Unavailable(format!("{step} answered {status}")),
            SeamError::Malformed => ProviderError::Unavailable(format!("{step} sent an unreadable answer")),
        }
    }
}

/// What this client reads of a discovery document. `openidconnect`'s own parser (`ProviderMetadata`'s) checks all of
/// its ~30 members, through `serde_path_to_error` and a `#[serde(flatten)]`: 60 KB of the Worker's wasm for the six
/// members this client uses. Those are read with the same types and rules here (required ones required, endpoints
/// URLs, signing algorithms `openidconnect` does not know skipped); a member no part of sign-in reads is no longer
/// checked, so a document malformed only there is accepted.
#[derive(Deserialize)]
struct Discovery {
    issuer: IssuerUrl,
    authorization_endpoint: AuthUrl,
    token_endpoint: Option<TokenUrl>,
    userinfo_endpoint: Option<UserInfoUrl>,
    jwks_uri: JsonWebKeySetUrl,
    response_types_supported: Vec<ResponseTypes<CoreResponseType>>,
    subject_types_supported: Vec<CoreSubjectIdentifierType>,
    id_token_signing_alg_values_supported: Vec<Value>,
}

/// `openidconnect`'s async HTTP client over the `skillport-http` seam.
pub(crate) struct Seam<'a> {
    client: &'a dyn HttpClient,
    /// The provider's keys, for an answer that is a signed JWT (a userinfo endpoint may sign its answer): its
    /// signature is prechecked here (see `crate::jws`) before `openidconnect` verifies it.
    keys: Option<&'a JsonWebKeySet<Jwk>>,
}

impl<'a> Seam<'a> {
    pub(crate) fn new(client: &'a dyn HttpClient) -> Self {
        Seam { client, keys: None }
    }

    fn with_keys(client: &'a dyn HttpClient, keys: &'a JsonWebKeySet<Jwk>) -> Self {
        Seam { client, keys: Some(keys) }
    }
}

impl<'c> AsyncHttpClient<'c> for Seam<'_> {
    type Error = SeamError;
    type Future = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, SeamError>> + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut req = HttpRequest::new(parts.method.as_str(), parts.uri.to_string()).limit(crate::ANSWER_MAX_BYTES);
            req.body = body;
            for (name, value) in &parts.headers {
                if let Ok(value) = value.to_str() {
                    req = req.header(name.as_str(), value);
                }
            }
            req = req.header("user-agent", "skillport");
            let response = self.client.send(req).await.map_err(SeamError::Transport)?;
            if response.status >= 500 || response.status == 429 {
                return Err(SeamError::Status(response.status));
            }
            if let Some(keys) = self.keys {
                let jwt = response.headers.iter().any(|(name, value)| {
                    name.eq_ignore_ascii_case("content-type")
                        && value.split(';').next().is_some_and(|v| v.trim().eq_ignore_ascii_case("application/jwt"))
                });
                if let (true, Ok(token)) = (jwt, std::str::from_utf8(&response.body)) {
                    jws::precheck(token.trim(), keys, &ALLOWED_ALGS).await;
                }
            }
            // Only `content-type`: the one response header openidconnect and oauth2 read (discovery, JWKS, token and
            // userinfo answers), named by its constant so that no header name is parsed here.
            let mut builder = openidconnect::http::Response::builder().status(response.status);
            for (_, value) in response.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
                builder = builder.header(openidconnect::http::header::CONTENT_TYPE, value.as_str());
            }
            builder.body(response.body).map_err(|_| SeamError::Malformed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths() {
        let claims = json!({
            "groups": ["a", "b", 3],
            "https://example.com/roles": ["admin"],
            "https://example.com/app": {"teams": "red"},
            "realm_access": {"roles": ["dev"]},
            "a.b": {"c": "longest"},
            "a": {"b": {"c": "shortest"}},
        });
        let claims = claims.as_object().unwrap();
        assert_eq!(claim_strings(claims, "groups"), ["a", "b"]);
        assert_eq!(claim_strings(claims, "https://example.com/roles"), ["admin"]);
        assert_eq!(claim_strings(claims, "https://example.com/app.teams"), ["red"]);
        assert_eq!(claim_strings(claims, "realm_access.roles"), ["dev"]);
        assert_eq!(claim_strings(claims, "a.b.c"), ["longest"]);
        assert!(claim_strings(claims, "missing.path").is_empty());
        assert!(claim_strings(claims, "realm_access").is_empty());
    }

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
