//! The HTTP seam: network sources speak to the world only through [`HttpClient`].
//!
//! This crate depends on no HTTP library. On Workers the host crate implements [`HttpClient`] with `worker::Fetch`;
//! natively anything will do. An implementation must follow redirects unless the request says not to (as `fetch`
//! does: GitHub answers a tarball request with 302 to codeload) and must not decompress bodies behind our back beyond
//! what `Content-Encoding` mandates (archives are `application/x-gzip` bodies, not encoded transfers).
//!
//! Every request carries its own cap on the answer's body ([`HttpRequest::max_body`]): an implementation reads the
//! body chunk by chunk through a [`BodyCap`], which refuses a declared `Content-Length` over the cap before reading
//! and stops at the first byte past it, so an upstream can never make the Worker hold more than the cap (plus one
//! chunk). The whole exchange, body included, also runs against one deadline (the client's timeout, or the request's
//! shorter [`HttpRequest::timeout_ms`]), so an answer that trickles cannot hold a request open past it.
//!
//! Also here: [`CountingClient`], a wrapper that counts requests (how the product proves "one conditional request
//! per unchanged refresh"), [`CannedClient`], a transport test double that serves canned answers and records every
//! request, and [`Secret`], a string whose `Debug` and `Display` print nothing.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// The body cap of a request that names none (1 MiB). Every caller that knows its answer's size sets its own.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// One request. Header names are case-insensitive; senders here use lower case.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Most bytes of answer body read: one more and the request fails with [`HttpError::TooLarge`].
    pub max_body: u64,
    /// Whether redirects are followed; when not, a 3xx comes back as the answer.
    pub follow_redirects: bool,
    /// A deadline for the whole exchange shorter than the client's own, in milliseconds.
    pub timeout_ms: Option<u64>,
}

impl HttpRequest {
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            follow_redirects: true,
            timeout_ms: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// Caps the answer's body at `bytes`.
    pub fn limit(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Answers a 3xx as is instead of following it.
    pub fn no_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// Gives the whole exchange at most `ms` milliseconds (or the client's timeout, if shorter).
    pub fn timeout(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// The exchange's deadline given the client's own timeout.
    pub fn deadline_ms(&self, client_timeout_ms: u64) -> u64 {
        self.timeout_ms.map_or(client_timeout_ms, |t| t.min(client_timeout_ms))
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

// Requests carry credentials in headers: Debug shows header names only.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .field("max_body", &self.max_body)
            .field("follow_redirects", &self.follow_redirects)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Reads an answer's body within its request's cap, one chunk at a time, the same way on every transport.
#[derive(Debug)]
pub struct BodyCap {
    limit: u64,
    body: Vec<u8>,
}

impl BodyCap {
    /// Starts reading an answer whose `content-length` was `declared`: one declared over `limit` is refused before a
    /// byte is read.
    pub fn new(limit: u64, declared: Option<&str>) -> Result<Self, HttpError> {
        let declared = declared.and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|d| d > limit) {
            return Err(HttpError::TooLarge(limit));
        }
        // Never trust the declared length for more than the cap allows.
        let capacity = declared.unwrap_or(0).min(limit).min(64 * 1024) as usize;
        Ok(Self { limit, body: Vec::with_capacity(capacity) })
    }

    /// Adds a chunk; fails (keeping nothing past `limit + 1` bytes) once the body is over the cap.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), HttpError> {
        let room = (self.limit + 1).saturating_sub(self.body.len() as u64);
        let take = (chunk.len() as u64).min(room) as usize;
        self.body.extend_from_slice(&chunk[..take]);
        if self.body.len() as u64 > self.limit {
            return Err(HttpError::TooLarge(self.limit));
        }
        Ok(())
    }

    /// Bytes read so far.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    pub fn finish(self) -> Vec<u8> {
        self.body
    }
}

/// One response, after redirects. Header names are lower case.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The request never got an answer. An answer with an error status is not an `HttpError`: it is a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    /// Not sent: the [`BudgetClient`] it went through had no requests left. Callers that can make progress in parts
    /// keep what they have and continue on a later run.
    #[error("not sent: this run's budget of {0} upstream requests is spent")]
    Budget(usize),
    /// The answer's body was over the request's cap of this many bytes; reading stopped there.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(u64),
}

/// Sends HTTP requests. `?Send` because Workers' fetch futures are not `Send`.
#[async_trait::async_trait(?Send)]
pub trait HttpClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError>;
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient + ?Sized> HttpClient for &C {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(req).await
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient + ?Sized> HttpClient for Rc<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(req).await
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient + ?Sized> HttpClient for Box<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(req).await
    }
}

/// Counts the requests sent through it (answered or not). A redirect followed by the inner client counts once: it
/// is one call of ours, though the upstream sees two.
#[derive(Debug, Default)]
pub struct CountingClient<C> {
    inner: C,
    count: Cell<usize>,
}

impl<C> CountingClient<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, count: Cell::new(0) }
    }

    /// Requests sent since creation or the last [`reset`](Self::reset).
    pub fn count(&self) -> usize {
        self.count.get()
    }

    /// Returns the count and sets it back to zero.
    pub fn reset(&self) -> usize {
        self.count.replace(0)
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> HttpClient for CountingClient<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.count.set(self.count.get() + 1);
        self.inner.send(req).await
    }
}

/// Caps how many requests go through it; past the cap every request fails with [`HttpError::Budget`] without being
/// sent. A Worker may make only so many subrequests per invocation (50 on the free plan, each followed redirect
/// counted), so a refresh runs through one of these: whatever a cold load cannot fetch within it is fetched on later
/// runs. Nest them to give each of several users of one budget a share: a request needs room in every layer.
pub struct BudgetClient<C> {
    inner: C,
    limit: usize,
    used: Cell<usize>,
}

impl<C> BudgetClient<C> {
    pub fn new(inner: C, limit: usize) -> Self {
        Self { inner, limit, used: Cell::new(0) }
    }

    /// Requests sent through this layer so far.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.used.get())
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> HttpClient for BudgetClient<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        if self.used.get() >= self.limit {
            return Err(HttpError::Budget(self.limit));
        }
        self.used.set(self.used.get() + 1);
        let answer = self.inner.send(req).await;
        // An inner layer that refused did not send it: the request is not this layer's either.
        if matches!(answer, Err(HttpError::Budget(_))) {
            self.used.set(self.used.get() - 1);
        }
        answer
    }
}

/// A credential (token, header value). `Debug` and `Display` print `[redacted]`, so it cannot reach a log line or an error
/// message by accident; [`expose`](Self::expose) is the one way to read it, at the point a header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when `keep_slash`).
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        let keep =
            byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') || (keep_slash && byte == b'/');
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

type Handler = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError>>;

/// A transport test double: answers from canned routes and records every request. Never awaits, so a fetch through
/// it completes in one poll.
///
/// Routes match on method and the exact URL (query included); the latest route added for a URL wins. Unrouted
/// requests get GitHub's 404 JSON. Handlers see the request, so they can answer 304 to the right `If-None-Match`.
/// Each answer's body passes through the request's [`BodyCap`], as over a real transport.
#[derive(Default)]
pub struct CannedClient {
    routes: RefCell<Vec<(String, String, Rc<Handler>)>>,
    requests: RefCell<Vec<HttpRequest>>,
}

impl CannedClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// Always answers `response` to `GET url`.
    pub fn on_get(&self, url: &str, response: HttpResponse) -> &Self {
        self.route("GET", url, move |_| Ok(response.clone()))
    }

    /// Answers `GET url` with whatever `handler` returns.
    pub fn route(
        &self,
        method: &str,
        url: &str,
        handler: impl Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) -> &Self {
        self.routes.borrow_mut().push((method.to_string(), url.to_string(), Rc::new(Box::new(handler))));
        self
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    /// The URLs requested, in order.
    pub fn urls(&self) -> Vec<String> {
        self.requests.borrow().iter().map(|r| r.url.clone()).collect()
    }

    pub fn clear_requests(&self) {
        self.requests.borrow_mut().clear();
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for CannedClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.requests.borrow_mut().push(req.clone());
        let handler = self
            .routes
            .borrow()
            .iter()
            .rev()
            .find(|(method, url, _)| *method == req.method && *url == req.url)
            .map(|(_, _, handler)| Rc::clone(handler));
        let answer = match handler {
            Some(handler) => handler(&req)?,
            None => HttpResponse::new(404)
                .with_header("content-type", "application/json")
                .with_body(&br#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#[..]),
        };
        let mut cap = BodyCap::new(req.max_body, answer.header("content-length"))?;
        for chunk in answer.body.chunks(1024) {
            cap.push(chunk)?;
        }
        Ok(HttpResponse { body: cap.finish(), ..answer })
    }
}

/// Drives a future that never waits (everything over [`CannedClient`]) to completion without an executor.
pub fn block_on_ready<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("block_on_ready: the future waited on something; use a real executor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_client_counts_and_resets() {
        let canned = CannedClient::new();
        canned.on_get("https://x/a", HttpResponse::new(200).with_body("hi"));
        let counting = CountingClient::new(&canned);
        let resp = block_on_ready(counting.send(HttpRequest::get("https://x/a"))).unwrap();
        assert_eq!(resp.body, b"hi");
        assert_eq!(block_on_ready(counting.send(HttpRequest::get("https://x/b"))).unwrap().status, 404);
        assert_eq!(counting.count(), 2);
        assert_eq!(counting.reset(), 2);
        assert_eq!(counting.count(), 0);
        assert_eq!(canned.urls(), ["https://x/a", "https://x/b"]);
    }

    #[test]
    fn secrets_and_requests_do_not_print_credentials() {
        let secret = Secret::new("ghp_topsecret");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        let req = HttpRequest::get("https://x").header("Authorization", format!("Bearer {}", secret.expose()));
        assert!(!format!("{req:?}").contains("topsecret"));
        assert_eq!(req.header_value("AUTHORIZATION"), Some("Bearer ghp_topsecret"));
    }

    #[test]
    fn a_body_is_read_up_to_its_cap_and_refused_one_byte_past_it() {
        let mut cap = BodyCap::new(10, None).unwrap();
        cap.push(b"12345").unwrap();
        cap.push(b"67890").unwrap();
        assert_eq!(cap.finish(), b"1234567890");

        let mut cap = BodyCap::new(10, None).unwrap();
        cap.push(b"1234567890").unwrap();
        assert_eq!(cap.push(b"1"), Err(HttpError::TooLarge(10)));
        // One huge chunk is refused, and no more than the cap and one byte of it is kept.
        let mut cap = BodyCap::new(10, None).unwrap();
        assert_eq!(cap.push(&vec![b'x'; 1 << 20]), Err(HttpError::TooLarge(10)));
        assert_eq!(cap.len(), 11);
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        assert_eq!(BodyCap::new(5120, Some("5121")).unwrap_err(), HttpError::TooLarge(5120));
        assert!(BodyCap::new(5120, Some("5120")).is_ok());
        // A declared length under the cap is not trusted: the bytes are still counted.
        let mut cap = BodyCap::new(5120, Some("10")).unwrap();
        assert_eq!(cap.push(&[0; 6000]), Err(HttpError::TooLarge(5120)));
        // Nor does a huge declared length reserve memory.
        assert!(BodyCap::new(u64::MAX, Some("999999999999")).unwrap().finish().capacity() <= 64 * 1024);
    }

    #[test]
    fn requests_carry_their_cap_redirect_rule_and_deadline() {
        let req = HttpRequest::get("https://x/a");
        assert_eq!((req.max_body, req.follow_redirects, req.timeout_ms), (DEFAULT_MAX_BODY, true, None));
        let req = req.limit(5).no_redirects().timeout(3000);
        assert_eq!((req.max_body, req.follow_redirects, req.deadline_ms(15_000)), (5, false, 3000));
        assert_eq!(req.deadline_ms(1000), 1000);
        let canned = CannedClient::new();
        canned.on_get("https://x/a", HttpResponse::new(200).with_body("123456"));
        assert_eq!(block_on_ready(canned.send(req)).unwrap_err(), HttpError::TooLarge(5));
        let ok = block_on_ready(canned.send(HttpRequest::get("https://x/a").limit(6))).unwrap();
        assert_eq!(ok.body, b"123456");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("group/sub/project", false), "group%2Fsub%2Fproject");
        assert_eq!(percent_encode("feature/a b#c", true), "feature/a%20b%23c");
    }
}
