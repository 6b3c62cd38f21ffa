//! The OAuth 2.1 server's parsing of what clients send (src/oauth): `/authorize` query strings, Dynamic Client
//! Registration bodies, Client ID Metadata Documents and redirect URIs, the `/token` and `/revoke` forms with their
//! client authentication, bearer tokens, the consent form and the consent cookie.
//!
//! Input: byte 0 (mod 6) picks the endpoint, the rest is its input:
//! 0. `/authorize`: the rest is the query string, validated for a registered public client;
//! 1. `/register`: the rest is the DCR JSON body;
//! 2. the first line is a redirect URI / `client_id` URL, the rest a metadata document for it;
//! 3. `/token`, `/revoke` and the bearer check: the first line is the `Authorization` header (empty: none), the rest
//!    the form body;
//! 4. consent: the first line is the `Cookie` header, the rest the consent form body;
//! 5. the whole App (embedded default configuration, `local` sign-in) through `App::serve`, with a fresh in-memory
//!    grant store per input: line 1 is `METHOD /path?query`, line 2 the `Authorization` header, line 3 the `Cookie`
//!    header (each empty: none), the rest the body. This reaches the routing table and the sign-in flow
//!    (`/authorize`, `/callback`, `/consent`, `/register`, `/token`, `/revoke`) as a Worker request would.
//! In 0, 3 and 4 these placeholders are replaced by live values from a store set up for each input, so the fuzzer
//! reaches the success paths: `$CID` (public client), `$CONF` / `$SECRET` / `$BASIC` (confidential client, its
//! secret, `base64(id:secret)`), `$CODE` / `$VERIFIER` (an unused code of the public client and its PKCE verifier),
//! `$CODE2` (an unused code of the confidential client, same verifier), `$REFRESH`, `$ACCESS` (live tokens of the
//! public client), `$CHAL` (the S256 challenge), `$CSRF` (the consent form token for pending id `p1`), `$COOKIE` (a
//! valid consent cookie).
//!
//! Invariants: no panic; what is accepted obeys the rules the module documents (a pending authorization only ever
//! for a registered redirect URI, with an S256 challenge and a protected resource; errors only redirected to a
//! registered URI; registered redirect URIs all valid; a token only for the right code and verifier, or the live
//! refresh token; every issued access token then passes the bearer check; a consent form only with its CSRF token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillport::testing::block_on;
use skillport::http::HttpRequest;
use skillport::oauth::authorize::{self, Rejection};
use skillport::oauth::consent::{self, ConsentCookie};
use skillport::oauth::registration;
use skillport::oauth::store::{ClientAuthMethod, ClientRecord, GrantStore};
use skillport::oauth::{
    ClientId, MemoryGrantStore, OAuthServer, PkceChallenge, Random, RedirectUri, ServerKeys, TokenSettings,
};
use std::cell::Cell;

const PUBLIC_URL: &str = "https://skills.example.com";
const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";
const LOOPBACK_CALLBACK: &str = "http://localhost:6274/oauth/callback?x=1";
const NOW: u64 = 1_700_000_000;
/// A valid PKCE verifier (RFC 7636 appendix B's) and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Deterministic randomness: inputs replay exactly.
struct Counting(Cell<u64>);

impl Random for Counting {
    fn fill(&self, buf: &mut [u8]) {
        let n = self.0.get();
        self.0.set(n + 1);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (n as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(167);
        }
    }
}

fn public_url() -> url::Url {
    url::Url::parse(PUBLIC_URL).expect("fixed URL")
}

fn keys() -> ServerKeys {
    ServerKeys::derive(b"the fuzz target's master secret of 32+ bytes")
}

fn identity() -> skillport_providers::Identity {
    skillport_providers::local::LocalProvider::new(Default::default()).sign_in("localhost").expect("loopback")
}

fn public_client() -> ClientRecord {
    ClientRecord {
        client_id: ClientId::new("public-client"),
        redirect_uris: vec![RedirectUri::parse(CALLBACK).unwrap(), RedirectUri::parse(LOOPBACK_CALLBACK).unwrap()],
        client_name: Some("Claude".into()),
        auth_method: ClientAuthMethod::None,
        secret_hash: None,
        issued_at: NOW,
        metadata_document: false,
    }
}

fn split_line(data: &[u8]) -> (String, &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]).into_owned(), &data[i + 1..]),
        None => (String::from_utf8_lossy(data).into_owned(), &[][..]),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// True when `header` is HTTP Basic for exactly `id` and `secret` (RFC 6749 2.3.1: each form-urlencoded).
fn basic_is(header: &str, id: &str, secret: &str) -> bool {
    let Some(encoded) = header.get(..6).filter(|s| s.eq_ignore_ascii_case("basic ")).map(|_| header[6..].trim()) else {
        return false;
    };
    let Some(decoded) = decode_base64(encoded) else { return false };
    let Ok(decoded) = String::from_utf8(decoded) else { return false };
    let Some((i, s)) = decoded.split_once(':') else { return false };
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    unescape(i).as_deref() == Some(id) && unescape(s).as_deref() == Some(secret)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = s.trim_end_matches('=');
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        bits = (bits << 6) | ALPHABET.iter().position(|a| *a == c)? as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.path() == b.path(),
        _ => false,
    }
}

/// Everything live for one input: a store with both kinds of client, unused codes, and a token pair.
struct World {
    store: MemoryGrantStore,
    rng: Counting,
    keys: ServerKeys,
    url: url::Url,
    subst: Vec<(&'static str, String)>,
}

impl World {
    fn server(&self) -> OAuthServer<'_> {
        OAuthServer {
            store: &self.store,
            keys: &self.keys,
            rng: &self.rng,
            public_url: &self.url,
            settings: TokenSettings::default(),
        }
    }

    fn new() -> World {
        let mut world = World {
            store: MemoryGrantStore::new(),
            rng: Counting(Cell::new(1)),
            keys: keys(),
            url: public_url(),
            subst: Vec::new(),
        };
        let client = public_client();
        block_on(world.store.put_client(&client)).expect("memory store");
        let dcr = format!(r#"{{"redirect_uris":["{CALLBACK}"],"token_endpoint_auth_method":"client_secret_basic"}}"#);
        let (conf, secret) = block_on(registration::register(&world.store, &world.rng, dcr.as_bytes(), NOW, limits()))
            .expect("valid DCR")
            .expect("room for a client");
        let secret = secret.expect("a confidential client has a secret");
        let code_for = |world: &World, client: &ClientRecord| -> String {
            let query = format!(
                "response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
                client.client_id, CALLBACK
            );
            let pending = authorize::validate_authorization_request(&world.url, Some(client), &query, NOW)
                .expect("valid request");
            let resp =
                block_on(world.server().complete_authorization(&pending, &identity(), NOW)).expect("memory store");
            let location = resp.get_header("location").expect("302");
            let url = url::Url::parse(location).expect("redirect URL");
            let code = url.query_pairs().find(|(k, _)| k == "code").expect("code").1.into_owned();
            code
        };
        // A code redeemed for a token pair, then one unused code per client.
        let first = code_for(&world, &client);
        let form = format!("grant_type=authorization_code&client_id=public-client&code={first}&code_verifier={VERIFIER}&redirect_uri={CALLBACK}");
        let tokens = block_on(world.server().exchange(&HttpRequest::new("POST", "/token").with_body(form), NOW))
            .expect("redeem");
        let code = code_for(&world, &client);
        let code2 = code_for(&world, &conf);
        let cookie = {
            let mut c = ConsentCookie::default();
            c.approve(&identity(), &client.client_id, &RedirectUri::parse(CALLBACK).unwrap());
            let set = c.set_cookie(&world.keys, NOW);
            set.split(';').next().expect("name=value").to_owned()
        };
        world.subst = vec![
            ("$CODE2", code2),
            ("$CODE", code),
            ("$CID", client.client_id.to_string()),
            ("$CONF", conf.client_id.to_string()),
            ("$SECRET", secret.expose().to_owned()),
            ("$BASIC", base64(format!("{}:{}", conf.client_id, secret.expose()).as_bytes())),
            ("$VERIFIER", VERIFIER.to_owned()),
            ("$CHAL", CHALLENGE.to_owned()),
            ("$REFRESH", tokens.refresh_token.expose().to_owned()),
            ("$ACCESS", tokens.access_token.expose().to_owned()),
            ("$CSRF", consent::csrf_token(&world.keys, "p1")),
            ("$COOKIE", cookie),
        ];
        world
    }

    fn expand(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (k, v) in &self.subst {
            text = text.replace(k, v);
        }
        text
    }

    fn value(&self, key: &str) -> &str {
        &self.subst.iter().find(|(k, _)| *k == key).expect("known placeholder").1
    }
}

fn form_of(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn authorize_target(input: &[u8]) {
    let world = World::new();
    let query = world.expand(&String::from_utf8_lossy(input));
    let client = public_client();
    let url = public_url();
    let _ = authorize::requested_client_id(&query);
    assert!(authorize::validate_authorization_request(&url, None, &query, NOW).is_err(), "unknown client accepted");
    match authorize::validate_authorization_request(&url, Some(&client), &query, NOW) {
        Ok(pending) => {
            assert!(client.allows_redirect(pending.redirect_uri.as_str()), "unregistered redirect URI accepted");
            assert_eq!(pending.client_id, client.client_id);
            assert_eq!(authorize::requested_client_id(&query).as_ref(), Some(&client.client_id));
            assert_eq!(pending.code_challenge.as_str().len(), 43);
            assert!(
                [format!("{PUBLIC_URL}/mcp"), format!("{PUBLIC_URL}/sse")].contains(&pending.resource.to_string()),
                "resource {} is not protected here",
                pending.resource
            );
            assert_eq!(pending.scope, "mcp");
            assert!(pending.state.as_ref().is_none_or(|s| s.len() <= 1024));
            let denied = authorize::deny(&url, &pending);
            assert_eq!(denied.status, 302);
            assert!(same_origin(denied.get_header("location").expect("location"), pending.redirect_uri.as_str()));
            let resp =
                block_on(world.server().complete_authorization(&pending, &identity(), NOW)).expect("memory store");
            let location = resp.get_header("location").expect("location");
            assert!(same_origin(location, pending.redirect_uri.as_str()), "code sent to {location}");
            let sent = url::Url::parse(location).expect("URL");
            let state = sent.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).last();
            assert_eq!(state, pending.state, "state is echoed exactly");
            let _ = PkceChallenge::new(pending.code_challenge.as_str());
        }
        Err(rejection) => {
            let resp = rejection.to_response(&url);
            match &rejection {
                Rejection::Page(_) => assert_eq!(resp.status, 400),
                Rejection::Redirect { redirect_uri, state, .. } => {
                    assert!(client.allows_redirect(redirect_uri.as_str()), "error redirected to an unregistered URI");
                    assert!(state.as_ref().is_none_or(|s| s.len() <= 1024));
                    assert_eq!(resp.status, 302);
                    assert!(same_origin(resp.get_header("location").expect("location"), redirect_uri.as_str()));
                }
            }
        }
    }
}

/// The default limits on new clients: one registration per run stays far inside them.
fn limits() -> skillport::oauth::limits::ClientLimits {
    skillport::oauth::limits::ClientLimits::default()
}

fn register_target(body: &[u8]) {
    let store = MemoryGrantStore::new();
    let rng = Counting(Cell::new(1));
    match block_on(registration::register(&store, &rng, body, NOW, limits())) {
        Ok(None) => panic!("an empty store refused a client for lack of room"),
        Ok(Some((record, secret))) => {
            assert!((1..=10).contains(&record.redirect_uris.len()));
            for uri in &record.redirect_uris {
                assert_eq!(registration::validate_redirect_uri(uri.as_str()).as_ref(), Ok(uri), "registered `{uri}`");
            }
            if let Some(name) = &record.client_name {
                assert!(!name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control));
            }
            assert_eq!(secret.is_some(), record.auth_method != ClientAuthMethod::None);
            assert_eq!(record.secret_hash.is_some(), secret.is_some());
            let stored = block_on(store.get_client(&record.client_id)).expect("memory store");
            assert_eq!(stored.as_ref(), Some(&record), "the registered client is stored as returned");
        }
        Err(e) => {
            let resp = e.to_response();
            assert!(resp.status == 400, "registration refused with {}", resp.status);
        }
    }
    let req =
        HttpRequest::new("POST", "/register").with_header("content-type", "application/json").with_body(body.to_vec());
    let resp =
        block_on(registration::handle_register(&MemoryGrantStore::new(), &Counting(Cell::new(1)), &req, NOW, limits()));
    assert!(matches!(resp.status, 201 | 400), "register answered {}", resp.status);
    let _: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON answer");
}

fn cimd_target(input: &[u8]) {
    let (uri, document) = split_line(input);
    match registration::validate_redirect_uri(&uri) {
        Ok(r) => {
            assert_eq!(r.as_str(), uri);
            let url = url::Url::parse(&uri).expect("an accepted redirect URI parses");
            assert!(url.fragment().is_none() && url.username().is_empty() && url.password().is_none());
            match url.scheme() {
                "https" => {}
                "http" => assert!(r.is_loopback(), "plain http off loopback: {uri}"),
                other => panic!("scheme {other} accepted"),
            }
        }
        Err(e) => assert_eq!(e.code(), "invalid_redirect_uri"),
    }
    let is_cimd = registration::is_cimd_client_id(&uri);
    if registration::cimd_fetch_allowed(&uri, true).is_ok() {
        assert_eq!(url::Url::parse(&uri).map(|u| u.scheme().to_owned()).ok().as_deref(), Some("https"));
    }
    let _ = registration::cimd_fetch_allowed(&uri, false);
    match registration::validate_cimd(&uri, document, NOW) {
        Ok(record) => {
            assert!(is_cimd, "a metadata document accepted for `{uri}`, which is no client id URL");
            assert_eq!(record.client_id.as_str(), uri);
            assert_eq!(record.auth_method, ClientAuthMethod::None);
            assert!(record.secret_hash.is_none() && record.metadata_document);
            assert!(!record.redirect_uris.is_empty());
            for r in &record.redirect_uris {
                assert!(registration::validate_redirect_uri(r.as_str()).is_ok());
            }
            assert!(document.len() <= registration::MAX_CIMD_BYTES);
        }
        Err(_) => {}
    }
    // The same document as a client id URL we accept, so the document checks are reached often.
    let _ = registration::validate_cimd("https://client.example.com/oauth/metadata.json", document, NOW);
}

fn token_target(input: &[u8]) {
    let world = World::new();
    let (header, body) = split_line(input);
    let header = world.expand(&header);
    let body = world.expand(&String::from_utf8_lossy(body));
    let mut req = HttpRequest::new("POST", "/token")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body.clone());
    if !header.is_empty() {
        req = req.with_header("authorization", &header);
    }
    let server = world.server();
    let resp = block_on(server.handle_token(&req, NOW + 1));
    assert!(matches!(resp.status, 200 | 400 | 401), "token endpoint answered {}", resp.status);
    let json: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON answer");
    if resp.status == 200 {
        let form = form_of(&body);
        let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        match get("grant_type") {
            Some("authorization_code") => {
                let code = get("code").expect("a code");
                assert!(code == world.value("$CODE") || code == world.value("$CODE2"), "a token for code `{code}`");
                assert_eq!(get("code_verifier"), Some(VERIFIER), "a token without the PKCE verifier");
                assert_eq!(get("redirect_uri"), Some(CALLBACK));
                if code == world.value("$CODE2") {
                    let secret = world.value("$SECRET");
                    let by_form = get("client_secret") == Some(secret);
                    assert!(
                        by_form || basic_is(&header, world.value("$CONF"), secret),
                        "the confidential client's code was redeemed without its secret"
                    );
                }
            }
            Some("refresh_token") => assert_eq!(get("refresh_token"), Some(world.value("$REFRESH"))),
            other => panic!("a token for grant_type {other:?}"),
        }
        assert_eq!(json["token_type"], "Bearer");
        let access = json["access_token"].as_str().expect("access_token");
        let check = HttpRequest::new("POST", "/mcp").with_header("authorization", &format!("Bearer {access}"));
        assert!(block_on(server.verify(&check, NOW + 2)).is_ok(), "an issued access token does not verify");
    } else {
        assert!(json["error"].is_string());
    }
    let resp = block_on(server.handle_revoke(&req, NOW + 3));
    assert!(matches!(resp.status, 200 | 400 | 401), "revoke answered {}", resp.status);
    let bearer = HttpRequest::new("POST", "/mcp").with_header("authorization", &header);
    let _ = block_on(server.verify(&bearer, NOW + 4));
    let _ = skillport::oauth::token::bearer_token(&bearer);
}

fn consent_target(input: &[u8]) {
    let world = World::new();
    let (cookie, body) = split_line(input);
    let cookie = world.expand(&cookie);
    let body = world.expand(&String::from_utf8_lossy(body));
    match consent::read_consent_form(&world.keys, body.as_bytes()) {
        Ok((pending, _decision)) => {
            let form = form_of(&body);
            let csrf = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
            assert!(consent::verify_csrf(&world.keys, &pending, csrf));
            assert_eq!(csrf, consent::csrf_token(&world.keys, &pending), "a consent form with a forged CSRF token");
        }
        Err(e) => assert_eq!(e.code(), "invalid_request"),
    }
    let req = HttpRequest::new("GET", "/authorize").with_header("cookie", &cookie);
    let mut jar = ConsentCookie::from_request(&world.keys, &req, NOW);
    let me = identity();
    let client = ClientId::new("public-client");
    if jar.has_approved(&me, &client, &RedirectUri::parse(CALLBACK).unwrap()) {
        let valid = world.value("$COOKIE").split_once('=').map_or("", |(_, v)| v);
        assert!(cookie.contains(valid), "a consent cookie we did not sign was accepted: {cookie:?}");
    }
    let named = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
    let uri = RedirectUri::parse(named.clone()).unwrap_or_else(|_| RedirectUri::parse(CALLBACK).unwrap());
    jar.approve(&me, &ClientId::new(named), &uri);
    let set = jar.set_cookie(&world.keys, NOW);
    let again = HttpRequest::new("GET", "/").with_header("cookie", set.split(';').next().unwrap_or(""));
    assert_eq!(ConsentCookie::from_request(&world.keys, &again, NOW + 1), jar, "a cookie we set reads back");
}

thread_local! {
    static APP: &'static skillport::App = {
        let app = block_on(skillport::App::from_env(&Default::default()));
        assert!(app.config.is_ok(), "the embedded default configuration is valid");
        Box::leak(Box::new(app))
    };
}

fn app_target(input: &[u8]) {
    let (request_line, rest) = split_line(input);
    let (authorization, rest) = split_line(rest);
    let (cookie, body) = split_line(rest);
    let (method, target) = request_line.split_once(' ').unwrap_or(("GET", request_line.as_str()));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = HttpRequest::new(method, path).with_header("host", "localhost:8787").with_body(body.to_vec());
    req.query = query.to_owned();
    if !authorization.is_empty() {
        req = req.with_header("authorization", &authorization);
    }
    if !cookie.is_empty() {
        req = req.with_header("cookie", &cookie);
    }
    if method.eq_ignore_ascii_case("POST") {
        let ctype = if path == "/register" { "application/json" } else { "application/x-www-form-urlencoded" };
        req = req.with_header("content-type", ctype);
    }
    let store = MemoryGrantStore::new();
    let rng = Counting(Cell::new(1));
    let svc = skillport::routes::Services { grants: &store, http: &skillport::bundle::NoNetwork, rng: &rng, now: NOW };
    let action = APP.with(|app| block_on(app.serve(&req, &svc)));
    if let skillport::routes::Action::Respond(resp) = action {
        assert!(resp.status != 500, "HTTP 500 for a valid configuration: {}", String::from_utf8_lossy(&resp.body));
        if resp.get_header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            let _: serde_json::Value = serde_json::from_slice(&resp.body).expect("a JSON response is JSON");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 6 {
        0 => authorize_target(rest),
        1 => register_target(rest),
        2 => cimd_target(rest),
        3 => token_target(rest),
        4 => consent_target(rest),
        _ => app_target(rest),
    }
});
