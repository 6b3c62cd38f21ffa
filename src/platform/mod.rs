//! The Workers glue, and the only code compiled for wasm32 alone: turn the Worker's env bindings into the
//! configuration's last layer, convert requests and responses, keep one `App` per isolate, and hold legacy SSE
//! streams in a Durable Object (`sse`).

mod grants;
mod sse;
mod upstream;

use crate::app::{Action, Services};
use crate::catalogue::refresh::{self, MemoryStore, SnapshotStore};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::{GrantStore, MemoryGrantStore, OsRandom};
use crate::App;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use worker::{console_error, console_log, event, Context, Env, Request, Response, Result};

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
    static REFRESHING: Cell<bool> = const { Cell::new(false) };
    /// An invocation is building the `App` (loading the catalogue): others wait for it rather than each loading the
    /// whole catalogue from upstream at once.
    static BUILDING: Cell<bool> = const { Cell::new(false) };
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

/// The isolate's `App`, built on first use.
pub(crate) async fn app(env: &Env) -> Rc<App> {
    built_app(env).await.0
}

/// The isolate's `App`, and whether this call built it: building it loaded the catalogue, which spent this
/// invocation's upstream request budget, so the invocation must not start a refresh as well.
async fn built_app(env: &Env) -> (Rc<App>, bool) {
    // Concurrent first requests on a new isolate: one builds, the rest wait for it (bounded, in case it never ends).
    for _ in 0..1500 {
        if let Some(app) = APP.with(|a| a.borrow().clone()) {
            return (app, false);
        }
        if !BUILDING.with(|b| b.get()) {
            break;
        }
        worker::Delay::from(std::time::Duration::from_millis(20)).await;
    }
    BUILDING.with(|b| b.set(true));
    let config = crate::config::load_embedded(&string_bindings(env));
    let client = upstream::WorkerFetch { timeout_ms: timeout_of(&config) };
    let app = Rc::new(with_store(env, async |store| App::build(config, None, &client, store, now_unix()).await).await);
    let mut line = app.start_log_line();
    if env.durable_object(grants::BINDING).is_err() {
        line.push_str("; WARNING: no GRANTS Durable Object binding, sign-ins are kept in this isolate's memory only");
    }
    if app.config.is_ok() {
        console_log!("{line}");
    } else {
        console_error!("{line}");
    }
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    BUILDING.with(|b| b.set(false));
    (app, true)
}

pub(crate) async fn to_http(req: &mut Request, max_body: u64) -> std::result::Result<HttpRequest, HttpResponse> {
    let url = req.url().map_err(|_| HttpResponse::text(400, "bad request URL\n"))?;
    let mut headers: Vec<(String, String)> =
        req.headers().entries().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    if !headers.iter().any(|(k, _)| k == "host") {
        if let Some(h) = url.host_str() {
            let host = match url.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            };
            headers.push(("host".into(), host));
        }
    }
    let too_large = || HttpResponse::text(413, &format!("request body larger than {max_body} bytes\n"));
    if let Some(len) = req.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<u64>().ok()) {
        if len > max_body {
            return Err(too_large());
        }
    }
    // The method as sent: worker::Method maps every method it does not know (PROPFIND, LOCK...) to GET, which
    // would serve them as GETs (found by the hardening suite).
    let method = req.inner().method().to_ascii_uppercase();
    let body = match method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Vec::new(),
        // Read as a stream and stop at the cap: a chunked body has no Content-Length to refuse it by up front, and
        // reading it whole first would let one request hold any amount of memory.
        _ => {
            use futures_util::StreamExt;
            let mut body = Vec::new();
            match req.stream() {
                Ok(mut stream) => {
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|_| HttpResponse::text(400, "could not read the request body\n"))?;
                        if body.len() as u64 + chunk.len() as u64 > max_body {
                            return Err(too_large());
                        }
                        body.extend_from_slice(&chunk);
                    }
                }
                // No body at all.
                Err(_) => {}
            }
            body
        }
    };
    Ok(HttpRequest {
        method,
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers,
        body,
    })
}

pub(crate) fn to_worker(resp: HttpResponse) -> Result<Response> {
    let headers = worker::Headers::new();
    for (k, v) in &resp.headers {
        headers.append(k, v)?;
    }
    let r = if resp.body.is_empty() { Response::empty()? } else { Response::from_bytes(resp.body)? };
    Ok(r.with_status(resp.status).with_headers(headers))
}

/// Refreshes the catalogue and swaps it in; requests in flight keep the copy they started with. One at a time per
/// isolate: a refresh asked for while one runs is dropped, and whatever is still due after it (a load carrying on, a
/// marketplace whose retry time came) is picked up by the next request's or the Cron Trigger's refresh, in an
/// invocation of its own, so no invocation makes more than `catalogue.subrequests_per_refresh` upstream requests for
/// the catalogue. Failures are logged, with their next try, where they happen (`catalogue::refresh`).
async fn refresh(env: Env) {
    if REFRESHING.with(|r| r.replace(true)) {
        return;
    }

    let (current, built) = built_app(&env).await;
    if let (Ok(cfg), false) = (&current.config, built) {
        let next = with_store(&env, async |store| {
            let client = upstream::WorkerFetch { timeout_ms: cfg.catalogue.upstream_timeout_ms };
            App::build(Ok(cfg.clone()), Some(&current.catalogue), &client, store, now_unix()).await
        })
        .await;
        APP.with(|a| *a.borrow_mut() = Some(Rc::new(next)));
    }
    REFRESHING.with(|r| r.set(false));
}

/// Writes the audit lines recorded so far to the Worker log (`wrangler tail`, Workers Logs).
pub(crate) fn flush_audit() {
    for line in crate::audit::drain() {
        console_log!("{line}");
    }
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    refresh(env).await;
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let (app, built) = built_app(&env).await;
    // A due refresh runs after the response, never on the request path; not in the invocation that just loaded the
    // catalogue (each invocation stays within one refresh's `catalogue.subrequests_per_refresh`).
    if let (Ok(cfg), false) = (&app.config, built) {
        if refresh::due(&app.catalogue, cfg, now_unix()) {
            ctx.wait_until(refresh(env.clone()));
        }
    }
    let max_body = app.config.as_ref().map(|c| c.server.max_body_bytes).unwrap_or(1 << 20);
    let hreq = match to_http(&mut req, max_body).await {
        Ok(h) => h,
        Err(resp) => return to_worker(resp),
    };
    let http = upstream::WorkerFetch {
        timeout_ms: app.config.as_ref().map(|c| c.catalogue.upstream_timeout_ms).unwrap_or(15_000),
    };
    let remote = grants::DoTransport::from_env(&env).map(crate::oauth::remote::RemoteGrantStore);
    let memory = GRANTS_MEMORY.with(|m| m.clone());
    let store: &dyn GrantStore = match &remote {
        Some(r) => r,
        None => memory.as_ref(),
    };
    let svc = Services { grants: store, http: &http, rng: &OsRandom, now: now_unix() };
    let resp = match app.serve(&hreq, &svc).await {
        Action::Respond(resp) => to_worker(resp),
        Action::OpenSse { identity } => sse::open(&env, &identity).await,
        Action::SseMessage { session, identity } => sse::deliver(&env, &session, &identity, hreq).await,
    };
    flush_audit();
    resp
}
