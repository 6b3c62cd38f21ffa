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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use skillport_providers::local::LocalProvider;
use skillport_providers::{CallbackParams, Identity, IdentityProvider, ProviderError, Secret, SignInStart};
use skillport_sources::http::{HttpClient, HttpRequest as Outbound};

use super::authorize::{deny, requested_client_id, validate_authorization_request, PendingAuthorization, Rejection};
use super::consent::{
    consent_page, cookie_value, error_page, may_auto_approve, read_consent_form, ConsentCookie, ConsentDecision,
};
use super::crypto::random_token;
use super::registration::{cimd_fetch_allowed, is_cimd_client_id, validate_cimd, MAX_CIMD_BYTES};
use super::store::ClientRecord;
use super::{ClientId, OAuthError, OAuthServer, RedirectUri, TokenHash};
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

    /// Whether an authorization error may go back to `redirect_uri` by redirect: only when the user already trusts
    /// it there (this browser approved that client with that redirect URI, or it is one that needs no consent).
    /// Anyone can register any https redirect URI, so otherwise an invalid request would make this server's own
    /// domain redirect to a stranger's page, before any sign-in (RFC 9700 4.11.2): the error is shown here instead.
    fn redirect_approved(&self, req: &HttpRequest, client: &ClientId, redirect_uri: &RedirectUri) -> bool {
        client.as_str() == crate::status::STATUS_CLIENT_ID
            || crate::config::ProviderKind::parse(self.upstream.kind())
                .is_some_and(|kind| may_auto_approve(kind, redirect_uri))
            || ConsentCookie::from_request(self.oauth.keys, req, self.now).approved_here(client, redirect_uri)
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
            Err(Rejection::Redirect { redirect_uri, error, .. })
                if !client.as_ref().is_some_and(|c| self.redirect_approved(req, &c.client_id, &redirect_uri)) =>
            {
                return Rejection::Page(error).to_response(self.oauth.public_url)
            }
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
            || remembered.has_approved(&identity, &pending.client_id, &pending.redirect_uri)
            || crate::config::ProviderKind::parse(self.upstream.kind())
                .is_some_and(|kind| may_auto_approve(kind, &pending.redirect_uri))
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
                remembered.approve(&record.identity, &record.pending.client_id, &record.pending.redirect_uri);
                let cookie = remembered.set_cookie(self.oauth.keys, self.now);
                self.complete(&record.pending, &record.identity, Some(cookie)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::NoNetwork;
    use crate::oauth::authorize::tests::challenge;
    use crate::oauth::store::{ClientAuthMethod, GrantStore, MemoryGrantStore};
    use crate::oauth::testutil::{block_on, keys, CountingRandom};
    use crate::oauth::{ServerKeys, TokenSettings};

    const BASE: &str = "http://localhost:8787";
    const APP_CB: &str = "https://app.example/cb";
    const APP_CB2: &str = "https://app.example/other-cb";
    const PHISH: &str = "https://evil.example/phish";

    struct World {
        store: MemoryGrantStore,
        keys: ServerKeys,
        rng: CountingRandom,
        url: url::Url,
        local: LocalProvider,
    }

    impl World {
        fn new() -> World {
            let w = World {
                store: MemoryGrantStore::new(),
                keys: keys(),
                rng: CountingRandom::default(),
                url: url::Url::parse(BASE).unwrap(),
                local: LocalProvider::new(Default::default()),
            };
            for (id, uris) in
                [("client-a", vec![APP_CB, APP_CB2]), ("client-b", vec![APP_CB]), ("phisher", vec![PHISH])]
            {
                let record = ClientRecord {
                    client_id: ClientId::new(id),
                    redirect_uris: uris.into_iter().map(RedirectUri::new).collect(),
                    client_name: Some("Claude".into()),
                    auth_method: ClientAuthMethod::None,
                    secret_hash: None,
                    issued_at: 0,
                    metadata_document: false,
                };
                block_on(w.store.put_client(&record)).unwrap();
            }
            w
        }

        fn signin(&self) -> SignIn<'_> {
            SignIn {
                oauth: OAuthServer {
                    store: &self.store,
                    keys: &self.keys,
                    rng: &self.rng,
                    public_url: &self.url,
                    settings: TokenSettings::default(),
                },
                upstream: Upstream::Local(&self.local),
                http: &NoNetwork,
                server_name: "Skillport",
                now: 1000,
            }
        }

        /// `GET /authorize` for `client` and `redirect`, with `changes` replacing (or, valued `None`, removing) some
        /// parameters of a valid request.
        fn authorize_with(
            &self,
            client: &str,
            redirect: &str,
            changes: &[(&str, Option<&str>)],
            cookie: Option<&str>,
        ) -> HttpResponse {
            let ch = challenge(&"v".repeat(50));
            let mut params = vec![
                ("response_type", Some("code")),
                ("client_id", Some(client)),
                ("redirect_uri", Some(redirect)),
                ("code_challenge", Some(ch.as_str())),
                ("code_challenge_method", Some("S256")),
                ("state", Some("st")),
            ];
            for (k, v) in changes {
                match params.iter_mut().find(|(pk, _)| pk == k) {
                    Some(p) => p.1 = *v,
                    None => params.push((k, *v)),
                }
            }
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                if let Some(v) = v {
                    query.append_pair(k, v);
                }
            }
            let mut req = HttpRequest::new("GET", "/authorize").with_header("host", "localhost:8787");
            req.query = query.finish();
            if let Some(c) = cookie {
                req = req.with_header("cookie", c);
            }
            block_on(self.signin().authorize(&req))
        }

        fn authorize(&self, client: &str, redirect: &str, cookie: Option<&str>) -> HttpResponse {
            self.authorize_with(client, redirect, &[], cookie)
        }

        /// The consent page's hidden fields and the sign-in cookie it set.
        fn consent_form(page: &HttpResponse) -> (String, String, String) {
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            let html = String::from_utf8(page.body.clone()).unwrap();
            let field = |name: &str| {
                let marker = format!("name=\"{name}\" value=\"");
                let start = html.find(&marker).unwrap() + marker.len();
                html[start..].split('"').next().unwrap().to_owned()
            };
            let cookie = page
                .headers
                .iter()
                .find(|(k, v)| k == "set-cookie" && v.starts_with(SIGNIN_COOKIE))
                .map(|(_, v)| v.split(';').next().unwrap().to_owned())
                .unwrap();
            (field("pending"), field("csrf"), cookie)
        }

        fn post_consent(&self, pending: &str, csrf: &str, cookie: Option<&str>) -> HttpResponse {
            let mut req = HttpRequest::new("POST", CONSENT_PATH)
                .with_header("host", "localhost:8787")
                .with_body(format!("pending={pending}&csrf={csrf}&decision=approve"));
            if let Some(c) = cookie {
                req = req.with_header("cookie", c);
            }
            block_on(self.signin().consent(&req))
        }

        /// Approves `client` with `redirect` in a fresh browser; returns that browser's consent cookie.
        fn approve(&self, client: &str, redirect: &str) -> String {
            let (pending, csrf, signin) = Self::consent_form(&self.authorize(client, redirect, None));
            let done = self.post_consent(&pending, &csrf, Some(&signin));
            assert_eq!(done.status, 302);
            assert!(done.get_header("location").unwrap().starts_with(redirect));
            done.headers
                .iter()
                .find(|(k, v)| k == "set-cookie" && v.starts_with(CONSENT_COOKIE_NAME))
                .map(|(_, v)| v.split(';').next().unwrap().to_owned())
                .unwrap()
        }
    }

    use crate::oauth::consent::CONSENT_COOKIE as CONSENT_COOKIE_NAME;

    fn is_page(r: &HttpResponse) -> bool {
        r.status == 400
            && r.get_header("location").is_none()
            && r.get_header("content-type").is_some_and(|c| c.starts_with("text/html"))
    }

    /// RFC 9700 4.11.2: anyone may register `https://evil.example/phish`; an invalid request for that client must not
    /// make this server redirect there before the user ever approved it.
    #[test]
    fn authorization_errors_redirect_only_to_a_redirect_uri_this_browser_approved() {
        let w = World::new();
        let invalid: [&[(&str, Option<&str>)]; 4] = [
            &[("response_type", Some("token"))],
            &[("code_challenge_method", Some("plain"))],
            &[("code_challenge", None)],
            &[("resource", Some("https://evil.example/"))],
        ];
        for changes in invalid {
            let r = w.authorize_with("phisher", PHISH, changes, None);
            assert!(is_page(&r), "{changes:?}: {} {:?}", r.status, r.get_header("location"));
        }
        // Approved in this browser (client and redirect URI both): the error goes back to the client.
        let approved = w.approve("client-a", APP_CB);
        let bad_resource: &[(&str, Option<&str>)] = &[("resource", Some("https://evil.example/"))];
        let r = w.authorize_with("client-a", APP_CB, bad_resource, Some(&approved));
        assert_eq!(r.status, 302);
        let loc = r.get_header("location").unwrap();
        assert!(loc.starts_with(APP_CB) && loc.contains("error=invalid_target") && loc.contains("state=st"), "{loc}");
        // The same client's other redirect URI, or another client with the approved URI: not approved, a page.
        assert!(is_page(&w.authorize_with("client-a", APP_CB2, bad_resource, Some(&approved))));
        assert!(is_page(&w.authorize_with("client-b", APP_CB, bad_resource, Some(&approved))));
        // `local` approves loopback redirect URIs by itself, so errors may go there.
        let mut loopback = block_on(w.store.get_client(&ClientId::new("client-b"))).unwrap().unwrap();
        loopback.client_id = ClientId::new("dev-tool");
        loopback.redirect_uris = vec![RedirectUri::new("http://127.0.0.1:33418/cb")];
        block_on(w.store.put_client(&loopback)).unwrap();
        let r = w.authorize_with("dev-tool", "http://127.0.0.1:33418/cb", bad_resource, None);
        assert_eq!(r.status, 302);
        assert!(r.get_header("location").unwrap().contains("error=invalid_target"));
    }

    /// GHSA-6x8h-498w-gv8c: a remembered approval of client A must not let client B, nor A with another redirect
    /// URI, complete without the consent page.
    #[test]
    fn remembered_consent_covers_one_client_and_one_redirect_uri() {
        let w = World::new();
        let approved = w.approve("client-a", APP_CB);
        let again = w.authorize("client-a", APP_CB, Some(&approved));
        assert_eq!(again.status, 302, "remembered: no page");
        assert!(again.get_header("location").unwrap().starts_with(&format!("{APP_CB}?code=")));
        // A redirect URI the client gains after the approval (a metadata document refetched with one more).
        let mut grown = block_on(w.store.get_client(&ClientId::new("client-a"))).unwrap().unwrap();
        grown.redirect_uris.push(RedirectUri::new("https://app.example/added-later"));
        block_on(w.store.put_client(&grown)).unwrap();
        for (client, redirect) in
            [("client-a", APP_CB2), ("client-a", "https://app.example/added-later"), ("client-b", APP_CB)]
        {
            let r = w.authorize(client, redirect, Some(&approved));
            assert_eq!(r.status, 200, "{client} {redirect}: the consent page");
            assert!(String::from_utf8_lossy(&r.body).contains("name=\"decision\" value=\"approve\""));
        }
    }

    /// GHSA-rww4-4w9c-7733: the consent form completes only in the browser that signed in; its id and CSRF token
    /// alone (what a page shown elsewhere would leak) are not enough.
    #[test]
    fn consent_from_another_browser_does_not_complete_the_grant() {
        let w = World::new();
        let (_, _, other_browser) = World::consent_form(&w.authorize("client-b", APP_CB, None));
        for cookie in [None, Some(other_browser.as_str()), Some("__Host-skillport_signin=forged")] {
            let (pending, csrf, _) = World::consent_form(&w.authorize("client-a", APP_CB, None));
            let r = w.post_consent(&pending, &csrf, cookie);
            assert!(is_page(&r), "{cookie:?}: {} {:?}", r.status, r.get_header("location"));
            assert!(String::from_utf8_lossy(&r.body).contains("another browser"));
            assert!(r.headers.iter().all(|(k, v)| k != "set-cookie" || !v.starts_with(CONSENT_COOKIE_NAME)));
        }
        // The right browser completes.
        let (pending, csrf, mine) = World::consent_form(&w.authorize("client-a", APP_CB, None));
        assert_eq!(w.post_consent(&pending, &csrf, Some(&mine)).status, 302);
    }
}
