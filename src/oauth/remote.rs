//! The grant store across a process boundary: every [`GrantStore`] call as one serialisable [`StoreOp`], answered
//! by [`apply`] where the storage lives. The Worker sends each op to one Durable Object, which runs [`apply`] over a
//! [`super::store::KvGrantStore`] on its own storage, so that codes and refresh tokens are single-use across every
//! isolate and location (KV alone is eventually consistent and could not promise that).
//!
//! [`RemoteGrantStore`] is the client half, generic over how an op travels ([`StoreTransport`]); natively tests
//! pass ops straight to [`apply`], so the whole round trip (serialisation included) is tested without a runtime.

use serde::{Deserialize, Serialize};

use super::store::{
    AccessRecord, ClientRecord, CodeRecord, CodeTake, GrantRecord, GrantStore, IssuedAccess, Rotation, StoreError,
};
use super::{ClientId, GrantId, TokenHash};

/// One grant store call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StoreOp {
    PutClient { client: ClientRecord },
    GetClient { id: ClientId },
    AddClient { client: ClientRecord, max_clients: u64, unused_seconds: u64 },
    PutCode { code: TokenHash, record: CodeRecord },
    TakeCode { code: TokenHash },
    PutGrant { grant: GrantRecord },
    GetGrant { id: GrantId },
    RevokeGrant { id: GrantId },
    BeginRefresh { grant: GrantId, first: TokenHash, access: IssuedAccess, now: u64, ttl: u64 },
    RotateRefresh { presented: TokenHash, next: TokenHash, access: IssuedAccess, now: u64, ttl: u64 },
    RefreshGrant { token: TokenHash },
    GetAccess { token: TokenHash },
    DeleteAccess { token: TokenHash },
    PutOnce { key: TokenHash, value: String, expires_at: u64 },
    TakeOnce { key: TokenHash, now: u64 },
    Bump { key: TokenHash, window_end: u64, now: u64 },
    Peek { key: TokenHash, now: u64 },
}

/// The answer to one [`StoreOp`]: its result, or the store's error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreReply {
    Done,
    Client(Option<ClientRecord>),
    Code(CodeTake),
    Grant(Option<GrantRecord>),
    Flag(bool),
    Rotation(Rotation),
    GrantId(Option<GrantId>),
    Access(Option<AccessRecord>),
    Value(Option<String>),
    Count(u64),
    Window(Option<(u64, u64)>),
    Error(String),
}

/// Runs one op against `store`. Never fails: a store error travels back as [`StoreReply::Error`].
pub async fn apply(store: &dyn GrantStore, op: StoreOp) -> StoreReply {
    use StoreOp as O;
    use StoreReply as R;
    let result = match op {
        O::PutClient { client } => store.put_client(&client).await.map(|_| R::Done),
        O::GetClient { id } => store.get_client(&id).await.map(R::Client),
        O::AddClient { client, max_clients, unused_seconds } => {
            store.add_client(&client, max_clients, unused_seconds).await.map(R::Flag)
        }
        O::PutCode { code, record } => store.put_code(&code, &record).await.map(|_| R::Done),
        O::TakeCode { code } => store.take_code(&code).await.map(R::Code),
        O::PutGrant { grant } => store.put_grant(&grant).await.map(|_| R::Done),
        O::GetGrant { id } => store.get_grant(&id).await.map(R::Grant),
        O::RevokeGrant { id } => store.revoke_grant(&id).await.map(|_| R::Done),
        O::BeginRefresh { grant, first, access, now, ttl } => {
            store.begin_refresh(&grant, &first, &access, now, ttl).await.map(R::Flag)
        }
        O::RotateRefresh { presented, next, access, now, ttl } => {
            store.rotate_refresh(&presented, &next, &access, now, ttl).await.map(R::Rotation)
        }
        O::RefreshGrant { token } => store.refresh_grant(&token).await.map(R::GrantId),
        O::GetAccess { token } => store.get_access(&token).await.map(R::Access),
        O::DeleteAccess { token } => store.delete_access(&token).await.map(|_| R::Done),
        O::PutOnce { key, value, expires_at } => store.put_once(&key, &value, expires_at).await.map(|_| R::Done),
        O::TakeOnce { key, now } => store.take_once(&key, now).await.map(R::Value),
        O::Bump { key, window_end, now } => store.bump(&key, window_end, now).await.map(R::Count),
        O::Peek { key, now } => store.peek(&key, now).await.map(R::Window),
    };
    result.unwrap_or_else(|e| R::Error(e.0))
}

/// How an op reaches the store and its reply comes back (a Durable Object stub's `fetch`, in the Worker).
#[async_trait::async_trait(?Send)]
pub trait StoreTransport {
    async fn call(&self, op: &StoreOp) -> Result<StoreReply, StoreError>;
}

/// A [`GrantStore`] whose every call is one [`StoreTransport::call`].
pub struct RemoteGrantStore<T>(pub T);

fn unexpected(reply: StoreReply) -> StoreError {
    match reply {
        StoreReply::Error(e) => StoreError(e),
        other => StoreError(format!("the grant store answered out of turn ({other:?})")),
    }
}

macro_rules! remote {
    ($self:ident, $op:expr, $pat:pat => $out:expr) => {
        match $self.0.call(&$op).await? {
            $pat => Ok($out),
            other => Err(unexpected(other)),
        }
    };
}

#[async_trait::async_trait(?Send)]
impl<T: StoreTransport> GrantStore for RemoteGrantStore<T> {
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        remote!(self, StoreOp::PutClient { client: client.clone() }, StoreReply::Done => ())
    }
    async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        remote!(self, StoreOp::GetClient { id: id.clone() }, StoreReply::Client(c) => c)
    }
    async fn add_client(
        &self,
        client: &ClientRecord,
        max_clients: u64,
        unused_seconds: u64,
    ) -> Result<bool, StoreError> {
        let op = StoreOp::AddClient { client: client.clone(), max_clients, unused_seconds };
        remote!(self, op, StoreReply::Flag(f) => f)
    }
    async fn put_code(&self, code: &TokenHash, record: &CodeRecord) -> Result<(), StoreError> {
        remote!(self, StoreOp::PutCode { code: *code, record: record.clone() }, StoreReply::Done => ())
    }
    async fn take_code(&self, code: &TokenHash) -> Result<CodeTake, StoreError> {
        remote!(self, StoreOp::TakeCode { code: *code }, StoreReply::Code(t) => t)
    }
    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        remote!(self, StoreOp::PutGrant { grant: grant.clone() }, StoreReply::Done => ())
    }
    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        remote!(self, StoreOp::GetGrant { id: id.clone() }, StoreReply::Grant(g) => g)
    }
    async fn revoke_grant(&self, id: &GrantId) -> Result<(), StoreError> {
        remote!(self, StoreOp::RevokeGrant { id: id.clone() }, StoreReply::Done => ())
    }
    async fn begin_refresh(
        &self,
        grant: &GrantId,
        first: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let op = StoreOp::BeginRefresh { grant: grant.clone(), first: *first, access: access.clone(), now, ttl };
        remote!(self, op, StoreReply::Flag(b) => b)
    }
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> Result<Rotation, StoreError> {
        let op = StoreOp::RotateRefresh { presented: *presented, next: *next, access: access.clone(), now, ttl };
        remote!(self, op, StoreReply::Rotation(r) => r)
    }
    async fn refresh_grant(&self, token: &TokenHash) -> Result<Option<GrantId>, StoreError> {
        remote!(self, StoreOp::RefreshGrant { token: *token }, StoreReply::GrantId(g) => g)
    }
    async fn get_access(&self, token: &TokenHash) -> Result<Option<AccessRecord>, StoreError> {
        remote!(self, StoreOp::GetAccess { token: *token }, StoreReply::Access(a) => a)
    }
    async fn delete_access(&self, token: &TokenHash) -> Result<(), StoreError> {
        remote!(self, StoreOp::DeleteAccess { token: *token }, StoreReply::Done => ())
    }
    async fn put_once(&self, key: &TokenHash, value: &str, expires_at: u64) -> Result<(), StoreError> {
        let op = StoreOp::PutOnce { key: *key, value: value.to_owned(), expires_at };
        remote!(self, op, StoreReply::Done => ())
    }
    async fn take_once(&self, key: &TokenHash, now: u64) -> Result<Option<String>, StoreError> {
        remote!(self, StoreOp::TakeOnce { key: *key, now }, StoreReply::Value(v) => v)
    }
    async fn bump(&self, key: &TokenHash, window_end: u64, now: u64) -> Result<u64, StoreError> {
        remote!(self, StoreOp::Bump { key: *key, window_end, now }, StoreReply::Count(n) => n)
    }
    async fn peek(&self, key: &TokenHash, now: u64) -> Result<Option<(u64, u64)>, StoreError> {
        remote!(self, StoreOp::Peek { key: *key, now }, StoreReply::Window(w) => w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::MemoryGrantStore;
    use crate::oauth::testutil::block_on;
    use crate::oauth::{PkceChallenge, RedirectUri, ResourceUri};

    /// Serialises every op and reply as the Durable Object round trip does.
    struct Wire<'a>(&'a MemoryGrantStore);

    #[async_trait::async_trait(?Send)]
    impl StoreTransport for Wire<'_> {
        async fn call(&self, op: &StoreOp) -> Result<StoreReply, StoreError> {
            let op: StoreOp = serde_json::from_str(&serde_json::to_string(op).unwrap()).unwrap();
            let reply = apply(self.0, op).await;
            Ok(serde_json::from_str(&serde_json::to_string(&reply).unwrap()).unwrap())
        }
    }

    #[test]
    fn codes_and_once_values_are_single_use_across_the_wire() {
        let backing = MemoryGrantStore::new();
        let store = RemoteGrantStore(Wire(&backing));
        block_on(async {
            let record = CodeRecord {
                grant_id: GrantId::new("g"),
                client_id: ClientId::new("c"),
                redirect_uri: RedirectUri::new("https://a/cb"),
                code_challenge: PkceChallenge::new("x"),
                resource: ResourceUri::new("https://x/mcp"),
                scope: "mcp".into(),
                expires_at: 10,
            };
            let code = TokenHash::of("code");
            store.put_code(&code, &record).await.unwrap();
            assert_eq!(store.take_code(&code).await.unwrap(), CodeTake::Taken(record));
            assert_eq!(store.take_code(&code).await.unwrap(), CodeTake::AlreadyUsed { grant_id: GrantId::new("g") });
            assert_eq!(store.take_code(&TokenHash::of("other")).await.unwrap(), CodeTake::Unknown);

            let k = TokenHash::of("state");
            store.put_once(&k, "kept", 100).await.unwrap();
            assert_eq!(store.take_once(&k, 5).await.unwrap().as_deref(), Some("kept"));
            assert_eq!(store.take_once(&k, 5).await.unwrap(), None);
            store.put_once(&k, "late", 100).await.unwrap();
            assert_eq!(store.take_once(&k, 100).await.unwrap(), None, "expired");
            assert_eq!(store.get_client(&ClientId::new("nobody")).await.unwrap(), None);

            let c = TokenHash::of("register:1.2.3.4");
            assert_eq!(store.bump(&c, 3600, 0).await.unwrap(), 1);
            assert_eq!(store.bump(&c, 3600, 10).await.unwrap(), 2);
            assert_eq!(store.bump(&c, 7200, 3600).await.unwrap(), 1, "a new window starts again");
        });
    }

    struct Broken;

    #[async_trait::async_trait(?Send)]
    impl StoreTransport for Broken {
        async fn call(&self, _: &StoreOp) -> Result<StoreReply, StoreError> {
            Ok(StoreReply::Error("durable object unavailable".into()))
        }
    }

    #[test]
    fn store_errors_come_back_as_errors() {
        let store = RemoteGrantStore(Broken);
        let e = block_on(store.get_access(&TokenHash::of("t"))).unwrap_err();
        assert_eq!(e.0, "durable object unavailable");
    }
}
