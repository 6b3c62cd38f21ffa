//! The MCP server: JSON-RPC 2.0 messages in, responses out. Transport-free, so the same code answers
//! Streamable HTTP (`transport`) and, later, the legacy SSE endpoint.

pub mod schema;
pub mod tools;
pub mod transport;

use crate::catalogue::Catalogue;
use crate::config::{Config, Surface};
use serde_json::{json, Value};

/// Protocol revisions this server speaks, newest first.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

const INSTRUCTIONS: &str = "Skillport serves this organisation's Claude plugin marketplaces. \
Use list_plugins to browse (filter by query, category, tag, marketplace or surface; follow nextCursor for more), \
then get_plugin with a name from that list (`plugin@marketplace`, or the bare plugin name when it is unique) to see \
its skills, files, version and digest. Plugins whose status is not `servable` are listed with the reason and cannot \
be fetched.";

/// What a request is answered with: a JSON-RPC response, or nothing for a notification.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Response(Value),
    Accepted,
}

/// Everything a message needs to be answered.
pub struct Context<'a> {
    pub config: &'a Config,
    pub catalogue: &'a Catalogue,
    /// The surface the client is on, when known from `clientInfo`; the default filter of catalogue tools.
    pub client_surface: Option<Surface>,
}

pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// Answers one parsed JSON-RPC message.
pub fn handle_message(ctx: &Context<'_>, msg: &Value) -> Outcome {
    let Some(obj) = msg.as_object() else {
        return Outcome::Response(error(Value::Null, INVALID_REQUEST, "a JSON-RPC message must be an object"));
    };
    let id = obj.get("id").cloned();
    let method = obj.get("method");
    // Responses from the client (to requests we never send) and notifications need no answer.
    if method.is_none() && id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) {
        return Outcome::Accepted;
    }
    let valid_id = matches!(id, None | Some(Value::String(_)) | Some(Value::Number(_)));
    if obj.get("jsonrpc") != Some(&json!("2.0")) || !valid_id {
        return Outcome::Response(error(
            id.filter(|i| i.is_string() || i.is_number()).unwrap_or(Value::Null),
            INVALID_REQUEST,
            "invalid request: expected {\"jsonrpc\": \"2.0\", \"method\": ..., \"id\": string or number}",
        ));
    }
    let Some(method) = method.and_then(Value::as_str) else {
        return Outcome::Response(error(id.unwrap_or(Value::Null), INVALID_REQUEST, "invalid request: missing method"));
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    if !(params.is_null() || params.is_object()) {
        return match id {
            Some(id) => Outcome::Response(error(id, INVALID_PARAMS, "params must be an object")),
            None => Outcome::Accepted,
        };
    }
    let Some(id) = id else {
        // Notifications: initialized, cancelled, progress... nothing to answer.
        return Outcome::Accepted;
    };
    Outcome::Response(match dispatch(ctx, method, &params) {
        Ok(r) => result(id, r),
        Err((code, message)) => error(id, code, message),
    })
}

type RpcResult = Result<Value, (i64, String)>;

fn dispatch(ctx: &Context<'_>, method: &str, params: &Value) -> RpcResult {
    match method {
        "initialize" => Ok(initialize(ctx, params)),
        "ping" => Ok(json!({})),
        "tools/list" => tools::list(params),
        "tools/call" => tools::call(ctx, params),
        "logging/setLevel" => Ok(json!({})),
        _ => Err((METHOD_NOT_FOUND, format!("method not found: {method}"))),
    }
}

/// Picks the protocol revision: the client's if we speak it, else our newest (the client then decides).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested.and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r).copied()).unwrap_or(LATEST_VERSION)
}

fn initialize(ctx: &Context<'_>, params: &Value) -> Value {
    let version = negotiate(params.get("protocolVersion").and_then(Value::as_str));
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": false},
            "logging": {},
        },
        "serverInfo": {
            "name": "skillport",
            "title": ctx.config.server.name,
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": INSTRUCTIONS,
    })
}

/// The surface a client runs on, from its `clientInfo.name`. Claude Code reports `claude-code`; Claude.ai and
/// Claude Desktop report names with "claude" and "ai"/"desktop"; `mcp-remote` is what Desktop runs.
pub fn surface_of_client(client_name: &str) -> Option<Surface> {
    let n = client_name.to_ascii_lowercase();
    if n.contains("claude-code") || n.contains("claude code") {
        Some(Surface::ClaudeCode)
    } else if n.contains("desktop") || n.contains("mcp-remote") {
        Some(Surface::ClaudeDesktop)
    } else if n.contains("claude") {
        Some(Surface::ClaudeAi)
    } else {
        None
    }
}
