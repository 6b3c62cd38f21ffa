//! Which protocol era a request belongs to, and the stateless era's envelope checks.
//!
//! A 2026-07-28 request carries `_meta` with the protocol version and client capabilities, and over HTTP repeats
//! the version, the method and (for named methods) the name in `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name`. The checks run in the order the specification gives, so a client that disagrees with itself is told
//! so before it is told its version is unsupported.

use super::{
    surface_of_client, Context, Reply, RpcError, HANDSHAKE_VERSIONS, HEADER_MISMATCH, INVALID_PARAMS, MODERN_VERSIONS,
    RESOURCE_NOT_FOUND, UNSUPPORTED_PROTOCOL_VERSION,
};
use crate::config::Surface;
use base64::Engine as _;
use serde_json::{json, Value};

pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

#[derive(Debug, PartialEq)]
pub enum Era {
    Handshake,
    Modern { client_surface: Option<Surface> },
}

/// Methods whose HTTP request mirrors one parameter in `Mcp-Name`.
fn name_param(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Header values that would not survive HTTP travel are sent as `=?base64?…?=`.
pub fn decode_header_value(v: &str) -> Option<String> {
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        None => Some(v.to_string()),
        Some(payload) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(payload).ok()?;
            String::from_utf8(bytes).ok()
        }
    }
}

pub fn unsupported(requested: &str, supported: &[&str]) -> RpcError {
    RpcError {
        code: UNSUPPORTED_PROTOCOL_VERSION,
        message: format!("Unsupported protocol version `{requested}`"),
        data: Some(json!({"supported": supported, "requested": requested})),
    }
}

/// A protocol version named in a header must be one this server speaks, in either era.
pub fn check_known_version(v: &str) -> Result<(), RpcError> {
    if HANDSHAKE_VERSIONS.contains(&v) || MODERN_VERSIONS.contains(&v) {
        return Ok(());
    }
    let mut all: Vec<&str> = HANDSHAKE_VERSIONS.to_vec();
    all.extend(MODERN_VERSIONS);
    Err(unsupported(v, &all))
}

pub fn classify(ctx: &Context<'_>, method: &str, params: &Value) -> Result<Era, RpcError> {
    let meta = params.get("_meta");
    let meta_version = meta.and_then(|m| m.get(PROTOCOL_VERSION_KEY));
    let header_version = ctx.header("mcp-protocol-version").map(str::trim);
    let modern = meta_version.is_some()
        || method == "server/discover"
        || header_version.is_some_and(|h| MODERN_VERSIONS.contains(&h));
    if !modern {
        if let Some(h) = header_version {
            check_known_version(h)?;
        }
        return Ok(Era::Handshake);
    }
    let Some(meta) = meta.and_then(Value::as_object) else {
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!("params._meta must be an object carrying `{PROTOCOL_VERSION_KEY}` and `{CLIENT_CAPABILITIES_KEY}`"),
        ));
    };
    let missing: Vec<&str> =
        [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY].into_iter().filter(|k| !meta.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(RpcError::new(INVALID_PARAMS, format!("params._meta is missing {}", missing.join(", "))));
    }
    let version = &meta[PROTOCOL_VERSION_KEY];
    if !ctx.headers.is_empty() {
        if header_version.map(|h| json!(h)).as_ref() != Some(version) {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                "MCP-Protocol-Version header does not match the request's protocol version",
            ));
        }
        // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
        if ctx.header("mcp-method").map(str::trim) != Some(method) {
            return Err(RpcError::new(HEADER_MISMATCH, "Mcp-Method header does not match the request's method"));
        }
        if let Some(key) = name_param(method) {
            if let Some(body_value) = params.get(key).and_then(Value::as_str) {
                if ctx.header("mcp-name").map(str::trim).and_then(decode_header_value).as_deref() != Some(body_value) {
                    return Err(RpcError::new(
                        HEADER_MISMATCH,
                        format!("Mcp-Name header does not match the request's `{key}`"),
                    ));
                }
            }
        }
    }
    let Some(version) = version.as_str() else {
        return Err(RpcError::new(INVALID_PARAMS, "the protocol version in _meta must be a string"));
    };
    if !MODERN_VERSIONS.contains(&version) {
        return Err(unsupported(version, &MODERN_VERSIONS));
    }
    let client_surface =
        meta.get(CLIENT_INFO_KEY).and_then(|ci| ci.get("name")).and_then(Value::as_str).and_then(surface_of_client);
    Ok(Era::Modern { client_surface })
}

/// Stateless-era errors: a resource that does not exist is "invalid params" from 2026-07-28 on (SEP-2164); the
/// handshake era keeps the `-32002` its revisions define.
pub fn stamp_error(mut e: RpcError) -> RpcError {
    if e.code == RESOURCE_NOT_FOUND {
        e.code = INVALID_PARAMS;
    }
    e
}

/// Stateless-era results say they are complete, name the server, and give list results a cache lifetime.
pub fn stamp_result(method: &str, result: &mut Reply) {
    let cacheable = matches!(
        method,
        "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "resources/directory/read"
            | "skills/list"
            | "skills/get"
    );
    let server_info = json!({"name": "skillport", "version": env!("CARGO_PKG_VERSION")});
    match result {
        Reply::Value(result) => {
            let Some(obj) = result.as_object_mut() else { return };
            obj.insert("resultType".into(), json!("complete"));
            if cacheable {
                obj.insert("ttlMs".into(), json!(0));
                obj.insert("cacheScope".into(), json!("private"));
            }
            let meta = obj.entry("_meta").or_insert_with(|| json!({}));
            if let Some(m) = meta.as_object_mut() {
                m.insert(SERVER_INFO_KEY.into(), server_info);
            }
        }
        Reply::Raw(obj) => {
            obj.insert("resultType", &json!("complete"));
            if cacheable {
                obj.insert("ttlMs", &json!(0));
                obj.insert("cacheScope", &json!("private"));
            }
            let mut meta = obj.get("_meta").unwrap_or(json!({}));
            if let Some(m) = meta.as_object_mut() {
                m.insert(SERVER_INFO_KEY.into(), server_info);
            }
            obj.insert("_meta", &meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_decode() {
        assert_eq!(decode_header_value("list_plugins").as_deref(), Some("list_plugins"));
        assert_eq!(decode_header_value("=?base64?w6k=?=").as_deref(), Some("é"));
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }

    #[test]
    fn list_results_carry_cache_hints() {
        for method in ["tools/list", "prompts/list", "resources/list", "resources/templates/list", "skills/list"] {
            let mut r = Reply::Value(json!({"items": []}));
            stamp_result(method, &mut r);
            let r = r.into_value();
            assert_eq!((r["ttlMs"].clone(), r["cacheScope"].clone()), (json!(0), json!("private")), "{method}");
            assert_eq!(r["resultType"], "complete");
        }
    }
}
