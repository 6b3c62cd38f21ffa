//! The browser side of sign-in: `/authorize`, the identity provider's `/callback`, and the consent form (`/consent`).
//!
//! ```text
//! client ──/authorize──▶ Skillport ──302──▶ identity provider ──/callback──▶ Skillport ──(consent page)──▶ client
//! ```
//!
//! 1. `/authorize` validates the client's request ([`super::authorize`]), fetching a Client ID Metadata Document when
//!    the client id is a URL, then sends the browser to the identity provider with a fresh single-use `state`. What
//!    the callback needs (the request, the upstream PKCE verifier and nonce) is sealed and kept in the grant store
//!    under the hash of that `state`, bound to this browser by a random value in the `__Host-skillport_signin`
//!    cookie (only its hash is stored).
//! 2. `/callback` takes that record (once), checks the cookie, lets the provider exchange the code and produce the
//!    [`Identity`], and then either completes at once (the user approved this client before in this browser, or the
//!    `local` provider with a loopback redirect) or shows the consent page.
//! 3. `/consent` (POST, CSRF-checked) takes the consent record (once), and redirects to the client with a code or
//!    with `access_denied`.
//!
//! Consent comes after sign-in so the page can say who is signing in; the code still reaches the client only after
//! the user has approved this client by name (the confused-deputy defence of the MCP security best practices).
//! With the `local` provider there is no upstream hop: the user is the configured development user.
//!
//! Every failure ends on a page that says what to do, never a stack trace; none shows a token or upstream text.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use skillport_providers::local::LocalProvider;
use skillport_providers::{CallbackParams, Identity, IdentityProvider, ProviderError, Secret, SignInStart};
use skillport_sources::http::{HttpClient, HttpRequest as Outbound};

use super::authorize::{deny, requested_client_id, validate_authorization_request, PendingAuthorization};
use super::consent::{
    consent_page, cookie_value, error_page, may_auto_approve, read_consent_form, ConsentCookie, ConsentDecision,
};
use super::crypto::random_token;
use super::registration::{cimd_fetch_allowed, is_cimd_client_id, validate_cimd, MAX_CIMD_BYTES};
use super::store::ClientRecord;
use super::{ClientId, OAuthError, OAuthServer, TokenHash};
use crate::http::{HttpRequest, HttpResponse};

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
    fn kind(&self) -> &'static str {
        match self {
            Upstream::Local(_) => "local",
            Upstream::Provider(p) => p.kind(),
        }
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
    fn audit(&self, action: &str, outcome: &str, user: Option<&Identity>, client: &ClientId, detail: Option<&str>) {
        crate::audit::record(
            self.now,
            &crate::audit::Event {
                action,
                outcome,
                user: user.map(Into::into),
                client: Some(client.as_str()),
                detail,
                ..Default::default()
            },
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

    /// Whether Client ID Metadata Documents may only come from public addresses (anything but a loopback deployment).
    fn production(&self) -> bool {
        !self.oauth.public_url.host_str().is_some_and(skillport_providers::local::is_loopback_host)
    }

    /// The client an authorization request names: registered here, or described by its metadata document. A document
    /// is fetched only within the limits on new clients (`super::limits`, charged to `ip`), and what it describes is
    /// stored as a cache entry that expires like an unused registration (unless a grant keeps it).
    async fn client(&self, id: &ClientId, ip: Option<&str>) -> Result<Option<ClientRecord>, HttpResponse> {
        let stored = self.oauth.store.get_client(id).await.map_err(|_| storage_page())?;
        if !is_cimd_client_id(id.as_str()) {
            return Ok(stored);
        }
        if let Some(c) = stored.filter(|c| self.now < c.issued_at.saturating_add(CIMD_CACHE_SECONDS)) {
            return Ok(Some(c));
        }
        let refuse =
            |why: String| restart_page(400, &format!("The application's metadata document cannot be used: {why}."));
        cimd_fetch_allowed(id.as_str(), self.production()).map_err(refuse)?;
        let limits = &self.oauth.settings.clients;
        if let Err(refusal) = super::limits::admit(self.oauth.store, limits, ip, self.now).await {
            let page = restart_page(
                refusal.status(),
                &format!("The application cannot be set up now: {}.", refusal.message()),
            );
            return Err(page.header("retry-after", &refusal.retry_after().to_string()));
        }
        // Capped at the document's size limit and read within its own deadline; never redirected (only the URL
        // itself was checked above, and it is the client's identity).
        let request = Outbound::get(id.as_str())
            .header("accept", "application/json")
            .limit(MAX_CIMD_BYTES as u64)
            .no_redirects()
            .timeout(CIMD_TIMEOUT_MS);
        let resp = self.http.send(request).await.map_err(|e| refuse(format!("it could not be fetched ({e})")))?;
        if (300..400).contains(&resp.status) {
            return Err(refuse(format!(
                "fetching it answered a redirect (HTTP {}), which is not followed",
                resp.status
            )));
        }
        if !resp.is_success() {
            return Err(refuse(format!("fetching it answered HTTP {}", resp.status)));
        }
        let record = validate_cimd(id.as_str(), &resp.body, self.now).map_err(|e| refuse(e.to_string()))?;
        let added = self.oauth.store.add_client(&record, limits.max_clients, limits.unused_seconds).await;
        if !added.map_err(|_| storage_page())? {
            let full = super::limits::Refusal::Full;
            return Err(restart_page(
                full.status(),
                &format!("The application cannot be set up now: {}.", full.message()),
            ));
        }
        Ok(Some(record))
    }

    /// `GET /authorize`.
    pub async fn authorize(&self, req: &HttpRequest) -> HttpResponse {
        let client = match requested_client_id(&req.query) {
            Some(id) => match self.client(&id, req.header("cf-connecting-ip")).await {
                Ok(c) => c,
                Err(page) => return page,
            },
            None => None,
        };
        let pending = match validate_authorization_request(self.oauth.public_url, client.as_ref(), &req.query, self.now)
        {
            Ok(p) => p,
            Err(rejection) => return rejection.to_response(self.oauth.public_url),
        };
        let browser = random_token(self.oauth.rng);
        match self.upstream {
            Upstream::Local(local) => match local.sign_in(req.host()) {
                Ok(identity) => {
                    self.audit("sign_in", "ok", Some(&identity), &pending.client_id, Some("local"));
                    self.signed_in(req, pending, identity, &browser).await
                }
                Err(e) => {
                    self.audit("sign_in", "refused", None, &pending.client_id, Some("local provider on a public host"));
                    provider_page(&e)
                }
            },
            Upstream::Provider(provider) => {
                let state = random_token(self.oauth.rng);
                let start = match provider.start(self.http, &self.callback_url(), &state).await {
                    Ok(s) => s,
                    Err(e) => {
                        self.audit("sign_in", "error", None, &pending.client_id, Some(&e.to_string()));
                        return provider_page(&e);
                    }
                };
                let started = Started {
                    pending,
                    verifier: start.pkce_verifier.expose().to_owned(),
                    nonce: start.nonce.as_ref().map(|n| n.expose().to_owned()),
                    browser: TokenHash::of(&browser),
                };
                let sealed = self.seal("signin", &state, &started);
                let expires = self.now.saturating_add(SIGNIN_TTL_SECONDS);
                if self.oauth.store.put_once(&once_key("signin", &state), &sealed, expires).await.is_err() {
                    return storage_page();
                }
                super::authorize::redirect(&start.authorize_url)
                    .header("set-cookie", &signin_cookie(&browser))
                    .header("cache-control", "no-store")
            }
        }
    }

    /// `GET /callback`: the identity provider sends the browser back.
    pub async fn callback(&self, req: &HttpRequest) -> HttpResponse {
        let Upstream::Provider(provider) = self.upstream else {
            return restart_page(404, "This deployment does not sign in through an identity provider.");
        };
        let params = CallbackParams::from_query(&req.query);
        let Some(state) = params.state.clone().filter(|s| !s.is_empty() && s.len() <= 256) else {
            return provider_page(&ProviderError::BadState);
        };
        let started: Started = match self.oauth.store.take_once(&once_key("signin", &state), self.now).await {
            Err(_) => return storage_page(),
            Ok(None) => {
                return restart_page(
                    400,
                    "This sign-in has expired or was already used. Please start connecting again from your client.",
                )
            }
            Ok(Some(sealed)) => match self.open("signin", &state, &sealed) {
                Some(s) => s,
                None => return provider_page(&ProviderError::BadState),
            },
        };
        if !Self::same_browser(req, &started.browser) {
            return restart_page(
                400,
                "This sign-in was started in another browser (or its cookie was blocked). Please start connecting \
                 again from this browser.",
            );
        }
        let kept = SignInStart {
            authorize_url: String::new(),
            state,
            pkce_verifier: Secret::new(started.verifier),
            nonce: started.nonce.map(Secret::new),
        };
        match provider.finish(self.http, &params, &kept, &self.callback_url(), self.now).await {
            Ok(identity) => {
                self.audit("sign_in", "ok", Some(&identity), &started.pending.client_id, Some(provider.kind()));
                let browser = req.header("cookie").and_then(|h| cookie_value(h, SIGNIN_COOKIE)).unwrap_or_default();
                self.signed_in(req, started.pending, identity, browser).await
            }
            Err(e) => {
                let outcome =
                    if matches!(e, ProviderError::Denied | ProviderError::Rejected(_)) { "denied" } else { "error" };
                self.audit("sign_in", outcome, None, &started.pending.client_id, Some(&e.to_string()));
                provider_page(&e)
            }
        }
    }

    /// The user is known: complete at once when consent was given before (or is not needed), else ask.
    async fn signed_in(
        &self,
        req: &HttpRequest,
        pending: PendingAuthorization,
        identity: Identity,
        browser: &str,
    ) -> HttpResponse {
        let remembered = ConsentCookie::from_request(self.oauth.keys, req, self.now);
        // The status page's own client needs no consent: its redirect URI is ours (matched exactly at /authorize).
        let own_client = pending.client_id.as_str() == crate::status::STATUS_CLIENT_ID;
        if own_client
            || remembered.has_approved(&identity, &pending.client_id)
            || may_auto_approve(self.upstream.kind(), &pending.redirect_uri)
        {
            return self.complete(&pending, &identity, None).await;
        }
        let handle = random_token(self.oauth.rng);
        let record = AwaitingConsent { pending, identity, browser: TokenHash::of(browser) };
        let sealed = self.seal("consent", &handle, &record);
        let expires = self.now.saturating_add(SIGNIN_TTL_SECONDS);
        if self.oauth.store.put_once(&once_key("consent", &handle), &sealed, expires).await.is_err() {
            return storage_page();
        }
        consent_page(self.oauth.keys, self.server_name, &record.pending, &record.identity, CONSENT_PATH, &handle)
            .header("set-cookie", &signin_cookie(browser))
    }

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

    /// `POST /consent`.
    pub async fn consent(&self, req: &HttpRequest) -> HttpResponse {
        let (handle, decision) = match read_consent_form(self.oauth.keys, &req.body) {
            Ok(v) => v,
            Err(e) => return restart_page(400, &e.to_string()),
        };
        let record: AwaitingConsent = match self.oauth.store.take_once(&once_key("consent", &handle), self.now).await {
            Err(_) => return storage_page(),
            Ok(None) => {
                return restart_page(
                    400,
                    "This approval page has expired or was already used. Please start connecting again from your \
                     client.",
                )
            }
            Ok(Some(sealed)) => match self.open("consent", &handle, &sealed) {
                Some(r) => r,
                None => return restart_page(400, "This approval page is not valid. Please start again."),
            },
        };
        if !Self::same_browser(req, &record.browser) {
            return restart_page(400, "This approval was opened in another browser. Please start again from this one.");
        }
        match decision {
            ConsentDecision::Deny => {
                self.audit("consent", "denied", Some(&record.identity), &record.pending.client_id, None);
                deny(self.oauth.public_url, &record.pending).header("set-cookie", &clear_signin_cookie())
            }
            ConsentDecision::Approve => {
                self.audit("consent", "ok", Some(&record.identity), &record.pending.client_id, None);
                let mut remembered = ConsentCookie::from_request(self.oauth.keys, req, self.now);
                remembered.approve(&record.identity, &record.pending.client_id);
                let cookie = remembered.set_cookie(self.oauth.keys, self.now);
                self.complete(&record.pending, &record.identity, Some(cookie)).await
            }
        }
    }
}
