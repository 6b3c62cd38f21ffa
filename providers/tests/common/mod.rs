//! A stand-in OpenID Connect provider over `CannedClient`, and ID tokens signed here with real keys.
//!
//! The RSA keys under `tests/keys/` exist only for these tests.

#![allow(dead_code)]

pub mod behaviour;
pub mod github;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use skillport_http::{block_on_ready, CannedClient, HttpResponse};
use skillport_providers::{CallbackParams, Identity, IdentityProvider, ProviderError, Secret, SignInStart};

/// "Now" for every test, in Unix seconds.
pub const NOW: u64 = 1_750_000_000;
pub const REDIRECT_URI: &str = "https://skillport.example.com/callback";
pub const STATE: &str = "our-state-123";
pub const CLIENT_ID: &str = "skillport-client";
pub const CLIENT_SECRET: &str = "client-secret-SHOULD-NOT-LEAK";
pub const CODE: &str = "auth-code-SHOULD-NOT-LEAK";
pub const ACCESS_TOKEN: &str = "access-token-SHOULD-NOT-LEAK";

/// A key that signs tokens and publishes its public half as a JWK.
pub enum Key {
    Rsa { kid: String, key: Box<CoreRsaPrivateSigningKey> },
    Ec { kid: String, key: p256::ecdsa::SigningKey },
}

impl Key {
    pub fn rsa_a(kid: &str) -> Key {
        Self::rsa(include_str!("../keys/test-rsa-a.pem"), kid)
    }
    pub fn rsa_b(kid: &str) -> Key {
        Self::rsa(include_str!("../keys/test-rsa-b.pem"), kid)
    }
    fn rsa(pem: &str, kid: &str) -> Key {
        let key = CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).unwrap();
        Key::Rsa { kid: kid.into(), key: Box::new(key) }
    }
    pub fn ec(kid: &str) -> Key {
        let scalar: [u8; 32] = *b"\x3e\xcb\xa7\xe7\x64\xdc\xac\xbe\xe2\x79\x15\x5c\x9a\x70\x33\xc2\
                                 \xf2\x1b\x28\x22\x5e\x8d\x4b\x01\xf0\x5a\xec\x35\x7c\x51\x06\xc0";
        Key::Ec { kid: kid.into(), key: p256::ecdsa::SigningKey::from_slice(&scalar).unwrap() }
    }

    pub fn kid(&self) -> &str {
        match self {
            Key::Rsa { kid, .. } | Key::Ec { kid, .. } => kid,
        }
    }

    pub fn jwk(&self) -> Value {
        match self {
            Key::Rsa { key, .. } => serde_json::to_value(key.as_verification_key()).unwrap(),
            Key::Ec { kid, key } => {
                let point = key.verifying_key().to_sec1_point(false);
                let bytes = point.as_bytes();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]), "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
                })
            }
        }
    }

    /// A compact JWS of `claims`, with header `kid` = `kid` (which may differ from the key's own, to forge).
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let alg = match self {
            Key::Rsa { .. } => "RS256",
            Key::Ec { .. } => "ES256",
        };
        self.sign_with_header(&json!({"alg": alg, "typ": "JWT", "kid": kid}), claims)
    }

    /// A compact JWS of `claims` under any `header` (signed with the key's own algorithm whatever `alg` says).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = match self {
            Key::Rsa { key, .. } => key.sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).unwrap(),
            Key::Ec { key, .. } => {
                let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid(), claims)
    }
}

/// A stand-in OpenID Connect provider: discovery, JWKS (changeable, counted), token endpoint and userinfo.
pub struct Idp {
    pub http: CannedClient,
    pub issuer: String,
    pub base: String,
    pub jwks: Rc<RefCell<Vec<Value>>>,
    pub jwks_fetches: Rc<Cell<usize>>,
    pub token_response: Rc<RefCell<HttpResponse>>,
}

impl Idp {
    pub fn new(issuer: &str, keys: &[&Key], userinfo: Option<Value>) -> Idp {
        let base = issuer.trim_end_matches('/').to_string();
        let http = CannedClient::new();
        let mut discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        });
        if userinfo.is_some() {
            discovery["userinfo_endpoint"] = json!(format!("{base}/userinfo"));
        }
        http.on_get(&format!("{base}/.well-known/openid-configuration"), json_response(200, &discovery));
        let jwks = Rc::new(RefCell::new(keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()));
        let jwks_fetches = Rc::new(Cell::new(0));
        {
            let (jwks, fetches) = (Rc::clone(&jwks), Rc::clone(&jwks_fetches));
            http.route("GET", &format!("{base}/.well-known/jwks.json"), move |_| {
                fetches.set(fetches.get() + 1);
                Ok(json_response(200, &json!({ "keys": *jwks.borrow() })))
            });
        }
        let token_response = Rc::new(RefCell::new(HttpResponse::new(500)));
        {
            let token_response = Rc::clone(&token_response);
            http.route("POST", &format!("{base}/oauth/token"), move |_| Ok(token_response.borrow().clone()));
        }
        if let Some(userinfo) = userinfo {
            http.route("GET", &format!("{base}/userinfo"), move |req| {
                if req.header_value("authorization") == Some(&format!("Bearer {ACCESS_TOKEN}")) {
                    Ok(json_response(200, &userinfo))
                } else {
                    Ok(json_response(401, &json!({"error": "invalid_token"})))
                }
            });
        }
        Idp { http, issuer: issuer.into(), base, jwks, jwks_fetches, token_response }
    }

    /// The token endpoint answers with this ID token (and [`ACCESS_TOKEN`]).
    pub fn answer_id_token(&self, id_token: &str) {
        *self.token_response.borrow_mut() = json_response(
            200,
            &json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}),
        );
    }

    pub fn answer_token(&self, response: HttpResponse) {
        *self.token_response.borrow_mut() = response;
    }

    /// Standard claims for a valid token of this issuer, for `nonce`.
    pub fn claims(&self, nonce: &str) -> Value {
        json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": "user-42", "nonce": nonce,
            "iat": NOW - 5, "exp": NOW + 3600,
            "email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace",
        })
    }

    pub fn count(&self, url_suffix: &str) -> usize {
        self.http.urls().iter().filter(|u| u.ends_with(url_suffix)).count()
    }
}

pub fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::new(status).with_header("content-type", "application/json").with_body(body.to_string())
}

pub fn callback(kept: &SignInStart) -> CallbackParams {
    CallbackParams { code: Some(Secret::new(CODE)), state: Some(kept.state.clone()), ..Default::default() }
}

pub fn start(provider: &dyn IdentityProvider, idp: &CannedClient) -> SignInStart {
    block_on_ready(provider.start(idp, REDIRECT_URI, STATE)).expect("start")
}

pub fn finish(
    provider: &dyn IdentityProvider,
    http: &CannedClient,
    callback: &CallbackParams,
    kept: &SignInStart,
) -> Result<Identity, ProviderError> {
    block_on_ready(provider.finish(http, callback, kept, REDIRECT_URI, NOW))
}

/// One whole sign-in: start, the provider issues the token `make_token(nonce)` signed as given, callback.
pub fn sign_in(
    provider: &dyn IdentityProvider,
    idp: &Idp,
    make_token: impl FnOnce(&str) -> String,
) -> Result<Identity, ProviderError> {
    let kept = start(provider, &idp.http);
    let nonce = kept.nonce.as_ref().expect("an OIDC sign-in keeps a nonce").expose().to_string();
    let token = make_token(&nonce);
    idp.answer_id_token(&token);
    let result = finish(provider, &idp.http, &callback(&kept), &kept);
    if let Err(error) = &result {
        assert_no_secret(error, &[&token, &nonce, kept.pkce_verifier.expose()]);
    }
    result
}

/// Neither the error's `Display` nor its `Debug` shows a secret of the flow.
pub fn assert_no_secret(error: &ProviderError, more: &[&str]) {
    let shown = format!("{error} | {error:?}");
    for secret in [CLIENT_SECRET, CODE, ACCESS_TOKEN].iter().chain(more) {
        assert!(!secret.is_empty() && !shown.contains(secret), "`{shown}` shows a secret");
    }
    // No fragment of a JWT either.
    assert!(!shown.contains("eyJ"), "`{shown}` shows a token");
}

/// The query parameters of a URL.
pub fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query(url).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The form fields of a request body.
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
