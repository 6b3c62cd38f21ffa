//! Plain HTTP request and response values: what the Workers glue converts to and from, so every handler is
//! ordinary Rust that runs and is tested natively.
//!
//! Their `Debug` never prints a credential or a body: `Authorization`, `Cookie` and `Set-Cookie` values and the
//! body show as their length only, so a request or response that reaches a log line or a panic message leaks
//! neither a token nor a form holding a code or secret.

/// An incoming request, already read in full (bodies are capped by `server.max_body_bytes` before this exists).
#[derive(Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// Path without query, e.g. `/mcp`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: &str, path: &str) -> Self {
        HttpRequest { method: method.to_ascii_uppercase(), path: path.to_string(), ..Default::default() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The host the request was addressed to (`Host` header), without scheme.
    pub fn host(&self) -> &str {
        self.header("host").unwrap_or("")
    }
}

/// The path and query of a URL as the Workers runtime serializes a request's (WHATWG): the path starts at the first
/// `/` after the authority and runs to `?` (or `#`), which it never holds unescaped, so the URL needs no second
/// parse. What `url::Url::parse` would give as `path()` and `query()` (an absent query as `""`).
pub fn path_and_query(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = url[after_scheme..].find('/').map_or("/", |i| &url[after_scheme + i..]);
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    rest.split_once('?').unwrap_or((rest, ""))
}

#[derive(Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        HttpResponse { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        HttpResponse::json_bytes(status, serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
    }

    /// JSON already serialized.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        HttpResponse::new(status).header("content-type", "application/json").body(body)
    }

    pub fn text(status: u16, text: &str) -> Self {
        HttpResponse::new(status).header("content-type", "text/plain; charset=utf-8").body(text.as_bytes().to_vec())
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Body as JSON, for tests.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Headers whose values are credentials: shown by length in `Debug`.
const REDACTED_HEADERS: [&str; 4] = ["authorization", "cookie", "set-cookie", "proxy-authorization"];

/// Headers as `Debug` shows them: names, and the values of those that are not credentials.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl std::fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            if REDACTED_HEADERS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                list.entry(&(name, format_args!("<redacted, {} bytes>", value.len())));
            } else {
                list.entry(&(name, value));
            }
        }
        list.finish()
    }
}

/// A body as `Debug` shows it: its length.
struct BodyLength(usize);

impl std::fmt::Debug for BodyLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The query is shown: it is where `/authorize` and `/callback` parameters travel, and a code in it is
        // single use and spent by the time anything is logged; tokens are accepted in the header only.
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &BodyLength(self.body.len()))
            .finish()
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &BodyLength(self.body.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_and_query_is_what_a_second_parse_gives() {
        for raw in [
            "http://127.0.0.1:8787/.well-known/oauth-protected-resource",
            "https://skills.example.com/mcp",
            "https://skills.example.com/",
            "https://skills.example.com",
            "https://skills.example.com/sse/message?sessionId=abc&x=%20y",
            "https://skills.example.com/download/a%2Fb.skill?t=1#frag",
            "https://user:pw@skills.example.com:8443/a/b/../c?q=/x?y",
            "http://[::1]:8787/authorize?redirect_uri=https%3A%2F%2Fclaude.ai%2Fcb&state=a/b",
            "https://skills.example.com/p%3Fq?",
        ] {
            let url = url::Url::parse(raw).unwrap();
            let serialized = url.as_str();
            assert_eq!(
                super::path_and_query(serialized),
                (url.path(), url.query().unwrap_or("")),
                "{raw} serialized as {serialized}"
            );
        }
    }

    #[test]
    fn debug_shows_no_credential_and_no_body() {
        let req = super::HttpRequest::new("POST", "/token")
            .with_header("authorization", "Bearer tok-s3cret")
            .with_header("Cookie", "__Host-skillport_status=sess-s3cret")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("grant_type=refresh_token&refresh_token=refresh-s3cret");
        let resp = super::HttpResponse::json(200, &serde_json::json!({"access_token": "access-s3cret"}))
            .header("set-cookie", "__Host-skillport_signin=cookie-s3cret");
        for shown in [format!("{req:?}"), format!("{req:#?}"), format!("{resp:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        let shown = format!("{req:?}");
        assert!(shown.contains("/token") && shown.contains("application/x-www-form-urlencoded"), "{shown}");
        assert!(shown.contains("<53 bytes>") && shown.contains("<redacted, 17 bytes>"), "{shown}");
        let shown = format!("{resp:?}");
        assert!(shown.contains("200") && shown.contains(&format!("<{} bytes>", resp.body.len())), "{shown}");
    }
}
