//! The legacy HTTP+SSE transport (protocol 2024-11-05) at `/sse`: `GET /sse` opens an event stream whose first
//! event names the URL to POST messages to; each POSTed message is answered with `202 Accepted` and its response
//! travels as an `event: message` on that stream.
//!
//! Framing and the message step are here, transport-free; holding the open stream between requests needs a
//! Durable Object on Workers (`platform::sse`).

use super::{handle_message, Context, Outcome};
use crate::config::Surface;
use crate::http::HttpResponse;
use serde_json::Value;

/// Where a session's messages are POSTed.
pub fn message_path(session: &str) -> String {
    format!("/sse/message?sessionId={session}")
}

/// The first event of a stream.
pub fn endpoint_event(session: &str) -> String {
    format!("event: endpoint\ndata: {}\n\n", message_path(session))
}

/// One JSON-RPC message as an SSE event. JSON never holds a raw newline, so one `data:` line suffices.
pub fn message_event(msg: &Value) -> String {
    format!("event: message\ndata: {}\n\n", serde_json::to_string(msg).unwrap_or_default())
}

/// A comment line keeps idle connections (and the proxies between) from timing out.
pub const KEEPALIVE: &str = ": keepalive\n\n";

/// A session id as we issue them (a Durable Object id: 64 lower-case hex digits); anything else is refused before
/// it reaches the namespace.
pub fn valid_session_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The session id from a `/sse/message?sessionId=…` query.
pub fn session_from_query(query: &str) -> Option<&str> {
    query.split('&').find_map(|kv| kv.strip_prefix("sessionId=")).filter(|id| valid_session_id(id))
}

/// What one POSTed message produces: the HTTP answer to the POST, the event to push on the stream (if any), and the
/// surface the client declared when the message was `initialize`.
pub struct Step {
    pub http: HttpResponse,
    pub event: Option<String>,
    pub declared_surface: Option<Option<Surface>>,
}

pub fn step(ctx: &Context<'_>, body: &[u8]) -> Step {
    let msg: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let err = super::error(Value::Null, super::PARSE_ERROR, format!("parse error: {e}"));
            return Step { http: HttpResponse::json(400, &err), event: None, declared_surface: None };
        }
    };
    let declared_surface = (msg.get("method").and_then(Value::as_str) == Some("initialize"))
        .then(|| msg.pointer("/params/clientInfo/name").and_then(Value::as_str).and_then(super::surface_of_client));
    let event = match handle_message(ctx, &msg) {
        Outcome::Accepted => None,
        Outcome::Response { body, .. } => Some(message_event(&body)),
    };
    Step { http: HttpResponse::text(202, "Accepted"), event, declared_surface }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(endpoint_event("ab"), "event: endpoint\ndata: /sse/message?sessionId=ab\n\n");
        let e = message_event(&serde_json::json!({"a": "x\ny"}));
        assert_eq!(e.matches('\n').count(), 3, "{e:?}");
        let id = "a".repeat(64);
        assert_eq!(session_from_query(&format!("x=1&sessionId={id}")), Some(id.as_str()));
        assert_eq!(session_from_query("sessionId=../../x"), None);
        assert_eq!(session_from_query("sessionId=ABC"), None);
    }
}
