//! `/authorize`: validating an authorization request, and answering it with a code once the user has signed in and
//! consented.
//!
//! The steps the sign-in flow ([`super::flow`]) drives:
//! 1. [`requested_client_id`] names the client; the flow looks it up in the store, or (for an https client id)
//!    fetches its metadata document after [`super::registration::cimd_fetch_allowed`], validates it with
//!    [`super::registration::validate_cimd`] and stores it with `put_client` (the token endpoint needs it).
//! 2. [`validate_authorization_request`] checks everything and yields a [`PendingAuthorization`], which the flow keeps
//!    (server side, under a random id) while the user signs in upstream and consents.
//! 3. [`OAuthServer::complete_authorization`] stores a grant and a code and returns the redirect back to the client; or
//!    [`deny`] redirects with `access_denied`.
//!
//! Until the client and its redirect URI are known good, an error is a page shown to the user ([`Rejection::Page`]):
//! redirecting to an unverified URI is an open redirect. After, errors are [`Rejection::Redirect`], to go back to the
//! client with `error`, `state` and `iss` (RFC 9207); but a registered URI is not yet one the user trusts (anyone can
//! register any https URI), so the sign-in flow still shows them as a page unless the user approved that client with
//! that redirect URI before (`flow`, RFC 9700 4.11.2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use skillport_providers::Identity;
use url::Url;

use super::crypto::{random_token, Random, ServerKeys};
use super::metadata::{issuer, resource_of_uri, resource_uri, Resource};
use super::store::{ClientRecord, CodeRecord, GrantRecord};
use super::{
    granted_scope, parse_form, AuthorizationCode, ClientId, GrantId, OAuthError, OAuthServer, PkceChallenge,
    RedirectUri, ResourceUri, TokenSettings,
};
use crate::http::HttpResponse;

/// Longest `state` passed through.
const MAX_STATE_LEN: usize = 1024;

/// A validated authorization request, kept while the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: ClientId,
    /// The client's name, for the consent page.
    pub client_name: Option<String>,
    pub redirect_uri: RedirectUri,
    /// Echoed back exactly when the client sent one (optional in OAuth 2.1; PKCE carries the CSRF protection).
    pub state: Option<String>,
    pub code_challenge: PkceChallenge,
    pub resource: ResourceUri,
    /// The scope that will be granted.
    pub scope: String,
    pub created_at: u64,
}

/// Why an authorization request was refused, and how the user's browser is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The client or its redirect URI is not known good: show an error page, never redirect.
    Page(OAuthError),
    /// Send the error back to the client's (verified) redirect URI.
    Redirect { redirect_uri: RedirectUri, state: Option<String>, error: OAuthError },
}

impl Rejection {
    pub fn error(&self) -> &OAuthError {
        match self {
            Rejection::Page(e) | Rejection::Redirect { error: e, .. } => e,
        }
    }

    pub fn to_response(&self, public_url: &Url) -> HttpResponse {
        match self {
            Rejection::Page(e) => super::pages::error_page(400, "This sign-in request cannot be used", &e.to_string()),
            Rejection::Redirect { redirect_uri, state, error } => {
                let mut params = vec![("error", error.code()), ("error_description", &*error.to_string())]
                    .into_iter()
                    .map(|(k, v)| (k, v.to_owned()))
                    .collect::<Vec<_>>();
                if let Some(s) = state {
                    params.push(("state", s.clone()));
                }
                params.push(("iss", issuer(public_url)));
                redirect(&append_query(redirect_uri, &params))
            }
        }
    }
}

/// The `client_id` of an authorization request's query, to look the client up before validating.
pub fn requested_client_id(query: &str) -> Option<ClientId> {
    let params = parse_form(query.as_bytes()).ok()?;
    params.get("client_id").filter(|s| !s.is_empty()).map(|s| ClientId::new(s.as_str()))
}

/// Validates an authorization request (the query of `GET /authorize`) for `client`, the record found for its
/// `client_id` (`None` when unknown).
pub fn validate_authorization_request(
    public_url: &Url,
    client: Option<&ClientRecord>,
    query: &str,
    now: u64,
) -> Result<PendingAuthorization, Rejection> {
    let params = parse_form(query.as_bytes()).map_err(Rejection::Page)?;
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());

    // Until the redirect URI is verified, every error is a page.
    let Some(client_id) = get("client_id") else {
        return Err(Rejection::Page(OAuthError::InvalidRequest("client_id is missing".into())));
    };
    let client = match client {
        Some(c) if c.client_id.as_str() == client_id => c,
        _ => {
            return Err(Rejection::Page(OAuthError::InvalidClient(
                "this application is not registered with this server; try connecting again".into(),
            )))
        }
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return Err(Rejection::Page(OAuthError::InvalidRequest("redirect_uri is missing".into())));
    };
    // The registered value itself, which was parsed when it was registered.
    let Some(redirect_uri) = client.registered_redirect(redirect_uri).cloned() else {
        return Err(Rejection::Page(OAuthError::InvalidRequest(
            "redirect_uri is not one registered for this application".into(),
        )));
    };

    let state = get("state").map(str::to_owned);
    let fail = |error: OAuthError| {
        // A state too long to echo is not echoed.
        let state = state.clone().filter(|s| s.len() <= MAX_STATE_LEN);
        Err(Rejection::Redirect { redirect_uri: redirect_uri.clone(), state, error })
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return fail(OAuthError::InvalidRequest(format!("state must be at most {MAX_STATE_LEN} characters")));
    }
    match get("response_type") {
        Some("code") => {}
        None => return fail(OAuthError::InvalidRequest("response_type is missing".into())),
        Some(_) => return fail(OAuthError::UnsupportedResponseType),
    }
    let Some(challenge) = get("code_challenge") else {
        return fail(OAuthError::InvalidRequest("code_challenge is required (PKCE with S256)".into()));
    };
    match get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") => {
            return fail(OAuthError::InvalidRequest("code_challenge_method `plain` is not allowed; use S256".into()))
        }
        _ => return fail(OAuthError::InvalidRequest("code_challenge_method must be S256".into())),
    }
    if !is_s256_challenge(challenge) {
        return fail(OAuthError::InvalidRequest("code_challenge is not a base64url SHA-256 (43 characters)".into()));
    }
    let resource = match get("resource") {
        None => resource_uri(public_url, Resource::Mcp),
        Some(r) => match resource_of_uri(public_url, r) {
            Some(res) => resource_uri(public_url, res),
            None => return fail(OAuthError::InvalidTarget("resource is not one this server protects".into())),
        },
    };
    Ok(PendingAuthorization {
        client_id: client.client_id.clone(),
        client_name: client.client_name.clone(),
        redirect_uri,
        state,
        code_challenge: PkceChallenge::new(challenge),
        resource,
        scope: granted_scope(get("scope")),
        created_at: now,
    })
}

/// An S256 challenge is the unpadded base64url of 32 bytes: exactly 43 characters of that alphabet.
fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32)
}

/// Mints the code for a pending authorization the user approved, with its grant (which seals `identity`). Both must
/// be stored (grant first) before the code is handed out; [`OAuthServer::complete_authorization`] does all of it.
pub fn issue_code(
    keys: &ServerKeys,
    rng: &dyn Random,
    pending: &PendingAuthorization,
    identity: &Identity,
    settings: &TokenSettings,
    now: u64,
) -> (AuthorizationCode, CodeRecord, GrantRecord) {
    let grant_id = GrantId::new(random_token(rng));
    let code = AuthorizationCode::new(random_token(rng));
    let grant = GrantRecord {
        identity: keys.seal_identity(rng, &grant_id, identity),
        grant_id: grant_id.clone(),
        client_id: pending.client_id.clone(),
        resource: pending.resource.clone(),
        scope: pending.scope.clone(),
        created_at: now,
        revoked: false,
        refresh_current: None,
        refresh_previous: None,
        refresh_expires_at: 0,
        access_current: None,
        access_previous: None,
        // Until the code is redeemed, the code is all that was issued.
        tokens_expire_at: now.saturating_add(settings.code_ttl_seconds),
    };
    let record = CodeRecord {
        grant_id,
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        resource: pending.resource.clone(),
        scope: pending.scope.clone(),
        expires_at: grant.tokens_expire_at,
    };
    (code, record, grant)
}

/// The client's redirect URI with `code`, `state` (when the request had one) and `iss` added to its query.
pub fn redirect_with_code(public_url: &Url, pending: &PendingAuthorization, code: &AuthorizationCode) -> String {
    let mut params = vec![("code", code.expose().to_owned())];
    if let Some(s) = &pending.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", issuer(public_url)));
    append_query(&pending.redirect_uri, &params)
}

impl OAuthServer<'_> {
    /// Issues and stores the grant and code for an approved request, and returns the 302 back to the client.
    pub async fn complete_authorization(
        &self,
        pending: &PendingAuthorization,
        identity: &Identity,
        now: u64,
    ) -> Result<HttpResponse, OAuthError> {
        let (code, record, grant) = issue_code(self.keys, self.rng, pending, identity, &self.settings, now);
        self.store.put_grant(&grant).await?;
        self.store.put_code(&code.hash(), &record).await?;
        Ok(redirect(&redirect_with_code(self.public_url, pending, &code)))
    }
}

/// The user declined: `access_denied` back to the client.
pub fn deny(public_url: &Url, pending: &PendingAuthorization) -> HttpResponse {
    Rejection::Redirect {
        redirect_uri: pending.redirect_uri.clone(),
        state: pending.state.clone(),
        error: OAuthError::AccessDenied,
    }
    .to_response(public_url)
}

fn append_query(uri: &RedirectUri, params: &[(&str, String)]) -> String {
    // Existing query parameters are kept (RFC 6749 3.1.2).
    let mut url = uri.url().clone();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.into()
}

pub(crate) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::new(302)
        .header("location", location)
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
}

#[cfg(test)]
pub(crate) mod tests;
