//! Signature checks of ID tokens (and signed userinfo answers), with the cryptography done outside `openidconnect`.
//!
//! Why: `openidconnect`'s own key type, `CoreJsonWebKey`, verifies with RustCrypto (`rsa`, `p256`, `p384`,
//! `ed25519-dalek` and their big-integer and curve arithmetic): 149 KB of the Worker's wasm, 67 KB gzipped, for work
//! the Workers runtime already does natively in WebCrypto (`crypto.subtle.verify`). So on wasm32 the signature is
//! checked by WebCrypto; everywhere else (the tests, the command line) by `CoreJsonWebKey` exactly as before.
//!
//! How, without weakening anything: `openidconnect` still performs every step of the validation itself (JOSE header,
//! the allowed algorithms, the choice of key by `kid`, `use`, `alg` and key type, then issuer, audience, nonce and
//! expiry), with [`Jwk`] as its key type. [`Jwk`] is `CoreJsonWebKey` (same JSON, same key selection) except for its
//! synchronous `verify_signature`, which accepts a signature only when [`precheck`] (asynchronous, run just before)
//! has verified that exact key, algorithm, signing input and signature. A signature that was not prechecked fails as
//! a bad signature: a missing or failed precheck can refuse a token, never accept one.

use std::cell::RefCell;

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};
use base64::Engine as _;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeySet, JsonWebKeyUse, JwsSigningAlgorithm,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};

/// A JSON Web Key as `openidconnect` reads it (`CoreJsonWebKey`), whose signature check is a look-up of what
/// [`precheck`] verified.
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

    fn verify_signature(
        &self,
        signature_alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        let checked = CHECKED.with_borrow(|checked| {
            checked
                .iter()
                .any(|c| c.key == self.0 && c.alg == *signature_alg && c.message == message && c.signature == signature)
        });
        if checked {
            Ok(())
        } else {
            Err(SignatureVerificationError::CryptoError("the signature does not verify".into()))
        }
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.0.hash_bytes(bytes, alg)
    }
}

/// One signature [`precheck`] verified.
struct Checked {
    key: CoreJsonWebKey,
    alg: CoreJwsSigningAlgorithm,
    message: Vec<u8>,
    signature: Vec<u8>,
}

/// How many verified signatures are remembered: a precheck is read by the verification that follows it at once, so a
/// few are plenty even with sign-ins interleaving on one isolate.
const REMEMBERED: usize = 8;

thread_local! {
    /// Signatures verified by [`precheck`], newest last. Each entry is a fact (this key signed this input), so one
    /// sign-in reading another's entry could only accept a signature that is genuinely valid.
    static CHECKED: RefCell<Vec<Checked>> = const { RefCell::new(Vec::new()) };
}

/// The base64url decoding `openidconnect` applies to a compact JWT (no padding, trailing bits allowed), so that the
/// signature bytes checked here are the very bytes it will ask about.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, NO_PAD.with_decode_allow_trailing_bits(true));

/// Verifies the compact JWS `token` with each key of `keys` that `openidconnect` could choose for it (same `kid`, a
/// `use` and `alg` that allow signing with the header's algorithm, the matching key type), and remembers each
/// signature that verifies for [`Jwk::verify_signature`]. Algorithms outside `allowed` are not checked at all.
/// Never fails: a token it cannot read is left for `openidconnect` to refuse.
pub async fn precheck(token: &str, keys: &JsonWebKeySet<Jwk>, allowed: &[CoreJwsSigningAlgorithm]) {
    let Some((message, signature)) = token.rsplit_once('.') else { return };
    let Some((header, _)) = message.split_once('.') else { return };
    let (Ok(signature), Ok(header)) = (BASE64URL.decode(signature), BASE64URL.decode(header)) else { return };
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        kid: Option<String>,
    }
    let Ok(header) = serde_json::from_slice::<Header>(&header) else { return };
    let Ok(alg) = serde_json::from_value::<CoreJwsSigningAlgorithm>(serde_json::Value::String(header.alg)) else {
        return;
    };
    if !allowed.contains(&alg) {
        return;
    }
    for key in keys.keys() {
        if header.kid.as_deref().is_some_and(|kid| key.key_id().map(|id| id.as_str()) != Some(kid)) {
            continue;
        }
        if !signs_with(key, &alg) {
            continue;
        }
        if verify(&key.0, &alg, message.as_bytes(), &signature).await {
            CHECKED.with_borrow_mut(|checked| {
                if checked.len() >= REMEMBERED {
                    checked.remove(0);
                }
                checked.push(Checked {
                    key: key.0.clone(),
                    alg: alg.clone(),
                    message: message.as_bytes().to_vec(),
                    signature: signature.clone(),
                });
            });
        }
    }
}

/// Whether `key` may sign with `alg`: the test `openidconnect` applies when it picks a key (`use`, `alg`, key type).
fn signs_with(key: &Jwk, alg: &CoreJwsSigningAlgorithm) -> bool {
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

/// Whether `signature` is `key`'s `alg` signature of `message`: the check [`precheck`] runs. Natively it is
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
