//! Randomness, key derivation, identity sealing and MACs for the OAuth server.
//!
//! Keys: one master secret (a Worker secret of at least 32 random bytes) is stretched with HKDF-SHA256 (RFC 5869;
//! salt `skillport oauth v1`) into independent keys, one per purpose, named by HKDF's `info`:
//! - `grant identity seal v1`: AES-256-GCM key sealing each grant's [`Identity`];
//! - `consent cookie v1`: HMAC-SHA256 key of the consent cookie and the consent form's CSRF token.
//!
//! A key per purpose means a MAC made for one can never be replayed as the other, and rotating the master secret
//! invalidates every grant and cookie at once (users sign in again; nothing else breaks).
//!
//! Sealing: `nonce (12 random bytes) || AES-256-GCM(identity JSON)`, with the grant id as associated data, so a
//! sealed identity moved to another grant fails to open rather than signing in as someone else. Random 96-bit
//! nonces are safe far beyond the number of grants one deployment will ever seal (NIST's 2^32 bound).

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use skillport_providers::Identity;

use super::GrantId;

/// A source of cryptographically secure random bytes. The Worker's comes from `crypto.getRandomValues`
/// ([`OsRandom`] does exactly that on wasm); tests may use a deterministic one.
pub trait Random {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's generator natively, `crypto.getRandomValues` on `wasm32-unknown-unknown` (getrandom's
/// `js` feature).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // Without randomness every token would be guessable: failing the request is the only safe answer.
        getrandom::getrandom(buf).expect("no secure random source is available");
    }
}

/// 32 random bytes, base64url without padding (43 characters): every code, token, secret and id handed out.
pub fn random_token(rng: &dyn Random) -> String {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

const HKDF_SALT: &[u8] = b"skillport oauth v1";
const SEAL_INFO: &[u8] = b"grant identity seal v1";
const COOKIE_INFO: &[u8] = b"consent cookie v1";
const SEAL_AAD_PREFIX: &[u8] = b"skillport grant identity v1\0";
const NONCE_LEN: usize = 12;
const BYTES_AAD_PREFIX: &[u8] = b"skillport sealed record v1\0";

/// The keys the OAuth server works with, derived from one master secret. `Debug` prints nothing of them.
#[derive(Clone)]
pub struct ServerKeys {
    seal: [u8; 32],
    cookie: [u8; 32],
}

impl fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKeys([redacted])")
    }
}

impl ServerKeys {
    /// Derives every key from `master`, which should be at least 32 random bytes (HKDF cannot add entropy).
    pub fn derive(master: &[u8]) -> ServerKeys {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), master);
        let mut seal = [0u8; 32];
        let mut cookie = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
        hk.expand(SEAL_INFO, &mut seal).expect("32 bytes is a valid HKDF output length");
        hk.expand(COOKIE_INFO, &mut cookie).expect("32 bytes is a valid HKDF output length");
        ServerKeys { seal, cookie }
    }

    /// HMAC-SHA256 under the consent key over `domain` then `parts`, each length-prefixed so no boundary can move.
    pub(crate) fn cookie_mac(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.cookie).expect("HMAC takes a key of any length");
        mac.update(domain);
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Seals `plain` under the seal key, bound to `context` (a record kind and its handle): what the sign-in flow
    /// keeps server side between requests (the upstream PKCE verifier, the identity awaiting consent).
    pub fn seal_bytes(&self, rng: &dyn Random, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let aad = [BYTES_AAD_PREFIX, context.as_bytes()].concat();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.seal));
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &aad })
            .expect("AES-GCM encrypts any message under 64 GiB");
        [&nonce[..], &sealed].concat()
    }

    /// Opens what [`ServerKeys::seal_bytes`] sealed for the same `context`.
    pub fn open_bytes(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let aad = [BYTES_AAD_PREFIX, context.as_bytes()].concat();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.seal));
        cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad }).map_err(|_| SealError)
    }

    /// Seals `identity` for `grant`.
    pub fn seal_identity(&self, rng: &dyn Random, grant: &GrantId, identity: &Identity) -> SealedIdentity {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let plain = serde_json::to_vec(identity).expect("an Identity always serialises");
        let aad = seal_aad(grant);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.seal));
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plain, aad: &aad })
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        SealedIdentity(out)
    }

    /// Opens what [`ServerKeys::seal_identity`] sealed for the same grant; any change, or another grant or key, fails.
    pub fn open_identity(&self, grant: &GrantId, sealed: &SealedIdentity) -> Result<Identity, SealError> {
        let bytes = &sealed.0;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let aad = seal_aad(grant);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.seal));
        let plain =
            cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad }).map_err(|_| SealError)?;
        serde_json::from_slice(&plain).map_err(|_| SealError)
    }
}

fn seal_aad(grant: &GrantId) -> Vec<u8> {
    let mut aad = SEAL_AAD_PREFIX.to_vec();
    aad.extend_from_slice(grant.as_str().as_bytes());
    aad
}

/// An identity sealed for one grant: `nonce || ciphertext || tag`, base64url in JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SealedIdentity(Vec<u8>);

impl SealedIdentity {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl fmt::Debug for SealedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedIdentity({} bytes)", self.0.len())
    }
}

impl From<SealedIdentity> for String {
    fn from(s: SealedIdentity) -> String {
        URL_SAFE_NO_PAD.encode(s.0)
    }
}

impl TryFrom<String> for SealedIdentity {
    type Error = base64::DecodeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        URL_SAFE_NO_PAD.decode(s.as_bytes()).map(SealedIdentity)
    }
}

/// A sealed identity did not open: tampered with, moved to another grant, or sealed under another master secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the grant's sealed identity does not open (tampered with, or sealed under another key)")]
pub struct SealError;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testutil::{identity, keys, CountingRandom};

    #[test]
    fn identity_round_trips() {
        let rng = CountingRandom::default();
        let grant = GrantId::new("g1");
        let sealed = keys().seal_identity(&rng, &grant, &identity());
        assert_eq!(keys().open_identity(&grant, &sealed).unwrap(), identity());
        // Through its JSON form too (what a Durable Object stores).
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("ada@example.com"));
        let back: SealedIdentity = serde_json::from_str(&json).unwrap();
        assert_eq!(keys().open_identity(&grant, &back).unwrap(), identity());
    }

    #[test]
    fn tampered_identity_fails() {
        let rng = CountingRandom::default();
        let grant = GrantId::new("g1");
        let sealed = keys().seal_identity(&rng, &grant, &identity());
        for i in [0, NONCE_LEN, sealed.as_bytes().len() - 1] {
            let mut t = sealed.clone();
            t.bytes_mut()[i] ^= 1;
            assert_eq!(keys().open_identity(&grant, &t), Err(SealError), "byte {i}");
        }
        let mut short = sealed.clone();
        short.bytes_mut().truncate(10);
        assert_eq!(keys().open_identity(&grant, &short), Err(SealError));
    }

    #[test]
    fn identity_is_bound_to_its_grant_and_key() {
        let rng = CountingRandom::default();
        let sealed = keys().seal_identity(&rng, &GrantId::new("g1"), &identity());
        assert_eq!(keys().open_identity(&GrantId::new("g2"), &sealed), Err(SealError));
        let other = ServerKeys::derive(b"another master secret of 32 bytes or more");
        assert_eq!(other.open_identity(&GrantId::new("g1"), &sealed), Err(SealError));
    }

    #[test]
    fn keys_are_independent_and_never_printed() {
        let k = keys();
        assert_ne!(k.seal, k.cookie);
        assert_eq!(format!("{k:?}"), "ServerKeys([redacted])");
    }

    #[test]
    fn os_random_gives_distinct_tokens() {
        let a = random_token(&OsRandom);
        let b = random_token(&OsRandom);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
