//! The MCP server: JSON-RPC 2.0 messages in, responses out. Transport-free, so the same code answers Streamable
//! HTTP (`transport`) and the legacy HTTP+SSE endpoint (`sse`).
//!
//! Two eras share one endpoint. Handshake-era clients (2025-03-26, 2025-06-18, 2025-11-25) begin with
//! `initialize`; stateless clients (2026-07-28) carry the protocol version, client info and capabilities in every
//! request's `_meta` and may call `server/discover`. `era` decides which one a message belongs to.

pub mod era;
pub mod prompts;
pub mod schema;
pub mod skills;
pub mod sse;
pub mod tools;
pub mod transport;

use crate::catalogue::Catalogue;
use crate::config::{Config, Surface};
use serde_json::{json, Map, Value};

/// Handshake-era revisions this server speaks, newest first.
/// 2024-11-05 is the revision of the legacy HTTP+SSE transport's clients.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Stateless revisions (per-request `_meta` envelope).
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];
pub const LATEST_VERSION: &str = HANDSHAKE_VERSIONS[0];

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const RESOURCE_NOT_FOUND: i64 = -32002;
pub const HEADER_MISMATCH: i64 = -32020;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

pub const INSTRUCTIONS: &str = "Skillport serves this organisation's Claude plugin marketplaces: plugins, and the \
skills inside them. Use list_plugins to browse (filter by query, category, tag, marketplace or surface; follow \
nextCursor for more), then get_plugin with a name from that list (`plugin@marketplace`, or the bare plugin name when \
it is unique) to see its skills, files, version and digest. To install a skill, call fetch_skill \
(`plugin@marketplace/skill`): it returns the files, a short-lived .skill download link and install steps for the \
user's Claude surface. check_updates tells whether installed plugins or skills are still current. Skill files are \
also resources at skill://<marketplace>/<plugin>/<skill>/<file>. Plugins whose status is not `servable` are listed \
with the reason and cannot be fetched.";

/// At most this many plugins are named per policy in the instructions; `list_plugins` with `policy` gives the rest.
const INSTRUCTIONS_POLICY_NAMES: usize = 20;

/// The instructions for the signed-in user: [`INSTRUCTIONS`], and, when access rules set install policies, what to
/// offer first and the user's own required and recommended plugins (so a model can offer them before being asked).
pub fn instructions(ctx: &Context<'_>) -> std::borrow::Cow<'static, str> {
    use crate::config::InstallPolicy;
    let access = ctx.access();
    if !access.has_policies() {
        return INSTRUCTIONS.into();
    }
    let mut text = format!(
        "{INSTRUCTIONS} This organisation sets install policies: each plugin's `policy` for this user is `required`, \
         `recommended` or `available`. Offer to install the required plugins first (check_updates lists those not \
         installed under `requiredMissing`; list_plugins with `policy` lists them), and the recommended ones when \
         they are relevant to the task."
    );
    let view = ctx.catalogue.view(&access);
    for (policy, label) in [(InstallPolicy::Required, "Required"), (InstallPolicy::Recommended, "Recommended")] {
        let names: Vec<String> = view
            .plugins()
            .filter(|p| p.plugin.status.is_servable() && p.policy() == Some(policy))
            .map(|p| p.qualified_name())
            .collect();
        if names.is_empty() {
            continue;
        }
        let shown = names.len().min(INSTRUCTIONS_POLICY_NAMES);
        text.push_str(&format!(" {label} for this user: {}", names[..shown].join(", ")));
        if names.len() > shown {
            text.push_str(&format!(" and {} more (list_plugins with policy `{policy}`)", names.len() - shown));
        }
        text.push('.');
    }
    text.into()
}

/// A small monochrome icon (SVG, data URI) for the server and its tools.
pub const ICON: &str = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAyNCAyNCI+PHBhdGggZD0iTTQgNGg3djdINHpNMTMgNGg3djdoLTd6TTQgMTNoN3Y3SDR6TTEzIDEzaDd2N2gtN3oiIGZpbGw9ImN1cnJlbnRDb2xvciIvPjwvc3ZnPg==";

/// What a request is answered with: a JSON-RPC response (and the HTTP status it travels with on Streamable HTTP),
/// or nothing for a notification.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Response { status: u16, body: Reply },
    Accepted,
}

pub use crate::catalogue::json::RawObject;

/// A JSON-RPC response or result: a [`Value`], or an object written from serialized parts ([`RawObject`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Value(Value),
    Raw(RawObject),
}

impl Reply {
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Reply::Value(v) => serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
            Reply::Raw(o) => {
                let mut s = String::with_capacity(o.len());
                o.write_to(&mut s);
                s.into_bytes()
            }
        }
    }

    /// As a [`Value`] (a raw object is parsed: for tests and the rare paths that must look inside).
    pub fn into_value(self) -> Value {
        match self {
            Reply::Value(v) => v,
            Reply::Raw(o) => serde_json::from_str(&o.to_string()).unwrap_or(Value::Null),
        }
    }

    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Reply::Value(v) => Some(v),
            Reply::Raw(_) => None,
        }
    }
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Value(v)
    }
}

/// Everything a message needs to be answered.
pub struct Context<'a> {
    pub config: &'a Config,
    pub catalogue: &'a Catalogue,
    /// The surface the client is on, when known from `clientInfo` (the session, or this request's `_meta`); the
    /// default filter of catalogue tools.
    pub client_surface: Option<Surface>,
    /// Lower-cased HTTP headers of the request, for the stateless era's header checks; empty on SSE.
    pub headers: &'a [(String, String)],
    /// Who is asking: the signed-in user (the `local` provider's user in development). Access rules read it.
    pub identity: &'a skillport_providers::Identity,
}

impl Context<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The access rules as they apply to the signed-in user: every handler that returns catalogue data reads the
    /// catalogue through `catalogue.view(&ctx.access())`, never the catalogue itself.
    pub fn access(&self) -> crate::access::Access<'_> {
        crate::access::Access::new(&self.config.access, self.identity)
    }
}

pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

/// A method's failure: JSON-RPC code, message and optional data.
#[derive(Debug)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into(), data: None }
    }
    fn into_response(self, id: Value) -> Value {
        let mut err = json!({"code": self.code, "message": self.message});
        if let Some(d) = self.data {
            err["data"] = d;
        }
        json!({"jsonrpc": "2.0", "id": id, "error": err})
    }
}

impl From<(i64, String)> for RpcError {
    fn from((code, message): (i64, String)) -> Self {
        RpcError::new(code, message)
    }
}

pub type RpcResult = Result<Value, RpcError>;

/// The HTTP status a JSON-RPC error travels with in the stateless era (handshake-era errors ride on 200).
fn modern_status(code: i64) -> u16 {
    match code {
        PARSE_ERROR | INVALID_REQUEST | INVALID_PARAMS | HEADER_MISMATCH | UNSUPPORTED_PROTOCOL_VERSION => 400,
        METHOD_NOT_FOUND => 404,
        _ => 200,
    }
}

/// `{"jsonrpc": "2.0", "id": id, "result": result}`, the result moved in (the `json!` macro would copy it whole).
fn success(id: Value, result: Reply) -> Reply {
    match result {
        Reply::Value(r) => {
            let mut o = Map::new();
            o.insert("jsonrpc".into(), json!("2.0"));
            o.insert("id".into(), id);
            o.insert("result".into(), r);
            Reply::Value(Value::Object(o))
        }
        Reply::Raw(r) => {
            let mut o = RawObject::default();
            o.insert_raw("jsonrpc", "\"2.0\"");
            o.insert("id", &id);
            o.insert_object("result", r);
            Reply::Raw(o)
        }
    }
}

/// Answers one parsed JSON-RPC message.
pub fn handle_message(ctx: &Context<'_>, msg: &Value) -> Outcome {
    let respond = |status: u16, body: Value| Outcome::Response { status, body: Reply::Value(body) };
    let Some(obj) = msg.as_object() else {
        return respond(400, error(Value::Null, INVALID_REQUEST, "a JSON-RPC message must be an object"));
    };
    let id = obj.get("id").cloned();
    let method = obj.get("method");
    // Responses from the client (to requests we never send) need no answer.
    if method.is_none() && id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) {
        return Outcome::Accepted;
    }
    // A number id must be an integer that survives the round trip exactly: a fraction or an integer past 64 bits is
    // parsed as a float, and echoing it rounded (2^64 + 7 came back as 2^64) would hand the client an answer under
    // an id it never sent.
    let exact = |i: &Value| i.is_string() || i.is_i64() || i.is_u64();
    let valid_id = id.as_ref().is_none_or(exact);
    if obj.get("jsonrpc") != Some(&json!("2.0")) || !valid_id {
        return respond(
            400,
            error(
                id.filter(exact).unwrap_or(Value::Null),
                INVALID_REQUEST,
                "invalid request: expected {\"jsonrpc\": \"2.0\", \"method\": ..., \"id\": string or number}",
            ),
        );
    }
    let Some(method) = method.and_then(Value::as_str) else {
        return respond(400, error(id.unwrap_or(Value::Null), INVALID_REQUEST, "invalid request: missing method"));
    };
    let null = Value::Null;
    let params = obj.get("params").unwrap_or(&null);
    let Some(id) = id else {
        // Notifications (initialized, cancelled, progress, roots/list_changed...) need no answer.
        return Outcome::Accepted;
    };
    if !(params.is_null() || params.is_object()) {
        return respond(400, error(id, INVALID_PARAMS, "params must be an object"));
    }
    match era::classify(ctx, method, params) {
        Err(e) => {
            let status = modern_status(e.code);
            respond(status, e.into_response(id))
        }
        Ok(era::Era::Handshake) => {
            let surface = ctx.client_surface;
            match dispatch(ctx, surface, method, params, false) {
                Ok(r) => Outcome::Response { status: 200, body: success(id, r) },
                Err(e) => respond(200, e.into_response(id)),
            }
        }
        Ok(era::Era::Modern { client_surface }) => {
            let surface = client_surface.or(ctx.client_surface);
            match dispatch(ctx, surface, method, params, true) {
                Ok(mut r) => {
                    era::stamp_result(method, &mut r);
                    Outcome::Response { status: 200, body: success(id, r) }
                }
                Err(e) => {
                    let e = era::stamp_error(e);
                    respond(modern_status(e.code), e.into_response(id))
                }
            }
        }
    }
}

fn dispatch(
    ctx: &Context<'_>,
    surface: Option<Surface>,
    method: &str,
    params: &Value,
    modern: bool,
) -> Result<Reply, RpcError> {
    match method {
        "tools/call" => return tools::Call { ctx, surface }.call(params),
        "tools/list" => return tools::list(params),
        _ => {}
    }
    let result = match method {
        "initialize" if !modern => Ok(initialize(ctx, params)),
        "server/discover" => Ok(discover(ctx)),
        // Removed in the stateless era: a 2026-07-28 client gets "method not found" (404 over HTTP).
        "ping" if !modern => Ok(json!({})),
        "resources/list" => skills::resources_list(ctx, params),
        "resources/templates/list" => skills::templates_list(params),
        "resources/read" => skills::resources_read(ctx, params),
        "resources/directory/read" => skills::directory_read(ctx, params),
        "skills/list" => skills::skills_list(ctx, params),
        "skills/get" => skills::skills_get(ctx, params),
        "logging/setLevel" if !modern => set_level(params),
        "prompts/list" if ctx.config.prompts.enabled => prompts::list(ctx, surface, params),
        "prompts/get" if ctx.config.prompts.enabled => prompts::get(ctx, params),
        "prompts/list" | "prompts/get" | "completion/complete" | "resources/subscribe" | "resources/unsubscribe" => {
            Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("method not found: {method} (this server offers no such capability)"),
            ))
        }
        _ => Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}"))),
    };
    result.map(Reply::Value)
}

const LOG_LEVELS: [&str; 8] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

fn set_level(params: &Value) -> RpcResult {
    match params.get("level").and_then(Value::as_str) {
        Some(l) if LOG_LEVELS.contains(&l) => Ok(json!({})),
        _ => Err(RpcError::new(INVALID_PARAMS, format!("`level` must be one of {}", LOG_LEVELS.join(", ")))),
    }
}

/// Picks the handshake revision: the client's if we speak it, else our newest (the client then decides).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested.and_then(|r| HANDSHAKE_VERSIONS.iter().find(|v| **v == r).copied()).unwrap_or(LATEST_VERSION)
}

/// What this server offers; `prompts` only when the configuration turns them on (`[prompts]`).
pub fn capabilities(config: &Config) -> Value {
    let mut caps = json!({
        "tools": {"listChanged": false},
        "resources": {"listChanged": false, "subscribe": false},
        "logging": {},
        "extensions": {skills::EXTENSION: {"directoryRead": true}},
    });
    if config.prompts.enabled {
        caps["prompts"] = json!({"listChanged": false});
    }
    caps
}

pub fn server_info(ctx: &Context<'_>) -> Value {
    json!({
        "name": "skillport",
        "title": ctx.config.server.name,
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Claude plugin marketplaces and their skills, over MCP",
        "icons": [{"src": ICON, "mimeType": "image/svg+xml", "sizes": ["any"]}],
    })
}

fn initialize(ctx: &Context<'_>, params: &Value) -> Value {
    let version = negotiate(params.get("protocolVersion").and_then(Value::as_str));
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(ctx.config),
        "serverInfo": server_info(ctx),
        "instructions": instructions(ctx),
    })
}

fn discover(ctx: &Context<'_>) -> Value {
    let mut versions: Vec<&str> = MODERN_VERSIONS.to_vec();
    versions.extend(HANDSHAKE_VERSIONS);
    let mut out = Map::new();
    out.insert("supportedVersions".into(), json!(versions));
    out.insert("capabilities".into(), capabilities(ctx.config));
    out.insert("serverInfo".into(), server_info(ctx));
    out.insert("instructions".into(), json!(instructions(ctx)));
    Value::Object(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_from_client_names() {
        assert_eq!(surface_of_client("claude-code"), Some(Surface::ClaudeCode));
        assert_eq!(surface_of_client("Claude Desktop"), Some(Surface::ClaudeDesktop));
        assert_eq!(surface_of_client("mcp-remote"), Some(Surface::ClaudeDesktop));
        assert_eq!(surface_of_client("claude-ai"), Some(Surface::ClaudeAi));
        assert_eq!(surface_of_client("mcp"), None);
    }
}
