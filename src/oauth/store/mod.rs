//! Where the OAuth server keeps clients, codes, grants and tokens: one trait, [`GrantStore`], and
//! [`MemoryGrantStore`], a real in-memory implementation used natively. The Worker implements the same trait over a
//! Durable Object, whose single-threaded storage gives the atomicity the trait asks for.
//!
//! Every code, token and client secret is keyed by its [`TokenHash`]; no record holds one in clear. The user's
//! identity lives once per grant, sealed ([`SealedIdentity`](super::crypto::SealedIdentity)). Each access token points to its grant, and is only good
//! while the grant is, so revoking a grant revokes everything issued from it.
//!
//! The state changes that must be atomic (taking a code, rotating a refresh token) are decided by pure methods here
//! ([`GrantRecord::rotate`], [`CodeState::take`]) so that every backend applies the same rules; a backend only has to
//! run them without interleaving.
//!
//! Nothing is kept for ever. A rotation deletes the access token of the refresh token that leaves the grant, and
//! [`KvGrantStore::sweep`] (run by the Durable Object's alarm, a bounded page at a time) deletes every record that can
//! no longer change an answer: expired access tokens, codes, sign-in handles and rate-limit counters; refresh tokens
//! past their lifetime (superseded ones are kept until then, so that presenting one still revokes the grant); and
//! grants once every code and token issued from them has expired, with the codes redeemed for them; and clients once
//! unused: a client (registered, or fetched from its metadata document) is kept [`UNUSED_CLIENT_SECONDS`] after it
//! was stored, and while a grant of it may still issue or honour a token (each grant's start and each refresh moves
//! the client's expiry past the grant's tokens). The number of clients stored is counted, so that
//! [`GrantStore::add_client`] can refuse one past a cap.
//!
//! Split in two: `records` says what a client, code, grant and token are and decides the state changes (pure, no
//! storage); `kv` is the one implementation of [`GrantStore`], over any key-value storage. The trait sits here,
//! between them.

mod kv;
mod records;
#[cfg(test)]
mod tests;

pub use kv::{KvGrantStore, KvStorage, MemoryGrantStore, MemoryKv, SweepPage};
pub use records::{
    AccessRecord, ClientAuthMethod, ClientRecord, CodeRecord, CodeState, CodeTake, GrantRecord, IssuedAccess,
    RotateDecision, Rotation, GRANT_SWEEP_MARGIN_SECONDS,
};

use super::{ClientId, GrantId, TokenHash};

/// The store could not be read or written (a Durable Object call failed). Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// How long a client that no grant uses is kept after it was stored (registered, or its metadata document fetched),
/// unless said otherwise (`auth.unused_client_seconds`): the sweep deletes it after that unless a grant has moved its
/// expiry on.
pub const UNUSED_CLIENT_SECONDS: u64 = 86_400;

/// The OAuth server's storage. `?Send` because the Workers bindings are not `Send`. Every method that says "atomic"
/// must not interleave with another call for the same key.
#[async_trait::async_trait(?Send)]
pub trait GrantStore {
    /// Stores a client (replacing one with the same id), kept at least [`UNUSED_CLIENT_SECONDS`] from its `issued_at`.
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;
    /// Atomic: stores `client`, kept at least `unused_seconds` from its `issued_at`, unless it is new and
    /// `max_clients` clients are stored already (then false, nothing stored). The default stores it as
    /// [`GrantStore::put_client`] does, uncapped: only for wrappers in tests.
    async fn add_client(
        &self,
        client: &ClientRecord,
        max_clients: u64,
        unused_seconds: u64,
    ) -> Result<bool, StoreError> {
        let _ = (max_clients, unused_seconds);
        self.put_client(client).await.map(|_| true)
    }

    async fn put_code(&self, code: &TokenHash, record: &CodeRecord) -> Result<(), StoreError>;
    /// Atomic single use ([`CodeState::take`]): exactly one caller ever gets [`CodeTake::Taken`] for a code.
    async fn take_code(&self, code: &TokenHash) -> Result<CodeTake, StoreError>;

    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError>;
    /// Marks the grant revoked (idempotent); every token issued from it stops working.
    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError>;

    /// Atomic [`GrantRecord::begin_refresh`], indexing `first` to the grant and storing `access`. False (and nothing
    /// stored) if the grant is gone or revoked.
    async fn begin_refresh(
        &self,
        grant: &GrantId,
        first: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError>;
    /// Atomic [`GrantRecord::rotate`] of the grant `presented` belongs to. When rotated: indexes `next` to it, stores
    /// `access`, and deletes the access token of the refresh token that left the grant. When replayed: the grant is
    /// revoked and the access tokens it knows are deleted.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError>;
    /// The grant a refresh token (live or superseded) belongs to.
    async fn refresh_grant(&self, token: &TokenHash) -> Result<Option<GrantId>, StoreError>;

    async fn get_access(&self, token: &TokenHash) -> Result<Option<AccessRecord>, StoreError>;
    async fn delete_access(&self, token: &TokenHash) -> Result<(), StoreError>;

    /// Keeps `value` under `key` (the hash of a random, single-use handle: a sign-in's `state`, a consent form)
    /// until `expires_at`.
    async fn put_once(&self, key: &TokenHash, value: &str, expires_at: u64) -> Result<(), StoreError>;
    /// Atomic single use: the first call returns the value (if unexpired) and deletes it; later calls get `None`.
    async fn take_once(&self, key: &TokenHash, now: u64) -> Result<Option<String>, StoreError>;

    /// Atomic counter for rate limits: adds one to the count kept under `key` until `window_end` (a count whose
    /// window has ended starts again at zero) and returns the new count.
    async fn bump(&self, key: &TokenHash, window_end: u64, now: u64) -> Result<u64, StoreError>;
    /// The count kept under `key` and the end of its window, without counting; `None` once the window has ended.
    async fn peek(&self, key: &TokenHash, now: u64) -> Result<Option<(u64, u64)>, StoreError>;
}
