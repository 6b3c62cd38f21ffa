//! MCP message handling end to end: the App built once from the embedded default configuration (the example
//! marketplace, `local` sign-in), then each input POSTed to `/mcp` through `App::handle`, as the Worker does.
//!
//! Input: byte 0 chooses request headers, the rest is the body.
//! - bits 0-2: `MCP-Protocol-Version`: none, one of the five known revisions, `2026-07-28` again, or garbage;
//! - bit 3: `Mcp-Method` mirrors the body's `method`, bit 4: `Mcp-Name` mirrors `params.name` / `params.uri`
//!   (base64-encoded when bit 7 is set), so the stateless era's header checks pass and its methods are reached;
//! - bits 5-6: `Mcp-Session-Id`: none, or a session of Claude Code, Claude Desktop or Claude.ai.
//!
//! Invariants: no panic; the status is one the transport documents; every response but 202 is a JSON-RPC 2.0
//! object with exactly one of `result` and `error`, whose `id` echoes a valid request id; notifications get 202.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use skillport::http::HttpRequest;
use skillport::App;
use std::collections::BTreeMap;

const VERSIONS: [&str; 8] =
    ["", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "2026-07-28", "2026-07-28", "1999-\u{e9}"];
const SESSIONS: [&str; 4] = ["", "sp1.cc.000000000000000000000000", "sp1.cd.000000000000000000000000", "sp1.cai.0"];

thread_local! {
    // Built once (the fuzzer runs every input on this one thread) and only read afterwards.
    static APP: &'static App = {
        // `auth.open`: answer loopback requests without a token, so every message reaches the MCP layer.
        let env: BTreeMap<String, String> = [("SKILLPORT_AUTH__OPEN".to_string(), "true".to_string())].into();
        let app = skillport::testing::block_on(App::from_env(&env));
        assert!(app.config.is_ok(), "the embedded default configuration is valid");
        Box::leak(Box::new(app))
    };
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let mut req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost:8787")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(body.to_vec());
    let version = VERSIONS[usize::from(selector & 7)];
    if !version.is_empty() {
        req = req.with_header("mcp-protocol-version", version);
    }
    let session = SESSIONS[usize::from((selector >> 5) & 3)];
    if !session.is_empty() {
        req = req.with_header("mcp-session-id", session);
    }
    let msg: Option<Value> = serde_json::from_slice(body).ok();
    if selector & 8 != 0 {
        if let Some(method) = msg.as_ref().and_then(|m| m.get("method")).and_then(Value::as_str) {
            req = req.with_header("mcp-method", method);
        }
    }
    if selector & 16 != 0 {
        let params = msg.as_ref().and_then(|m| m.get("params"));
        if let Some(name) = params.and_then(|p| p.get("name").or_else(|| p.get("uri"))).and_then(Value::as_str) {
            let value =
                if selector & 128 != 0 { format!("=?base64?{}?=", base64(name.as_bytes())) } else { name.to_string() };
            req = req.with_header("mcp-name", &value);
        }
    }

    let resp = APP.with(|app| app.handle(&req));
    assert!(matches!(resp.status, 200 | 202 | 400 | 404), "unexpected status {}", resp.status);
    if resp.status == 202 {
        assert!(resp.body.is_empty());
        let msg = msg.expect("202 only for a message that parsed");
        assert!(msg.get("id").is_none() || msg.get("method").is_none(), "a request with an id got 202");
        return;
    }
    let out: Value = serde_json::from_slice(&resp.body).expect("the answer is JSON");
    assert_eq!(out["jsonrpc"], "2.0");
    let has_result = out.get("result").is_some();
    let has_error = out.get("error").is_some();
    assert!(has_result != has_error, "exactly one of result and error: {out}");
    if has_error {
        assert!(out["error"]["code"].is_i64() && out["error"]["message"].is_string(), "{out}");
    }
    let id = &out["id"];
    if version.starts_with("1999") {
        // Refused first; the request's own id is echoed when its body could be read.
        let sent = msg.as_ref().and_then(|m| m.get("id"));
        assert_eq!(resp.status, 400, "an unknown MCP-Protocol-Version is refused first");
        assert!(id.is_null() || Some(id) == sent, "the refusal's id {id} is neither null nor the request's");
        return;
    }
    assert!(id.is_null() || id.is_string() || id.is_number(), "id {id}");
    if let Some(sent) = msg.as_ref().and_then(|m| m.get("id")).filter(|i| i.is_string() || i.is_number()) {
        if sent.is_f64() && id.is_null() {
            // A numeric id that could not be echoed exactly (fractional, or past 64 bits) is an invalid request.
            assert_eq!(out["error"]["code"], -32600, "an id that cannot be echoed is refused as invalid: {out}");
        } else if sent.is_f64() {
            // A fractional or out-of-range numeric id goes through f64 and comes back in its shortest form, which
            // serde_json (without `float_roundtrip`) may read back one ulp off: compare as numbers, loosely.
            let (a, b) = (id.as_f64().expect("a numeric id stays numeric"), sent.as_f64().unwrap_or(0.0));
            assert!((a - b).abs() <= a.abs().max(b.abs()) * 1e-12, "the response id {a} is not the request's {b}");
        } else {
            assert_eq!(id, sent, "the response id echoes the request's");
        }
    }
});
