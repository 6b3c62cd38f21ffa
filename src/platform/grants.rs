//! The OAuth grant store on Workers: one Durable Object (binding `GRANTS`, one instance named `grants`) that runs
//! every [`StoreOp`] over its own transactional storage. A Durable Object handles its requests one at a time while
//! it waits on storage (input gates), so each op's read-modify-write (taking a code, rotating a refresh token) is
//! atomic across every isolate and location — which KV, eventually consistent, cannot promise.
//!
//! The object's alarm sweeps the store ([`KvGrantStore::sweep`]): every `auth.sweep_seconds` a pass starts, one
//! bounded step per alarm, a second apart, until it has read every record; the first request an instance serves makes
//! sure an alarm is set.

use crate::oauth::remote::{apply, StoreOp, StoreReply, StoreTransport};
use crate::oauth::store::{KvGrantStore, KvStorage, StoreError};
use std::cell::Cell;
use worker::{
    console_error, console_log, durable_object, Env, ListOptions, Method, Request, RequestInit, Response, Result, State,
};

pub const BINDING: &str = "GRANTS";
const INSTANCE: &str = "grants";

thread_local! {
    /// Whether the Worker has the `GRANTS` binding (bindings do not change while an isolate lives).
    static BOUND: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether the Worker has the `GRANTS` Durable Object binding; looked up once per isolate.
pub fn bound(env: &Env) -> bool {
    BOUND.with(|b| {
        b.get().unwrap_or_else(|| {
            let bound = env.durable_object(BINDING).is_ok();
            b.set(Some(bound));
            bound
        })
    })
}

/// The Worker's side: each op is one request to the object. The stub is made by the first op a request sends, so
/// the requests that never touch the store (the catalogue's, the discovery documents) make none: creating it costs
/// three runtime calls, `idFromName` hashing the name among them.
pub struct DoTransport<'e> {
    env: &'e Env,
    stub: std::cell::OnceCell<worker::Stub>,
}

impl<'e> DoTransport<'e> {
    /// `None` without the binding.
    pub fn new(env: &'e Env) -> Option<Self> {
        bound(env).then(|| DoTransport { env, stub: std::cell::OnceCell::new() })
    }

    fn stub(&self) -> std::result::Result<&worker::Stub, StoreError> {
        if let Some(stub) = self.stub.get() {
            return Ok(stub);
        }
        let stub = (self.env.durable_object(BINDING))
            .and_then(|ns| ns.id_from_name(INSTANCE)?.get_stub())
            .map_err(|e| StoreError(format!("grant store unreachable: {e}")))?;
        Ok(self.stub.get_or_init(|| stub))
    }
}

#[async_trait::async_trait(?Send)]
impl StoreTransport for DoTransport<'_> {
    async fn call(&self, op: &StoreOp) -> std::result::Result<StoreReply, StoreError> {
        let body = serde_json::to_vec(op).map_err(|e| StoreError(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let req = Request::new_with_init("https://grants.internal/op", &init).map_err(|e| StoreError(e.to_string()))?;
        let mut resp = self
            .stub()?
            .fetch_with_request(req)
            .await
            .map_err(|e| StoreError(format!("grant store unreachable: {e}")))?;
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

/// Most records one sweep step (one alarm) reads, besides one grant per expired refresh token or redeemed code.
const SWEEP_STEP: usize = 500;
/// The pause between two steps of one pass, in milliseconds.
const SWEEP_STEP_PAUSE_MS: i64 = 1000;
/// Where the pass in progress continues from (a key of a kind the sweep leaves alone).
const SWEEP_CURSOR: &str = "sweep:cursor";

#[durable_object(alarm)]
pub struct GrantStoreObject {
    state: State,
    env: Env,
    /// Whether this instance has made sure that a sweep alarm is set.
    armed: Cell<bool>,
    /// `auth.sweep_seconds` in milliseconds, read once.
    interval_ms: Cell<Option<i64>>,
}

impl GrantStoreObject {
    fn interval_ms(&self) -> i64 {
        if let Some(ms) = self.interval_ms.get() {
            return ms;
        }
        let config = crate::config::load_embedded(&super::string_bindings(&self.env));
        // An invalid configuration is reported by the Worker; the store keeps sweeping at the default.
        let seconds = config.map(|c| c.tokens.sweep_seconds).unwrap_or(3600);
        let ms = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.interval_ms.set(Some(ms));
        ms
    }

    /// Sets the sweep alarm unless one is set (once per instance; the alarm then sets the next one itself).
    async fn arm(&self) {
        self.armed.set(true);
        let storage = self.state.storage();
        let set = match storage.get_alarm().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => storage.set_alarm(self.interval_ms()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = set {
            self.armed.set(false);
            console_error!("grant store: the sweep alarm could not be set: {e}");
        }
    }
}

impl worker::DurableObject for GrantStoreObject {
    fn new(state: State, env: Env) -> Self {
        GrantStoreObject { state, env, armed: Cell::new(false), interval_ms: Cell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if !self.armed.get() {
            self.arm().await;
        }
        let body = req.bytes().await?;
        let reply = match serde_json::from_slice::<StoreOp>(&body) {
            Ok(op) => apply(&KvGrantStore(DoStorage(self.state.storage())), op).await,
            Err(e) => StoreReply::Error(format!("unreadable grant store op: {e}")),
        };
        Response::from_json(&reply)
    }

    /// One step of the sweep; then the next step a second later, or the next pass after `auth.sweep_seconds`. A
    /// failed step is logged and the pass starts again at the next interval (an error returned here would be retried
    /// a few times, then leave no alarm set).
    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let after = storage.get::<String>(SWEEP_CURSOR).await.ok().flatten();
        let store = KvGrantStore(DoStorage(self.state.storage()));
        let next = match store.sweep(after.as_deref(), super::now_unix(), SWEEP_STEP).await {
            Ok(page) => {
                if page.deleted > 0 {
                    console_log!(
                        "grant store sweep: read {} records, deleted {} that had expired{}",
                        page.examined,
                        page.deleted,
                        if page.next.is_some() { "; continuing" } else { "" }
                    );
                }
                page.next
            }
            Err(e) => {
                console_error!("grant store sweep failed, next pass at the next interval: {e}");
                None
            }
        };
        match next {
            Some(key) => {
                storage.put(SWEEP_CURSOR, key).await?;
                storage.set_alarm(SWEEP_STEP_PAUSE_MS).await?;
            }
            None => {
                if after.is_some() {
                    storage.delete(SWEEP_CURSOR).await?;
                }
                storage.set_alarm(self.interval_ms()).await?;
            }
        }
        Response::empty()
    }
}
