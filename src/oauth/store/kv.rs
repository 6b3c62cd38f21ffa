//! [`KvGrantStore`]: the [`GrantStore`] over any string key-value storage, which the Durable Object runs over its
//! storage and native code over [`MemoryKv`]. How records are keyed and encoded (JSON, as they always were: grants
//! stored by an earlier version must still read), how each trait method applies the rules of [`super::records`]
//! atomically, and the sweep that deletes what can no longer change an answer.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::records::{
    AccessRecord, ClientRecord, CodeRecord, CodeState, CodeTake, GrantRecord, IssuedAccess, RotateDecision, Rotation,
    GRANT_SWEEP_MARGIN_SECONDS,
};
use super::{GrantStore, StoreError, UNUSED_CLIENT_SECONDS};
use crate::oauth::{ClientId, GrantId, TokenHash};

/// How far past its grant's last token a client's expiry is moved when a grant needs it, so that a client refreshing
/// every hour costs a write a day, not one a refresh.
const CLIENT_EXTENSION_SECONDS: u64 = 86_400;
/// For clients stored before their expiry was kept: the longest a refresh token may live (365 days).
const LEGACY_CLIENT_SECONDS: u64 = 366 * 86_400;
/// The key of the number of clients stored (a counter whose window never ends, so the sweep keeps it).
const CLIENT_TALLY_KEY: &str = "count:clients";

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
pub struct MemoryKv(pub(super) RefCell<BTreeMap<String, String>>);

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

pub(super) fn key_kind(key: &str) -> &str {
    key.split(':').next().unwrap_or("")
}

pub(super) fn hkey(prefix: &str, h: &TokenHash) -> String {
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
