//! Streamable HTTP at `/mcp`: POST carries one JSON-RPC message and gets a JSON answer (or 202 for a
//! notification). This server offers no server-initiated stream, so GET and DELETE get 405.

use super::{error, handle_message, Context, Outcome, INVALID_REQUEST, PARSE_ERROR, SUPPORTED_VERSIONS};
use crate::http::{HttpRequest, HttpResponse};
use serde_json::Value;

/// Headers a browser client must be allowed to read and send.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID";

pub fn handle(ctx: &Context<'_>, req: &HttpRequest) -> HttpResponse {
    match req.method.as_str() {
        "POST" => post(ctx, req),
        "OPTIONS" => HttpResponse::new(204),
        "GET" | "DELETE" => HttpResponse::json(
            405,
            &error(
                Value::Null,
                INVALID_REQUEST,
                "this server offers no stream on GET and keeps no sessions; POST JSON-RPC messages",
            ),
        )
        .header("allow", "POST, OPTIONS"),
        _ => HttpResponse::new(405).header("allow", "POST, OPTIONS"),
    }
}

fn bad(status: u16, code: i64, message: &str) -> HttpResponse {
    HttpResponse::json(status, &error(Value::Null, code, message))
}

fn post(ctx: &Context<'_>, req: &HttpRequest) -> HttpResponse {
    let ctype = req.header("content-type").unwrap_or("");
    if !ctype.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return bad(415, INVALID_REQUEST, "Content-Type must be application/json");
    }
    if let Some(accept) = req.header("accept") {
        let ok = accept
            .split(',')
            .map(|a| a.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .any(|a| a == "application/json" || a == "application/*" || a == "*/*");
        if !ok {
            return bad(406, INVALID_REQUEST, "Accept must include application/json");
        }
    }
    if let Some(v) = req.header("mcp-protocol-version") {
        if !SUPPORTED_VERSIONS.contains(&v.trim()) {
            return bad(
                400,
                INVALID_REQUEST,
                &format!("unsupported MCP-Protocol-Version `{v}`; supported: {}", SUPPORTED_VERSIONS.join(", ")),
            );
        }
    }
    let msg: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return bad(400, PARSE_ERROR, &format!("parse error: {e}")),
    };
    if msg.is_array() {
        return bad(400, INVALID_REQUEST, "JSON-RPC batches are not supported; send one message per request");
    }
    match handle_message(ctx, &msg) {
        Outcome::Accepted => HttpResponse::new(202),
        Outcome::Response(v) => {
            let mut resp = HttpResponse::json(200, &v);
            if msg.get("method").and_then(Value::as_str) == Some("initialize") {
                if let Some(ver) = v.pointer("/result/protocolVersion").and_then(Value::as_str) {
                    resp = resp.header("mcp-protocol-version", ver);
                }
            }
            resp
        }
    }
}
