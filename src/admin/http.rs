//! The sources' [`HttpClient`] on the admin's machine: reqwest over rustls (ring, the platform's certificate store),
//! driven by the caller's tokio runtime. The Worker's twin is `platform::upstream::WorkerFetch`; both follow redirects,
//! leave bodies as sent, and give up on one request after `catalogue.upstream_timeout_ms`.

use skillport_sources::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What went over the wire so far, for the progress line.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub bytes: AtomicU64,
}

pub struct NativeClient {
    client: reqwest::Client,
    timeout: Duration,
    pub stats: Arc<Stats>,
}

impl NativeClient {
    pub fn new(timeout_ms: u64) -> Result<NativeClient, String> {
        // reqwest is built without a default crypto provider so that only ring is compiled in; an error here only
        // means some provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(timeout_ms))
            .build()
            .map_err(|e| format!("cannot set up HTTPS: {}", chain(&e)))?;
        Ok(NativeClient { client, timeout: Duration::from_millis(timeout_ms), stats: Arc::default() })
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for NativeClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| HttpError::Connect(format!("bad method {}", req.method)))?;
        let mut builder = self.client.request(method, &req.url).timeout(self.timeout);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body);
        }
        let response = builder.send().await.map_err(error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response.bytes().await.map_err(error)?.to_vec();
        self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(HttpResponse { status, headers, body })
    }
}

/// reqwest's error without its URL, which may carry a signed query, but with its causes (`connection refused`...).
fn error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    HttpError::Connect(chain(&e.without_url()))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
