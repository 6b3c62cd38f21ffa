//! Where the OAuth server keeps clients, codes, grants and tokens: one trait, [`GrantStore`], and
//! [`MemoryGrantStore`], a real in-memory implementation used natively. The Worker implements the same trait over a
//! Durable Object, whose single-threaded storage gives the atomicity the trait asks for.
//!
//! Every code, token and client secret is keyed by its [`TokenHash`]; no record holds one in clear. The user's
//! identity lives once per grant, sealed ([`SealedIdentity`]). Each access token points to its grant, and is only good
//! while the grant is, so revoking a grant revokes everything issued from it.
//!
//! The state changes that must be atomic (taking a code, rotating a refresh token) are decided by pure methods here
//! ([`GrantRecord::rotate`], [`CodeState::take`]) so that every backend applies the same rules; a backend only has to
//! run them without interleaving.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::crypto::SealedIdentity;
use super::{ClientId, GrantId, PkceChallenge, RedirectUri, ResourceUri, TokenHash};

/// The store could not be read or written (a Durable Object call failed). Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// A public client (PKCE alone): what Claude registers as.
    None,
    ClientSecretPost,
    ClientSecretBasic,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ClientAuthMethod::None, ClientAuthMethod::ClientSecretPost, ClientAuthMethod::ClientSecretBasic]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A client: registered here (RFC 7591) or described by its Client ID Metadata Document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: ClientId,
    /// Never empty; each valid per [`super::registration::validate_redirect_uri`].
    pub redirect_uris: Vec<RedirectUri>,
    pub client_name: Option<String>,
    pub auth_method: ClientAuthMethod,
    /// Present exactly when `auth_method` is not `None`.
    pub secret_hash: Option<TokenHash>,
    pub issued_at: u64,
    /// True for a Client ID Metadata Document client (its id is the document's URL).
    #[serde(default)]
    pub metadata_document: bool,
}

impl ClientRecord {
    /// Exact, byte-for-byte match against a registered redirect URI (OAuth 2.1 section 4.1.1; no prefix, no
    /// normalisation), which is what closes open redirects.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r.as_str() == uri)
    }

    /// The name shown on the consent page: the registered name, else the client id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(self.client_id.as_str())
    }
}

/// One authorization code, until redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub code_challenge: PkceChallenge,
    pub resource: ResourceUri,
    pub scope: String,
    pub expires_at: u64,
}

/// A code's state in the store: codes are kept after use (as the grant they belong to) so that a replay can be told
/// from a guess, and the grant revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeState {
    Unused(CodeRecord),
    Used { grant_id: GrantId },
}

impl CodeState {
    /// The atomic step of redeeming: the first call returns the record and leaves `Used`; every later one says so.
    pub fn take(&mut self) -> CodeTake {
        match self {
            CodeState::Unused(record) => {
                let record = record.clone();
                *self = CodeState::Used { grant_id: record.grant_id.clone() };
                CodeTake::Taken(record)
            }
            CodeState::Used { grant_id } => CodeTake::AlreadyUsed { grant_id: grant_id.clone() },
        }
    }
}

/// What [`GrantStore::take_code`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeTake {
    /// First use: the code is now spent.
    Taken(CodeRecord),
    /// Replay: the code was redeemed before. The caller revokes the grant.
    AlreadyUsed {
        grant_id: GrantId,
    },
    Unknown,
}

/// One user's authorization of one client for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub resource: ResourceUri,
    pub scope: String,
    pub identity: SealedIdentity,
    pub created_at: u64,
    /// Kept as a tombstone: a revoked grant stays revoked, whatever arrives later.
    pub revoked: bool,
    /// The newest refresh token, not yet used; `None` until the code is redeemed.
    pub refresh_current: Option<TokenHash>,
    /// The token `refresh_current` replaced. It still works until `refresh_current` is first used (a client whose
    /// response was lost can retry); after that it is a replay.
    pub refresh_previous: Option<TokenHash>,
    /// When the live refresh tokens die (each rotation moves it on).
    pub refresh_expires_at: u64,
}

/// The outcome of presenting a refresh token to its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateDecision {
    Rotated,
    /// A superseded token: the grant is now revoked.
    Replayed,
    Expired,
    Revoked,
}

impl GrantRecord {
    /// Starts the refresh chain when the code is redeemed. False if the grant is revoked or already started.
    pub fn begin_refresh(&mut self, first: TokenHash, now: u64, ttl: u64) -> bool {
        if self.revoked || self.refresh_current.is_some() {
            return false;
        }
        self.refresh_current = Some(first);
        self.refresh_expires_at = now.saturating_add(ttl);
        true
    }

    /// Presents `presented` (a refresh token of this grant) and, if it is live, replaces it with `next`.
    ///
    /// - the current token: rotates; the previous one dies (the new one has now been used);
    /// - the previous token, while the current one was never used (grace): rotates again, `next` replaces the
    ///   unused current one, the previous one keeps its grace;
    /// - any other token of this grant (superseded, and its successor used): replay, the grant is revoked.
    pub fn rotate(&mut self, presented: &TokenHash, next: TokenHash, now: u64, ttl: u64) -> RotateDecision {
        if self.revoked {
            return RotateDecision::Revoked;
        }
        let is = |slot: &Option<TokenHash>| slot.as_ref().is_some_and(|h| h.ct_eq(presented));
        let (current, previous) = (is(&self.refresh_current), is(&self.refresh_previous));
        if !current && !previous {
            self.revoked = true;
            return RotateDecision::Replayed;
        }
        if now >= self.refresh_expires_at {
            return RotateDecision::Expired;
        }
        if current {
            self.refresh_previous = self.refresh_current;
        }
        // Otherwise (grace) the current token was never used; `next` takes its place.
        self.refresh_current = Some(next);
        self.refresh_expires_at = now.saturating_add(ttl);
        RotateDecision::Rotated
    }
}

/// What [`GrantStore::rotate_refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rotation {
    /// The new token is live; here is the grant it belongs to.
    Rotated(GrantRecord),
    /// The token was superseded: the grant is now revoked.
    Replayed(GrantId),
    /// The grant is revoked or its refresh tokens expired.
    Dead,
    Unknown,
}

/// One access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub resource: ResourceUri,
    pub scope: String,
    pub expires_at: u64,
}

/// The OAuth server's storage. `?Send` because the Workers bindings are not `Send`. Every method that says "atomic"
/// must not interleave with another call for the same key.
#[async_trait::async_trait(?Send)]
pub trait GrantStore {
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    async fn put_code(&self, code: &TokenHash, record: &CodeRecord) -> Result<(), StoreError>;
    /// Atomic single use ([`CodeState::take`]): exactly one caller ever gets [`CodeTake::Taken`] for a code.
    async fn take_code(&self, code: &TokenHash) -> Result<CodeTake, StoreError>;

    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError>;
    /// Marks the grant revoked (idempotent); every token issued from it stops working.
    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError>;

    /// Atomic [`GrantRecord::begin_refresh`], indexing `first` to the grant. False if the grant is gone or revoked.
    async fn begin_refresh(&self, grant: &GrantId, first: &TokenHash, now: u64, ttl: u64) -> Result<bool, StoreError>;
    /// Atomic [`GrantRecord::rotate`] of the grant `presented` belongs to, indexing `next` to it when rotated.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError>;
    /// The grant a refresh token (live or superseded) belongs to.
    async fn refresh_grant(&self, token: &TokenHash) -> Result<Option<GrantId>, StoreError>;

    async fn put_access(&self, token: &TokenHash, record: &AccessRecord) -> Result<(), StoreError>;
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
}

/// A [`GrantStore`] over any string key-value storage ([`KvStorage`]): the one implementation of the trait's rules.
/// Natively it runs over [`MemoryKv`] ([`MemoryGrantStore`]); in the Worker, inside a Durable Object over its
/// storage, whose input gates keep each method's reads and writes from interleaving with another request's.
///
/// Keys: `client:<id>`, `code:<hash>`, `grant:<id>`, `refresh:<hash>`, `access:<hash>`, `once:<hash>`; values are
/// JSON. Expired records are refused on read (their expiry is inside them).
#[derive(Debug, Default)]
pub struct KvGrantStore<S>(pub S);

/// The storage under a [`KvGrantStore`]. A failure is a [`StoreError`]; a missing key is `None`.
#[async_trait::async_trait(?Send)]
pub trait KvStorage {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: String) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// [`KvStorage`] in a map: native tests, tools, and a Worker without the Durable Object binding (per isolate).
#[derive(Debug, Default)]
pub struct MemoryKv(RefCell<BTreeMap<String, String>>);

#[async_trait::async_trait(?Send)]
impl KvStorage for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        self.0.borrow_mut().insert(key.to_owned(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.borrow_mut().remove(key);
        Ok(())
    }
}

/// The grant store in memory. Every method completes without yielding, so each is atomic.
pub type MemoryGrantStore = KvGrantStore<MemoryKv>;

impl MemoryGrantStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything stored, as JSON: for tests and debugging (it holds no secret, by construction).
    pub fn dump(&self) -> serde_json::Value {
        serde_json::to_value(&*self.0 .0.borrow()).unwrap_or(serde_json::Value::Null)
    }
}

/// A rate-limit counter and when its window ends.
#[derive(Debug, Serialize, Deserialize)]
struct Count {
    count: u64,
    window_end: u64,
}

/// A value kept once, until taken ([`GrantStore::take_once`]).
#[derive(Debug, Serialize, Deserialize)]
struct Once {
    value: String,
    expires_at: u64,
}

impl<S: KvStorage> KvGrantStore<S> {
    async fn read<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.0.get(key).await? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| StoreError(format!("a stored record ({}) is unreadable: {e}", key_kind(key)))),
        }
    }

    async fn write<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).map_err(|e| StoreError(e.to_string()))?;
        self.0.put(key, json).await
    }
}

fn key_kind(key: &str) -> &str {
    key.split(':').next().unwrap_or("")
}

fn hkey(prefix: &str, h: &TokenHash) -> String {
    format!("{prefix}:{}", String::from(*h))
}

#[async_trait::async_trait(?Send)]
impl<S: KvStorage> GrantStore for KvGrantStore<S> {
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.write(&format!("client:{}", client.client_id), client).await
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.read(&format!("client:{id}")).await
    }

    async fn put_code(&self, code: &TokenHash, record: &CodeRecord) -> Result<(), StoreError> {
        self.write(&hkey("code", code), &CodeState::Unused(record.clone())).await
    }

    async fn take_code(&self, code: &TokenHash) -> Result<CodeTake, StoreError> {
        let key = hkey("code", code);
        let Some(mut state) = self.read::<CodeState>(&key).await? else { return Ok(CodeTake::Unknown) };
        let taken = state.take();
        self.write(&key, &state).await?;
        Ok(taken)
    }

    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        let key = format!("grant:{}", grant.grant_id);
        // A revocation that raced ahead of a write wins.
        let revoked = self.read::<GrantRecord>(&key).await?.is_some_and(|g| g.revoked);
        let mut grant = grant.clone();
        grant.revoked |= revoked;
        self.write(&key, &grant).await
    }

    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.read(&format!("grant:{id}")).await
    }

    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError> {
        let key = format!("grant:{id}");
        if let Some(mut g) = self.read::<GrantRecord>(&key).await? {
            g.revoked = true;
            self.write(&key, &g).await?;
        }
        Ok(())
    }

    async fn begin_refresh(&self, grant: &GrantId, first: &TokenHash, now: u64, ttl: u64) -> Result<bool, StoreError> {
        let key = format!("grant:{grant}");
        let Some(mut g) = self.read::<GrantRecord>(&key).await? else { return Ok(false) };
        if !g.begin_refresh(*first, now, ttl) {
            return Ok(false);
        }
        self.write(&key, &g).await?;
        self.write(&hkey("refresh", first), grant).await?;
        Ok(true)
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError> {
        let Some(grant_id) = self.read::<GrantId>(&hkey("refresh", presented)).await? else {
            return Ok(Rotation::Unknown);
        };
        let key = format!("grant:{grant_id}");
        let Some(mut g) = self.read::<GrantRecord>(&key).await? else { return Ok(Rotation::Unknown) };
        let decision = g.rotate(presented, *next, now, ttl);
        self.write(&key, &g).await?;
        Ok(match decision {
            RotateDecision::Rotated => {
                self.write(&hkey("refresh", next), &grant_id).await?;
                Rotation::Rotated(g)
            }
            RotateDecision::Replayed => Rotation::Replayed(grant_id),
            RotateDecision::Expired | RotateDecision::Revoked => Rotation::Dead,
        })
    }

    async fn refresh_grant(&self, token: &TokenHash) -> Result<Option<GrantId>, StoreError> {
        self.read(&hkey("refresh", token)).await
    }

    async fn put_access(&self, token: &TokenHash, record: &AccessRecord) -> Result<(), StoreError> {
        self.write(&hkey("access", token), record).await
    }

    async fn get_access(&self, token: &TokenHash) -> Result<Option<AccessRecord>, StoreError> {
        self.read(&hkey("access", token)).await
    }

    async fn delete_access(&self, token: &TokenHash) -> Result<(), StoreError> {
        self.0.delete(&hkey("access", token)).await
    }

    async fn put_once(&self, key: &TokenHash, value: &str, expires_at: u64) -> Result<(), StoreError> {
        self.write(&hkey("once", key), &Once { value: value.to_owned(), expires_at }).await
    }

    async fn bump(&self, key: &TokenHash, window_end: u64, now: u64) -> Result<u64, StoreError> {
        let k = hkey("count", key);
        let count = match self.read::<Count>(&k).await? {
            Some(c) if now < c.window_end => c.count + 1,
            _ => 1,
        };
        self.write(&k, &Count { count, window_end }).await?;
        Ok(count)
    }

    async fn take_once(&self, key: &TokenHash, now: u64) -> Result<Option<String>, StoreError> {
        let k = hkey("once", key);
        let Some(once) = self.read::<Once>(&k).await? else { return Ok(None) };
        self.0.delete(&k).await?;
        Ok((now < once.expires_at).then_some(once.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> GrantRecord {
        let keys = crate::oauth::testutil::keys();
        let rng = crate::oauth::testutil::CountingRandom::default();
        let id = GrantId::new("g");
        GrantRecord {
            identity: keys.seal_identity(&rng, &id, &crate::oauth::testutil::identity()),
            grant_id: id,
            client_id: ClientId::new("c"),
            resource: ResourceUri::new("https://x/mcp"),
            scope: "mcp".into(),
            created_at: 0,
            revoked: false,
            refresh_current: None,
            refresh_previous: None,
            refresh_expires_at: 0,
        }
    }

    #[test]
    fn rotation_rules() {
        let (a, b, c, d) = (TokenHash::of("a"), TokenHash::of("b"), TokenHash::of("c"), TokenHash::of("d"));
        let mut g = grant();
        assert!(g.begin_refresh(a, 0, 100));
        assert!(!g.begin_refresh(b, 0, 100), "starts once");
        assert_eq!(g.rotate(&a, b, 1, 100), RotateDecision::Rotated);
        // Grace: `a` again while `b` is unused; `c` replaces `b`.
        assert_eq!(g.rotate(&a, c, 2, 100), RotateDecision::Rotated);
        assert_eq!(g.refresh_current, Some(c));
        // `c` used: `a` is dead now.
        assert_eq!(g.rotate(&c, d, 3, 100), RotateDecision::Rotated);
        assert_eq!(g.rotate(&a, TokenHash::of("e"), 4, 100), RotateDecision::Replayed);
        assert!(g.revoked);
        assert_eq!(g.rotate(&d, TokenHash::of("f"), 5, 100), RotateDecision::Revoked);
    }

    #[test]
    fn refresh_expires() {
        let mut g = grant();
        g.begin_refresh(TokenHash::of("a"), 0, 10);
        assert_eq!(g.rotate(&TokenHash::of("a"), TokenHash::of("b"), 10, 10), RotateDecision::Expired);
    }

    #[test]
    fn code_is_taken_once() {
        let rec = CodeRecord {
            grant_id: GrantId::new("g"),
            client_id: ClientId::new("c"),
            redirect_uri: RedirectUri::new("https://a/cb"),
            code_challenge: PkceChallenge::new("x"),
            resource: ResourceUri::new("https://x/mcp"),
            scope: "mcp".into(),
            expires_at: 1,
        };
        let mut state = CodeState::Unused(rec.clone());
        assert_eq!(state.take(), CodeTake::Taken(rec));
        assert_eq!(state.take(), CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
    }

    #[test]
    fn revocation_survives_a_late_write() {
        let store = MemoryGrantStore::new();
        crate::app::block_on(async {
            let g = grant();
            store.put_grant(&g).await.unwrap();
            store.revoke_grant(&g.grant_id).await.unwrap();
            store.put_grant(&g).await.unwrap();
            assert!(store.get_grant(&g.grant_id).await.unwrap().unwrap().revoked);
        });
    }
}
