//! The OAuth grant store on Workers: one Durable Object (binding `GRANTS`, one instance named `grants`) that runs
//! every [`StoreOp`] over its own transactional storage. A Durable Object handles its requests one at a time while
//! it waits on storage (input gates), so each op's read-modify-write (taking a code, rotating a refresh token) is
//! atomic across every isolate and location — which KV, eventually consistent, cannot promise.

use crate::oauth::remote::{apply, StoreOp, StoreReply, StoreTransport};
use crate::oauth::store::{KvGrantStore, KvStorage, StoreError};
use worker::{durable_object, Env, ListOptions, Method, Request, RequestInit, Response, Result, State};

pub const BINDING: &str = "GRANTS";
const INSTANCE: &str = "grants";

/// The Worker's side: each op is one request to the object.
pub struct DoTransport(worker::Stub);

impl DoTransport {
    pub fn from_env(env: &Env) -> Option<Self> {
        let ns = env.durable_object(BINDING).ok()?;
        let stub = ns.id_from_name(INSTANCE).ok()?.get_stub().ok()?;
        Some(DoTransport(stub))
    }
}

#[async_trait::async_trait(?Send)]
impl StoreTransport for DoTransport {
    async fn call(&self, op: &StoreOp) -> std::result::Result<StoreReply, StoreError> {
        let body = serde_json::to_vec(op).map_err(|e| StoreError(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let req = Request::new_with_init("https://grants.internal/op", &init).map_err(|e| StoreError(e.to_string()))?;
        let mut resp =
            self.0.fetch_with_request(req).await.map_err(|e| StoreError(format!("grant store unreachable: {e}")))?;
        let bytes = resp.bytes().await.map_err(|e| StoreError(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError(format!("grant store answered unreadably: {e}")))
    }
}

/// The object's storage as the string map [`KvGrantStore`] works over.
struct DoStorage(worker::Storage);

fn store_error(e: worker::Error) -> StoreError {
    StoreError(format!("durable storage: {e}"))
}

#[async_trait::async_trait(?Send)]
impl KvStorage for DoStorage {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        match self.0.get::<String>(key).await {
            Ok(v) => Ok(v),
            Err(e) => Err(store_error(e)),
        }
    }
    async fn put(&self, key: &str, value: String) -> std::result::Result<(), StoreError> {
        self.0.put(key, value).await.map_err(store_error)
    }
    async fn delete(&self, key: &str) -> std::result::Result<(), StoreError> {
        self.0.delete(key).await.map(|_| ()).map_err(store_error)
    }
    async fn list_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> std::result::Result<Vec<(String, String)>, StoreError> {
        // `start` is inclusive: ask for one more and drop `after` itself.
        let mut opts = ListOptions::new().limit(limit + usize::from(after.is_some()));
        if let Some(after) = after {
            opts = opts.start(after);
        }
        let map = self.0.list_with_options(opts).await.map_err(store_error)?;
        let mut out = Vec::with_capacity(limit + 1);
        map.for_each(&mut |value, key| {
            if let Some(key) = key.as_string().filter(|k| Some(k.as_str()) != after) {
                // Every value this store writes is a string; anything else reads as unreadable and is left alone.
                out.push((key, value.as_string().unwrap_or_default()));
            }
        });
        out.truncate(limit);
        Ok(out)
    }
}

#[durable_object(fetch)]
pub struct GrantStoreObject {
    state: State,
}

impl worker::DurableObject for GrantStoreObject {
    fn new(state: State, _env: Env) -> Self {
        GrantStoreObject { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        let reply = match serde_json::from_slice::<StoreOp>(&body) {
            Ok(op) => apply(&KvGrantStore(DoStorage(self.state.storage())), op).await,
            Err(e) => StoreReply::Error(format!("unreadable grant store op: {e}")),
        };
        Response::from_json(&reply)
    }
}
