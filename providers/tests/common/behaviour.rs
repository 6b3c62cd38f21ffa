//! What every identity provider must do, as behaviour functions each kind runs against its stand-in
//! (`tests/behaviour.rs` runs them all, for every kind).
//!
//! A kind is described twice: [`SignIn`] is what every kind has, `local` included (a sign-in, the identity it must
//! map to, a sign-in its rules refuse); [`Upstream`] is what a kind with an upstream identity provider adds (the
//! authorize URL, the callback, the token exchange, and ways to make its stand-in misbehave). Each behaviour takes a
//! factory, so every scenario starts from a fresh provider and a fresh stand-in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use skillport_http::{block_on_ready, CannedClient, HttpClient, HttpError, HttpRequest, HttpResponse};
use skillport_providers::oidc::ClientAuth;
use skillport_providers::{
    CallbackParams, Identity, IdentityProvider, ProviderError, Secret, SignInStart, ANSWER_MAX_BYTES,
};

use super::{
    assert_no_secret, callback, form, param, ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, CODE, NOW, REDIRECT_URI, STATE,
};

/// Every kind: one sign-in of its stand-in's user, and the identity it must give.
pub trait SignIn {
    /// The kind, as configuration and [`Identity::provider`] spell it.
    fn kind(&self) -> &'static str;
    /// A whole sign-in of the stand-in's user, as configured for this kind.
    fn sign_in(&self) -> Result<Identity, ProviderError>;
    /// The identity [`sign_in`](Self::sign_in) must give, every field mapped.
    fn expected(&self) -> Identity;
    /// A sign-in of the same user that this kind's rules refuse (a domain not allowed; for `local`, a public host).
    fn refused_sign_in(&self) -> Result<Identity, ProviderError>;
}

/// Which nonce the stand-in's ID token carries.
#[derive(Clone, Copy)]
pub enum TokenNonce<'a> {
    /// The one this sign-in started with.
    Kept,
    /// Another sign-in's.
    Other(&'a str),
    /// None at all.
    Absent,
}

/// A kind with an upstream identity provider, set up against its in-process stand-in.
pub trait Upstream: SignIn {
    fn provider(&self) -> &dyn IdentityProvider;
    fn http(&self) -> &CannedClient;
    /// Where the browser is sent to sign in.
    fn authorize_endpoint(&self) -> String;
    /// The scopes the authorize URL must ask for, space-separated.
    fn scope(&self) -> &'static str;
    /// Whether the sign-in carries an OpenID Connect nonce.
    fn uses_nonce(&self) -> bool;
    /// How the client must authenticate at the token endpoint.
    fn client_auth(&self) -> ClientAuth;
    /// The token endpoint (POST).
    fn token_endpoint(&self) -> String;
    /// The endpoint the user is read from with the access token, after the exchange (GET).
    fn user_endpoint(&self) -> String;
    /// Makes the stand-in answer the callback of `kept` with a good sign-in, its ID token (if any) carrying `nonce`.
    fn issue(&self, kept: &SignInStart, nonce: TokenNonce<'_>);
    /// Makes the token endpoint refuse with OAuth error `code`, the way this upstream does; the refusal's
    /// description quotes the code and the client secret back.
    fn refuse_token(&self, code: &str);
    /// The error code this upstream answers a stale or unknown code with.
    fn bad_code_error(&self) -> &'static str;
    /// The error code this upstream answers wrong client credentials with.
    fn bad_client_error(&self) -> &'static str;
}

/// One whole sign-in through `u`'s stand-in; an error must show no secret of the flow.
pub fn upstream_sign_in(u: &dyn Upstream, provider: &dyn IdentityProvider) -> Result<Identity, ProviderError> {
    let kept = block_on_ready(provider.start(u.http(), REDIRECT_URI, STATE))?;
    u.issue(&kept, TokenNonce::Kept);
    let result = block_on_ready(provider.finish(u.http(), &callback(&kept), &kept, REDIRECT_URI, NOW));
    if let Err(error) = &result {
        assert_no_secret(error, &kept_secrets(&kept));
    }
    result
}

fn kept_secrets(kept: &SignInStart) -> Vec<&str> {
    let mut secrets = vec![kept.pkce_verifier.expose()];
    secrets.extend(kept.nonce.as_ref().map(Secret::expose));
    secrets
}

fn start(u: &dyn Upstream) -> SignInStart {
    block_on_ready(u.provider().start(u.http(), REDIRECT_URI, STATE)).expect("start")
}

fn finish(u: &dyn Upstream, callback: &CallbackParams, kept: &SignInStart) -> Result<Identity, ProviderError> {
    block_on_ready(u.provider().finish(u.http(), callback, kept, REDIRECT_URI, NOW))
}

/// The error of a sign-in that must fail, checked to show no secret.
fn failed(result: Result<Identity, ProviderError>, kept: &SignInStart) -> ProviderError {
    let error = result.expect_err("the sign-in must fail");
    assert_no_secret(&error, &kept_secrets(kept));
    error
}

fn unavailable(error: ProviderError) -> String {
    match error {
        ProviderError::Unavailable(why) => why,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

// ---- every kind ----

/// The sign-in maps the stand-in's user to exactly the expected identity, under the kind's own name, and a domain
/// is only ever a verified one.
pub fn maps_the_identity<K: SignIn>(new: impl Fn() -> K) {
    let k = new();
    let identity = k.sign_in().expect("the stand-in's user signs in");
    assert_eq!(identity, k.expected());
    assert_eq!(identity.provider, k.kind());
    assert!(!identity.subject.is_empty());
    assert!(identity.email_verified || identity.domain.is_none(), "a domain from an unverified email: {identity:?}");
}

/// A user the kind's rules do not let in gets a typed refusal, with no secret in its text.
pub fn rules_refuse_with_a_typed_error<K: SignIn>(new: impl Fn() -> K) {
    let error = new().refused_sign_in().expect_err("the rule refuses");
    assert!(matches!(error, ProviderError::Rejected(_) | ProviderError::Refused(_)), "{error:?}");
    assert_no_secret(&error, &[]);
}

// ---- kinds with an upstream ----

/// The authorize URL goes to the upstream's endpoint with our client, redirect URI, scopes and state, and a PKCE S256
/// challenge of the kept verifier (and, for OpenID Connect, the kept nonce); the verifier never leaves us, and every
/// start makes new ones.
pub fn start_builds_the_authorize_url<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    let kept = start(&u);
    let url = &kept.authorize_url;
    assert!(url.starts_with(&format!("{}?", u.authorize_endpoint())), "{url}");
    assert_eq!(param(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT_URI));
    assert_eq!(param(url, "state").as_deref(), Some(STATE));
    assert_eq!(kept.state, STATE);
    assert_eq!(param(url, "scope").as_deref(), Some(u.scope()));
    assert!(param(url, "response_type").is_none_or(|t| t == "code"), "{url}");
    assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"));
    let verifier = PkceCodeVerifier::new(kept.pkce_verifier.expose().to_string());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(param(url, "code_challenge").as_deref(), Some(challenge.as_str()));
    assert_eq!(kept.pkce_verifier.expose().len(), 43);
    assert!(!url.contains(kept.pkce_verifier.expose()), "the verifier stays with us");
    match &kept.nonce {
        Some(nonce) => {
            assert!(u.uses_nonce());
            assert_eq!(param(url, "nonce").as_deref(), Some(nonce.expose()));
            assert!(nonce.expose().len() >= 16);
        }
        None => {
            assert!(!u.uses_nonce());
            assert_eq!(param(url, "nonce"), None);
        }
    }
    let again = start(&u);
    assert_ne!(again.pkce_verifier, kept.pkce_verifier);
    assert!(again.nonce.is_none() || again.nonce != kept.nonce);
}

/// The callback exchanges our code with the kept verifier and redirect URI, the client authenticated as configured;
/// the user is read with the access token; every request names us and is capped.
pub fn finish_exchanges_the_code_with_the_kept_verifier<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    let kept = start(&u);
    u.http().clear_requests();
    u.issue(&kept, TokenNonce::Kept);
    assert_eq!(finish(&u, &callback(&kept), &kept).unwrap(), u.expected());

    let requests = u.http().requests();
    let token: Vec<&HttpRequest> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(token.len(), 1, "one exchange");
    let token = token[0];
    assert_eq!(token.url, u.token_endpoint());
    let fields = form(&token.body);
    let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(field("code"), Some(CODE));
    assert_eq!(field("code_verifier"), Some(kept.pkce_verifier.expose()));
    assert_eq!(field("redirect_uri"), Some(REDIRECT_URI));
    match u.client_auth() {
        ClientAuth::Post => {
            assert_eq!((field("client_id"), field("client_secret")), (Some(CLIENT_ID), Some(CLIENT_SECRET)));
            assert_eq!(token.header_value("authorization"), None);
        }
        ClientAuth::Basic => {
            let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
            assert_eq!(token.header_value("authorization"), Some(basic.as_str()));
            assert_eq!(field("client_secret"), None);
        }
    }
    let user = requests.iter().find(|r| r.url == u.user_endpoint()).expect("the user is read");
    assert_eq!(user.header_value("authorization"), Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
    for request in &requests {
        assert_eq!(request.header_value("user-agent"), Some("skillport"), "{}", request.url);
        assert_eq!(request.max_body, ANSWER_MAX_BYTES, "{}", request.url);
    }
}

/// A callback whose state is missing or not ours is refused before anything is sent upstream.
pub fn wrong_state_is_refused_before_any_request<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    let kept = start(&u);
    u.issue(&kept, TokenNonce::Kept);
    u.http().clear_requests();
    for query in [format!("code={CODE}&state=forged"), format!("code={CODE}"), format!("code={CODE}&state=")] {
        let error = failed(finish(&u, &CallbackParams::from_query(&query), &kept), &kept);
        assert_eq!(error, ProviderError::BadState, "{query}");
    }
    // The callback of another sign-in of ours is not this one's either.
    let other = block_on_ready(u.provider().start(u.http(), REDIRECT_URI, "another-sign-in")).unwrap();
    u.http().clear_requests();
    let error = failed(finish(&u, &callback(&other), &kept), &kept);
    assert_eq!(error, ProviderError::BadState);
    assert!(u.http().requests().is_empty(), "nothing was exchanged: {:?}", u.http().urls());
}

/// An ID token for another sign-in's nonce, or for none, is refused; so is a kept sign-in that lost its nonce.
pub fn wrong_nonce_is_refused<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    assert!(u.uses_nonce());
    for nonce in [TokenNonce::Other("a-nonce-from-another-sign-in"), TokenNonce::Absent] {
        let kept = start(&u);
        u.issue(&kept, nonce);
        match failed(finish(&u, &callback(&kept), &kept), &kept) {
            ProviderError::InvalidToken(why) => assert!(why.contains("nonce"), "{why}"),
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }
    let kept = start(&u);
    u.issue(&kept, TokenNonce::Kept);
    let lost = SignInStart { nonce: None, ..kept.clone() };
    assert_eq!(failed(finish(&u, &callback(&kept), &lost), &kept), ProviderError::BadState);
}

/// The upstream's own refusal in the callback (the user said no, the upstream is down) is typed, and nothing is
/// exchanged.
pub fn upstream_refusal_in_the_callback_is_typed<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    let kept = start(&u);
    u.http().clear_requests();
    let denied = CallbackParams::from_query(&format!(
        "error=access_denied&error_description=The+user+said+no+to+{CLIENT_SECRET}&state={STATE}"
    ));
    assert_eq!(failed(finish(&u, &denied, &kept), &kept), ProviderError::Denied);
    let down = CallbackParams::from_query(&format!("error=temporarily_unavailable&state={STATE}"));
    unavailable(failed(finish(&u, &down, &kept), &kept));
    assert!(u.http().requests().is_empty(), "nothing was exchanged: {:?}", u.http().urls());
}

/// A code the upstream refuses is an exchange error carrying only the upstream's error code; refused client
/// credentials are a misconfiguration. Neither shows the code, the secret or the upstream's description.
pub fn refused_exchange_is_typed<K: Upstream>(new: impl Fn() -> K) {
    let u = new();
    let kept = start(&u);
    u.refuse_token(u.bad_code_error());
    let stale = CallbackParams { code: Some(Secret::new("stale-code-SHOULD-NOT-LEAK")), ..callback(&kept) };
    let error = failed(finish(&u, &stale, &kept), &kept);
    assert_eq!(error, ProviderError::Exchange(u.bad_code_error().into()));
    assert!(!format!("{error} {error:?}").contains("stale-code"));

    let u = new();
    let kept = start(&u);
    u.refuse_token(u.bad_client_error());
    let error = failed(finish(&u, &callback(&kept), &kept), &kept);
    assert!(matches!(error, ProviderError::Misconfigured(_)), "{error:?}");
}

/// The upstream answering 5xx or 429, at the token endpoint or when the user is read, makes the provider
/// unavailable, with the status and no secret in the text.
pub fn upstream_errors_are_unavailable<K: Upstream>(new: impl Fn() -> K) {
    for status in [500, 503, 429] {
        for endpoint in ["token", "user"] {
            let u = new();
            let kept = start(&u);
            u.issue(&kept, TokenNonce::Kept);
            let body = format!("down; your code was {CODE}, our secret {CLIENT_SECRET}, the token {ACCESS_TOKEN}");
            let answer = move |_: &HttpRequest| Ok(HttpResponse::new(status).with_body(body.clone()));
            match endpoint {
                "token" => u.http().route("POST", &u.token_endpoint(), answer),
                _ => u.http().route("GET", &u.user_endpoint(), answer),
            };
            let why = unavailable(failed(finish(&u, &callback(&kept), &kept), &kept));
            assert!(why.contains(&status.to_string()), "{endpoint} {status}: {why}");
        }
    }
    // No answer at all, mid-way: the transport's message (which quotes what it was sent) is not passed on.
    for endpoint in ["token", "user"] {
        let u = new();
        let kept = start(&u);
        u.issue(&kept, TokenNonce::Kept);
        let reset = |_: &HttpRequest| Err(HttpError::Connect(format!("reset; {CODE} {CLIENT_SECRET} {ACCESS_TOKEN}")));
        match endpoint {
            "token" => u.http().route("POST", &u.token_endpoint(), reset),
            _ => u.http().route("GET", &u.user_endpoint(), reset),
        };
        let why = unavailable(failed(finish(&u, &callback(&kept), &kept), &kept));
        assert!(why.contains("could not be reached"), "{endpoint}: {why}");
    }
}

/// An answer over [`ANSWER_MAX_BYTES`], from the token endpoint or when the user is read, is refused as too large,
/// not read.
pub fn oversize_answers_are_refused<K: Upstream>(new: impl Fn() -> K) {
    for endpoint in ["token", "user"] {
        let u = new();
        let kept = start(&u);
        u.issue(&kept, TokenNonce::Kept);
        let huge = move |_: &HttpRequest| {
            let mut body = format!("{{\"access_token\":\"{ACCESS_TOKEN}\",\"pad\":\"").into_bytes();
            body.resize(ANSWER_MAX_BYTES as usize + 1, b'x');
            Ok(HttpResponse::new(200).with_header("content-type", "application/json").with_body(body))
        };
        match endpoint {
            "token" => u.http().route("POST", &u.token_endpoint(), huge),
            _ => u.http().route("GET", &u.user_endpoint(), huge),
        };
        let why = unavailable(failed(finish(&u, &callback(&kept), &kept), &kept));
        assert!(why.contains("too large"), "{endpoint}: {why}");
    }
}

/// How an upstream can be out of reach.
#[derive(Clone, Copy, Debug)]
pub enum Outage {
    /// The connection fails; the transport's message quotes everything it was sent.
    Connect,
    Timeout,
    /// Every request answers this status.
    Status(u16),
}

/// A transport to an upstream that is down: every request fails the same way.
pub struct Down(pub Outage);

#[async_trait::async_trait(?Send)]
impl HttpClient for Down {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        match self.0 {
            Outage::Connect => Err(HttpError::Connect(format!(
                "reset by {} after {:?}; body {}",
                req.url,
                req.headers,
                String::from_utf8_lossy(&req.body)
            ))),
            Outage::Timeout => Err(HttpError::Timeout),
            Outage::Status(status) => Ok(HttpResponse::new(status).with_body(format!("down; {CLIENT_SECRET}"))),
        }
    }
}

/// An upstream that cannot be reached, at the start or at the callback, makes the sign-in fail as unavailable (never
/// a panic), and the failure is not remembered: the next sign-in, once it is back, succeeds.
pub fn an_outage_is_an_error_and_is_not_remembered<K: Upstream>(new: impl Fn() -> K) {
    for outage in [Outage::Connect, Outage::Timeout, Outage::Status(503)] {
        let u = new();
        let down = Down(outage);
        let check = |error: ProviderError| {
            assert_no_secret(&error, &[]);
            let why = unavailable(error);
            match outage {
                Outage::Timeout => assert!(why.contains("timed out"), "{why}"),
                Outage::Status(status) => assert!(why.contains(&status.to_string()), "{why}"),
                Outage::Connect => assert!(why.contains("could not be reached"), "{why}"),
            }
        };
        // At the start: a kind that reads nothing upstream to start (GitHub) starts anyway.
        if let Err(error) = block_on_ready(u.provider().start(&down, REDIRECT_URI, STATE)) {
            check(error);
        }
        // At the callback.
        let kept = start(&u);
        u.issue(&kept, TokenNonce::Kept);
        let result = block_on_ready(u.provider().finish(&down, &callback(&kept), &kept, REDIRECT_URI, NOW));
        let error = result.expect_err("the callback fails while the upstream is down");
        assert_no_secret(&error, &kept_secrets(&kept));
        check(error);
        // Back up.
        assert_eq!(u.sign_in().expect("the upstream is back"), u.expected(), "{outage:?}");
    }
}
