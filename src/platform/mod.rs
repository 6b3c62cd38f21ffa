//! The Workers glue, and the only code compiled for wasm32 alone: turn the Worker's env bindings into the
//! configuration's last layer, convert requests and responses (`convert`), keep one `App` per isolate, and hold
//! legacy SSE streams in a Durable Object (`sse`).

mod convert;
mod grants;
mod sse;
mod upstream;

use crate::catalogue::refresh::{self, MemoryStore, SnapshotStore};
use crate::oauth::{GrantStore, MemoryGrantStore, OsRandom};
use crate::routes::{Action, Services};
use crate::App;
use convert::{to_http, to_js};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use worker::worker_sys::web_sys;
use worker::{console_error, console_log, event, Context, Env, Response, Result};

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
    /// Until `APP` is built: the app without its catalogue, for the requests that never read it.
    static BARE: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
    static REFRESHING: Cell<bool> = const { Cell::new(false) };
    /// Marketplaces an accepted webhook asked to refresh, taken by the next refresh of this isolate.
    static FORCED: RefCell<std::collections::BTreeSet<String>> = const { RefCell::new(std::collections::BTreeSet::new()) };
    /// An invocation is building the `App` (loading the catalogue): others wait for it rather than each loading the
    /// whole catalogue from upstream at once.
    static BUILDING: Cell<bool> = const { Cell::new(false) };
    /// Requests this isolate has handled, and when it last said so (see [`report_memory`]).
    static SERVED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// Without a KV binding, last good copies live as long as the isolate.
    static MEMORY: Rc<MemoryStore> = Rc::new(MemoryStore::default());
    /// Without the `GRANTS` Durable Object binding, grants live as long as the isolate (logged at start).
    static GRANTS_MEMORY: Rc<MemoryGrantStore> = Rc::new(MemoryGrantStore::new());
}

/// KV binding holding last good copies of marketplaces.
const KV_BINDING: &str = "CATALOGUE";

fn timeout_of(config: &std::result::Result<crate::config::Config, crate::config::ConfigErrors>) -> u64 {
    config.as_ref().map(|c| c.catalogue.upstream_timeout_ms).unwrap_or(15_000)
}

fn now_unix() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

async fn with_store<T>(env: &Env, f: impl AsyncFnOnce(&dyn SnapshotStore) -> T) -> T {
    match env.kv(KV_BINDING) {
        Ok(kv) => f(&upstream::KvStore(kv)).await,
        Err(_) => {
            let mem = MEMORY.with(|m| m.clone());
            f(mem.as_ref()).await
        }
    }
}

/// Every string binding (vars and secrets) of the Worker. figment's `Env` provider cannot be used: a Worker has no
/// process environment.
fn string_bindings(env: &Env) -> BTreeMap<String, String> {
    let obj: &js_sys::Object = env.unchecked_ref();
    let mut map = BTreeMap::new();
    for key in js_sys::Object::keys(obj).iter() {
        let Some(name) = key.as_string() else { continue };
        if let Ok(value) = js_sys::Reflect::get(obj, &key) {
            if let Some(s) = value.as_string() {
                map.insert(name, s);
            }
        }
    }
    map
}

/// A pause of `ms` milliseconds that wakes the task that polled it last. `worker::Delay` keeps the waker of its first
/// poll, and the fetch handler's first poll runs with a no-op waker ([`fetch`]): a request that waited there for
/// another to build the app was never woken, and workerd cancelled it as hung (seen when a first load outlasts a
/// client's retry). A promise's future re-registers its waker on every poll.
async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        if global.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).is_err() {
            let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The isolate's `App`, built on first use.
pub(crate) async fn app(env: &Env) -> Rc<App> {
    built_app(env).await.0
}

/// The isolate's `App`, and whether this call built it with upstream requests: a build that loaded the catalogue
/// from upstream spent this invocation's request budget, so the invocation must not start a refresh as well. A build
/// from the stored copies alone (a fresh isolate serves one older than `refresh_seconds` at once) spent none, and
/// leaves the revalidation to a refresh after the response.
async fn built_app(env: &Env) -> (Rc<App>, bool) {
    // Concurrent first requests on a new isolate: one builds, the rest wait for it (bounded, in case it never ends).
    for _ in 0..1500 {
        if let Some(app) = APP.with(|a| a.borrow().clone()) {
            return (app, false);
        }
        if !BUILDING.with(|b| b.get()) {
            break;
        }
        sleep_ms(20).await;
    }
    BUILDING.with(|b| b.set(true));
    let bare = BARE.with(|b| b.borrow().as_ref().map(|bare| bare.config.clone()));
    let config = bare.unwrap_or_else(|| crate::config::load_embedded(&string_bindings(env)));
    let client = skillport_http::CountingClient::new(upstream::WorkerFetch { timeout_ms: timeout_of(&config) });
    let app = Rc::new(with_store(env, async |store| App::build(config, None, &client, store, now_unix()).await).await);
    let mut line = app.start_log_line();
    // The module's memory never shrinks: after the first load it is most of what the catalogue will ever take.
    line.push_str(&format!("; wasm memory {} KiB after loading", core::arch::wasm32::memory_size(0) * 64));
    if !grants::bound(env) {
        line.push_str("; WARNING: no GRANTS Durable Object binding, sign-ins are kept in this isolate's memory only");
    }
    if app.config.is_ok() {
        console_log!("{line}");
    } else {
        console_error!("{line}");
    }
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    BARE.with(|b| b.borrow_mut().take());
    BUILDING.with(|b| b.set(false));
    (app, client.count() > 0)
}

/// Refreshes the catalogue and swaps it in; requests in flight keep the copy they started with. One at a time per
/// isolate: a refresh asked for while one runs is dropped, and whatever is still due after it (a load carrying on, a
/// marketplace whose retry time came) is picked up by the next request's or the Cron Trigger's refresh, in an
/// invocation of its own, so no invocation makes more than `catalogue.subrequests_per_refresh` upstream requests for
/// the catalogue. Failures are logged, with their next try, where they happen (`catalogue::refresh`).
///
/// Marketplaces a webhook asked for ([`FORCED`]) are refreshed whatever their copy's age. A webhook's refresh is not
/// dropped when another runs (`wait`): it waits for that one to end (it may have read the upstream before the push),
/// then runs in the webhook's own invocation, with that invocation's request budget.
async fn refresh(env: Env, wait: bool) {
    if wait {
        // Bounded by two upstream timeouts: a refresh that never ends must not hold this invocation forever.
        let ms = APP.with(|a| a.borrow().as_ref().map(|a| timeout_of(&a.config))).unwrap_or(15_000);
        let mut waited = 0;
        while REFRESHING.with(|r| r.get()) && waited < 2 * ms {
            sleep_ms(20).await;
            waited += 20;
        }
    }
    if REFRESHING.with(|r| r.replace(true)) {
        return;
    }

    let (current, spent) = built_app(&env).await;
    if let (Ok(cfg), false) = (&current.config, spent) {
        let forced = FORCED.with(|f| std::mem::take(&mut *f.borrow_mut()));
        let marked;
        let previous = if forced.is_empty() {
            &current.catalogue
        } else {
            marked = crate::catalogue::Catalogue {
                marketplaces: (current.catalogue.marketplaces.iter())
                    .map(|m| {
                        let mut m = m.clone();
                        m.refresh.forced |= forced.contains(m.id.as_str());
                        m
                    })
                    .collect(),
            };
            &marked
        };
        let next = with_store(&env, async |store| {
            let client = upstream::WorkerFetch { timeout_ms: cfg.catalogue.upstream_timeout_ms };
            App::build(Ok(cfg.clone()), Some(previous), &client, store, now_unix()).await
        })
        .await;
        for id in &forced {
            let before =
                current.catalogue.marketplaces.iter().find(|m| &m.id == id).and_then(|m| m.revision.as_deref());
            if let Some(entry) = next.catalogue.marketplaces.iter().find(|m| &m.id == id) {
                crate::webhooks::refreshed(entry, before);
            }
        }
        APP.with(|a| *a.borrow_mut() = Some(Rc::new(next)));
    }
    REFRESHING.with(|r| r.set(false));
}

/// What runs after a response: a look at the grant store for pushes other isolates took (`check`,
/// [`crate::webhooks::newer_hooks`]), then the refresh, if one is due or a webhook asked for it.
async fn after_response(env: Env, due: bool, webhook: bool, check: bool) {
    let mut wait = webhook;
    if check {
        let app = app(&env).await;
        if let Ok(cfg) = &app.config {
            let remote = grants::DoTransport::new(&env).map(crate::oauth::remote::RemoteGrantStore);
            let memory = GRANTS_MEMORY.with(|m| m.clone());
            let store: &dyn GrantStore = match &remote {
                Some(r) => r,
                None => memory.as_ref(),
            };
            let newer = crate::webhooks::newer_hooks(cfg, &app.catalogue, store, now_unix()).await;
            if !newer.is_empty() {
                console_log!(
                    "skillport: a webhook another isolate took is newer than this copy of: {}",
                    newer.join(", ")
                );
                FORCED.with(|f| f.borrow_mut().extend(newer));
                wait = true;
            }
        }
    }
    if due || wait {
        refresh(env, wait).await;
    }
}

/// Writes the audit lines recorded so far to the Worker log (`wrangler tail`, Workers Logs).
pub(crate) fn flush_audit() {
    for line in crate::audit::drain() {
        console_log!("{line}");
    }
}

/// Runs once when the module is instantiated, before any request: the embedded configuration files are parsed here
/// (see [`crate::config::parse_embedded`]), so a fresh isolate's first request only merges them with its vars.
#[event(start)]
fn start() {
    crate::config::parse_embedded();
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    refresh(env, false).await;
}

/// The fetch handler. What `#[event(fetch)]` would generate, but answered without a promise when it can be: the
/// handler's future is polled once on the spot, and a request that needs nothing from the runtime (a GET of a
/// discovery document once the app is built) completes on that poll; one still waiting (for its body, the
/// catalogue's first load, the grant store, an upstream) goes on as a promise, whose executor polls it again at once
/// with a real waker, so a wake-up missed by the first poll is never lost. The request is taken as the runtime hands
/// it over: `worker::Request` would read its `cf` object (parsed from JSON on every access), which nothing here uses.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> wasm_bindgen::JsValue {
    let mut handling = Box::pin(async move {
        let response = match handle(req, env, Context::new(ctx)).await {
            Ok(response) => response,
            Err(e) => {
                console_error!("{e}");
                Response::error("INTERNAL SERVER ERROR", 500).map(Into::into).unwrap_or_else(|_| {
                    web_sys::Response::new_with_opt_str(None).expect("an empty response can always be made")
                })
            }
        };
        Ok::<_, wasm_bindgen::JsValue>(wasm_bindgen::JsValue::from(response))
    });
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match handling.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(response) => response.unwrap_or_else(|e| e),
        std::task::Poll::Pending => wasm_bindgen_futures::future_to_promise(handling).into(),
    }
}

/// Seconds between an isolate's memory lines.
const MEMORY_REPORT_SECONDS: u64 = 30;

/// Every `MEMORY_REPORT_SECONDS` at most, one log line with the requests this isolate has handled and the size of
/// the module's memory (it only ever grows) and the JS values Rust holds: a leak on either side shows as a figure
/// that keeps rising under steady traffic (the hardening suite's long run reads these lines).
fn report_memory(now: u64) {
    let (served, last) = SERVED.with(|s| s.get());
    let served = served + 1;
    let last = if now >= last.saturating_add(MEMORY_REPORT_SECONDS) {
        console_log!(
            "isolate: {served} request(s) handled; wasm memory {} KiB; {} JS value(s) held",
            core::arch::wasm32::memory_size(0) * 64,
            wasm_bindgen::externref_heap_live_count()
        );
        now
    } else {
        last
    };
    SERVED.with(|s| s.set((served, last)));
}

/// The isolate's app if built, else the app without its catalogue (built once, from the configuration alone).
fn ready_or_bare(env: &Env) -> (Rc<App>, bool) {
    if let Some(app) = APP.with(|a| a.borrow().clone()) {
        return (app, true);
    }
    let bare = BARE.with(|b| b.borrow().clone());
    let bare = bare.unwrap_or_else(|| {
        let bare = Rc::new(App::without_catalogue(crate::config::load_embedded(&string_bindings(env))));
        BARE.with(|b| *b.borrow_mut() = Some(bare.clone()));
        bare
    });
    (bare, false)
}

async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    // A fresh isolate reads the request before loading its catalogue: a request that never reads it (the metadata
    // documents, OAuth, `tools/list`, `initialize` without install policies) is answered without waiting for it, and
    // the catalogue loads after that answer.
    let (first, built) = ready_or_bare(&env);
    let max_body = first.config.as_ref().map(|c| c.server.max_body_bytes).unwrap_or(1 << 20);
    let read = to_http(&req, max_body).await;
    let (app, spent) = match &read {
        Ok(h) if !built && !crate::routes::reads_catalogue(h, first.config.as_ref().ok()) => {
            let later = env.clone();
            ctx.wait_until(async move {
                built_app(&later).await;
            });
            (first, true)
        }
        Ok(_) => built_app(&env).await,
        // Refused before routing: nothing to load for that.
        Err(_) => (first, !built),
    };
    report_memory(now_unix());
    // A due refresh runs after the response, never on the request path; not in an invocation that just loaded the
    // catalogue from upstream (each invocation stays within one refresh's `catalogue.subrequests_per_refresh`).
    // Decided now, started once the request is served, so a webhook in this request joins it rather than starting a
    // second one.
    let due = match (&app.config, spent) {
        (Ok(cfg), false) => refresh::due(&app.catalogue, cfg, now_unix()) || FORCED.with(|f| !f.borrow().is_empty()),
        _ => false,
    };
    let hreq = match read {
        Ok(h) => h,
        Err(resp) => {
            if due {
                ctx.wait_until(refresh(env.clone(), false));
            }
            return to_js(resp);
        }
    };
    let http = upstream::WorkerFetch {
        timeout_ms: app.config.as_ref().map(|c| c.catalogue.upstream_timeout_ms).unwrap_or(15_000),
    };
    let remote = grants::DoTransport::new(&env).map(crate::oauth::remote::RemoteGrantStore);
    let memory = GRANTS_MEMORY.with(|m| m.clone());
    let store: &dyn GrantStore = match &remote {
        Some(r) => r,
        None => memory.as_ref(),
    };
    let svc = Services { grants: store, http: &http, rng: &OsRandom, now: now_unix() };
    let mut webhook = false;
    let resp = match app.serve(&hreq, &svc).await {
        Action::Respond(resp) => to_js(resp),
        // An isolate that loaded its catalogue from upstream in this invocation leaves the refresh to its next
        // request (the load spent this invocation's request budget).
        Action::RespondThenRefresh { response, marketplace } => {
            FORCED.with(|f| f.borrow_mut().insert(marketplace));
            webhook = !spent;
            to_js(response)
        }
        Action::OpenSse { identity } => sse::open(&env, &identity).await.map(Into::into),
        Action::SseMessage { session, identity } => sse::deliver(&env, &session, &identity, hreq).await.map(Into::into),
    };
    let check = match (&app.config, spent) {
        (Ok(cfg), false) => crate::webhooks::check_due(cfg, now_unix()),
        _ => false,
    };
    if due || webhook || check {
        ctx.wait_until(after_response(env.clone(), due, webhook, check));
    }
    flush_audit();
    resp
}
