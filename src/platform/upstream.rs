//! Upstream access on Workers: the sources' `HttpClient` over the runtime's `fetch` (with a timeout), and the
//! snapshot store over KV.

use crate::catalogue::refresh::SnapshotStore;
use futures_util::future::{select, Either};
use skillport_sources::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

/// Upstream requests over the runtime's fetch, each abandoned after `timeout_ms` (`catalogue.upstream_timeout_ms`).
pub struct WorkerFetch {
    pub timeout_ms: u64,
}

#[async_trait::async_trait(?Send)]
impl HttpClient for WorkerFetch {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let headers = Headers::new();
        for (k, v) in &req.headers {
            headers.append(k, v).map_err(|e| HttpError::Connect(format!("bad header {k}: {e}")))?;
        }
        let mut init = RequestInit::new();
        let method = Method::from(req.method.clone());
        init.with_method(method).with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
        }
        let request = Request::new_with_init(&req.url, &init).map_err(|e| HttpError::Connect(e.to_string()))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let sending = Box::pin(async move {
            let mut resp = fetch.send_with_signal(&signal).await.map_err(|e| HttpError::Connect(e.to_string()))?;
            let status = resp.status_code();
            let headers: Vec<(String, String)> =
                resp.headers().entries().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
            let body = resp.bytes().await.map_err(|e| HttpError::Connect(e.to_string()))?;
            Ok(HttpResponse { status, headers, body })
        });
        let timer = Box::pin(Delay::from(std::time::Duration::from_millis(self.timeout_ms)));
        match select(sending, timer).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => {
                controller.abort();
                Err(HttpError::Timeout)
            }
        }
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
