//! Signature checks of ID tokens (and signed userinfo answers), with the cryptography done outside `openidconnect`.
//!
//! Why: `openidconnect`'s own key type, `CoreJsonWebKey`, verifies with RustCrypto (`rsa`, `p256`, `p384`,
//! `ed25519-dalek` and their big-integer and curve arithmetic): 149 KB of the Worker's wasm, 67 KB gzipped, for work
//! the Workers runtime already does natively in WebCrypto (`crypto.subtle.verify`). So on wasm32 [`verify`] is
//! WebCrypto's; everywhere else (the tests, the command line) `CoreJsonWebKey`'s, on the same vectors
//! (`tests/jws.rs`).
//!
//! The token's checks around the signature (JOSE header, allowed algorithms, the choice of key by `kid` with
//! [`signs_with`], issuer, audience, expiry, nonce) are `crate::oidc`'s (its `jwt` module). [`Jwk`] is the key type
//! of the key sets it reads: `CoreJsonWebKey`'s JSON and key selection, and a synchronous `verify_signature` that
//! refuses every signature, since nothing may verify through `openidconnect` any more.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, JwsSigningAlgorithm, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};

/// A JSON Web Key as `openidconnect` reads it (`CoreJsonWebKey`), whose signatures only [`verify`] checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Jwk(CoreJsonWebKey);

impl JsonWebKey for Jwk {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.0.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.0.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.0.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.0.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Jwk(CoreJsonWebKey::new_symmetric(key))
    }

    /// Refuses: signatures are checked by [`verify`] (asynchronous: WebCrypto), never through `openidconnect`.
    fn verify_signature(
        &self,
        _signature_alg: &CoreJwsSigningAlgorithm,
        _message: &[u8],
        _signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        Err(SignatureVerificationError::CryptoError("signatures are checked by jws::verify".into()))
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.0.hash_bytes(bytes, alg)
    }
}

impl Jwk {
    /// The key as `openidconnect` reads it.
    pub(crate) fn core(&self) -> &CoreJsonWebKey {
        &self.0
    }
}

/// The `kid` of `key`, if it has one.
pub(crate) fn key_id(key: &Jwk) -> Option<&str> {
    key.key_id().map(|id| id.as_str())
}

/// The base64url decoding `openidconnect` applies to a compact JWT (no padding, trailing bits allowed).
pub(crate) const BASE64URL: GeneralPurpose =
    GeneralPurpose::new(&URL_SAFE, NO_PAD.with_decode_allow_trailing_bits(true));

/// Whether `key` may sign with `alg`: the test `openidconnect` applies when it picks a key (`use`, `alg`, key type).
pub(crate) fn signs_with(key: &Jwk, alg: &CoreJwsSigningAlgorithm) -> bool {
    if key.key_use().is_some_and(|u| !u.allows_signature()) {
        return false;
    }
    if alg.key_type().as_ref() != Some(key.key_type()) {
        return false;
    }
    match key.signing_alg() {
        JsonWebKeyAlgorithm::Unspecified => true,
        JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
        JsonWebKeyAlgorithm::Unsupported => false,
    }
}

/// Whether `signature` is `key`'s `alg` signature of `message`. Natively it is
/// `openidconnect`'s own (`CoreJsonWebKey`); on wasm32 it is WebCrypto's. `tests/jws.rs` runs both on the same vectors.
#[cfg(not(target_arch = "wasm32"))]
pub async fn verify(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm, message: &[u8], signature: &[u8]) -> bool {
    key.verify_signature(alg, message, signature).is_ok()
}

/// Whether `signature` is `key`'s `alg` signature of `message`, by WebCrypto (see the native twin above).
#[cfg(target_arch = "wasm32")]
pub async fn verify(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm, message: &[u8], signature: &[u8]) -> bool {
    webcrypto::verify(key, alg, message, signature).await
}

#[cfg(target_arch = "wasm32")]
mod webcrypto {
    //! `crypto.subtle.importKey` + `crypto.subtle.verify` for the JWS algorithms `openidconnect` supports.

    use super::BASE64URL;
    use base64::Engine as _;
    use js_sys::futures::JsFuture;
    use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm as Alg};
    use serde_json::Value;
    use wasm_bindgen::{JsCast, JsValue};

    /// Whether `signature` is `key`'s `alg` signature of `message`. Any failure (an unusable key, an algorithm
    /// WebCrypto lacks, a malformed signature) is `false`.
    pub(super) async fn verify(key: &CoreJsonWebKey, alg: &Alg, message: &[u8], signature: &[u8]) -> bool {
        let Ok(Value::Object(jwk)) = serde_json::to_value(key) else { return false };
        verify_jwk(&jwk, alg, message, signature).await.unwrap_or(false)
    }

    /// [`verify`] with the key as its JWK members.
    async fn verify_jwk(
        jwk: &serde_json::Map<String, Value>,
        alg: &Alg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue> {
        // (algorithm of the key, parameters of `verify`, JWK members of the key)
        let (import, params, members): (Object, Object, &[&str]) = match alg {
            Alg::RsaSsaPkcs1V15Sha256 => rsa("RSASSA-PKCS1-v1_5", "SHA-256", None),
            Alg::RsaSsaPkcs1V15Sha384 => rsa("RSASSA-PKCS1-v1_5", "SHA-384", None),
            Alg::RsaSsaPkcs1V15Sha512 => rsa("RSASSA-PKCS1-v1_5", "SHA-512", None),
            // JWS (RFC 7518 3.5): the PSS salt is as long as the hash.
            Alg::RsaSsaPssSha256 => rsa("RSA-PSS", "SHA-256", Some(32)),
            Alg::RsaSsaPssSha384 => rsa("RSA-PSS", "SHA-384", Some(48)),
            Alg::RsaSsaPssSha512 => rsa("RSA-PSS", "SHA-512", Some(64)),
            Alg::EcdsaP256Sha256 => ecdsa("P-256", "SHA-256"),
            Alg::EcdsaP384Sha384 => ecdsa("P-384", "SHA-384"),
            Alg::EdDsa => {
                (object(&[("name", "Ed25519".into())]), object(&[("name", "Ed25519".into())]), &["kty", "crv", "x"])
            }
            _ => return Ok(false),
        };
        // Only the members that make the public key: `use`, `alg` and `kid` were already checked by the caller.
        let key_data = Object::new();
        for member in members {
            let Some(Value::String(value)) = jwk.get(*member) else { return Ok(false) };
            let value = if matches!(*member, "n" | "e") { strip_leading_zeros(value) } else { value.clone() };
            Reflect::set(&key_data, &(*member).into(), &value.into())?;
        }
        let subtle = Reflect::get(&Reflect::get(&js_sys::global(), &"crypto".into())?, &"subtle".into())?;
        let usages = Array::of1(&"verify".into());
        let import_key: js_sys::Function = Reflect::get(&subtle, &"importKey".into())?.dyn_into()?;
        let imported =
            import_key.apply(&subtle, &Array::of5(&"jwk".into(), &key_data, &import, &JsValue::FALSE, &usages))?;
        let crypto_key = JsFuture::from(imported.dyn_into::<Promise>()?).await?;
        let verify: js_sys::Function = Reflect::get(&subtle, &"verify".into())?.dyn_into()?;
        let verdict = verify.apply(
            &subtle,
            &Array::of4(&params, &crypto_key, &Uint8Array::from(signature), &Uint8Array::from(message)),
        )?;
        Ok(JsFuture::from(verdict.dyn_into::<Promise>()?).await?.as_bool() == Some(true))
    }

    fn object(members: &[(&str, JsValue)]) -> Object {
        let object = Object::new();
        for (name, value) in members {
            let _ = Reflect::set(&object, &(*name).into(), value);
        }
        object
    }

    fn rsa(name: &str, hash: &str, salt: Option<u32>) -> (Object, Object, &'static [&'static str]) {
        let import = object(&[("name", name.into()), ("hash", hash.into())]);
        let params = match salt {
            Some(salt) => object(&[("name", name.into()), ("saltLength", salt.into())]),
            None => object(&[("name", name.into())]),
        };
        (import, params, &["kty", "n", "e"])
    }

    fn ecdsa(curve: &str, hash: &str) -> (Object, Object, &'static [&'static str]) {
        let import = object(&[("name", "ECDSA".into()), ("namedCurve", curve.into())]);
        let params = object(&[("name", "ECDSA".into()), ("hash", hash.into())]);
        (import, params, &["kty", "crv", "x", "y"])
    }

    /// An RSA modulus or exponent without leading zero octets, which RFC 7518 forbids and some providers still send
    /// (RustCrypto's `rsa` reads them, so WebCrypto must not be handed a value it may refuse).
    fn strip_leading_zeros(value: &str) -> String {
        match BASE64URL.decode(value) {
            Ok(bytes) if bytes.first() == Some(&0) => {
                let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[start..])
            }
            _ => value.to_string(),
        }
    }
}
