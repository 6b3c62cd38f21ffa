//! Upstream access on Workers: the sources' `HttpClient` over the runtime's `fetch`, and the snapshot store over KV.
//!
//! An answer's body is read from its `ReadableStream` one chunk at a time through the request's
//! [`BodyCap`](skillport_http::BodyCap): a declared length over the cap, or the first chunk past it, cancels
//! the stream and fails the request, so the isolate never holds more than the cap plus one chunk. The whole exchange
//! (connection, headers and every chunk) races one timer; when it fires the fetch is aborted and the stream
//! cancelled, so an upstream that trickles cannot keep the request alive past its deadline. `fetch` is called
//! directly (not through `worker::Fetch`) to set `redirect` per request and to hold the body's reader.

use crate::catalogue::refresh::SnapshotStore;
use futures_util::future::{select, Either};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use skillport_http::{BodyCap, HttpClient, HttpError, HttpRequest, HttpResponse};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Delay;

/// Upstream requests over the runtime's fetch, each abandoned after `timeout_ms` (`catalogue.upstream_timeout_ms`),
/// or the request's own shorter deadline.
pub struct WorkerFetch {
    pub timeout_ms: u64,
}

fn js_error(e: JsValue) -> HttpError {
    HttpError::Connect(
        e.as_string()
            .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
            .unwrap_or_else(|| "fetch failed".into()),
    )
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, HttpError> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(js_error)
}

fn method(target: &JsValue, name: &str) -> Result<Function, HttpError> {
    get(target, name)?.dyn_into::<Function>().map_err(|_| HttpError::Connect(format!("no {name}() in this runtime")))
}

fn set(target: &Object, name: &str, value: &JsValue) -> Result<(), HttpError> {
    Reflect::set(target, &JsValue::from_str(name), value).map(|_| ()).map_err(js_error)
}

/// Calls `reader.cancel()` (or `stream.cancel()`), ignoring the outcome: it only tells the runtime to stop reading.
fn cancel(target: &JsValue) {
    if let Ok(cancel) = method(target, "cancel") {
        if let Ok(promise) = cancel.call0(target).and_then(|p| p.dyn_into::<Promise>().map_err(JsValue::from)) {
            // Awaited apart, so that a rejected cancel does not surface as an unhandled rejection.
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }
}

/// One exchange: sends `req`, then reads the body within its cap. `controller` aborts it from outside.
async fn exchange(req: &HttpRequest, controller: &JsValue) -> Result<HttpResponse, HttpError> {
    let headers = Array::new();
    for (k, v) in &req.headers {
        headers.push(&Array::of2(&JsValue::from_str(k), &JsValue::from_str(v)));
    }
    let init = Object::new();
    set(&init, "method", &JsValue::from_str(&req.method))?;
    set(&init, "headers", &headers)?;
    set(&init, "redirect", &JsValue::from_str(if req.follow_redirects { "follow" } else { "manual" }))?;
    set(&init, "signal", &get(controller, "signal")?)?;
    if !req.body.is_empty() {
        set(&init, "body", &Uint8Array::from(req.body.as_slice()))?;
    }
    let global = js_sys::global();
    let promise = method(&global, "fetch")?
        .call2(&global, &JsValue::from_str(&req.url), &init)
        .map_err(js_error)?
        .dyn_into::<Promise>()
        .map_err(js_error)?;
    let response = JsFuture::from(promise).await.map_err(js_error)?;
    let status = get(&response, "status")?.as_f64().unwrap_or(0.0) as u16;
    let mut out_headers = Vec::new();
    let js_headers = get(&response, "headers")?;
    let entries = method(&js_headers, "entries")?.call0(&js_headers).map_err(js_error)?;
    for entry in js_sys::try_iter(&entries).map_err(js_error)?.into_iter().flatten() {
        let entry = entry.map_err(js_error)?;
        let pair: Array = entry.unchecked_into();
        let (k, v) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string().unwrap_or_default());
        out_headers.push((k.to_ascii_lowercase(), v));
    }
    let stream = get(&response, "body")?;
    let declared = out_headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.as_str());
    let mut cap = match BodyCap::new(req.max_body, declared) {
        Ok(cap) => cap,
        Err(e) => {
            if !stream.is_null() && !stream.is_undefined() {
                cancel(&stream);
            }
            return Err(e);
        }
    };
    if !stream.is_null() && !stream.is_undefined() {
        let reader = method(&stream, "getReader")?.call0(&stream).map_err(js_error)?;
        let read = method(&reader, "read")?;
        loop {
            let next = read.call0(&reader).map_err(js_error)?.dyn_into::<Promise>().map_err(js_error)?;
            let chunk = JsFuture::from(next).await.map_err(js_error)?;
            if get(&chunk, "done")?.as_bool().unwrap_or(true) {
                break;
            }
            let value = get(&chunk, "value")?;
            if let Err(e) = cap.push(&Uint8Array::new(&value).to_vec()) {
                cancel(&reader);
                return Err(e);
            }
        }
    }
    Ok(HttpResponse { status, headers: out_headers, body: cap.finish() })
}

#[async_trait::async_trait(?Send)]
impl HttpClient for WorkerFetch {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let global = js_sys::global();
        let constructor = method(&global, "AbortController")?;
        let controller: JsValue = Reflect::construct(&constructor, &Array::new()).map_err(js_error)?.into();
        let deadline = req.deadline_ms(self.timeout_ms);
        let sending = Box::pin(exchange(&req, &controller));
        let timer = Box::pin(Delay::from(std::time::Duration::from_millis(deadline)));
        let result = match select(sending, timer).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(HttpError::Timeout),
        };
        if result.is_err() {
            // Stops whatever is still in flight: the connection, and a body still arriving.
            if let Ok(abort) = method(&controller, "abort") {
                let _ = abort.call0(&controller);
            }
        }
        result
    }
}

/// Last good copies of marketplaces in Workers KV (binding `CATALOGUE`).
pub struct KvStore(pub worker::kv::KvStore);

#[async_trait::async_trait(?Send)]
impl SnapshotStore for KvStore {
    async fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.0.get(key).bytes().await.ok().flatten()
    }

    async fn save(&self, key: &str, bytes: Vec<u8>) {
        if let Ok(put) = self.0.put_bytes(key, &bytes) {
            if let Err(e) = put.execute().await {
                worker::console_error!("skillport: could not save the last good copy {key}: {e}");
            }
        }
    }
}
