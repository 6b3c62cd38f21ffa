//! The sources' [`HttpClient`] on the admin's machine: reqwest over rustls (ring, the platform's certificate store),
//! driven by the caller's tokio runtime. The Worker's twin is `platform::upstream::WorkerFetch`; both follow redirects
//! unless the request says not to, leave bodies as sent, read them chunk by chunk within the request's cap (a
//! [`BodyCap`]), and give up on the whole exchange, body included, after `catalogue.upstream_timeout_ms` (or the
//! request's shorter deadline).

use skillport_http::{BodyCap, HttpClient, HttpError, HttpRequest, HttpResponse};
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
    /// The same, for requests that must not follow redirects.
    direct: reqwest::Client,
    timeout: Duration,
    pub stats: Arc<Stats>,
}

impl NativeClient {
    pub fn new(timeout_ms: u64) -> Result<NativeClient, String> {
        // reqwest is built without a default crypto provider so that only ring is compiled in; an error here only
        // means some provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(timeout_ms))
                .redirect(redirects)
                .build()
                .map_err(|e| format!("cannot set up HTTPS: {}", chain(&e)))
        };
        let client = build(reqwest::redirect::Policy::default())?;
        let direct = build(reqwest::redirect::Policy::none())?;
        Ok(NativeClient { client, direct, timeout: Duration::from_millis(timeout_ms), stats: Arc::default() })
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for NativeClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| HttpError::Connect(format!("bad method {}", req.method)))?;
        let client = if req.follow_redirects { &self.client } else { &self.direct };
        // reqwest's request timeout runs from connecting until the body has been read: one deadline for it all.
        let deadline = Duration::from_millis(req.deadline_ms(self.timeout.as_millis() as u64));
        let mut builder = client.request(method, &req.url).timeout(deadline);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body);
        }
        let max_body = req.max_body;
        let mut response = builder.send().await.map_err(error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
            .collect();
        let declared = response.headers().get("content-length").and_then(|v| v.to_str().ok());
        let mut cap = BodyCap::new(max_body, declared)?;
        // Dropping `response` on an error closes the connection: nothing past the cap is read.
        while let Some(chunk) = response.chunk().await.map_err(error)? {
            self.stats.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            cap.push(&chunk)?;
        }
        Ok(HttpResponse { status, headers, body: cap.finish() })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    /// A one-connection HTTP server on a loopback port: reads the request head, sends `head`, then `chunks` pieces of
    /// `chunk` with `pause` between them (until the client goes away). Returns its URL.
    fn serve(head: &'static str, chunk: Vec<u8>, chunks: usize, pause: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/doc", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            if socket.write_all(head.as_bytes()).is_err() {
                return;
            }
            for _ in 0..chunks {
                if socket.write_all(&chunk).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
        });
        url
    }

    fn send(client: &NativeClient, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(client.send(req))
    }

    #[test]
    fn a_huge_body_is_refused_one_chunk_past_its_cap() {
        // 64 MiB on offer without a Content-Length; the client must stop near the 5 KB cap.
        let url = serve("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", vec![b'x'; 64 * 1024], 1024, Duration::ZERO);
        let client = NativeClient::new(10_000).unwrap();
        let started = Instant::now();
        assert_eq!(send(&client, HttpRequest::get(url).limit(5120)), Err(HttpError::TooLarge(5120)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(client.stats.bytes.load(Ordering::Relaxed) < 1024 * 1024, "read far past the cap");
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        let url = serve("HTTP/1.1 200 OK\r\ncontent-length: 50000000\r\n\r\n", vec![b'x'; 1024], 1, Duration::ZERO);
        let client = NativeClient::new(10_000).unwrap();
        assert_eq!(send(&client, HttpRequest::get(url).limit(5120)), Err(HttpError::TooLarge(5120)));
        assert_eq!(client.stats.bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_trickling_body_cannot_outlast_the_deadline() {
        // 1 KB, then a byte every 100 ms for a minute: under the cap, so only the deadline can end it.
        let url = serve("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", vec![b' '], 600, Duration::from_millis(100));
        let client = NativeClient::new(10_000).unwrap();
        let started = Instant::now();
        assert_eq!(send(&client, HttpRequest::get(url).limit(5120).timeout(1000)), Err(HttpError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }

    #[test]
    fn a_request_that_says_so_gets_the_redirect_itself() {
        let head = "HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n";
        let url = serve(head, Vec::new(), 0, Duration::ZERO);
        let client = NativeClient::new(10_000).unwrap();
        let answer = send(&client, HttpRequest::get(url).no_redirects()).unwrap();
        assert_eq!((answer.status, answer.header("location")), (302, Some("http://169.254.169.254/")));
    }
}
