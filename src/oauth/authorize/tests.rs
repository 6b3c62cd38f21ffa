//! Authorization requests end to end over the in-memory store, and the helpers (a registered client, a PKCE pair,
//! a request query) that the token, store and app tests build on.

use super::*;
use crate::oauth::store::{ClientAuthMethod, CodeTake, GrantStore, MemoryGrantStore};
use crate::oauth::testutil::{block_on, identity, keys, public_url, CountingRandom, CLAUDE_CALLBACK};
use sha2::{Digest, Sha256};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn client() -> ClientRecord {
    ClientRecord {
        client_id: ClientId::new("client-1"),
        redirect_uris: vec![RedirectUri::new(CLAUDE_CALLBACK)],
        client_name: Some("Claude".into()),
        auth_method: ClientAuthMethod::None,
        secret_hash: None,
        issued_at: 0,
        metadata_document: false,
    }
}

pub fn query(overrides: &[(&str, Option<&str>)]) -> String {
    let ch = challenge(VERIFIER);
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some("client-1")),
        ("redirect_uri", Some(CLAUDE_CALLBACK)),
        ("code_challenge", Some(&ch)),
        ("code_challenge_method", Some("S256")),
        ("state", Some("xyz")),
        ("resource", Some("https://skills.example.com/mcp")),
        ("scope", Some("mcp")),
    ];
    for (k, v) in overrides {
        match params.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) => p.1 = *v,
            None => params.push((k, *v)),
        }
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Some(v) = v {
            ser.append_pair(k, v);
        }
    }
    ser.finish()
}

fn validate(overrides: &[(&str, Option<&str>)]) -> Result<PendingAuthorization, Rejection> {
    validate_authorization_request(&public_url(), Some(&client()), &query(overrides), 100)
}

fn page_error(overrides: &[(&str, Option<&str>)]) {
    match validate(overrides) {
        Err(r @ Rejection::Page(_)) => {
            let resp = r.to_response(&public_url());
            assert_eq!(resp.status, 400, "{overrides:?}");
            assert!(resp.get_header("location").is_none(), "{overrides:?}");
        }
        other => panic!("{overrides:?}: expected an error page, got {other:?}"),
    }
}

fn redirect_error(overrides: &[(&str, Option<&str>)]) -> (OAuthError, Url) {
    match validate(overrides) {
        Err(r @ Rejection::Redirect { .. }) => {
            let resp = r.to_response(&public_url());
            assert_eq!(resp.status, 302);
            let loc = Url::parse(resp.get_header("location").unwrap()).unwrap();
            assert!(loc.as_str().starts_with(CLAUDE_CALLBACK));
            (r.error().clone(), loc)
        }
        other => panic!("{overrides:?}: expected a redirect, got {other:?}"),
    }
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[test]
fn valid_request_is_pending() {
    let p = validate(&[]).unwrap();
    assert_eq!(p.client_id.as_str(), "client-1");
    assert_eq!(p.redirect_uri.as_str(), CLAUDE_CALLBACK);
    assert_eq!(p.state.as_deref(), Some("xyz"));
    assert_eq!(p.resource.as_str(), "https://skills.example.com/mcp");
    assert_eq!(p.scope, "mcp");
    assert_eq!(requested_client_id(&query(&[])), Some(ClientId::new("client-1")));
}

#[test]
fn resource_defaults_to_mcp_and_may_be_sse() {
    assert_eq!(validate(&[("resource", None)]).unwrap().resource.as_str(), "https://skills.example.com/mcp");
    let sse = validate(&[("resource", Some("https://skills.example.com/sse"))]).unwrap();
    assert_eq!(sse.resource.as_str(), "https://skills.example.com/sse");
}

#[test]
fn other_resource_is_refused_by_redirect() {
    let (e, loc) = redirect_error(&[("resource", Some("https://evil.example.com/mcp"))]);
    assert_eq!(e.code(), "invalid_target");
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_target"));
    assert_eq!(param(&loc, "iss").as_deref(), Some("https://skills.example.com"));
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
}

#[test]
fn unknown_client_gets_a_page_not_a_redirect() {
    let r = validate_authorization_request(&public_url(), None, &query(&[]), 1);
    assert!(matches!(r, Err(Rejection::Page(OAuthError::InvalidClient(_)))));
    page_error(&[("client_id", Some("someone-else"))]);
    page_error(&[("client_id", None)]);
}

#[test]
fn redirect_uri_mismatch_gets_a_page() {
    page_error(&[("redirect_uri", None)]);
    page_error(&[("redirect_uri", Some("https://claude.ai/api/mcp/other"))]);
}

#[test]
fn open_redirect_different_host() {
    page_error(&[("redirect_uri", Some("https://evil.com/api/mcp/auth_callback"))]);
}

#[test]
fn open_redirect_extra_path() {
    page_error(&[("redirect_uri", Some("https://claude.ai/api/mcp/auth_callback/../../evil"))]);
    page_error(&[("redirect_uri", Some("https://claude.ai/api/mcp/auth_callback/extra"))]);
}

#[test]
fn open_redirect_query_added() {
    page_error(&[("redirect_uri", Some("https://claude.ai/api/mcp/auth_callback?next=https://evil.com"))]);
}

#[test]
fn open_redirect_userinfo_trick() {
    page_error(&[("redirect_uri", Some("https://claude.ai@evil.com/api/mcp/auth_callback"))]);
    page_error(&[("redirect_uri", Some("https://claude.ai.evil.com/api/mcp/auth_callback"))]);
}

/// The registered `https://claude.ai/api/mcp/auth_callback` matches itself only: not in another case, with a
/// space or control character around or inside it, nor in another spelling of the same URL.
#[test]
fn redirect_uri_matching_ignores_no_case_space_or_control_character() {
    for uri in [
        "HTTPS://claude.ai/api/mcp/auth_callback",
        "https://CLAUDE.AI/api/mcp/auth_callback",
        "https://claude.ai/API/mcp/auth_callback",
        " https://claude.ai/api/mcp/auth_callback",
        "https://claude.ai/api/mcp/auth_callback ",
        "\thttps://claude.ai/api/mcp/auth_callback",
        "\u{1}https://claude.ai/api/mcp/auth_callback",
        "https://claude.ai/api/mcp/auth_callback\u{0}",
        "https://claude.ai/api/mcp/auth_call\nback",
        "https://claude.ai:443/api/mcp/auth_callback",
        "https://claude.ai./api/mcp/auth_callback",
        "https://claude.ai/api/mcp/auth_callback/",
        "https://claude.ai/api/mcp/auth%5Fcallback",
        "javascript://claude.ai/api/mcp/auth_callback",
        "JavaScript:alert(1)//https://claude.ai/api/mcp/auth_callback",
    ] {
        page_error(&[("redirect_uri", Some(uri))]);
        // Even with a request that would otherwise be answered by redirect.
        page_error(&[("redirect_uri", Some(uri)), ("response_type", Some("token"))]);
    }
}

#[test]
fn duplicate_redirect_uri_gets_a_page() {
    let q = format!("{}&redirect_uri=https%3A%2F%2Fevil.com%2F", query(&[]));
    assert!(matches!(validate_authorization_request(&public_url(), Some(&client()), &q, 1), Err(Rejection::Page(_))));
}

#[test]
fn plain_pkce_method_is_refused() {
    let (e, _) = redirect_error(&[("code_challenge_method", Some("plain")), ("code_challenge", Some(VERIFIER))]);
    assert_eq!(e.code(), "invalid_request");
}

#[test]
fn missing_pkce_is_refused() {
    assert_eq!(redirect_error(&[("code_challenge", None)]).0.code(), "invalid_request");
    assert_eq!(redirect_error(&[("code_challenge_method", None)]).0.code(), "invalid_request");
    assert_eq!(redirect_error(&[("code_challenge", Some("short"))]).0.code(), "invalid_request");
}

#[test]
fn wrong_response_type_is_refused() {
    assert_eq!(redirect_error(&[("response_type", Some("token"))]).0.code(), "unsupported_response_type");
    assert_eq!(redirect_error(&[("response_type", None)]).0.code(), "invalid_request");
}

#[test]
fn missing_state_stays_absent() {
    let p = validate(&[("state", None)]).unwrap();
    assert_eq!(p.state, None);
    let (code, _, _) = issue_code(&keys(), &CountingRandom::default(), &p, &identity(), &Default::default(), 1);
    let loc = Url::parse(&redirect_with_code(&public_url(), &p, &code)).unwrap();
    assert_eq!(param(&loc, "state"), None);
    assert_eq!(param(&loc, "code").as_deref(), Some(code.expose()));
    let (_, loc) = redirect_error(&[("state", None), ("response_type", Some("token"))]);
    assert_eq!(param(&loc, "state"), None);
}

#[test]
fn code_redirect_carries_state_and_iss_and_keeps_the_query() {
    let mut c = client();
    c.redirect_uris.push(RedirectUri::new("http://localhost:6274/cb?x=1"));
    let q = query(&[("redirect_uri", Some("http://localhost:6274/cb?x=1"))]);
    let p = validate_authorization_request(&public_url(), Some(&c), &q, 1).unwrap();
    let store = MemoryGrantStore::new();
    let (keys, rng, url) = (keys(), CountingRandom::default(), public_url());
    let server = OAuthServer { store: &store, keys: &keys, rng: &rng, public_url: &url, settings: Default::default() };
    let resp = block_on(server.complete_authorization(&p, &identity(), 1)).unwrap();
    assert_eq!(resp.status, 302);
    let loc = Url::parse(resp.get_header("location").unwrap()).unwrap();
    assert_eq!(param(&loc, "x").as_deref(), Some("1"));
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&loc, "iss").as_deref(), Some("https://skills.example.com"));
    let code = AuthorizationCode::new(param(&loc, "code").unwrap());
    assert!(matches!(block_on(store.take_code(&code.hash())).unwrap(), CodeTake::Taken(_)));
}

#[test]
fn deny_redirects_with_access_denied() {
    let p = validate(&[]).unwrap();
    let loc = Url::parse(deny(&public_url(), &p).get_header("location").unwrap()).unwrap();
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
}
