//! The browser side of sign-in: `/authorize`, the identity provider's `/callback`, and the consent form (`/consent`).
//!
//! ```text
//! client ──/authorize──▶ Skillport ──302──▶ identity provider ──/callback──▶ Skillport ──(consent page)──▶ client
//! ```
//!
//! 1. `/authorize` validates the client's request ([`super::authorize`]), fetching a Client ID Metadata Document when
//!    the client id is a URL (an invalid request goes back to the client by redirect only when this browser approved
//!    that client with that redirect URI before; otherwise it is a page, see `redirect_approved`), then sends the
//!    browser to the identity provider with a fresh single-use `state`. What the callback needs (the request, the
//!    upstream PKCE verifier and nonce) is sealed and kept in the grant store under the hash of that `state`, bound
//!    to this browser by a random value in the `__Host-skillport_signin` cookie (only its hash is stored).
//! 2. `/callback` takes that record (once), checks the cookie, lets the provider exchange the code and produce the
//!    [`Identity`], and then either completes at once (the user approved this client with this redirect URI before
//!    in this browser, or the `local` provider with a loopback redirect) or shows the consent page. A metadata-document
//!    client is named there by its document's host, not by the name it gives itself.
//! 3. `/consent` (POST, CSRF-checked) takes the consent record (once), and redirects to the client with a code or
//!    with `access_denied`.
//!
//! Consent comes after sign-in so the page can say who is signing in; the code still reaches the client only after
//! the user has approved this client by name (the confused-deputy defence of the MCP security best practices).
//! With the `local` provider there is no upstream hop: the user is the configured development user.
//!
//! Every failure ends on a page that says what to do, never a stack trace; none shows a token or upstream text.
//!
//! One file per stage: `start` (`/authorize`), `client` (which client, and its metadata document), `callback`
//! (`/callback`, then consent or not), `decision` (`/consent`). What they share (the records kept between stages,
//! the cookies, the pages, sealing) is here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use skillport_http::HttpClient;
use skillport_providers::local::LocalProvider;
use skillport_providers::{Identity, IdentityProvider, ProviderError};

use super::authorize::PendingAuthorization;
use super::consent::{cookie_value, may_auto_approve};
use super::pages::error_page;
use super::{ClientId, OAuthError, OAuthServer, RedirectUri, TokenHash};
use crate::audit::{Action, Event, Outcome};
use crate::config::ProviderKind;
use crate::http::{HttpRequest, HttpResponse};

mod callback;
mod client;
mod decision;
mod start;
#[cfg(test)]
mod tests;

/// Binds a sign-in to the browser that started it.
pub const SIGNIN_COOKIE: &str = "__Host-skillport_signin";
/// How long a started sign-in, or a consent page, stays usable.
pub const SIGNIN_TTL_SECONDS: u64 = 600;
/// How long a fetched Client ID Metadata Document is trusted before it is fetched again.
pub const CIMD_CACHE_SECONDS: u64 = 3600;
/// The whole fetch of a Client ID Metadata Document (connection, answer and body) must finish within this.
pub const CIMD_TIMEOUT_MS: u64 = 5000;
/// The path the identity provider redirects back to.
pub const CALLBACK_PATH: &str = "/callback";
pub const CONSENT_PATH: &str = "/consent";

/// Who signs the user in.
#[derive(Clone, Copy)]
pub enum Upstream<'a> {
    /// The loopback-only development user: no upstream hop.
    Local(&'a LocalProvider),
    Provider(&'a dyn IdentityProvider),
}

impl Upstream<'_> {
    /// The configured kind this upstream is (a provider names its own kind as the configuration spells it).
    fn kind(&self) -> Option<ProviderKind> {
        match self {
            Upstream::Local(_) => Some(ProviderKind::Local),
            Upstream::Provider(p) => ProviderKind::parse(p.kind()),
        }
    }

    /// Whether this sign-in may skip the consent page for `redirect_uri` ([`may_auto_approve`]).
    fn may_auto_approve(&self, redirect_uri: &RedirectUri) -> bool {
        self.kind().is_some_and(|kind| may_auto_approve(kind, redirect_uri))
    }
}

/// One browser request of the sign-in flow, with everything it works with.
pub struct SignIn<'a> {
    pub oauth: OAuthServer<'a>,
    pub upstream: Upstream<'a>,
    /// Outbound HTTP: the identity provider, Client ID Metadata Documents.
    pub http: &'a dyn HttpClient,
    /// The name shown on the consent page.
    pub server_name: &'a str,
    pub now: u64,
}

/// Kept from `/authorize` to `/callback`, sealed.
#[derive(Serialize, Deserialize)]
struct Started {
    pending: PendingAuthorization,
    verifier: String,
    nonce: Option<String>,
    browser: TokenHash,
}

/// Kept from the consent page to its POST, sealed.
#[derive(Serialize, Deserialize)]
struct AwaitingConsent {
    pending: PendingAuthorization,
    identity: Identity,
    browser: TokenHash,
}

fn once_key(kind: &str, handle: &str) -> TokenHash {
    TokenHash::of(&format!("{kind}:{handle}"))
}

fn signin_cookie(value: &str) -> String {
    format!("{SIGNIN_COOKIE}={value}; Max-Age={SIGNIN_TTL_SECONDS}; Path=/; HttpOnly; Secure; SameSite=Lax")
}

fn clear_signin_cookie() -> String {
    format!("{SIGNIN_COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax")
}

/// The page for a request that cannot go on, with what the user can do.
fn restart_page(status: u16, message: &str) -> HttpResponse {
    error_page(status, "Sign-in could not be completed", message)
}

fn storage_page() -> HttpResponse {
    restart_page(503, "The sign-in service is briefly unavailable. Please try connecting again in a moment.")
}

/// The page for an identity provider failure. The messages are the provider errors' own (they never carry upstream
/// text or secrets).
fn provider_page(e: &ProviderError) -> HttpResponse {
    let status = match e {
        ProviderError::Denied | ProviderError::Rejected(_) | ProviderError::Refused(_) => 403,
        ProviderError::BadState | ProviderError::Exchange(_) => 400,
        ProviderError::Unavailable(_) | ProviderError::InvalidToken(_) | ProviderError::Misconfigured(_) => 502,
    };
    let hint = match e {
        ProviderError::Denied => " You can close this window, or start connecting again from your client.",
        ProviderError::Rejected(_) => " Ask your administrator if you think you should have access.",
        ProviderError::Unavailable(_) => " Please try again in a few minutes.",
        ProviderError::Misconfigured(_) | ProviderError::InvalidToken(_) => {
            " Your administrator can find the details in the Worker log."
        }
        _ => " Please start connecting again from your client.",
    };
    restart_page(status, &format!("{e}.{hint}"))
}

impl SignIn<'_> {
    fn audit(
        &self,
        action: Action,
        outcome: Outcome,
        user: Option<&Identity>,
        client: &ClientId,
        detail: Option<&str>,
    ) {
        crate::audit::record(
            self.now,
            &Event { user: user.map(Into::into), client: Some(client.as_str()), detail, ..Event::new(action, outcome) },
        );
    }

    fn callback_url(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.oauth.public_url.as_str().trim_end_matches('/'))
    }

    fn seal<T: Serialize>(&self, kind: &str, handle: &str, value: &T) -> String {
        let plain = serde_json::to_vec(value).expect("sign-in records always serialise");
        URL_SAFE_NO_PAD.encode(self.oauth.keys.seal_bytes(self.oauth.rng, &format!("{kind}:{handle}"), &plain))
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, kind: &str, handle: &str, sealed: &str) -> Option<T> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let plain = self.oauth.keys.open_bytes(&format!("{kind}:{handle}"), &bytes).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Whether the request carries the sign-in cookie whose hash is `expected`.
    fn same_browser(req: &HttpRequest, expected: &TokenHash) -> bool {
        req.header("cookie")
            .and_then(|h| cookie_value(h, SIGNIN_COOKIE))
            .is_some_and(|v| TokenHash::of(v).ct_eq(expected))
    }

    /// Issues the code and sends the browser back to the client, ending the sign-in (its cookie is cleared) and, when
    /// the user just approved, remembering that approval (`remember`, a cookie).
    async fn complete(
        &self,
        pending: &PendingAuthorization,
        identity: &Identity,
        remember: Option<String>,
    ) -> HttpResponse {
        match self.oauth.complete_authorization(pending, identity, self.now).await {
            Ok(mut resp) => {
                resp = resp.header("set-cookie", &clear_signin_cookie());
                if let Some(cookie) = remember {
                    resp = resp.header("set-cookie", &cookie);
                }
                resp
            }
            Err(OAuthError::Storage(_)) => storage_page(),
            Err(e) => restart_page(400, &e.to_string()),
        }
    }
}
