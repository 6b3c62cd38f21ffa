//! The outbound HTTP seam: the one place a request leaves the process.
//!
//! Everything Skillport asks of the outside world (marketplace sources, identity providers, the admin command line)
//! goes through [`HttpClient`], and every such request carries its limits with it: a cap on the answer's body
//! ([`HttpRequest::max_body`]) and a deadline for the whole exchange ([`HttpRequest::timeout_ms`]). Credentials travel
//! as [`Secret`]s, whose `Debug` and `Display` print nothing, and a request's `Debug` shows header names only.
//!
//! This crate depends on no HTTP library and does no I/O itself: on Workers the host crate implements [`HttpClient`]
//! with `worker::Fetch` (`src/platform/upstream.rs`), natively anything will do. An implementation must follow
//! redirects unless the request says not to (as `fetch` does: GitHub answers a tarball request with 302 to codeload)
//! and must not decompress bodies behind our back beyond what `Content-Encoding` mandates (archives are
//! `application/x-gzip` bodies, not encoded transfers).
//!
//! Every implementation reads the body chunk by chunk through a [`BodyCap`], which refuses a declared
//! `Content-Length` over the cap before reading and stops at the first byte past it, so an upstream can never make the
//! Worker hold more than the cap (plus one chunk). The whole exchange, body included, runs against one deadline (the
//! client's timeout, or the request's shorter [`HttpRequest::timeout_ms`]), so an answer that trickles cannot hold a
//! request open past it.
//!
//! Also here: wrappers that add a rule to every request ([`CountingClient`], [`BudgetClient`]), and [`CannedClient`],
//! a transport test double that serves canned answers and records every request.
//!
//! Not here: what any request means. This crate knows nothing of marketplaces, OAuth or MCP, and must not depend on
//! any other Skillport crate; the inbound side (requests Skillport answers) is the worker crate's.

mod canned;
mod wrappers;

use std::fmt;

pub use canned::{block_on_ready, CannedClient};
pub use wrappers::{BudgetClient, CountingClient};

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
impl<C: HttpClient + ?Sized> HttpClient for std::rc::Rc<C> {
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
