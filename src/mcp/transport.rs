//! Streamable HTTP at `/mcp`: POST carries one JSON-RPC message and gets a JSON answer (or 202 for a
//! notification). This server offers no server-initiated stream, so GET gets 405.
//!
//! Sessions hold no state here: the session id handed out at `initialize` only carries the client's surface (from
//! `clientInfo`), so any isolate can answer any request and a session grants nothing. Authority comes from the
//! bearer token alone. For the same reason a session cannot be terminated (nothing records that it ended, so its id
//! would go on working): DELETE answers 405, as the transport specification provides for such servers.

use super::{era, error, handle_message, surface_of_client, Context, Outcome, INVALID_REQUEST, PARSE_ERROR};
use crate::config::Surface;
use crate::http::{HttpRequest, HttpResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// Headers a browser client must be allowed to read and send.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID";

/// The methods `/mcp` answers.
const ALLOW_METHODS: &str = "POST, OPTIONS";

/// What the transport knows of a request before the message is read.
pub struct Request<'a> {
    pub http: &'a HttpRequest,
}

fn bad(status: u16, code: i64, message: &str) -> HttpResponse {
    HttpResponse::json(status, &error(Value::Null, code, message))
}

/// The id of the request in `body`, when it is a JSON-RPC request with a valid id: an error answered before the
/// message is handled still names the request it answers.
fn request_id(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|m| m.get("id").cloned())
        .filter(|id| id.is_string() || id.is_number())
        .unwrap_or(Value::Null)
}

/// `sp1.<surface>.<24 hex>`: the surface a session's client declared, and enough entropy to tell sessions apart.
pub fn new_session_id(surface: Option<Surface>, seed: &[u8]) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(seed);
    h.update(n.to_le_bytes());
    let hex: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
    let code = match surface {
        Some(Surface::ClaudeCode) => "cc",
        Some(Surface::ClaudeDesktop) => "cd",
        Some(Surface::ClaudeAi) => "cai",
        None => "any",
    };
    format!("sp1.{code}.{hex}")
}

/// The surface recorded in a session id we issued; anything else means "unknown".
pub fn session_surface(id: &str) -> Option<Surface> {
    let mut parts = id.split('.');
    if parts.next() != Some("sp1") {
        return None;
    }
    match parts.next()? {
        "cc" => Some(Surface::ClaudeCode),
        "cd" => Some(Surface::ClaudeDesktop),
        "cai" => Some(Surface::ClaudeAi),
        _ => None,
    }
}

pub fn handle(ctx: &Context<'_>, req: &HttpRequest) -> HttpResponse {
    match req.method.as_str() {
        "POST" => post(ctx, req),
        "OPTIONS" => HttpResponse::new(204),
        "DELETE" => HttpResponse::json(
            405,
            &error(Value::Null, INVALID_REQUEST, "sessions of this server hold no state and cannot be terminated"),
        )
        .header("allow", ALLOW_METHODS),
        "GET" => HttpResponse::json(
            405,
            &error(
                Value::Null,
                INVALID_REQUEST,
                "this server offers no server-initiated stream; POST JSON-RPC messages",
            ),
        )
        .header("allow", ALLOW_METHODS),
        _ => HttpResponse::new(405).header("allow", ALLOW_METHODS),
    }
}

fn accepts_json(accept: &str) -> bool {
    accept
        .split(',')
        .map(|a| a.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .any(|a| a == "application/json" || a == "application/*" || a == "*/*")
}

fn post(ctx: &Context<'_>, req: &HttpRequest) -> HttpResponse {
    let refuse = |status: u16, code: i64, message: &str| {
        HttpResponse::json(status, &error(request_id(&req.body), code, message))
    };
    let ctype = req.header("content-type").unwrap_or("");
    if !ctype.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return refuse(415, INVALID_REQUEST, "Content-Type must be application/json");
    }
    if !req.header("accept").is_some_and(accepts_json) {
        return refuse(406, INVALID_REQUEST, "Accept must include application/json (and text/event-stream)");
    }
    let msg: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return bad(400, PARSE_ERROR, &format!("parse error: {e}")),
    };
    if msg.is_array() {
        return bad(400, INVALID_REQUEST, "JSON-RPC batches are not supported; send one message per request");
    }
    if let Some(v) = req.header("mcp-protocol-version") {
        if let Err(e) = era::check_known_version(v.trim()) {
            let id = msg.get("id").filter(|id| id.is_string() || id.is_number()).cloned().unwrap_or(Value::Null);
            return HttpResponse::json(
                400,
                &serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message, "data": e.data}}),
            );
        }
    }
    let session_surface = req.header("mcp-session-id").and_then(session_surface);
    let ctx = Context { client_surface: session_surface.or(ctx.client_surface), ..*ctx };
    match handle_message(&ctx, &msg) {
        Outcome::Accepted => HttpResponse::new(202),
        Outcome::Response { status, body } => {
            let mut resp = HttpResponse::json_bytes(status, body.to_vec());
            let is_init = msg.get("method").and_then(Value::as_str) == Some("initialize");
            let version = body.as_value().and_then(|b| b.pointer("/result/protocolVersion")).and_then(Value::as_str);
            if let (true, Some(ver)) = (is_init, version) {
                let client = msg.pointer("/params/clientInfo/name").and_then(Value::as_str).unwrap_or("");
                resp = resp
                    .header("mcp-protocol-version", ver)
                    .header("mcp-session-id", &new_session_id(surface_of_client(client), &req.body));
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_carry_only_the_surface() {
        let a = new_session_id(Some(Surface::ClaudeCode), b"x");
        let b = new_session_id(Some(Surface::ClaudeCode), b"x");
        assert_ne!(a, b);
        assert_eq!(session_surface(&a), Some(Surface::ClaudeCode));
        assert_eq!(session_surface(&new_session_id(None, b"")), None);
        assert_eq!(session_surface("sp1.cai.00"), Some(Surface::ClaudeAi));
        assert_eq!(session_surface("garbage"), None);
    }
}
