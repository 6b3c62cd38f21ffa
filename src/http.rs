//! Plain HTTP request and response values: what the Workers glue converts to and from, so every handler is
//! ordinary Rust that runs and is tested natively.

/// An incoming request, already read in full (bodies are capped by `server.max_body_bytes` before this exists).
#[derive(Debug, Clone, Default)]
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

#[derive(Debug, Clone, PartialEq)]
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
