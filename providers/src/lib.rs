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
//! The steps the upstream kinds share (callback checks, PKCE, the domain rule, transport errors) are in `flow`; what
//! every kind must do is one behaviour suite, `tests/behaviour.rs`, run by each kind against its stand-in.
//!
//! Providers speak HTTP only through the seam of `skillport-http` ([`HttpClient`]), which the Workers host
//! implements over `fetch`: this crate depends on no HTTP library and builds for `wasm32-unknown-unknown`.
//!
//! Not here: Skillport's configuration (each provider takes plain settings), the storage of the values a sign-in keeps
//! between [`IdentityProvider::start`] and [`IdentityProvider::finish`], and the pages errors are shown on.

pub mod auth0;
mod flow;
pub mod github;
pub mod google;
pub mod jws;
pub mod local;
pub mod oidc;

use serde::{Deserialize, Serialize};

pub(crate) use flow::{check_callback, check_domain, email_domain, new_pkce, oauth_code, random_base64url, transport};
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

/// Body cap of every answer of an identity provider (discovery document, JWKS, token, userinfo, GitHub's API): each
/// is a few kilobytes, so this is generous and still keeps a broken or hostile provider from filling the Worker.
pub const ANSWER_MAX_BYTES: u64 = 512 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tests::kept;

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
}
