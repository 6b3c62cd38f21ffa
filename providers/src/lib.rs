//! Identity providers: who is signing in to Skillport.
//!
//! Every provider turns an upstream sign-in into one [`Identity`] that access rules can read. This crate knows
//! nothing about MCP, marketplaces or the OAuth server Skillport runs toward Claude; it only answers "who is this
//! user?" for one kind of upstream. Each kind lives in its own module, behind one trait, [`IdentityProvider`]:
//!
//! - [`github`]: GitHub and GitHub Enterprise Server (OAuth web flow with PKCE, REST API for the user, email, org and
//!   team membership);
//! - [`oidc`]: any OpenID Connect provider (discovery, code flow with PKCE and nonce, validated ID token, userinfo);
//! - [`google`] and [`auth0`]: [`oidc`] with the rules those two need (Google's `hd`, Auth0's namespaced claims);
//! - [`local`]: the loopback-only development sign-in used by the embedded default (no upstream, so no trait).
//!
//! Providers speak HTTP only through the seam of `skillport-http` ([`HttpClient`]), which the Workers host
//! implements over `fetch`: this crate depends on no HTTP library and builds for `wasm32-unknown-unknown`.
//!
//! Not here: Skillport's configuration (each provider takes plain settings), the storage of the values a sign-in keeps
//! between [`IdentityProvider::start`] and [`IdentityProvider::finish`], and the pages errors are shown on.

pub mod auth0;
pub mod github;
pub mod google;
pub mod jws;
pub mod local;
pub mod oidc;

use serde::{Deserialize, Serialize};
pub use skillport_http::{HttpClient, HttpError, HttpRequest, HttpResponse, Secret};

/// An OAuth client id registered at the upstream provider (public, but not just any string).
pub use openidconnect::ClientId;

/// The signed-in user, as every provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Provider kind that vouched for this identity (`local`, `github`, `oidc`, ...).
    pub provider: String,
    /// Stable subject at that provider.
    pub subject: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub name: Option<String>,
    /// Domain of the verified email (or Google's `hd`).
    pub domain: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
}

/// Why a provider refused or failed a sign-in. Each variant maps to one page the user can act on; no variant ever
/// carries a secret, a code or a token (the strings are ours, or OAuth error codes filtered to `[a-z_]`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The provider may not be used for this request (e.g. `local` on a public host).
    #[error("sign-in refused: {0}")]
    Refused(String),
    /// The user cancelled or declined at the identity provider.
    #[error("the sign-in was cancelled at the identity provider")]
    Denied,
    /// The callback's `state` is missing or is not the one this sign-in started with.
    #[error("the sign-in callback does not belong to this sign-in (state missing or different)")]
    BadState,
    /// The authorization code was refused (expired, already used, or not ours). The string is the OAuth error code.
    #[error("the identity provider did not accept the sign-in code ({0}); please sign in again")]
    Exchange(String),
    /// The identity provider could not be reached, timed out or answered with a server error.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The user is who they say, but this deployment's rules do not let them in (unverified email, domain, org, team).
    #[error("sign-in not allowed: {0}")]
    Rejected(String),
    /// The ID token failed validation (signature, issuer, audience, nonce, expiry).
    #[error("the identity provider's ID token is not valid: {0}")]
    InvalidToken(String),
    /// The provider's settings or registration are wrong (bad URL, client credentials refused, scope missing).
    #[error("the identity provider is misconfigured: {0}")]
    Misconfigured(String),
}

/// Where one sign-in starts, and what must be kept (server side) until its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInStart {
    /// The upstream authorization URL to redirect the browser to.
    pub authorize_url: String,
    /// Our `state`, as sent upstream; the callback must bring it back.
    pub state: String,
    /// The PKCE verifier whose S256 challenge is in `authorize_url`.
    pub pkce_verifier: Secret,
    /// The OpenID Connect nonce the ID token must carry (`None` for plain OAuth providers such as GitHub).
    pub nonce: Option<Secret>,
}

/// The query of the callback request, as the upstream sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Reads `code`, `state`, `error` and `error_description` from a raw query string (without the `?`).
    pub fn from_query(query: &str) -> Self {
        let mut params = CallbackParams::default();
        for (name, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let value = value.into_owned();
            match &*name {
                "code" => params.code = Some(Secret::new(value)),
                "state" => params.state = Some(value),
                "error" => params.error = Some(value),
                "error_description" => params.error_description = Some(value),
                _ => {}
            }
        }
        params
    }
}

/// One kind of upstream sign-in. `?Send` because the Workers HTTP seam is not `Send`.
#[async_trait::async_trait(?Send)]
pub trait IdentityProvider {
    /// The kind, as written in configuration and in [`Identity::provider`] (`github`, `oidc`, `google`, `auth0`).
    fn kind(&self) -> &'static str;

    /// Where to send the browser: the upstream authorization URL for this sign-in, with our own `state`, a PKCE
    /// challenge and (OIDC) a nonce. Returns the URL and the secrets to keep for the callback.
    async fn start(
        &self,
        client: &dyn HttpClient,
        redirect_uri: &str,
        state: &str,
    ) -> Result<SignInStart, ProviderError>;

    /// The callback: exchange the code (with the kept PKCE verifier / nonce) and produce the [`Identity`], enforcing
    /// this provider's rules (verified email, allowed domains, required org/team). `now` is Unix seconds.
    async fn finish(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Identity, ProviderError>;
}

/// The checks every provider makes on a callback before exchanging anything: the state is ours, the upstream did
/// not report an error, and there is a code. Returns the code.
pub(crate) fn check_callback<'a>(
    callback: &'a CallbackParams,
    kept: &SignInStart,
) -> Result<&'a Secret, ProviderError> {
    match &callback.state {
        Some(state) if constant_time_eq(state.as_bytes(), kept.state.as_bytes()) => {}
        _ => return Err(ProviderError::BadState),
    }
    if let Some(error) = &callback.error {
        return Err(upstream_error(error));
    }
    callback.code.as_ref().filter(|c| !c.expose().is_empty()).ok_or_else(|| ProviderError::Exchange("no code".into()))
}

/// Maps an OAuth / OpenID Connect authorization error code (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) to an error.
fn upstream_error(error: &str) -> ProviderError {
    match error {
        "access_denied"
        | "consent_required"
        | "login_required"
        | "interaction_required"
        | "account_selection_required" => ProviderError::Denied,
        "temporarily_unavailable" | "server_error" => {
            ProviderError::Unavailable(format!("authorization {}", oauth_code(error)))
        }
        "invalid_request"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "invalid_scope"
        | "redirect_uri_mismatch"
        | "application_suspended"
        | "invalid_client" => ProviderError::Misconfigured(format!("authorization refused: {}", oauth_code(error))),
        other => ProviderError::Exchange(oauth_code(other)),
    }
}

/// An upstream error code, kept only if it looks like one (`[a-z0-9_]`, short): upstream text never reaches a page.
pub(crate) fn oauth_code(code: &str) -> String {
    if !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        code.to_string()
    } else {
        "unrecognised_error".to_string()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The lower-cased domain of an email address.
/// A new PKCE S256 challenge and its verifier: 32 random bytes, base64url (43 characters), exactly as
/// `PkceCodeChallenge::new_random_sha256` makes them, but from the platform's CSPRNG (`getrandom`:
/// `crypto.getRandomValues` on Workers) rather than `rand`'s ChaCha `thread_rng`, which this crate would otherwise be
/// the only user of in the Worker.
pub(crate) fn new_pkce() -> (openidconnect::PkceCodeChallenge, openidconnect::PkceCodeVerifier) {
    let verifier = openidconnect::PkceCodeVerifier::new(random_base64url(32));
    (openidconnect::PkceCodeChallenge::from_code_verifier_sha256(&verifier), verifier)
}

/// `len` random bytes from the platform's CSPRNG, base64url without padding. Like `rand::thread_rng`, which it
/// replaces, it panics only when the platform has no random source at all.
pub(crate) fn random_base64url(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).expect("the platform's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty())
}

/// Refuses `domain` unless `allowed` is empty (no rule) or lists it (case-insensitive).
pub(crate) fn check_domain(domain: Option<&str>, allowed: &[String]) -> Result<(), ProviderError> {
    if allowed.is_empty() {
        return Ok(());
    }
    match domain {
        Some(d) if allowed.iter().any(|a| a.trim_end_matches('.').eq_ignore_ascii_case(d)) => Ok(()),
        Some(d) => Err(ProviderError::Rejected(format!("the domain `{d}` is not allowed to sign in"))),
        None => Err(ProviderError::Rejected("no verified email domain, and only some domains may sign in".into())),
    }
}

/// Body cap of every answer of an identity provider (discovery document, JWKS, token, userinfo, GitHub's API): each
/// is a few kilobytes, so this is generous and still keeps a broken or hostile provider from filling the Worker.
pub const ANSWER_MAX_BYTES: u64 = 512 * 1024;

/// Maps a transport failure of the seam.
pub(crate) fn transport(step: &str, error: &HttpError) -> ProviderError {
    match error {
        HttpError::Timeout => ProviderError::Unavailable(format!("{step} timed out")),
        HttpError::TooLarge(_) => {
            ProviderError::Unavailable(format!("{step} sent an answer that is too large ({error})"))
        }
        HttpError::Connect(_) => ProviderError::Unavailable(format!("{step} could not be reached")),
        HttpError::Budget(_) => ProviderError::Unavailable(format!("{step} was not attempted: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> SignInStart {
        SignInStart {
            authorize_url: "https://idp/authorize".into(),
            state: "st".into(),
            pkce_verifier: Secret::new("v"),
            nonce: None,
        }
    }

    #[test]
    fn callback_checks_state_then_error_then_code() {
        let ok = CallbackParams::from_query("?code=c0de&state=st");
        assert_eq!(check_callback(&ok, &kept()).unwrap().expose(), "c0de");
        let wrong = CallbackParams::from_query("code=c0de&state=other");
        assert_eq!(check_callback(&wrong, &kept()), Err(ProviderError::BadState));
        let missing = CallbackParams::from_query("code=c0de");
        assert_eq!(check_callback(&missing, &kept()), Err(ProviderError::BadState));
        let denied = CallbackParams::from_query("error=access_denied&error_description=The+user+said+no&state=st");
        assert_eq!(check_callback(&denied, &kept()), Err(ProviderError::Denied));
        let odd = CallbackParams::from_query("error=%3Cscript%3E&state=st");
        assert_eq!(check_callback(&odd, &kept()), Err(ProviderError::Exchange("unrecognised_error".into())));
        let no_code = CallbackParams::from_query("state=st");
        assert!(matches!(check_callback(&no_code, &kept()), Err(ProviderError::Exchange(_))));
    }

    #[test]
    fn callback_and_start_do_not_print_secrets() {
        let params = CallbackParams::from_query("code=supersecretcode&state=st");
        assert!(!format!("{params:?}").contains("supersecretcode"));
        let start = SignInStart {
            pkce_verifier: Secret::new("verifier-secret"),
            nonce: Some(Secret::new("nonce-secret")),
            ..kept()
        };
        let debug = format!("{start:?}");
        assert!(!debug.contains("verifier-secret") && !debug.contains("nonce-secret"), "{debug}");
    }

    #[test]
    fn domains() {
        assert_eq!(email_domain("A@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_domain("nobody"), None);
        assert!(check_domain(None, &[]).is_ok());
        assert!(check_domain(Some("example.com"), &["EXAMPLE.com".into()]).is_ok());
        assert!(matches!(check_domain(Some("evil.com"), &["example.com".into()]), Err(ProviderError::Rejected(_))));
        assert!(matches!(check_domain(None, &["example.com".into()]), Err(ProviderError::Rejected(_))));
    }
}
