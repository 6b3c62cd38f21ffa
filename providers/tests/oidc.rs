//! OpenID Connect providers (generic, Google, Auth0) against a stand-in provider whose ID tokens are signed here.

mod common;

use common::*;
use serde_json::json;
use skillport_http::{block_on_ready, HttpResponse};
use skillport_providers::auth0::{Auth0Provider, Auth0Settings};
use skillport_providers::google::{GoogleProvider, GoogleSettings};
use skillport_providers::oidc::{OidcProvider, OidcSettings};
use skillport_providers::{ClientId, IdentityProvider, ProviderError, Secret};

const ISSUER: &str = "https://idp.example.com";

fn client_id() -> ClientId {
    ClientId::new(CLIENT_ID.into())
}

fn oidc(groups_claims: &[&str]) -> OidcProvider {
    let mut settings = OidcSettings::new(ISSUER, client_id(), Some(Secret::new(CLIENT_SECRET)));
    settings.groups_claims = groups_claims.iter().map(|s| s.to_string()).collect();
    OidcProvider::new(settings).unwrap()
}

fn invalid_token(result: Result<skillport_providers::Identity, ProviderError>) -> String {
    match result {
        Err(ProviderError::InvalidToken(why)) => why,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[test]
fn auth0_valid_token_gives_identity_with_namespaced_roles() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new("https://tenant.eu.auth0.com/", &[&key], None);
    let mut settings = Auth0Settings::new("tenant.eu.auth0.com", client_id(), Secret::new(CLIENT_SECRET));
    settings.roles_claim = Some("https://skillport.example.com/roles".into());
    settings.groups_claim = Some("https://skillport.example.com/groups".into());
    let provider = Auth0Provider::new(settings).unwrap();
    assert_eq!(provider.kind(), "auth0");

    let kept = start(&provider, &idp.http);
    let url = &kept.authorize_url;
    assert!(url.starts_with("https://tenant.eu.auth0.com/authorize?"), "{url}");
    assert_eq!(param(url, "state").as_deref(), Some(STATE));
    assert_eq!(param(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT_URI));
    assert_eq!(param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(url, "code_challenge").is_some_and(|c| c.len() == 43));
    let nonce = kept.nonce.as_ref().unwrap().expose().to_string();
    assert_eq!(param(url, "nonce").as_deref(), Some(nonce.as_str()));
    let scope = param(url, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == "openid") && scope.contains("email"), "{scope}");
    assert!(!url.contains(kept.pkce_verifier.expose()), "the verifier stays with us");

    let mut claims = idp.claims(&nonce);
    claims["https://skillport.example.com/roles"] = json!(["admin", "editor"]);
    claims["https://skillport.example.com/groups"] = json!("engineering");
    claims["updated_at"] = json!("2025-01-01T00:00:00.000Z");
    idp.answer_id_token(&key.sign(&claims));
    let identity = finish(&provider, &idp.http, &callback(&kept), &kept).unwrap();
    assert_eq!(identity.provider, "auth0");
    assert_eq!(identity.subject, "user-42");
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(identity.domain.as_deref(), Some("example.com"));
    assert_eq!(identity.groups, ["admin", "editor", "engineering"]);

    // The exchange: code, PKCE verifier and (Auth0's default) client_secret_post.
    let token_request = idp.http.requests().into_iter().find(|r| r.method == "POST").expect("a token request");
    let fields = form(&token_request.body);
    let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("authorization_code"));
    assert_eq!(field("code"), Some(CODE));
    assert_eq!(field("code_verifier"), Some(kept.pkce_verifier.expose()));
    assert_eq!(field("redirect_uri"), Some(REDIRECT_URI));
    assert_eq!(field("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(token_request.header_value("user-agent"), Some("skillport"));
}

#[test]
fn es256_token_and_userinfo_groups() {
    let key = Key::ec("ec1");
    let idp =
        Idp::new(ISSUER, &[&key], Some(json!({"sub": "user-42", "groups": ["ops", "dev"], "email": "x@evil.com"})));
    let provider = oidc(&["groups"]);
    let identity = sign_in(&provider, &idp, |nonce| key.sign(&idp.claims(nonce))).unwrap();
    assert_eq!(identity.provider, "oidc");
    assert_eq!(identity.groups, ["ops", "dev"], "groups from userinfo");
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"), "the validated ID token wins over userinfo");
    // The token request used HTTP Basic (the generic default).
    let token_request = idp.http.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert!(token_request.header_value("authorization").is_some_and(|v| v.starts_with("Basic ")));
}

/// A userinfo endpoint may answer with a signed JWT (`application/jwt`): it is verified against the provider's keys,
/// and a forged one is refused.
#[test]
fn signed_userinfo_is_verified() {
    let (key, other) = (Key::rsa_a("k1"), Key::rsa_b("k1"));
    for (signer, forged) in [(&key, false), (&other, true)] {
        let idp = Idp::new(ISSUER, &[&key], Some(json!({})));
        let userinfo = signer.sign(&json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "user-42", "groups": ["ops"]}));
        idp.http.route("GET", &format!("{ISSUER}/userinfo"), move |_| {
            Ok(HttpResponse::new(200).with_header("content-type", "application/jwt").with_body(userinfo.clone()))
        });
        let result = sign_in(&oidc(&["groups"]), &idp, |nonce| key.sign(&idp.claims(nonce)));
        if forged {
            let why = invalid_token(result);
            assert!(why.contains("signature"), "{why}");
        } else {
            assert_eq!(result.unwrap().groups, ["ops"], "groups from the signed userinfo");
        }
    }
}

#[test]
fn userinfo_for_another_subject_is_refused() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], Some(json!({"sub": "someone-else", "groups": ["admin"]})));
    let why = invalid_token(sign_in(&oidc(&["groups"]), &idp, |nonce| key.sign(&idp.claims(nonce))));
    assert!(why.contains("subject"), "{why}");
}

#[test]
fn bad_signature_is_refused() {
    let (good, other) = (Key::rsa_a("k1"), Key::rsa_b("k1"));
    let idp = Idp::new(ISSUER, &[&good], None);
    // Signed by a key the provider never published, claiming the published key's id.
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| other.sign_as("k1", &idp.claims(nonce))));
    assert!(why.contains("signature"), "{why}");

    // A tampered payload under a genuine signature.
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| {
        let genuine = good.sign(&idp.claims(nonce));
        let mut claims = idp.claims(nonce);
        claims["email"] = json!("root@example.com");
        let forged = good.sign(&claims);
        let (head, _) = forged.rsplit_once('.').unwrap();
        let (_, signature) = genuine.rsplit_once('.').unwrap();
        format!("{head}.{signature}")
    }));
    assert!(why.contains("signature"), "{why}");
}

#[test]
fn wrong_audience_is_refused() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["aud"] = json!("another-client");
        key.sign(&claims)
    }));
    assert!(why.contains("audience"), "{why}");
    // Ours among untrusted others is refused too.
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["aud"] = json!([CLIENT_ID, "another-client"]);
        key.sign(&claims)
    }));
    assert!(why.contains("audience"), "{why}");
}

#[test]
fn wrong_issuer_is_refused() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["iss"] = json!("https://evil.example.com");
        key.sign(&claims)
    }));
    assert!(why.contains("issuer"), "{why}");
}

#[test]
fn expired_token_is_refused_beyond_the_leeway() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let expiring = |exp: u64| {
        let idp = &idp;
        let key = &key;
        move |nonce: &str| {
            let mut claims = idp.claims(nonce);
            claims["iat"] = json!(NOW - 4000);
            claims["exp"] = json!(exp);
            key.sign(&claims)
        }
    };
    let why = invalid_token(sign_in(&oidc(&[]), &idp, expiring(NOW - 120)));
    assert!(why.contains("expired"), "{why}");
    // Thirty seconds of skew is tolerated.
    sign_in(&oidc(&[]), &idp, expiring(NOW - 30)).unwrap();
    // A token issued well in the future is refused.
    let why = invalid_token(sign_in(&oidc(&[]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["iat"] = json!(NOW + 600);
        claims["exp"] = json!(NOW + 4200);
        key.sign(&claims)
    }));
    assert!(why.contains("expired"), "{why}");
}

#[test]
fn unknown_kid_refetches_the_key_set_once() {
    let (old, new) = (Key::rsa_a("2024"), Key::ec("2025"));
    let idp = Idp::new(ISSUER, &[&old], None);
    let provider = oidc(&[]);
    // First sign-in with the old key: discovery and JWKS are fetched once and kept.
    sign_in(&provider, &idp, |nonce| old.sign(&idp.claims(nonce))).unwrap();
    assert_eq!((idp.count("/openid-configuration"), idp.jwks_fetches.get()), (1, 1));
    // The provider rotates: tokens now name a key the cached set lacks.
    idp.jwks.borrow_mut().push(new.jwk());
    let identity = sign_in(&provider, &idp, |nonce| new.sign(&idp.claims(nonce))).unwrap();
    assert_eq!(identity.subject, "user-42");
    assert_eq!((idp.count("/openid-configuration"), idp.jwks_fetches.get()), (1, 2));
    // And the refreshed set is kept.
    sign_in(&provider, &idp, |nonce| new.sign(&idp.claims(nonce))).unwrap();
    assert_eq!(idp.jwks_fetches.get(), 2);

    // A kid that is still unknown after the refetch: refused, after exactly one more fetch.
    let stranger = Key::rsa_b("nobody");
    let why = invalid_token(sign_in(&provider, &idp, |nonce| stranger.sign(&idp.claims(nonce))));
    assert!(why.contains("key"), "{why}");
    assert_eq!(idp.jwks_fetches.get(), 3);
}

#[test]
fn unverified_email_is_refused() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let unverified = |nonce: &str| {
        let mut claims = idp.claims(nonce);
        claims["email_verified"] = json!(false);
        key.sign(&claims)
    };
    let result = sign_in(&oidc(&[]), &idp, unverified);
    assert!(matches!(&result, Err(ProviderError::Rejected(why)) if why.contains("verified")), "{result:?}");

    // With the rule off, the user gets in without a domain, so domain rules cannot match an unverified address.
    let mut settings = OidcSettings::new(ISSUER, client_id(), Some(Secret::new(CLIENT_SECRET)));
    settings.require_verified_email = false;
    let lenient = OidcProvider::new(settings.clone()).unwrap();
    let identity = sign_in(&lenient, &idp, unverified).unwrap();
    assert!(!identity.email_verified);
    assert_eq!(identity.domain, None);
    settings.allowed_domains = vec!["example.com".into()];
    let restricted = OidcProvider::new(settings).unwrap();
    let result = sign_in(&restricted, &idp, unverified);
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "{result:?}");
}

#[test]
fn allowed_domains_apply_to_the_verified_email() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let mut settings = OidcSettings::new(ISSUER, client_id(), Some(Secret::new(CLIENT_SECRET)));
    settings.allowed_domains = vec!["example.org".into()];
    let provider = OidcProvider::new(settings).unwrap();
    let result = sign_in(&provider, &idp, |nonce| key.sign(&idp.claims(nonce)));
    assert!(matches!(&result, Err(ProviderError::Rejected(why)) if why.contains("example.com")), "{result:?}");
}

fn google(allowed: &[&str]) -> GoogleProvider {
    let settings =
        GoogleSettings::new(client_id(), Secret::new(CLIENT_SECRET), allowed.iter().map(|s| s.to_string()).collect());
    GoogleProvider::new(settings).unwrap()
}

fn google_idp(key: &Key) -> Idp {
    Idp::new("https://accounts.google.com", &[key], None)
}

#[test]
fn google_allowed_hd_signs_in_with_hd_as_domain() {
    let key = Key::rsa_a("g1");
    let idp = google_idp(&key);
    let provider = google(&["example.com"]);
    let kept = start(&provider, &idp.http);
    assert_eq!(param(&kept.authorize_url, "hd").as_deref(), Some("example.com"), "the chooser hint");
    let nonce = kept.nonce.as_ref().unwrap().expose().to_string();
    let mut claims = idp.claims(&nonce);
    claims["hd"] = json!("Example.com");
    idp.answer_id_token(&key.sign(&claims));
    let identity = finish(&provider, &idp.http, &callback(&kept), &kept).unwrap();
    assert_eq!(identity.provider, "google");
    assert_eq!(identity.domain.as_deref(), Some("example.com"));
}

#[test]
fn google_hd_not_allowed_is_refused() {
    let key = Key::rsa_a("g1");
    let idp = google_idp(&key);
    let result = sign_in(&google(&["example.com", "example.org"]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["hd"] = json!("evil.com");
        claims["email"] = json!("mallory@example.com"); // the email domain does not count: hd does
        key.sign(&claims)
    });
    assert!(matches!(&result, Err(ProviderError::Rejected(why)) if why.contains("evil.com")), "{result:?}");
}

#[test]
fn google_hd_missing_is_refused() {
    let key = Key::rsa_a("g1");
    let idp = google_idp(&key);
    let provider = google(&["example.com", "example.org"]);
    let kept = start(&provider, &idp.http);
    assert_eq!(param(&kept.authorize_url, "hd").as_deref(), Some("*"));
    // A consumer account (no hd) whose email happens to be in an allowed domain.
    let result = sign_in(&provider, &idp, |nonce| key.sign(&idp.claims(nonce)));
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "{result:?}");
}

#[test]
fn google_unverified_email_is_refused() {
    let key = Key::rsa_a("g1");
    let idp = google_idp(&key);
    let result = sign_in(&google(&["example.com"]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["hd"] = json!("example.com");
        claims["email_verified"] = json!(false);
        key.sign(&claims)
    });
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "{result:?}");
}

#[test]
fn discovery_for_another_issuer_is_misconfigured() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new("https://other.example.com", &[&key], None);
    // Serve other.example.com's document at our issuer's address.
    let doc = block_on_ready(skillport_http::HttpClient::send(
        &idp.http,
        skillport_http::HttpRequest::get("https://other.example.com/.well-known/openid-configuration"),
    ))
    .unwrap();
    idp.http.on_get(&format!("{ISSUER}/.well-known/openid-configuration"), doc);
    let error = block_on_ready(oidc(&[]).start(&idp.http, REDIRECT_URI, STATE)).unwrap_err();
    assert!(matches!(error, ProviderError::Misconfigured(_)), "{error:?}");
}

/// The discovery document: required members and URL endpoints enforced, a JSON content type when one is named,
/// signing algorithms nobody knows skipped rather than fatal.
#[test]
fn discovery_document_rules() {
    let key = Key::rsa_a("k1");
    let discovery = format!("{ISSUER}/.well-known/openid-configuration");
    let document = |idp: &Idp| {
        let doc = block_on_ready(skillport_http::HttpClient::send(
            &idp.http,
            skillport_http::HttpRequest::get(discovery.clone()),
        ))
        .unwrap();
        serde_json::from_slice::<serde_json::Value>(&doc.body).unwrap()
    };
    let start_with = |change: &dyn Fn(&mut serde_json::Value), content_type: &str| {
        let idp = Idp::new(ISSUER, &[&key], None);
        let mut doc = document(&idp);
        change(&mut doc);
        idp.http.on_get(
            &discovery,
            HttpResponse::new(200).with_header("content-type", content_type).with_body(doc.to_string()),
        );
        block_on_ready(oidc(&[]).start(&idp.http, REDIRECT_URI, STATE)).map(|_| ())
    };
    let misconfigured = |result: Result<(), ProviderError>| match result {
        Err(ProviderError::Misconfigured(why)) => why,
        other => panic!("expected Misconfigured, got {other:?}"),
    };

    assert!(start_with(&|_| {}, "application/json; charset=utf-8").is_ok());
    let why = misconfigured(start_with(&|_| {}, "text/html"));
    assert!(why.contains("discovery document answered 200"), "{why}");
    for member in ["issuer", "authorization_endpoint", "jwks_uri", "response_types_supported"] {
        let why =
            misconfigured(start_with(&|doc| drop(doc.as_object_mut().unwrap().remove(member)), "application/json"));
        assert!(why.contains("could not be read"), "{member}: {why}");
    }
    let why = misconfigured(start_with(&|doc| doc["token_endpoint"] = json!("not a url"), "application/json"));
    assert!(why.contains("could not be read"), "{why}");
    let algs = |doc: &mut serde_json::Value| doc["id_token_signing_alg_values_supported"] = json!(["XS999", "RS256"]);
    assert!(start_with(&algs, "application/json").is_ok(), "an unknown algorithm is skipped");
}

#[test]
fn no_secret_in_any_error() {
    // Every variant, built the way providers build them, plus those the flows above produced.
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let provider = oidc(&[]);
    let kept = start(&provider, &idp.http);
    for response in [
        HttpResponse::new(500).with_body(CLIENT_SECRET),
        json_response(400, &json!({"error": CODE})),
        json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"})),
        json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "id_token": "eyJnot.a.jwt"})),
        json_response(400, &json!({"error": "invalid_request", "error_description": ACCESS_TOKEN})),
    ] {
        idp.answer_token(response);
        let error = finish(&provider, &idp.http, &callback(&kept), &kept).unwrap_err();
        assert_no_secret(&error, &[kept.pkce_verifier.expose(), kept.nonce.as_ref().unwrap().expose()]);
    }
}

#[test]
fn oversized_discovery_and_key_set_answers_are_refused_unread() {
    let key = Key::rsa_a("k1");
    let provider = oidc(&[]);
    // A discovery document past the cap on provider answers (padded JSON, otherwise valid).
    let idp = Idp::new(ISSUER, &[&key], None);
    let url = format!("{ISSUER}/.well-known/openid-configuration");
    let doc =
        block_on_ready(skillport_http::HttpClient::send(&idp.http, skillport_http::HttpRequest::get(url.clone())))
            .unwrap();
    idp.http.clear_requests();
    let mut padded = doc.body.clone();
    padded.splice(1..1, std::iter::repeat_n(b' ', skillport_providers::ANSWER_MAX_BYTES as usize));
    idp.http.on_get(&url, HttpResponse::new(200).with_header("content-type", "application/json").with_body(padded));
    let error = block_on_ready(provider.start(&idp.http, REDIRECT_URI, STATE)).unwrap_err();
    assert!(matches!(&error, ProviderError::Unavailable(why) if why.contains("too large")), "{error:?}");
    assert!(idp.http.requests().iter().all(|r| r.max_body == skillport_providers::ANSWER_MAX_BYTES));

    // A key set past it: the sign-in fails as unavailable, and no key is trusted.
    let idp = Idp::new(ISSUER, &[&key], None);
    let huge: Vec<serde_json::Value> = (0..2000).map(|i| Key::rsa_a(&format!("k{i}")).jwk()).collect();
    *idp.jwks.borrow_mut() = huge;
    let error = block_on_ready(oidc(&[]).start(&idp.http, REDIRECT_URI, STATE)).unwrap_err();
    assert!(matches!(&error, ProviderError::Unavailable(why) if why.contains("too large")), "{error:?}");
    assert_eq!(idp.jwks_fetches.get(), 1);
    assert!(idp.http.requests().iter().all(|r| r.max_body == skillport_providers::ANSWER_MAX_BYTES));
}

/// The ID token's JOSE header and registered claims: each case keeps the outcome it had when `openidconnect`'s
/// `IdTokenVerifier` read the token (the checks are now `src/oidc/jwt.rs`).
#[test]
fn id_token_header_and_claim_rules() {
    use serde_json::Value;
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let unsigned = |header: Value, claims: &Value| {
        let b64 = |v: &Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!("{}.{}.", b64(&header), b64(claims))
    };
    let malformed = "the token response or its ID token is malformed";
    type Case<'a> = (&'a str, Box<dyn Fn(&str) -> String + 'a>, Option<&'a str>);
    let with_header = |header: Value| -> Box<dyn Fn(&str) -> String + '_> {
        let (idp, key) = (&idp, &key);
        Box::new(move |nonce| key.sign_with_header(&header, &idp.claims(nonce)))
    };
    let with_claims = |edit: &'static dyn Fn(&mut Value)| -> Box<dyn Fn(&str) -> String + '_> {
        let (idp, key) = (&idp, &key);
        Box::new(move |nonce| {
            let mut claims = idp.claims(nonce);
            edit(&mut claims);
            key.sign(&claims)
        })
    };
    let cases: Vec<Case> = vec![
        ("typ JWT", with_header(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})), None),
        ("no typ", with_header(json!({"alg": "RS256", "kid": "k1"})), None),
        ("no kid, one key", with_header(json!({"alg": "RS256"})), None),
        ("typ application/jose", with_header(json!({"alg": "RS256", "kid": "k1", "typ": "application/jose"})), None),
        ("typ at+jwt", with_header(json!({"alg": "RS256", "kid": "k1", "typ": "at+jwt"})), Some("malformed")),
        ("cty", with_header(json!({"alg": "RS256", "kid": "k1", "cty": "JWT"})), Some("malformed")),
        ("crit", with_header(json!({"alg": "RS256", "kid": "k1", "crit": ["exp"]})), Some("malformed")),
        ("JWE alg", with_header(json!({"alg": "A128GCM", "kid": "k1"})), Some("malformed")),
        ("HS256", with_header(json!({"alg": "HS256", "kid": "k1"})), Some("signature algorithm not accepted")),
        ("unknown alg", with_header(json!({"alg": "XS999", "kid": "k1"})), Some(malformed)),
        ("alg none", Box::new(|nonce| unsigned(json!({"alg": "none"}), &idp.claims(nonce))), Some("unsigned")),
        (
            "two parts",
            Box::new(|nonce| key.sign(&idp.claims(nonce)).rsplit_once('.').unwrap().0.to_string()),
            Some(malformed),
        ),
        ("no exp", with_claims(&|c| drop(c.as_object_mut().unwrap().remove("exp"))), Some(malformed)),
        ("no sub", with_claims(&|c| drop(c.as_object_mut().unwrap().remove("sub"))), Some(malformed)),
        ("iss not a URL", with_claims(&|c| c["iss"] = json!("not a url")), Some(malformed)),
        ("nonce a number", with_claims(&|c| c["nonce"] = json!(7)), Some(malformed)),
        (
            "no nonce",
            with_claims(&|c| drop(c.as_object_mut().unwrap().remove("nonce"))),
            Some("its nonce does not match this sign-in"),
        ),
        ("no audience", with_claims(&|c| c["aud"] = json!([])), Some("issued for another client (audience)")),
        ("ours twice", with_claims(&|c| c["aud"] = json!([CLIENT_ID, CLIENT_ID])), None),
        ("exp as RFC 3339", with_claims(&|c| c["exp"] = json!("2025-06-16T00:00:00Z")), None),
        (
            "expired, RFC 3339",
            with_claims(&|c| c["exp"] = json!("2025-06-15T00:00:00Z")),
            Some("expired (or issued in the future)"),
        ),
        ("fractional exp", with_claims(&|c| c["exp"] = json!(NOW as f64 - 59.5)), None),
        ("email_verified \"true\"", with_claims(&|c| c["email_verified"] = json!("true")), None),
    ];
    for (name, make, expected) in cases {
        let result = sign_in(&oidc(&[]), &idp, |nonce| make(nonce));
        match expected {
            None => assert_eq!(result.map(|i| i.subject).as_deref(), Ok("user-42"), "{name}"),
            Some(why) => assert_eq!(invalid_token(result), why, "{name}"),
        }
    }

    // Two eligible keys and a token that names none: ambiguous, whichever signed it.
    let two = Idp::new(ISSUER, &[&key, &Key::rsa_b("k2")], None);
    let why = invalid_token(sign_in(&oidc(&[]), &two, |nonce| {
        key.sign_with_header(&json!({"alg": "RS256"}), &two.claims(nonce))
    }));
    assert_eq!(why, "several published keys match it");
}

/// A standard claim the ID token sends as `null` does not hide the same claim from userinfo; an extra claim's `null`
/// does.
#[test]
fn null_claims_in_the_id_token() {
    let key = Key::rsa_a("k1");
    let userinfo = json!({"sub": "user-42", "name": "From Userinfo", "groups": ["ops"]});
    let idp = Idp::new(ISSUER, &[&key], Some(userinfo));
    let identity = sign_in(&oidc(&["groups"]), &idp, |nonce| {
        let mut claims = idp.claims(nonce);
        claims["name"] = json!(null);
        claims["groups"] = json!(null);
        key.sign(&claims)
    })
    .unwrap();
    assert_eq!(identity.name.as_deref(), Some("From Userinfo"));
    assert!(identity.groups.is_empty(), "{:?}", identity.groups);
}

/// The token endpoint's answers, each with the error it had when `oauth2` read them.
#[test]
fn token_endpoint_answers() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let cases: Vec<(HttpResponse, ProviderError)> = vec![
        (
            json_response(400, &json!({"error": "invalid_client"})),
            ProviderError::Misconfigured("the token endpoint refused the client credentials".into()),
        ),
        (
            json_response(401, &json!({"error": "unauthorized_client", "error_description": "no"})),
            ProviderError::Misconfigured("the token endpoint refused the client credentials".into()),
        ),
        (json_response(400, &json!({"error": "invalid_grant"})), ProviderError::Exchange("invalid_grant".into())),
        (json_response(400, &json!({"error": "Weird Code"})), ProviderError::Exchange("unrecognised_error".into())),
        (HttpResponse::new(400), ProviderError::Exchange("token_request_failed".into())),
        (
            HttpResponse::new(400).with_body("<html>"),
            ProviderError::InvalidToken("the token response or its ID token is malformed".into()),
        ),
        (
            HttpResponse::new(200).with_header("content-type", "text/html").with_body("{}"),
            ProviderError::Exchange("token_request_failed".into()),
        ),
        (
            json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"})),
            ProviderError::InvalidToken("the token response carries no ID token".into()),
        ),
        (
            json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "id_token": null})),
            ProviderError::InvalidToken("the token response carries no ID token".into()),
        ),
        (
            json_response(200, &json!({"token_type": "Bearer", "id_token": "a.b.c"})),
            ProviderError::InvalidToken("the token response or its ID token is malformed".into()),
        ),
        (
            json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": -1})),
            ProviderError::InvalidToken("the token response or its ID token is malformed".into()),
        ),
    ];
    for (answer, expected) in cases {
        let provider = oidc(&[]);
        let kept = start(&provider, &idp.http);
        idp.answer_token(answer.clone());
        let error = finish(&provider, &idp.http, &callback(&kept), &kept).unwrap_err();
        assert_eq!(format!("{error:?}"), format!("{expected:?}"), "{answer:?}");
    }
}

/// Userinfo answers that are refused, each with the error it had when `openidconnect` read them.
#[test]
fn userinfo_answers() {
    let key = Key::rsa_a("k1");
    let ec = Key::ec("ec1");
    let cases: Vec<(HttpResponse, ProviderError)> = vec![
        (
            json_response(401, &json!({"error": "invalid_token"})),
            ProviderError::Unavailable("userinfo endpoint answered 401".into()),
        ),
        (
            HttpResponse::new(200).with_header("content-type", "text/html").with_body("{}"),
            ProviderError::Unavailable("userinfo endpoint answered 200".into()),
        ),
        (
            json_response(200, &json!({"name": "no subject"})),
            ProviderError::Unavailable("userinfo endpoint sent an unreadable answer".into()),
        ),
        (
            HttpResponse::new(200).with_header("content-type", "application/jwt").with_body("not a jwt"),
            ProviderError::Unavailable("userinfo endpoint sent an unreadable answer".into()),
        ),
        (
            // Signed userinfo: RS256 only, as openidconnect's default.
            HttpResponse::new(200)
                .with_header("content-type", "application/jwt")
                .with_body(ec.sign(&json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "user-42"}))),
            ProviderError::InvalidToken("signature algorithm not accepted".into()),
        ),
        (
            HttpResponse::new(200)
                .with_header("content-type", "application/jwt")
                .with_body(key.sign(&json!({"aud": CLIENT_ID, "sub": "user-42"}))),
            ProviderError::InvalidToken("issued by another issuer".into()),
        ),
        (
            HttpResponse::new(200)
                .with_header("content-type", "application/jwt")
                .with_body(key.sign(&json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "user-43"}))),
            ProviderError::InvalidToken("userinfo describes another subject".into()),
        ),
    ];
    for (answer, expected) in cases {
        let idp = Idp::new(ISSUER, &[&key, &ec], Some(json!({})));
        let answer_for_route = answer.clone();
        idp.http.route("GET", &format!("{ISSUER}/userinfo"), move |_| Ok(answer_for_route.clone()));
        let error = sign_in(&oidc(&[]), &idp, |nonce| key.sign(&idp.claims(nonce))).unwrap_err();
        assert_eq!(format!("{error:?}"), format!("{expected:?}"), "{answer:?}");
    }
}

/// The authorization URL, byte for byte: parameter order, encoding, `openid` first and once, empty scopes dropped,
/// the provider's extra parameters before the nonce, and a query the endpoint already has kept.
#[test]
fn authorize_url_exactly() {
    let key = Key::rsa_a("k1");
    let idp = Idp::new(ISSUER, &[&key], None);
    let mut discovery = json!({
        "issuer": ISSUER, "authorization_endpoint": format!("{ISSUER}/authorize?tenant=a%20b"),
        "token_endpoint": format!("{ISSUER}/oauth/token"), "jwks_uri": format!("{ISSUER}/.well-known/jwks.json"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    idp.http.on_get(&format!("{ISSUER}/.well-known/openid-configuration"), json_response(200, &discovery));
    let mut settings = OidcSettings::new(ISSUER, client_id(), Some(Secret::new(CLIENT_SECRET)));
    settings.scopes = vec!["email".into(), "openid".into(), String::new(), "x:read&write".into(), "email".into()];
    let kept = start(&OidcProvider::new(settings).unwrap(), &idp.http);
    let challenge = param(&kept.authorize_url, "code_challenge").unwrap();
    let nonce = kept.nonce.as_ref().unwrap().expose().to_string();
    assert_eq!(
        kept.authorize_url,
        format!(
            "{ISSUER}/authorize?tenant=a%20b&response_type=code&client_id={CLIENT_ID}&state={STATE}\
             &code_challenge={challenge}&code_challenge_method=S256\
             &redirect_uri=https%3A%2F%2Fskillport.example.com%2Fcallback&scope=openid+email+x%3Aread%26write+email\
             &nonce={nonce}"
        )
    );

    // Google: its `hd` hint comes before the nonce.
    discovery["authorization_endpoint"] = json!(format!("{ISSUER}/o/oauth2/v2/auth"));
    idp.http.on_get(&format!("{ISSUER}/.well-known/openid-configuration"), json_response(200, &discovery));
    let mut settings = GoogleSettings::new(client_id(), Secret::new(CLIENT_SECRET), vec!["example.com".into()]);
    settings.issuer = Some(ISSUER.into());
    let kept = start(&GoogleProvider::new(settings).unwrap(), &idp.http);
    let challenge = param(&kept.authorize_url, "code_challenge").unwrap();
    let nonce = kept.nonce.as_ref().unwrap().expose().to_string();
    assert_eq!(
        kept.authorize_url,
        format!(
            "{ISSUER}/o/oauth2/v2/auth?response_type=code&client_id={CLIENT_ID}&state={STATE}\
             &code_challenge={challenge}&code_challenge_method=S256\
             &redirect_uri=https%3A%2F%2Fskillport.example.com%2Fcallback&scope=openid+email+profile\
             &hd=example.com&nonce={nonce}"
        )
    );
}
