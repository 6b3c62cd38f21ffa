//! The request and response crossings between the runtime and the worker's own `HttpRequest` and `HttpResponse`:
//! one runtime call each way, bodies read under the size cap, and a refused body drained so the dev server survives.

use crate::http::{HttpRequest, HttpResponse};
use worker::worker_sys::web_sys;
use worker::{Response, Result};

// The request and response crossings, one call each: reading a request's method, URL and headers through web-sys
// takes a runtime call per header and per part, and building a response header by header as many. Names, values,
// methods and serialized URLs never hold a line feed (the Fetch standard forbids it in a header value), so one
// `\n`-separated string carries them all.
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function request_head(req) {
  let head = req.method + "\n" + req.url;
  for (const [name, value] of req.headers) head += "\n" + name + "\n" + value;
  return head;
}
export function new_response(status, head, body) {
  const headers = new Headers();
  if (head.length > 0) {
    const parts = head.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  }
  // `body` is a view of the module's memory: copied before it can move.
  return new Response(body.length > 0 ? body.slice() : null, { status, headers });
}
"#)]
extern "C" {
    fn request_head(req: &web_sys::Request) -> String;
    #[wasm_bindgen(catch)]
    fn new_response(
        status: u16,
        head: &str,
        body: &[u8],
    ) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue>;
}

pub(crate) async fn to_http(req: &web_sys::Request, max_body: u64) -> std::result::Result<HttpRequest, HttpResponse> {
    let head = request_head(req);
    let mut parts = head.split('\n');
    // The method as sent: worker::Method maps every method it does not know (PROPFIND, LOCK...) to GET, which
    // would serve them as GETs (found by the hardening suite).
    let method = parts.next().unwrap_or_default().to_ascii_uppercase();
    let url = parts.next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        headers.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    if !headers.iter().any(|(k, _)| k == "host") {
        let parsed = url::Url::parse(url).map_err(|_| HttpResponse::text(400, "bad request URL\n"))?;
        if let Some(h) = parsed.host_str() {
            let host = match parsed.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            };
            headers.push(("host".into(), host));
        }
    }
    let too_large = || HttpResponse::text(413, &format!("request body larger than {max_body} bytes\n"));
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, l)| l.parse::<u64>().ok());
    if let Some(len) = length.filter(|len| *len > max_body) {
        if len <= DRAIN_LIMIT_BYTES {
            if let Some(stream) = req.body() {
                drain(&mut worker::ByteStream::from(stream), 0).await;
            }
        }
        return Err(too_large());
    }
    let body = match method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Vec::new(),
        // Read as a stream and stop at the cap: a chunked body has no Content-Length to refuse it by up front, and
        // reading it whole first would let one request hold any amount of memory.
        // A length within the cap and no transfer coding: one read of the whole body (framed to that length), rather
        // than a stream read per chunk and one more for its end, each a promise.
        _ if length.is_some() && !headers.iter().any(|(k, _)| k == "transfer-encoding") => {
            let unreadable = || HttpResponse::text(400, "could not read the request body\n");
            let promise = req.array_buffer().map_err(|_| unreadable())?;
            let buffer = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|_| unreadable())?;
            let body = js_sys::Uint8Array::new(&buffer).to_vec();
            if body.len() as u64 > max_body {
                return Err(too_large());
            }
            body
        }
        _ => {
            use futures_util::StreamExt;
            let mut body = Vec::new();
            // No stream: no body at all.
            if let Some(stream) = req.body() {
                let mut stream = worker::ByteStream::from(stream);
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|_| HttpResponse::text(400, "could not read the request body\n"))?;
                    if body.len() as u64 + chunk.len() as u64 > max_body {
                        let read = body.len() as u64 + chunk.len() as u64;
                        drop(body);
                        drain(&mut stream, read).await;
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            body
        }
    };
    let (path, query) = crate::http::path_and_query(url);
    Ok(HttpRequest { method, path: path.to_owned(), query: query.to_owned(), headers, body })
}

/// How much of a body refused for its size is still read, and thrown away, before the 413 is sent. Answering with
/// most of a body unread is correct HTTP, but `wrangler dev`'s proxy (4.86.0) does not survive it: after one
/// 2.5 MiB chunked body refused that way it answered the next request 500/503 ("Your worker restarted
/// mid-request") and then exited. Read to its end, the same body leaves it serving. Past this many bytes the rest
/// is not read (the refusal comes at once and the connection is closed): a body without end must not hold the
/// request open, and nothing is kept, so the cost is reading, not memory.
const DRAIN_LIMIT_BYTES: u64 = 16 << 20;

/// Reads and discards the rest of a refused body, `read` bytes of which were read already, up to
/// [`DRAIN_LIMIT_BYTES`] in all; a read error ends it (the answer is the 413 either way).
async fn drain(stream: &mut worker::ByteStream, mut read: u64) {
    use futures_util::StreamExt;
    while read <= DRAIN_LIMIT_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => return,
        }
    }
}

/// The runtime's response for `resp`, built in one call.
pub(crate) fn to_js(resp: HttpResponse) -> Result<web_sys::Response> {
    let mut head = String::new();
    for (k, v) in &resp.headers {
        // A line feed would split the pair (and no runtime accepts one in a header): refused as `Headers` would.
        if k.contains('\n') || v.contains('\n') {
            return Err(worker::Error::RustError(format!("invalid value for header {k}")));
        }
        if !head.is_empty() {
            head.push('\n');
        }
        head.push_str(k);
        head.push('\n');
        head.push_str(v);
    }
    new_response(resp.status, &head, &resp.body).map_err(worker::Error::from)
}

pub(crate) fn to_worker(resp: HttpResponse) -> Result<Response> {
    let headers = worker::Headers::new();
    for (k, v) in &resp.headers {
        headers.append(k, v)?;
    }
    let r = if resp.body.is_empty() { Response::empty()? } else { Response::from_bytes(resp.body)? };
    Ok(r.with_status(resp.status).with_headers(headers))
}
