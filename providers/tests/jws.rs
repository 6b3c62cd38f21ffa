//! The signature check behind ID-token validation (`skillport_providers::jws::verify`) on fixed vectors made by Node's
//! crypto (`tests/vectors/make-jws-vectors.mjs`), for every JWS algorithm `openidconnect` supports.
//!
//! Natively (`cargo test`) this checks `openidconnect`'s own verifier; on wasm32 the WebCrypto one the Worker uses,
//! under Node's WebCrypto:
//!
//! ```text
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!     cargo test -p skillport-providers --target wasm32-unknown-unknown --test jws
//! ```
//!
//! Both must accept each genuine signature and refuse it once the signature, the message, the key or the algorithm
//! changes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use serde_json::Value;
use skillport_providers::jws::verify;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Vector {
    alg: CoreJwsSigningAlgorithm,
    jwk: Value,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let all: Vec<Value> = serde_json::from_str(include_str!("vectors/jws-vectors.json")).unwrap();
    all.into_iter()
        .map(|v| Vector {
            alg: serde_json::from_value(v["alg"].clone()).unwrap(),
            jwk: v["jwk"].clone(),
            message: v["message"].as_str().unwrap().as_bytes().to_vec(),
            signature: URL_SAFE_NO_PAD.decode(v["signature"].as_str().unwrap()).unwrap(),
        })
        .collect()
}

fn key(jwk: &Value) -> CoreJsonWebKey {
    serde_json::from_value(jwk.clone()).unwrap()
}

async fn checks() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 9, "RS256/384/512, PS256/384/512, ES256, ES384, EdDSA");
    for (i, v) in vectors.iter().enumerate() {
        let name = format!("{:?}", v.alg);
        let k = key(&v.jwk);
        assert!(verify(&k, &v.alg, &v.message, &v.signature).await, "{name}: a genuine signature verifies");

        let mut signature = v.signature.clone();
        *signature.last_mut().unwrap() ^= 1;
        assert!(!verify(&k, &v.alg, &v.message, &signature).await, "{name}: a changed signature does not");
        assert!(!verify(&k, &v.alg, &v.signature[..v.signature.len() - 1], &v.signature).await, "{name}: truncated");

        let mut message = v.message.clone();
        message[0] ^= 1;
        assert!(!verify(&k, &v.alg, &message, &v.signature).await, "{name}: another message does not");

        // Another key of the same type (the neighbouring vector's), and the same key under another algorithm.
        let other = &vectors[if i % 3 == 2 { i - 2 } else { i + 1 }];
        if other.jwk["kty"] == v.jwk["kty"] && other.jwk["crv"] == v.jwk["crv"] {
            assert!(!verify(&key(&other.jwk), &v.alg, &v.message, &v.signature).await, "{name}: another key");
        }
        assert!(!verify(&k, &other.alg, &v.message, &v.signature).await, "{name}: under {:?}", other.alg);

        // An RSA modulus with a leading zero octet (which RFC 7518 forbids but some providers send) is the same key.
        if v.jwk["kty"] == "RSA" {
            let mut jwk = v.jwk.clone();
            let mut n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
            n.insert(0, 0);
            jwk["n"] = Value::String(URL_SAFE_NO_PAD.encode(&n));
            assert!(verify(&key(&jwk), &v.alg, &v.message, &v.signature).await, "{name}: zero-padded modulus");
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn signatures_verify_exactly() {
    skillport_http::block_on_ready(checks());
}

#[cfg(target_arch = "wasm32")]
#[test]
async fn signatures_verify_exactly() {
    checks().await;
}

/// `Jwk::verify_signature`, through which `openidconnect` would verify, refuses even a genuine signature: signatures
/// are checked by `verify` alone (`src/oidc/jwt.rs` calls it), so nothing can be accepted around it.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn openidconnect_cannot_verify_with_jwk() {
    use openidconnect::JsonWebKey;
    use skillport_http::block_on_ready;
    use skillport_providers::jws::Jwk;

    #[path = "common/mod.rs"]
    mod common;
    use common::Key;

    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let key = Key::rsa_a("k1");
    let core: CoreJsonWebKey = serde_json::from_value(key.jwk()).unwrap();
    let jwk: Jwk = serde_json::from_value(key.jwk()).unwrap();
    let token = key.sign(&serde_json::json!({"sub": "a"}));
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert!(block_on_ready(verify(&core, &rs256, message.as_bytes(), &signature)), "a genuine signature");
    assert!(jwk.verify_signature(&rs256, message.as_bytes(), &signature).is_err());
}
