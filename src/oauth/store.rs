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
    /// The access token issued with `refresh_current` (in the same token response), deleted when that refresh token
    /// leaves the grant. `None` in grants stored before this was tracked.
    #[serde(default)]
    pub access_current: Option<TokenHash>,
    /// The access token issued with `refresh_previous`.
    #[serde(default)]
    pub access_previous: Option<TokenHash>,
    /// When every code and token issued from this grant has expired; the sweep deletes the grant
    /// [`GRANT_SWEEP_MARGIN_SECONDS`] later. 0 in grants stored before this was tracked (see [`GrantRecord::sweepable`]).
    #[serde(default)]
    pub tokens_expire_at: u64,
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

/// How long a grant is kept after every code and token issued from it has expired: room for a token request that
/// checked its code or token just before it expired and is still between two store calls.
pub const GRANT_SWEEP_MARGIN_SECONDS: u64 = 30;

/// For grants stored before [`GrantRecord::tokens_expire_at`] existed: the longest a code (600 s) or an access token
/// (`auth.access_ttl_seconds`, at most a day) may outlive the grant's refresh chain or creation.
const LEGACY_GRANT_LINGER_SECONDS: u64 = 86_400;

impl GrantRecord {
    /// Starts the refresh chain when the code is redeemed, with `access` issued alongside. False if the grant is
    /// revoked or already started.
    pub fn begin_refresh(&mut self, first: TokenHash, access: &IssuedAccess, now: u64, ttl: u64) -> bool {
        if self.revoked || self.refresh_current.is_some() {
            return false;
        }
        self.refresh_current = Some(first);
        self.access_current = Some(access.token);
        self.refresh_expires_at = now.saturating_add(ttl);
        self.tokens_issued(access);
        true
    }

    /// Presents `presented` (a refresh token of this grant) and, if it is live, replaces it with `next`, issued with
    /// `access`.
    ///
    /// - the current token: rotates; the previous one dies (the new one has now been used), and so does the access
    ///   token issued with it;
    /// - the previous token, while the current one was never used (grace): rotates again, `next` replaces the
    ///   unused current one (and `access` the access token issued with it), the previous one keeps its grace;
    /// - any other token of this grant (superseded, and its successor used): replay, the grant is revoked.
    pub fn rotate(
        &mut self,
        presented: &TokenHash,
        next: TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> RotateDecision {
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
            self.access_previous = self.access_current;
        }
        // Otherwise (grace) the current token was never used; `next` takes its place.
        self.refresh_current = Some(next);
        self.access_current = Some(access.token);
        self.refresh_expires_at = now.saturating_add(ttl);
        self.tokens_issued(access);
        RotateDecision::Rotated
    }

    fn tokens_issued(&mut self, access: &IssuedAccess) {
        self.tokens_expire_at = self.tokens_expire_at.max(self.refresh_expires_at).max(access.record.expires_at);
    }

    /// The access tokens this grant knows it issued with its live refresh tokens.
    pub fn access_tokens(&self) -> impl Iterator<Item = TokenHash> + '_ {
        self.access_current.iter().chain(self.access_previous.iter()).copied()
    }

    /// Whether `token` is one of the grant's two live refresh tokens (and the grant itself still live at `now`): its
    /// record must stay, whatever that record's own expiry says (the previous token keeps its grace as long as the
    /// chain lives).
    fn holds_live_refresh(&self, token: &str, now: u64) -> bool {
        let is = |slot: &Option<TokenHash>| slot.is_some_and(|h| String::from(h) == token);
        !self.revoked && now < self.refresh_expires_at && (is(&self.refresh_current) || is(&self.refresh_previous))
    }

    /// Whether the sweep may delete this grant at `now`: every code and token issued from it has expired, a margin
    /// ago. A revoked grant is kept as long (its tombstone answers for the tokens still stored).
    pub fn sweepable(&self, now: u64) -> bool {
        let until = if self.tokens_expire_at > 0 {
            self.tokens_expire_at
        } else {
            self.refresh_expires_at.max(self.created_at).saturating_add(LEGACY_GRANT_LINGER_SECONDS)
        };
        now >= until.saturating_add(GRANT_SWEEP_MARGIN_SECONDS)
    }
}

/// What [`GrantStore::rotate_refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rotation {
    /// The new token is live; here is the grant it belongs to.
    Rotated(Box<GrantRecord>),
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

/// An access token issued together with a refresh token: stored by the same atomic step that stores the refresh token
/// ([`GrantStore::begin_refresh`], [`GrantStore::rotate_refresh`]), and recorded in the grant so that it can be deleted
/// when that refresh token leaves the grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedAccess {
    pub token: TokenHash,
    pub record: AccessRecord,
}

/// How long a client that no grant uses is kept after it was stored (registered, or its metadata document fetched),
/// unless said otherwise (`auth.unused_client_seconds`): the sweep deletes it after that unless a grant has moved its
/// expiry on.
pub const UNUSED_CLIENT_SECONDS: u64 = 86_400;
/// How far past its grant's last token a client's expiry is moved when a grant needs it, so that a client refreshing
/// every hour costs a write a day, not one a refresh.
const CLIENT_EXTENSION_SECONDS: u64 = 86_400;
/// For clients stored before their expiry was kept: the longest a refresh token may live (365 days).
const LEGACY_CLIENT_SECONDS: u64 = 366 * 86_400;
/// The key of the number of clients stored (a counter whose window never ends, so the sweep keeps it).
const CLIENT_TALLY_KEY: &str = "count:clients";

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

/// A [`GrantStore`] over any string key-value storage ([`KvStorage`]): the one implementation of the trait's rules.
/// Natively it runs over [`MemoryKv`] ([`MemoryGrantStore`]); in the Worker, inside a Durable Object over its
/// storage, whose input gates keep each method's reads and writes from interleaving with another request's.
///
/// Keys: `client:<id>`, `code:<hash>`, `grant:<id>`, `refresh:<hash>`, `access:<hash>`, `once:<hash>`,
/// `count:<hash>`; values are JSON. Expired records are refused on read (their expiry is inside them) and deleted by
/// [`KvGrantStore::sweep`].
#[derive(Debug, Default)]
pub struct KvGrantStore<S>(pub S);

/// The storage under a [`KvGrantStore`]. A failure is a [`StoreError`]; a missing key is `None`.
#[async_trait::async_trait(?Send)]
pub trait KvStorage {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: String) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Up to `limit` entries in ascending key order, from the first key after `after` (from the first key when
    /// `None`).
    async fn list_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, String)>, StoreError>;
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
    async fn list_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, |k| Bound::Excluded(k.to_owned()));
        let map = self.0.borrow();
        Ok(map.range((start, Bound::Unbounded)).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
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

/// What `client:<id>` holds: the client, and when the sweep may delete it.
#[derive(Debug, Serialize, Deserialize)]
struct StoredClient {
    #[serde(flatten)]
    record: ClientRecord,
    /// 0 in clients stored before this was kept (see [`LEGACY_CLIENT_SECONDS`]).
    #[serde(default)]
    expires_at: u64,
}

impl StoredClient {
    fn expires_at(&self) -> u64 {
        if self.expires_at > 0 {
            self.expires_at
        } else {
            self.record.issued_at.saturating_add(LEGACY_CLIENT_SECONDS)
        }
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

/// What `refresh:<hash>` holds: the token's grant, and when the token itself expires (its refresh TTL from when it was
/// issued). A superseded token's record is kept until then, so that presenting it is recognised as a replay.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshRecord {
    grant_id: GrantId,
    expires_at: u64,
}

/// A refresh record as stored: records written before expiries were kept hold only the grant id.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StoredRefresh {
    Record(RefreshRecord),
    Legacy(GrantId),
}

impl StoredRefresh {
    fn grant_id(self) -> GrantId {
        match self {
            StoredRefresh::Record(r) => r.grant_id,
            StoredRefresh::Legacy(id) => id,
        }
    }
}

/// What one [`KvGrantStore::sweep`] step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepPage {
    /// Records read (at most the step's limit).
    pub examined: usize,
    pub deleted: usize,
    /// The key to continue after; `None` when this step reached the end of the store (the pass is complete).
    pub next: Option<String>,
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

    async fn put_refresh(&self, token: &TokenHash, grant_id: &GrantId, expires_at: u64) -> Result<(), StoreError> {
        self.write(&hkey("refresh", token), &RefreshRecord { grant_id: grant_id.clone(), expires_at }).await
    }

    /// The number of clients stored, moved by `delta`.
    async fn tally_clients(&self, delta: i64) -> Result<u64, StoreError> {
        let count = self.read::<Count>(CLIENT_TALLY_KEY).await?.map_or(0, |c| c.count);
        let count = count.saturating_add_signed(delta);
        self.write(CLIENT_TALLY_KEY, &Count { count, window_end: u64::MAX }).await?;
        Ok(count)
    }

    /// Stores `client` (replacing one with the same id), kept at least `unused_seconds` from its `issued_at` and no
    /// less long than before; counted in the tally when new.
    async fn store_client(&self, client: &ClientRecord, unused_seconds: u64) -> Result<(), StoreError> {
        let key = format!("client:{}", client.client_id);
        let before = self.read::<StoredClient>(&key).await?;
        let unused_until = client.issued_at.saturating_add(unused_seconds);
        let expires_at = before.as_ref().map_or(0, StoredClient::expires_at).max(unused_until);
        self.write(&key, &StoredClient { record: client.clone(), expires_at }).await?;
        if before.is_none() {
            self.tally_clients(1).await?;
        }
        Ok(())
    }

    /// Keeps client `id` at least until `until` (a grant of it may issue or honour tokens until then).
    async fn keep_client_until(&self, id: &ClientId, until: u64) -> Result<(), StoreError> {
        let key = format!("client:{id}");
        if let Some(mut stored) = self.read::<StoredClient>(&key).await? {
            if stored.expires_at() < until {
                stored.expires_at = until.saturating_add(CLIENT_EXTENSION_SECONDS);
                self.write(&key, &stored).await?;
            }
        }
        Ok(())
    }

    async fn delete_access_of(&self, tokens: impl Iterator<Item = TokenHash>) -> Result<(), StoreError> {
        for token in tokens {
            self.0.delete(&hkey("access", &token)).await?;
        }
        Ok(())
    }

    /// One bounded step of the sweep: reads the (at most) `limit` records after the key `after` (from the start when
    /// `None`) and deletes those that can no longer change any answer at `now`. A pass over the whole store is a
    /// chain of steps, each continuing after the previous one's [`SweepPage::next`]; the work of one step is at most
    /// `limit` reads, one grant read per expired refresh token or redeemed code, and the deletions.
    ///
    /// Deleted: access tokens, unredeemed codes, sign-in handles (`once`) and rate-limit counters past their expiry;
    /// refresh tokens past theirs, unless still one of their live grant's two tokens; grants
    /// [`GRANT_SWEEP_MARGIN_SECONDS`] after everything issued from them has expired ([`GrantRecord::sweepable`]);
    /// redeemed codes once their grant is gone; clients past their expiry. Kept: any record this code cannot read.
    pub async fn sweep(&self, after: Option<&str>, now: u64, limit: usize) -> Result<SweepPage, StoreError> {
        let entries = self.0.list_after(after, limit).await?;
        let mut page = SweepPage { examined: entries.len(), deleted: 0, next: None };
        if entries.len() >= limit {
            page.next = entries.last().map(|(k, _)| k.clone());
        }
        for (key, json) in &entries {
            if self.dead(key, json, now).await? {
                self.0.delete(key).await?;
                page.deleted += 1;
                if key_kind(key) == "client" {
                    self.tally_clients(-1).await?;
                }
            }
        }
        Ok(page)
    }

    async fn dead(&self, key: &str, json: &str, now: u64) -> Result<bool, StoreError> {
        fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
            serde_json::from_str(json).ok()
        }
        let Some((kind, id)) = key.split_once(':') else { return Ok(false) };
        Ok(match kind {
            "access" => parse::<AccessRecord>(json).is_some_and(|a| now >= a.expires_at),
            "once" => parse::<Once>(json).is_some_and(|o| now >= o.expires_at),
            "count" => parse::<Count>(json).is_some_and(|c| now >= c.window_end),
            "grant" => parse::<GrantRecord>(json).is_some_and(|g| g.sweepable(now)),
            "client" => parse::<StoredClient>(json).is_some_and(|c| now >= c.expires_at()),
            "code" => match parse::<CodeState>(json) {
                Some(CodeState::Unused(code)) => now >= code.expires_at,
                // Kept while its grant is, so that a replay still revokes it.
                Some(CodeState::Used { grant_id }) => self.get_grant(&grant_id).await?.is_none(),
                None => false,
            },
            "refresh" => match parse::<StoredRefresh>(json) {
                Some(StoredRefresh::Record(r)) if now < r.expires_at => false,
                Some(stored) => {
                    let legacy = matches!(stored, StoredRefresh::Legacy(_));
                    match self.get_grant(&stored.grant_id()).await? {
                        None => true,
                        // Its own expiry unknown: kept as long as its grant's chain lives.
                        Some(g) if legacy => g.revoked || now >= g.refresh_expires_at,
                        Some(g) => !g.holds_live_refresh(id, now),
                    }
                }
                None => false,
            },
            _ => false,
        })
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
        self.store_client(client, UNUSED_CLIENT_SECONDS).await
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.read::<StoredClient>(&format!("client:{id}")).await?.map(|c| c.record))
    }

    async fn add_client(
        &self,
        client: &ClientRecord,
        max_clients: u64,
        unused_seconds: u64,
    ) -> Result<bool, StoreError> {
        let known = self.0.get(&format!("client:{}", client.client_id)).await?.is_some();
        let stored = self.read::<Count>(CLIENT_TALLY_KEY).await?.map_or(0, |c| c.count);
        if !known && stored >= max_clients {
            return Ok(false);
        }
        self.store_client(client, unused_seconds).await?;
        Ok(true)
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
        self.write(&key, &grant).await?;
        // Its code must find the client when redeemed.
        self.keep_client_until(&grant.client_id, grant.tokens_expire_at.saturating_add(GRANT_SWEEP_MARGIN_SECONDS))
            .await
    }

    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.read(&format!("grant:{id}")).await
    }

    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError> {
        let key = format!("grant:{id}");
        if let Some(mut g) = self.read::<GrantRecord>(&key).await? {
            g.revoked = true;
            self.write(&key, &g).await?;
            // They would be refused anyway (their grant is revoked); nothing needs them any more.
            self.delete_access_of(g.access_tokens()).await?;
        }
        Ok(())
    }

    async fn begin_refresh(
        &self,
        grant: &GrantId,
        first: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let key = format!("grant:{grant}");
        let Some(mut g) = self.read::<GrantRecord>(&key).await? else { return Ok(false) };
        if !g.begin_refresh(*first, access, now, ttl) {
            return Ok(false);
        }
        self.write(&key, &g).await?;
        self.put_refresh(first, grant, g.refresh_expires_at).await?;
        self.write(&hkey("access", &access.token), &access.record).await?;
        self.keep_client_until(&g.client_id, g.tokens_expire_at.saturating_add(GRANT_SWEEP_MARGIN_SECONDS)).await?;
        Ok(true)
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError> {
        let Some(stored) = self.read::<StoredRefresh>(&hkey("refresh", presented)).await? else {
            return Ok(Rotation::Unknown);
        };
        let grant_id = stored.grant_id();
        let key = format!("grant:{grant_id}");
        let Some(mut g) = self.read::<GrantRecord>(&key).await? else { return Ok(Rotation::Unknown) };
        let held_before: Vec<TokenHash> = g.access_tokens().collect();
        let decision = g.rotate(presented, *next, access, now, ttl);
        self.write(&key, &g).await?;
        Ok(match decision {
            RotateDecision::Rotated => {
                self.put_refresh(next, &grant_id, g.refresh_expires_at).await?;
                self.write(&hkey("access", &access.token), &access.record).await?;
                // The access token issued with the refresh token that just left the grant.
                let held: Vec<TokenHash> = g.access_tokens().collect();
                self.delete_access_of(held_before.into_iter().filter(|t| !held.contains(t))).await?;
                let until = g.tokens_expire_at.saturating_add(GRANT_SWEEP_MARGIN_SECONDS);
                self.keep_client_until(&g.client_id, until).await?;
                Rotation::Rotated(Box::new(g))
            }
            RotateDecision::Replayed => {
                self.delete_access_of(g.access_tokens()).await?;
                Rotation::Replayed(grant_id)
            }
            RotateDecision::Expired | RotateDecision::Revoked => Rotation::Dead,
        })
    }

    async fn refresh_grant(&self, token: &TokenHash) -> Result<Option<GrantId>, StoreError> {
        Ok(self.read::<StoredRefresh>(&hkey("refresh", token)).await?.map(StoredRefresh::grant_id))
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

    async fn peek(&self, key: &TokenHash, now: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let count = self.read::<Count>(&hkey("count", key)).await?;
        Ok(count.filter(|c| now < c.window_end).map(|c| (c.count, c.window_end)))
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
    use crate::app::block_on;

    fn grant_named(id: &str) -> GrantRecord {
        let keys = crate::oauth::testutil::keys();
        let rng = crate::oauth::testutil::CountingRandom::default();
        let id = GrantId::new(id);
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
            access_current: None,
            access_previous: None,
            tokens_expire_at: 60,
        }
    }

    fn grant() -> GrantRecord {
        grant_named("g")
    }

    /// An access token named `name` for grant `g`, expiring at `expires_at`.
    fn access(name: &str, expires_at: u64) -> IssuedAccess {
        IssuedAccess {
            token: TokenHash::of(name),
            record: AccessRecord {
                grant_id: GrantId::new("g"),
                client_id: ClientId::new("c"),
                resource: ResourceUri::new("https://x/mcp"),
                scope: "mcp".into(),
                expires_at,
            },
        }
    }

    fn code_record(grant: &str, expires_at: u64) -> CodeRecord {
        CodeRecord {
            grant_id: GrantId::new(grant),
            client_id: ClientId::new("c"),
            redirect_uri: RedirectUri::new("https://a/cb"),
            code_challenge: PkceChallenge::new("x"),
            resource: ResourceUri::new("https://x/mcp"),
            scope: "mcp".into(),
            expires_at,
        }
    }

    /// Stored keys by kind (`access`, `refresh`, ...), as the hardening suite counts them in the Durable Object.
    fn kinds(store: &MemoryGrantStore) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for key in store.0 .0.borrow().keys() {
            *out.entry(key_kind(key).to_owned()).or_default() += 1;
        }
        out
    }

    fn count(store: &MemoryGrantStore, kind: &str) -> usize {
        kinds(store).get(kind).copied().unwrap_or(0)
    }

    fn has_access(store: &MemoryGrantStore, name: &str) -> bool {
        block_on(store.get_access(&TokenHash::of(name))).unwrap().is_some()
    }

    /// A whole pass, page after page; the total deleted.
    fn sweep_all(store: &MemoryGrantStore, now: u64) -> usize {
        let (mut after, mut deleted) = (None, 0);
        loop {
            let page = block_on(store.sweep(after.as_deref(), now, 16)).unwrap();
            deleted += page.deleted;
            match page.next {
                Some(next) => after = Some(next),
                None => return deleted,
            }
        }
    }

    #[test]
    fn rotation_rules() {
        let (a, b, c, d) = (TokenHash::of("a"), TokenHash::of("b"), TokenHash::of("c"), TokenHash::of("d"));
        let mut g = grant();
        assert!(g.begin_refresh(a, &access("A", 10), 0, 100));
        assert!(!g.begin_refresh(b, &access("B", 10), 0, 100), "starts once");
        assert_eq!(g.rotate(&a, b, &access("B", 11), 1, 100), RotateDecision::Rotated);
        assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("A")), Some(TokenHash::of("B"))));
        // Grace: `a` again while `b` is unused; `c` replaces `b`, and its access token replaces `b`'s.
        assert_eq!(g.rotate(&a, c, &access("C", 12), 2, 100), RotateDecision::Rotated);
        assert_eq!(g.refresh_current, Some(c));
        assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("A")), Some(TokenHash::of("C"))));
        // `c` used: `a` is dead now.
        assert_eq!(g.rotate(&c, d, &access("D", 13), 3, 100), RotateDecision::Rotated);
        assert_eq!((g.access_previous, g.access_current), (Some(TokenHash::of("C")), Some(TokenHash::of("D"))));
        assert_eq!(g.tokens_expire_at, 103, "the chain outlives the access tokens here");
        assert_eq!(g.rotate(&a, TokenHash::of("e"), &access("E", 14), 4, 100), RotateDecision::Replayed);
        assert!(g.revoked);
        assert_eq!(g.rotate(&d, TokenHash::of("f"), &access("F", 15), 5, 100), RotateDecision::Revoked);
    }

    #[test]
    fn refresh_expires() {
        let mut g = grant();
        g.begin_refresh(TokenHash::of("a"), &access("A", 1), 0, 10);
        let next = access("B", 11);
        assert_eq!(g.rotate(&TokenHash::of("a"), TokenHash::of("b"), &next, 10, 10), RotateDecision::Expired);
    }

    #[test]
    fn code_is_taken_once() {
        let rec = code_record("g", 1);
        let mut state = CodeState::Unused(rec.clone());
        assert_eq!(state.take(), CodeTake::Taken(rec));
        assert_eq!(state.take(), CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
    }

    #[test]
    fn revocation_survives_a_late_write() {
        let store = MemoryGrantStore::new();
        block_on(async {
            let g = grant();
            store.put_grant(&g).await.unwrap();
            store.revoke_grant(&g.grant_id).await.unwrap();
            store.put_grant(&g).await.unwrap();
            assert!(store.get_grant(&g.grant_id).await.unwrap().unwrap().revoked);
        });
    }

    #[test]
    fn a_rotation_deletes_the_access_token_of_the_refresh_token_that_leaves_the_grant() {
        let store = MemoryGrantStore::new();
        let r = |n: u32| TokenHash::of(&format!("r{n}"));
        let a = |n: u32| access(&format!("a{n}"), 1000);
        block_on(async {
            store.put_grant(&grant()).await.unwrap();
            assert!(store.begin_refresh(&GrantId::new("g"), &r(0), &a(0), 0, 100).await.unwrap());
            assert!(has_access(&store, "a0"));
            // r0 used: a0 stays (r0 is the previous token, it may be retried), a1 is added.
            assert!(matches!(store.rotate_refresh(&r(0), &r(1), &a(1), 1, 100).await.unwrap(), Rotation::Rotated(_)));
            assert!(has_access(&store, "a0") && has_access(&store, "a1"));
            // r1 used: r0 leaves the grant, and a0 with it.
            assert!(matches!(store.rotate_refresh(&r(1), &r(2), &a(2), 2, 100).await.unwrap(), Rotation::Rotated(_)));
            assert!(!has_access(&store, "a0") && has_access(&store, "a1") && has_access(&store, "a2"));
            // Grace: r1 again while r2 is unused; r3 replaces r2, and a3 replaces a2.
            assert!(matches!(store.rotate_refresh(&r(1), &r(3), &a(3), 3, 100).await.unwrap(), Rotation::Rotated(_)));
            assert!(!has_access(&store, "a2") && has_access(&store, "a1") && has_access(&store, "a3"));
            // Every refresh token is still known: presenting a superseded one is a replay, which revokes the grant
            // and deletes the access tokens it still held.
            assert_eq!(count(&store, "refresh"), 4);
            assert_eq!(
                store.rotate_refresh(&r(0), &r(4), &a(4), 4, 100).await.unwrap(),
                Rotation::Replayed(GrantId::new("g"))
            );
            assert_eq!(count(&store, "access"), 0);
            assert!(store.get_grant(&GrantId::new("g")).await.unwrap().unwrap().revoked);
            assert_eq!(store.rotate_refresh(&r(3), &r(5), &a(5), 5, 100).await.unwrap(), Rotation::Dead);
            assert_eq!(count(&store, "access"), 0, "a refused rotation stores nothing");
        });
    }

    #[test]
    fn a_refused_start_stores_no_token() {
        let store = MemoryGrantStore::new();
        block_on(async {
            let g = GrantId::new("g");
            assert!(!store.begin_refresh(&g, &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap());
            store.put_grant(&grant()).await.unwrap();
            store.revoke_grant(&g).await.unwrap();
            assert!(!store.begin_refresh(&g, &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap());
            assert_eq!((count(&store, "access"), count(&store, "refresh")), (0, 0));
        });
    }

    #[test]
    fn revoking_a_grant_deletes_the_access_tokens_it_holds() {
        let store = MemoryGrantStore::new();
        block_on(async {
            store.put_grant(&grant()).await.unwrap();
            store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 10), 0, 100).await.unwrap();
            store.rotate_refresh(&TokenHash::of("r0"), &TokenHash::of("r1"), &access("a1", 10), 1, 100).await.unwrap();
            assert_eq!(count(&store, "access"), 2);
            store.revoke_grant(&GrantId::new("g")).await.unwrap();
            assert_eq!(count(&store, "access"), 0);
        });
    }

    #[test]
    fn two_hundred_rotations_leave_two_access_tokens() {
        let store = MemoryGrantStore::new();
        block_on(async {
            store.put_grant(&grant()).await.unwrap();
            let r = |n: u32| TokenHash::of(&format!("r{n}"));
            store.begin_refresh(&GrantId::new("g"), &r(0), &access("a0", 1), 0, 1000).await.unwrap();
            for n in 0..200 {
                let next = access(&format!("a{}", n + 1), n as u64 + 2);
                let rotated = store.rotate_refresh(&r(n), &r(n + 1), &next, n as u64 + 1, 1000).await.unwrap();
                assert!(matches!(rotated, Rotation::Rotated(_)));
            }
        });
        assert_eq!(count(&store, "access"), 2);
        // The two access tokens have expired at 500. Superseded refresh tokens stay until they expire (a replay must
        // still be recognised)...
        assert_eq!(count(&store, "refresh"), 201);
        assert_eq!(sweep_all(&store, 500), 2);
        assert_eq!((count(&store, "refresh"), count(&store, "access")), (201, 0));
        // ...and go when they do (r<n> was issued at n, for 1000 s): r0..r150 at 1150. The current and previous ones
        // (r200, r199) live as long as the chain, until 1200.
        assert_eq!(sweep_all(&store, 1150), 151);
        sweep_all(&store, 1200);
        assert_eq!(count(&store, "refresh"), 0);
        assert_eq!(count(&store, "grant"), 1, "kept a margin past its last token");
        sweep_all(&store, 1200 + GRANT_SWEEP_MARGIN_SECONDS);
        assert!(kinds(&store).is_empty(), "{:?}", kinds(&store));
    }

    #[test]
    fn the_previous_refresh_token_keeps_its_grace_past_its_own_expiry_while_the_chain_lives() {
        let store = MemoryGrantStore::new();
        let r = |n: u32| TokenHash::of(&format!("r{n}"));
        block_on(async {
            store.put_grant(&grant()).await.unwrap();
            store.begin_refresh(&GrantId::new("g"), &r(0), &access("a0", 10), 0, 100).await.unwrap();
            // r0 (expires at 100) used at 50: r1 expires at 150 and the chain with it.
            store.rotate_refresh(&r(0), &r(1), &access("a1", 60), 50, 100).await.unwrap();
        });
        assert_eq!(sweep_all(&store, 120), 2, "the two expired access tokens");
        assert_eq!(count(&store, "refresh"), 2, "r0 is past its own expiry but still the previous token");
        // r1 was never used, so r0 still rotates.
        let rotated = block_on(store.rotate_refresh(&r(0), &r(2), &access("a2", 200), 121, 100)).unwrap();
        assert!(matches!(rotated, Rotation::Rotated(_)));
    }

    #[test]
    fn the_sweep_deletes_what_has_expired_and_only_that() {
        let store = MemoryGrantStore::new();
        block_on(async {
            let client = crate::oauth::authorize::tests::client();
            store.put_client(&client).await.unwrap();
            // A grant whose code was never redeemed: the code expires at 60 (see `grant`).
            store.put_grant(&grant_named("unredeemed")).await.unwrap();
            store.put_code(&TokenHash::of("code-unredeemed"), &code_record("unredeemed", 60)).await.unwrap();
            // A redeemed one, with its code kept as used.
            let mut live = grant();
            live.tokens_expire_at = 60;
            store.put_grant(&live).await.unwrap();
            store.put_code(&TokenHash::of("code-g"), &code_record("g", 60)).await.unwrap();
            assert!(matches!(store.take_code(&TokenHash::of("code-g")).await.unwrap(), CodeTake::Taken(_)));
            store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 100), 10, 1000).await.unwrap();
            store.put_once(&TokenHash::of("state"), "v", 50).await.unwrap();
            store.bump(&TokenHash::of("register"), 3600, 0).await.unwrap();
        });
        let all = kinds(&store);
        assert_eq!(sweep_all(&store, 49), 0, "nothing has expired yet: {all:?}");
        assert_eq!(kinds(&store), all);
        // 60: the sign-in handle and the unredeemed code have expired.
        assert_eq!(sweep_all(&store, 60), 2);
        assert_eq!(count(&store, "once"), 0);
        assert_eq!(count(&store, "code"), 1);
        // The unredeemed grant goes a margin after its code expired; the access token at 100.
        assert_eq!(sweep_all(&store, 60 + GRANT_SWEEP_MARGIN_SECONDS), 1);
        assert!(block_on(store.get_grant(&GrantId::new("unredeemed"))).unwrap().is_none());
        assert_eq!(sweep_all(&store, 100), 1);
        assert_eq!(count(&store, "access"), 0);
        // The chain ends at 1010: the refresh token goes; after the margin the grant; in the next pass its used code
        // (`code:` keys come before `grant:` ones).
        assert_eq!(sweep_all(&store, 1010), 1);
        assert_eq!(count(&store, "refresh"), 0);
        let end = 1010 + GRANT_SWEEP_MARGIN_SECONDS;
        assert_eq!((sweep_all(&store, end - 1), sweep_all(&store, end), sweep_all(&store, end)), (0, 1, 1));
        assert_eq!((count(&store, "grant"), count(&store, "code")), (0, 0));
        // The counter's window ends at 3600.
        assert_eq!(sweep_all(&store, 3599), 0);
        assert_eq!(sweep_all(&store, 3600), 1);
        // The client (stored at 0; no grant here is its) is kept a day after it was stored; the tally of clients
        // stays.
        let kept = BTreeMap::from([("client".to_owned(), 1), ("count".to_owned(), 1)]);
        assert_eq!(kinds(&store), kept, "the client is kept");
        assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS - 1), 0);
        assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS), 1);
        assert_eq!(kinds(&store), BTreeMap::from([("count".to_owned(), 1)]));
    }

    fn client_named(id: &str, issued_at: u64) -> ClientRecord {
        ClientRecord { client_id: ClientId::new(id), issued_at, ..crate::oauth::authorize::tests::client() }
    }

    #[test]
    fn a_client_no_grant_uses_is_swept_a_day_after_it_was_stored() {
        let store = MemoryGrantStore::new();
        block_on(async {
            store.put_client(&client_named("unused", 100)).await.unwrap();
            let mut document = client_named("https://app.example/c.json", 200);
            document.metadata_document = true;
            store.put_client(&document).await.unwrap();
        });
        assert_eq!(sweep_all(&store, 100 + UNUSED_CLIENT_SECONDS - 1), 0);
        assert_eq!(sweep_all(&store, 100 + UNUSED_CLIENT_SECONDS), 1);
        assert!(block_on(store.get_client(&ClientId::new("unused"))).unwrap().is_none());
        // A metadata document's client is a cache entry like any other: gone a day after its last fetch.
        assert_eq!(sweep_all(&store, 200 + UNUSED_CLIENT_SECONDS), 1);
        assert_eq!(count(&store, "client"), 0);
    }

    #[test]
    fn a_client_lives_as_long_as_its_grants_can_issue_tokens() {
        let store = MemoryGrantStore::new();
        let ttl = 30 * 86_400;
        block_on(async {
            store.put_client(&client_named("c", 0)).await.unwrap();
            store.put_grant(&grant()).await.unwrap();
            store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 3600), 10, ttl).await.unwrap();
        });
        // Long past a day: refreshed on day 20, the chain now lives to day 50.
        let day20 = 20 * 86_400;
        sweep_all(&store, day20 - 1);
        assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "kept past its first day");
        let rotation = block_on(store.rotate_refresh(
            &TokenHash::of("r0"),
            &TokenHash::of("r1"),
            &access("a1", day20 + 3600),
            day20,
            ttl,
        ));
        assert!(matches!(rotation.unwrap(), Rotation::Rotated(_)));
        let chain_end = day20 + ttl;
        sweep_all(&store, chain_end - 1);
        assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "still needed to refresh");
        // Once every token has expired and the grant is gone, the client goes too (a day later at most).
        sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS);
        sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS);
        assert_eq!(count(&store, "grant"), 0);
        sweep_all(&store, chain_end + GRANT_SWEEP_MARGIN_SECONDS + 86_400);
        assert_eq!(count(&store, "client"), 0);
    }

    #[test]
    fn a_client_whose_code_is_out_outlives_a_short_unused_time() {
        let store = MemoryGrantStore::new();
        block_on(async {
            assert!(store.add_client(&client_named("c", 0), 10, 5).await.unwrap());
            // Signed in at 4: the grant's code lives to 60 (see `grant`).
            store.put_grant(&grant()).await.unwrap();
        });
        sweep_all(&store, 61);
        assert!(block_on(store.get_client(&ClientId::new("c"))).unwrap().is_some(), "its code can still be redeemed");
        // A client nobody signed in with goes after its 5 s.
        block_on(store.add_client(&client_named("other", 100), 10, 5)).unwrap();
        sweep_all(&store, 104);
        assert!(block_on(store.get_client(&ClientId::new("other"))).unwrap().is_some());
        sweep_all(&store, 105);
        assert!(block_on(store.get_client(&ClientId::new("other"))).unwrap().is_none());
    }

    #[test]
    fn the_number_of_clients_is_capped_and_counts_down_as_they_are_swept() {
        let store = MemoryGrantStore::new();
        block_on(async {
            assert!(store.add_client(&client_named("a", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
            assert!(store.add_client(&client_named("b", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
            assert!(
                !store.add_client(&client_named("c", 0), 2, UNUSED_CLIENT_SECONDS).await.unwrap(),
                "a third is refused"
            );
            assert!(store.get_client(&ClientId::new("c")).await.unwrap().is_none());
            // Storing a known client again (a metadata document fetched anew) is not a new one.
            assert!(store.add_client(&client_named("b", 5), 2, UNUSED_CLIENT_SECONDS).await.unwrap());
        });
        assert_eq!(sweep_all(&store, UNUSED_CLIENT_SECONDS + 5), 2);
        assert!(block_on(store.add_client(&client_named("c", UNUSED_CLIENT_SECONDS + 5), 2, 60)).unwrap());
    }

    #[test]
    fn clients_stored_before_their_expiry_was_kept_are_read_and_kept_a_year() {
        let store = MemoryGrantStore::new();
        let legacy = serde_json::to_string(&client_named("old", 0)).unwrap();
        block_on(store.0.put("client:old", legacy)).unwrap();
        assert_eq!(block_on(store.get_client(&ClientId::new("old"))).unwrap().unwrap().client_id.as_str(), "old");
        assert_eq!(sweep_all(&store, 365 * 86_400), 0);
        assert_eq!(sweep_all(&store, 366 * 86_400), 1);
    }

    #[test]
    fn a_replayed_code_still_revokes_until_its_grant_is_swept() {
        let store = MemoryGrantStore::new();
        block_on(async {
            store.put_grant(&grant()).await.unwrap();
            store.put_code(&TokenHash::of("code"), &code_record("g", 60)).await.unwrap();
            store.take_code(&TokenHash::of("code")).await.unwrap();
            store.begin_refresh(&GrantId::new("g"), &TokenHash::of("r0"), &access("a0", 100), 10, 1000).await.unwrap();
        });
        sweep_all(&store, 500);
        let replay = block_on(store.take_code(&TokenHash::of("code"))).unwrap();
        assert_eq!(replay, CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
    }

    #[test]
    fn each_sweep_step_is_bounded_and_the_next_continues_after_it() {
        let store = MemoryGrantStore::new();
        block_on(async {
            for n in 0..100u64 {
                // Even ones have expired at 50.
                let expires = if n % 2 == 0 { 10 } else { 100 };
                store.put_once(&TokenHash::of(&n.to_string()), "v", expires).await.unwrap();
            }
        });
        let (mut after, mut steps, mut deleted) = (None::<String>, 0, 0);
        loop {
            let page = block_on(store.sweep(after.as_deref(), 50, 30)).unwrap();
            assert!(page.examined <= 30);
            steps += 1;
            deleted += page.deleted;
            match page.next {
                Some(next) => {
                    assert!(after.as_deref().is_none_or(|a| a < next.as_str()), "moves forward");
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!((steps, deleted, count(&store, "once")), (4, 50, 50));
        // Deleting behind the cursor does not skip anything: a second pass finds nothing more.
        assert_eq!(sweep_all(&store, 50), 0);
    }

    #[test]
    fn records_stored_before_expiries_were_kept_are_read_and_swept() {
        let store = MemoryGrantStore::new();
        // A grant and refresh record as the previous version wrote them.
        let mut old = serde_json::to_value(grant()).unwrap();
        for field in ["access_current", "access_previous", "tokens_expire_at"] {
            old.as_object_mut().unwrap().remove(field);
        }
        old["refresh_current"] = serde_json::to_value(TokenHash::of("r0")).unwrap();
        old["refresh_expires_at"] = 1000.into();
        block_on(async {
            store.0.put("grant:g", old.to_string()).await.unwrap();
            store.0.put(&hkey("refresh", &TokenHash::of("r0")), "\"g\"".into()).await.unwrap();
            store.0.put(&hkey("refresh", &TokenHash::of("older")), "\"g\"".into()).await.unwrap();
            assert_eq!(store.refresh_grant(&TokenHash::of("older")).await.unwrap(), Some(GrantId::new("g")));
        });
        // Their own expiry unknown, legacy refresh records live as long as their grant's chain.
        assert_eq!(sweep_all(&store, 999), 0);
        let rotated =
            block_on(store.rotate_refresh(&TokenHash::of("r0"), &TokenHash::of("r1"), &access("a1", 20), 10, 1000));
        assert!(matches!(rotated.unwrap(), Rotation::Rotated(_)));
        let g = block_on(store.get_grant(&GrantId::new("g"))).unwrap().unwrap();
        assert_eq!((g.refresh_expires_at, g.tokens_expire_at), (1010, 1010));
        assert_eq!(sweep_all(&store, 1010), 4, "the access token, both legacy records and r1");
        assert_eq!(sweep_all(&store, 1010 + GRANT_SWEEP_MARGIN_SECONDS), 1);
        // An untouched legacy grant: kept a day past its chain (the longest an access token may outlive it).
        store.0 .0.borrow_mut().insert("grant:g".into(), old.to_string());
        assert_eq!(sweep_all(&store, 1000 + 86_399 + GRANT_SWEEP_MARGIN_SECONDS), 0);
        assert_eq!(sweep_all(&store, 1000 + 86_400 + GRANT_SWEEP_MARGIN_SECONDS), 1);
    }

    #[test]
    fn unreadable_and_unknown_records_are_left_alone() {
        let store = MemoryGrantStore::new();
        block_on(async {
            store.0.put("access:x", "not json".into()).await.unwrap();
            store.0.put("sweep", "cursor".into()).await.unwrap();
            store.0.put("other:y", "{}".into()).await.unwrap();
        });
        assert_eq!(sweep_all(&store, u64::MAX), 0);
        assert_eq!(count(&store, "access"), 1);
    }
}
