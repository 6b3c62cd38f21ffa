//! The token and revocation endpoints and the bearer check, against the in-memory grant store.

use super::*;
use crate::oauth::authorize::tests::{challenge, client, query, VERIFIER};
use crate::oauth::authorize::validate_authorization_request;
use crate::oauth::crypto::ServerKeys;
use crate::oauth::metadata::{resource_uri, Resource};
use crate::oauth::store::MemoryGrantStore;
use crate::oauth::store::{ClientAuthMethod, CodeTake, GrantStore, IssuedAccess, Rotation};
use crate::oauth::testutil::{block_on, identity, keys, public_url, CountingRandom, CLAUDE_CALLBACK};
use crate::oauth::{AccessToken, ClientSecret, PkceChallenge, PkceVerifier, ResourceUri};
use crate::oauth::{AuthorizationCode, TokenSettings};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use skillport_providers::Identity;
use url::Url;

struct World {
    store: MemoryGrantStore,
    keys: ServerKeys,
    rng: CountingRandom,
    url: Url,
}

impl World {
    fn new() -> World {
        let w =
            World { store: MemoryGrantStore::new(), keys: keys(), rng: CountingRandom::default(), url: public_url() };
        block_on(w.store.put_client(&client())).unwrap();
        w
    }

    fn endpoint(&self) -> OAuthServer<'_> {
        OAuthServer {
            store: &self.store,
            keys: &self.keys,
            rng: &self.rng,
            public_url: &self.url,
            settings: TokenSettings::default(),
        }
    }

    /// Runs /authorize for the test client (with `overrides`) and returns the code.
    fn code(&self, overrides: &[(&str, Option<&str>)], now: u64) -> AuthorizationCode {
        let c = block_on(self.store.get_client(&ClientId::new("client-1"))).unwrap();
        let p = validate_authorization_request(&self.url, c.as_ref(), &query(overrides), now).unwrap();
        let resp = block_on(self.endpoint().complete_authorization(&p, &identity(), now)).unwrap();
        let loc = Url::parse(resp.get_header("location").unwrap()).unwrap();
        AuthorizationCode::new(loc.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned())
    }

    fn post(&self, path: &str, params: &[(&str, &str)], now: u64) -> HttpResponse {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        let req = HttpRequest::new("POST", path)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(ser.finish());
        self.post_req(req, now)
    }

    fn post_req(&self, req: HttpRequest, now: u64) -> HttpResponse {
        if req.path == "/revoke" {
            block_on(self.endpoint().handle_revoke(&req, now))
        } else {
            block_on(self.endpoint().handle_token(&req, now))
        }
    }

    fn redeem(&self, code: &AuthorizationCode, now: u64) -> HttpResponse {
        self.post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CLAUDE_CALLBACK),
                ("client_id", "client-1"),
            ],
            now,
        )
    }

    fn refresh(&self, token: &str, now: u64) -> HttpResponse {
        self.post(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "client-1")],
            now,
        )
    }

    fn verify(&self, token: &str, resource: Resource, now: u64) -> Result<Identity, OAuthError> {
        block_on(verify_access_token(
            &self.store,
            &self.keys,
            &AccessToken::new(token),
            &resource_uri(&self.url, resource),
            now,
        ))
    }
}

fn tokens(r: &HttpResponse) -> (String, String) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let b = r.json_body();
    (b["access_token"].as_str().unwrap().to_owned(), b["refresh_token"].as_str().unwrap().to_owned())
}

fn error(r: &HttpResponse) -> String {
    r.json_body()["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn code_flow_issues_tokens_that_verify() {
    let w = World::new();
    let code = w.code(&[], 100);
    let r = w.redeem(&code, 110);
    assert_eq!(r.get_header("cache-control"), Some("no-store"));
    let b = r.json_body();
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["scope"], "mcp");
    let (access, refresh) = tokens(&r);
    assert_eq!(access.len(), 43);
    assert_ne!(access, refresh);
    assert_eq!(w.verify(&access, Resource::Mcp, 200).unwrap(), identity());
}

#[test]
fn code_replay_fails_and_revokes_the_first_tokens() {
    let w = World::new();
    let code = w.code(&[], 100);
    let (access, refresh) = tokens(&w.redeem(&code, 101));
    assert!(w.verify(&access, Resource::Mcp, 102).is_ok());
    let again = w.redeem(&code, 103);
    assert_eq!(again.status, 400);
    assert_eq!(error(&again), "invalid_grant");
    assert!(matches!(w.verify(&access, Resource::Mcp, 104), Err(OAuthError::InvalidToken(_))));
    assert_eq!(error(&w.refresh(&refresh, 105)), "invalid_grant");
}

#[test]
fn concurrent_redemptions_succeed_exactly_once() {
    let w = World::new();
    let code = w.code(&[], 100);
    let endpoint = w.endpoint();
    let reqs: Vec<HttpRequest> = (0..50)
        .map(|_| {
            let body = format!(
                "grant_type=authorization_code&code={}&code_verifier={VERIFIER}&redirect_uri={}&client_id=client-1",
                code.expose(),
                url::form_urlencoded::byte_serialize(CLAUDE_CALLBACK.as_bytes()).collect::<String>()
            );
            HttpRequest::new("POST", "/token").with_body(body)
        })
        .collect();
    let results = block_on(futures_util::future::join_all(reqs.iter().map(|r| endpoint.handle_token(r, 101))));
    let ok: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1);
    assert!(results.iter().filter(|r| r.status != 200).all(|r| error(r) == "invalid_grant"));
}

/// A store that yields to the executor before every call, so that `join_all` really interleaves 50 redemptions
/// (the plain memory store never yields, so each future would run to completion in turn).
struct Interleaving<'a> {
    inner: &'a MemoryGrantStore,
    taken: std::cell::Cell<usize>,
}

async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            // join_all of many futures polls only those woken.
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

use crate::oauth::store::{AccessRecord, ClientRecord, CodeRecord, GrantRecord, StoreError};
use crate::oauth::GrantId;

#[async_trait::async_trait(?Send)]
impl GrantStore for Interleaving<'_> {
    async fn put_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.put_client(c).await
    }
    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        yield_now().await;
        self.inner.get_client(id).await
    }
    async fn put_code(&self, code: &TokenHash, r: &CodeRecord) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.put_code(code, r).await
    }
    async fn take_code(&self, code: &TokenHash) -> Result<CodeTake, StoreError> {
        yield_now().await;
        let t = self.inner.take_code(code).await?;
        if matches!(t, CodeTake::Taken(_)) {
            self.taken.set(self.taken.get() + 1);
        }
        Ok(t)
    }
    async fn put_grant(&self, g: &GrantRecord) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.put_grant(g).await
    }
    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        yield_now().await;
        self.inner.get_grant(id).await
    }
    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.revoke_grant(id).await
    }
    async fn begin_refresh(
        &self,
        g: &GrantId,
        t: &TokenHash,
        a: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        yield_now().await;
        self.inner.begin_refresh(g, t, a, now, ttl).await
    }
    async fn rotate_refresh(
        &self,
        p: &TokenHash,
        n: &TokenHash,
        a: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError> {
        yield_now().await;
        self.inner.rotate_refresh(p, n, a, now, ttl).await
    }
    async fn refresh_grant(&self, t: &TokenHash) -> Result<Option<GrantId>, StoreError> {
        yield_now().await;
        self.inner.refresh_grant(t).await
    }
    async fn get_access(&self, t: &TokenHash) -> Result<Option<AccessRecord>, StoreError> {
        yield_now().await;
        self.inner.get_access(t).await
    }
    async fn delete_access(&self, t: &TokenHash) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.delete_access(t).await
    }
    async fn put_once(&self, k: &TokenHash, v: &str, exp: u64) -> Result<(), StoreError> {
        yield_now().await;
        self.inner.put_once(k, v, exp).await
    }
    async fn take_once(&self, k: &TokenHash, now: u64) -> Result<Option<String>, StoreError> {
        yield_now().await;
        self.inner.take_once(k, now).await
    }
    async fn bump(&self, k: &TokenHash, end: u64, now: u64) -> Result<u64, StoreError> {
        yield_now().await;
        self.inner.bump(k, end, now).await
    }
    async fn peek(&self, k: &TokenHash, now: u64) -> Result<Option<(u64, u64)>, StoreError> {
        yield_now().await;
        self.inner.peek(k, now).await
    }
}

#[test]
fn interleaved_redemptions_take_the_code_once_and_hand_out_no_live_token_twice() {
    let w = World::new();
    let code = w.code(&[], 100);
    let store = Interleaving { inner: &w.store, taken: Default::default() };
    let endpoint = OAuthServer { store: &store, ..w.endpoint() };
    let body = format!(
        "grant_type=authorization_code&code={}&code_verifier={VERIFIER}&redirect_uri={}&client_id=client-1",
        code.expose(),
        url::form_urlencoded::byte_serialize(CLAUDE_CALLBACK.as_bytes()).collect::<String>()
    );
    let reqs: Vec<HttpRequest> = (0..50).map(|_| HttpRequest::new("POST", "/token").with_body(body.clone())).collect();
    let results = block_on(futures_util::future::join_all(reqs.iter().map(|r| endpoint.handle_token(r, 101))));
    assert_eq!(store.taken.get(), 1, "the code was taken more than once");
    // The other 49 are replays that revoke the grant, so the one redemption that took the code either failed or
    // holds tokens that no longer verify: no attacker racing the client ends up with a live token.
    let ok: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    assert!(ok.len() <= 1);
    for r in ok {
        let (access, _) = tokens(r);
        assert!(w.verify(&access, Resource::Mcp, 102).is_err());
    }
}

#[test]
fn wrong_pkce_verifier_is_refused() {
    let w = World::new();
    let code = w.code(&[], 100);
    let wrong = "x".repeat(43);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", &wrong),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", "client-1"),
        ],
        101,
    );
    assert_eq!(error(&r), "invalid_grant");
    // The code is spent: the right verifier cannot follow.
    assert_eq!(error(&w.redeem(&code, 102)), "invalid_grant");
}

#[test]
fn pkce_rules() {
    let ch = PkceChallenge::new(challenge(VERIFIER));
    assert!(verify_pkce(&PkceVerifier::new(VERIFIER), &ch));
    // The challenge itself as verifier (what `plain` would accept) fails.
    assert!(!verify_pkce(&PkceVerifier::new(ch.as_str()), &ch));
    let short = "a".repeat(42);
    assert!(!verify_pkce(&PkceVerifier::new(&short), &PkceChallenge::new(challenge(&short))));
    let long = "a".repeat(129);
    assert!(!verify_pkce(&PkceVerifier::new(&long), &PkceChallenge::new(challenge(&long))));
    let bad = format!("{}!", "a".repeat(43));
    assert!(!verify_pkce(&PkceVerifier::new(&bad), &PkceChallenge::new(challenge(&bad))));
    let max = "~".repeat(128);
    assert!(verify_pkce(&PkceVerifier::new(&max), &PkceChallenge::new(challenge(&max))));
}

#[test]
fn redirect_uri_must_match_the_authorization_request() {
    let w = World::new();
    let code = w.code(&[], 100);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "https://claude.com/api/mcp/auth_callback"),
            ("client_id", "client-1"),
        ],
        101,
    );
    assert_eq!(error(&r), "invalid_grant");
    let code = w.code(&[], 100);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", VERIFIER),
            ("client_id", "client-1"),
        ],
        101,
    );
    assert_eq!(error(&r), "invalid_request");
}

#[test]
fn expired_code_is_refused() {
    let w = World::new();
    let code = w.code(&[], 100);
    assert_eq!(error(&w.redeem(&code, 160)), "invalid_grant");
    let code = w.code(&[], 100);
    assert_eq!(w.redeem(&code, 159).status, 200);
}

#[test]
fn code_of_another_client_is_refused() {
    let w = World::new();
    let mut other = client();
    other.client_id = ClientId::new("client-2");
    block_on(w.store.put_client(&other)).unwrap();
    let code = w.code(&[], 100);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", "client-2"),
        ],
        101,
    );
    assert_eq!(error(&r), "invalid_grant");
}

#[test]
fn token_for_another_resource_is_refused() {
    let w = World::new();
    let code = w.code(&[("resource", Some("https://skills.example.com/sse"))], 100);
    let (access, _) = tokens(&w.redeem(&code, 101));
    assert!(w.verify(&access, Resource::Sse, 102).is_ok());
    assert!(matches!(w.verify(&access, Resource::Mcp, 102), Err(OAuthError::InvalidToken(_))));
    let other = block_on(verify_access_token(
        &w.store,
        &w.keys,
        &AccessToken::new(access),
        &ResourceUri::new("https://elsewhere.example.com/mcp"),
        102,
    ));
    assert!(other.is_err());
}

#[test]
fn token_request_for_another_resource_is_refused() {
    let w = World::new();
    let code = w.code(&[], 100);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", "client-1"),
            ("resource", "https://skills.example.com/sse"),
        ],
        101,
    );
    assert_eq!(error(&r), "invalid_target");
}

#[test]
fn expired_access_token_is_refused() {
    let w = World::new();
    let (access, _) = tokens(&w.redeem(&w.code(&[], 100), 100));
    assert!(w.verify(&access, Resource::Mcp, 3699).is_ok());
    assert!(matches!(w.verify(&access, Resource::Mcp, 3700), Err(OAuthError::InvalidToken(_))));
}

#[test]
fn unknown_access_token_is_refused() {
    let w = World::new();
    assert!(matches!(w.verify("nope", Resource::Mcp, 1), Err(OAuthError::InvalidToken(_))));
}

#[test]
fn revoked_refresh_token_revokes_the_grant() {
    let w = World::new();
    let (access, refresh) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let r = w.post("/revoke", &[("token", &refresh), ("client_id", "client-1")], 102);
    assert_eq!(r.status, 200);
    assert!(w.verify(&access, Resource::Mcp, 103).is_err());
    assert_eq!(error(&w.refresh(&refresh, 104)), "invalid_grant");
}

#[test]
fn revoked_access_token_is_refused() {
    let w = World::new();
    let (access, refresh) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let r =
        w.post("/revoke", &[("token", &access), ("token_type_hint", "access_token"), ("client_id", "client-1")], 102);
    assert_eq!(r.status, 200);
    assert!(w.verify(&access, Resource::Mcp, 103).is_err());
    // The grant lives on: the refresh token still works.
    assert_eq!(w.refresh(&refresh, 104).status, 200);
}

#[test]
fn revoke_answers_200_for_unknown_tokens_and_other_clients() {
    let w = World::new();
    let (access, _) = tokens(&w.redeem(&w.code(&[], 100), 101));
    assert_eq!(w.post("/revoke", &[("token", "garbage"), ("client_id", "client-1")], 102).status, 200);
    let mut other = client();
    other.client_id = ClientId::new("client-2");
    block_on(w.store.put_client(&other)).unwrap();
    assert_eq!(w.post("/revoke", &[("token", &access), ("client_id", "client-2")], 102).status, 200);
    assert!(w.verify(&access, Resource::Mcp, 103).is_ok(), "another client cannot revoke it");
    assert_eq!(w.post("/revoke", &[("token", &access), ("client_id", "nobody")], 102).status, 401);
}

#[test]
fn refresh_rotates() {
    let w = World::new();
    let (_, r1) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let (a2, r2) = tokens(&w.refresh(&r1, 200));
    assert_ne!(r1, r2);
    assert_eq!(w.verify(&a2, Resource::Mcp, 201).unwrap(), identity());
    let (_, r3) = tokens(&w.refresh(&r2, 300));
    assert_ne!(r2, r3);
}

#[test]
fn previous_refresh_token_has_grace_until_the_new_one_is_used() {
    let w = World::new();
    let (_, r1) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let (_, _lost) = tokens(&w.refresh(&r1, 200));
    // The response was lost: r1 again still works, and its new token too.
    let (a3, r3) = tokens(&w.refresh(&r1, 201));
    assert!(w.verify(&a3, Resource::Mcp, 202).is_ok());
    assert_eq!(w.refresh(&r3, 203).status, 200);
}

#[test]
fn refresh_replay_after_the_new_token_was_used_revokes_the_grant() {
    let w = World::new();
    let (a1, r1) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let (a2, r2) = tokens(&w.refresh(&r1, 200));
    let (a3, r3) = tokens(&w.refresh(&r2, 300));
    // r1 was superseded and its successor r2 used: a replay.
    let r = w.refresh(&r1, 400);
    assert_eq!(error(&r), "invalid_grant");
    for a in [a1, a2, a3] {
        assert!(w.verify(&a, Resource::Mcp, 401).is_err());
    }
    assert_eq!(error(&w.refresh(&r3, 402)), "invalid_grant");
}

#[test]
fn refresh_token_of_another_client_changes_nothing() {
    let w = World::new();
    let (_, r1) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let mut other = client();
    other.client_id = ClientId::new("client-2");
    block_on(w.store.put_client(&other)).unwrap();
    let r =
        w.post("/token", &[("grant_type", "refresh_token"), ("refresh_token", &r1), ("client_id", "client-2")], 102);
    assert_eq!(error(&r), "invalid_grant");
    assert_eq!(w.refresh(&r1, 103).status, 200);
}

#[test]
fn expired_refresh_token_is_refused() {
    let w = World::new();
    let (_, r1) = tokens(&w.redeem(&w.code(&[], 100), 100));
    assert_eq!(error(&w.refresh(&r1, 100 + 30 * 86_400)), "invalid_grant");
}

#[test]
fn unknown_client_is_invalid_client_401() {
    let w = World::new();
    let code = w.code(&[], 100);
    let r = w.post(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", "forgotten-client"),
        ],
        101,
    );
    assert_eq!(r.status, 401);
    assert_eq!(error(&r), "invalid_client");
    let r = w.post("/token", &[("grant_type", "refresh_token"), ("refresh_token", "x")], 101);
    assert_eq!(r.status, 401);
}

#[test]
fn confidential_client_must_authenticate() {
    let w = World::new();
    let mut conf = client();
    conf.client_id = ClientId::new("conf");
    conf.auth_method = ClientAuthMethod::ClientSecretBasic;
    conf.secret_hash = Some(ClientSecret::new("s3cret").hash());
    block_on(w.store.put_client(&conf)).unwrap();
    let issue = || {
        let q = query(&[("client_id", Some("conf"))]);
        let p = validate_authorization_request(&w.url, Some(&conf), &q, 100).unwrap();
        let resp = block_on(w.endpoint().complete_authorization(&p, &identity(), 100)).unwrap();
        let loc = Url::parse(resp.get_header("location").unwrap()).unwrap();
        loc.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
    };
    let body = |code: &str| {
        format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri={}",
            url::form_urlencoded::byte_serialize(CLAUDE_CALLBACK.as_bytes()).collect::<String>()
        )
    };
    // No secret, wrong secret: 401.
    let r = w.post_req(HttpRequest::new("POST", "/token").with_body(format!("{}&client_id=conf", body(&issue()))), 101);
    assert_eq!((r.status, error(&r)), (401, "invalid_client".into()));
    let wrong = STANDARD.encode("conf:nope");
    let r = w.post_req(
        HttpRequest::new("POST", "/token")
            .with_header("authorization", &format!("Basic {wrong}"))
            .with_body(body(&issue())),
        101,
    );
    assert_eq!(r.status, 401);
    // Basic and post both work.
    let right = STANDARD.encode("conf:s3cret");
    let r = w.post_req(
        HttpRequest::new("POST", "/token")
            .with_header("authorization", &format!("Basic {right}"))
            .with_body(body(&issue())),
        101,
    );
    assert_eq!(r.status, 200);
    let r = w.post_req(
        HttpRequest::new("POST", "/token").with_body(format!("{}&client_id=conf&client_secret=s3cret", body(&issue()))),
        101,
    );
    assert_eq!(r.status, 200);
}

/// What the audit line may name as the caller: only a client that authenticated (a public client by existing,
/// a confidential one by its secret), never a `client_id` merely written in the form.
#[test]
fn the_token_endpoint_names_only_an_authenticated_client() {
    let w = World::new();
    let mut conf = client();
    conf.client_id = ClientId::new("conf");
    conf.auth_method = ClientAuthMethod::ClientSecretPost;
    conf.secret_hash = Some(ClientSecret::new("s3cret").hash());
    block_on(w.store.put_client(&conf)).unwrap();
    let caller = |body: &str| {
        let req = HttpRequest::new("POST", "/token").with_body(body.to_owned());
        let (resp, outcome) = block_on(w.endpoint().handle_token_for(&req, 1));
        (resp.status, outcome.client.map(|c| c.as_str().to_owned()))
    };
    assert_eq!(caller("grant_type=refresh_token&refresh_token=x&client_id=never-registered"), (401, None));
    assert_eq!(caller("grant_type=refresh_token&refresh_token=x&client_id=conf&client_secret=wrong"), (401, None));
    assert_eq!(caller("grant_type=refresh_token&refresh_token=x&client_id=a&client_id=b"), (400, None));
    // Authenticated, though the grant itself is refused: the client is known.
    assert_eq!(
        caller("grant_type=refresh_token&refresh_token=x&client_id=conf&client_secret=s3cret"),
        (400, Some("conf".into()))
    );
    assert_eq!(caller("grant_type=refresh_token&refresh_token=x&client_id=client-1"), (400, Some("client-1".into())));
    let get = HttpRequest::new("GET", "/token");
    assert_eq!(block_on(w.endpoint().handle_token_for(&get, 1)).1.client, None);
}

#[test]
fn unsupported_and_missing_grant_types() {
    let w = World::new();
    let r = w.post("/token", &[("grant_type", "password"), ("client_id", "client-1")], 1);
    assert_eq!(error(&r), "unsupported_grant_type");
    let r = w.post("/token", &[("client_id", "client-1")], 1);
    assert_eq!(error(&r), "invalid_request");
}

#[test]
fn the_sweep_never_breaks_what_is_still_valid() {
    let w = World::new();
    let sweep = |now: u64| {
        let mut after: Option<String> = None;
        loop {
            let page = block_on(w.store.sweep(after.as_deref(), now, 4)).unwrap();
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    };
    let live = |a: &str, now: u64| w.verify(a, Resource::Mcp, now).is_ok();
    let (a1, r1) = tokens(&w.redeem(&w.code(&[], 100), 101));
    sweep(102);
    assert!(live(&a1, 102));
    let (a2, _r2) = tokens(&w.refresh(&r1, 3000));
    sweep(3001);
    assert!(live(&a1, 3001) && live(&a2, 3001));
    // The response carrying r2 was lost: r1 again (grace) gives r3, which replaces r2, and a3 replaces a2.
    let (a3, r3) = tokens(&w.refresh(&r1, 3002));
    sweep(3003);
    assert!(!live(&a2, 3003) && live(&a1, 3003) && live(&a3, 3003));
    // r3 used: r1 leaves the grant, and a1 with it.
    let (a4, r4) = tokens(&w.refresh(&r3, 5000));
    sweep(5001);
    assert!(!live(&a1, 5001) && live(&a3, 5001) && live(&a4, 5001));
    // Twenty days on every access token has expired and been deleted, but the chain lives: the current token
    // rotates, and the superseded ones are still known, so presenting one is a replay that revokes the grant.
    let later = 5000 + 20 * 86_400;
    sweep(later);
    assert!(!w.store.dump().to_string().contains("access:"));
    let (a5, r5) = tokens(&w.refresh(&r4, later));
    assert!(live(&a5, later + 1));
    assert_eq!(error(&w.refresh(&r1, later + 2)), "invalid_grant");
    assert!(!live(&a5, later + 3), "the replay revoked the grant");
    assert_eq!(error(&w.refresh(&r5, later + 4)), "invalid_grant");
    // Once everything issued has expired (r5: 30 days), only the client (and the tally of clients) is left; the
    // client goes a day later.
    sweep(later + 30 * 86_400 + crate::oauth::store::GRANT_SWEEP_MARGIN_SECONDS);
    sweep(later + 30 * 86_400 + crate::oauth::store::GRANT_SWEEP_MARGIN_SECONDS);
    let dump = w.store.dump();
    let keys: Vec<&String> = dump.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client:client-1", "count:clients"]);
    sweep(later + 31 * 86_400 + crate::oauth::store::GRANT_SWEEP_MARGIN_SECONDS);
    let dump = w.store.dump();
    let keys: Vec<&String> = dump.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["count:clients"]);
}

#[test]
fn tokens_are_never_stored_in_clear() {
    let w = World::new();
    let code = w.code(&[], 100);
    let (a1, r1) = tokens(&w.redeem(&code, 101));
    let (a2, r2) = tokens(&w.refresh(&r1, 102));
    let dump = w.store.dump().to_string();
    for secret in [code.expose(), &a1, &r1, &a2, &r2, VERIFIER] {
        assert!(!dump.contains(secret), "stored in clear: {secret}");
    }
    // The identity is sealed, too.
    for clear in ["ada@example.com", "12345", "acme"] {
        assert!(!dump.contains(clear), "identity stored in clear: {clear}");
    }
    // And the store does hold them, hashed.
    assert!(dump.contains(&String::from(TokenHash::of(&a2))));
}

#[test]
fn mcp_requests_are_verified_with_a_challenge() {
    let w = World::new();
    let (access, _) = tokens(&w.redeem(&w.code(&[], 100), 101));
    let req = HttpRequest::new("POST", "/mcp").with_header("authorization", &format!("Bearer {access}"));
    assert_eq!(block_on(w.endpoint().verify(&req, 102)).unwrap(), identity());
    // The /mcp token does not open /sse.
    let sse = HttpRequest::new("GET", "/sse").with_header("authorization", &format!("Bearer {access}"));
    let r = block_on(w.endpoint().verify(&sse, 102)).unwrap_err();
    assert_eq!(r.status, 401);
    assert!(r
        .get_header("www-authenticate")
        .unwrap()
        .contains("oauth-protected-resource/sse\", error=\"invalid_token\""));
    let r = block_on(w.endpoint().verify(&HttpRequest::new("POST", "/mcp"), 102)).unwrap_err();
    assert_eq!(
        r.get_header("www-authenticate"),
        Some(r#"Bearer resource_metadata="https://skills.example.com/.well-known/oauth-protected-resource/mcp""#)
    );
}

#[test]
fn bearer_header_is_read() {
    let req = HttpRequest::new("POST", "/mcp").with_header("authorization", "Bearer abc");
    assert_eq!(bearer_token(&req).unwrap().expose(), "abc");
    // Fuzzing found these: a non-ASCII character across byte 6 of the header used to panic.
    for header in ["Basic\u{e9}", "\u{0}\u{fffd}\u{fffd}", "Bas\u{e9}\u{e9}x"] {
        let w = World::new();
        let req = HttpRequest::new("POST", "/token")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_header("authorization", header)
            .with_body(b"grant_type=authorization_code".to_vec());
        let r = w.post_req(req, 0);
        assert!(matches!(r.status, 400 | 401), "{header:?}: {}", r.status);
    }
    let req = HttpRequest::new("POST", "/mcp").with_header("authorization", "Basic abc");
    assert!(bearer_token(&req).is_none());
    assert!(bearer_token(&HttpRequest::new("POST", "/mcp")).is_none());
}
