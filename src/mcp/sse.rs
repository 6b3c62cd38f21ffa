//! The legacy HTTP+SSE transport (protocol 2024-11-05) at `/sse`: `GET /sse` opens an event stream whose first
//! event names the URL to POST messages to; each POSTed message is answered with `202 Accepted` and its response
//! travels as an `event: message` on that stream.
//!
//! Framing and the message step are here, transport-free; holding the open stream between requests needs a
//! Durable Object on Workers (`platform::sse`).

use super::{handle_message, Context, Outcome};
use crate::config::Surface;
use crate::http::HttpResponse;
use futures_channel::mpsc::{unbounded, UnboundedSender};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::cell::Cell;
use std::rc::Rc;

/// Where a session's messages are POSTed.
pub fn message_path(session: &str) -> String {
    format!("/sse/message?sessionId={session}")
}

/// The first event of a stream.
pub fn endpoint_event(session: &str) -> String {
    format!("event: endpoint\ndata: {}\n\n", message_path(session))
}

/// One JSON-RPC message as an SSE event. JSON never holds a raw newline, so one `data:` line suffices.
pub fn message_event(msg: &super::Reply) -> String {
    format!("event: message\ndata: {}\n\n", String::from_utf8(msg.to_vec()).unwrap_or_default())
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

/// The bytes queued on one stream that the runtime has not yet taken for the connection. A client that reads its
/// stream keeps this near zero; one that stops reading makes it grow with every answer, so the session refuses new
/// messages while it is at or over its budget (`server.sse_backlog_bytes`).
#[derive(Debug)]
struct Backlog {
    bytes: Cell<usize>,
    budget: usize,
}

/// The sending half of one open stream: events go into a queue that the runtime drains as fast as the client reads.
/// The queue itself is unbounded, but nothing is added while [`Outbox::has_room`] is false (the caller refuses the
/// message instead), so a session holds at most its budget plus one answer.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: UnboundedSender<Vec<u8>>,
    backlog: Rc<Backlog>,
}

impl Outbox {
    /// A new stream with a backlog budget of `budget` bytes: the outbox, and the stream of bytes to answer `GET /sse`
    /// with. The stream ends when every clone of the outbox is dropped.
    pub fn open(budget: usize) -> (Outbox, impl Stream<Item = Vec<u8>>) {
        let (tx, rx) = unbounded::<Vec<u8>>();
        let backlog = Rc::new(Backlog { bytes: Cell::new(0), budget });
        let drained = backlog.clone();
        let stream = rx.map(move |chunk| {
            drained.bytes.set(drained.bytes.get().saturating_sub(chunk.len()));
            chunk
        });
        (Outbox { tx, backlog }, stream)
    }

    /// Whether a new message may be accepted: what waits for the client is under the budget.
    pub fn has_room(&self) -> bool {
        self.backlog.bytes.get() < self.backlog.budget
    }

    /// Bytes queued and not yet taken by the runtime.
    pub fn backlog_bytes(&self) -> usize {
        self.backlog.bytes.get()
    }

    /// Queues `event` whatever the backlog (check [`Outbox::has_room`] before doing the work that produces it).
    /// False when the stream is closed (its client went away, or a newer stream replaced it).
    pub fn push(&self, event: Vec<u8>) -> bool {
        let len = event.len();
        if self.tx.unbounded_send(event).is_err() {
            return false;
        }
        self.backlog.bytes.set(self.backlog.bytes.get().saturating_add(len));
        true
    }

    /// Queues a keep-alive comment, unless bytes are already waiting (then the connection is not idle, and a stalled
    /// reader would only pile them up). False when the stream is closed.
    pub fn keepalive(&self) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        self.backlog_bytes() > 0 || self.push(KEEPALIVE.as_bytes().to_vec())
    }
}

/// How long a client whose stream is backed up is asked to wait before posting again.
pub const BACKLOG_RETRY_AFTER_SECONDS: u64 = 1;

/// The answer to a message posted while its session's stream is backed up ([`Outbox::has_room`] is false). The
/// message was not processed, so sending it again later is safe; the answers already queued stay deliverable.
/// 429 rather than 503: the condition is the client's own (it posts faster than it reads), not the server's.
pub fn backlog_full() -> HttpResponse {
    HttpResponse::text(
        429,
        "this SSE session's stream has too many unread answers; read the stream, then send the message again\n",
    )
    .header("retry-after", &BACKLOG_RETRY_AFTER_SECONDS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(endpoint_event("ab"), "event: endpoint\ndata: /sse/message?sessionId=ab\n\n");
        let e = message_event(&serde_json::json!({"a": "x\ny"}).into());
        assert_eq!(e.matches('\n').count(), 3, "{e:?}");
        let id = "a".repeat(64);
        assert_eq!(session_from_query(&format!("x=1&sessionId={id}")), Some(id.as_str()));
        assert_eq!(session_from_query("sessionId=../../x"), None);
        assert_eq!(session_from_query("sessionId=ABC"), None);
    }

    /// Takes what the runtime would take now (every event queued), as its pull does.
    fn drain(stream: &mut (impl Stream<Item = Vec<u8>> + Unpin)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while let std::task::Poll::Ready(Some(chunk)) = stream.poll_next_unpin(&mut cx) {
            out.extend(chunk);
        }
        out
    }

    #[test]
    fn a_stream_that_is_not_read_refuses_new_messages_once_over_budget() {
        let (outbox, stream) = Outbox::open(100);
        let mut stream = Box::pin(stream);
        let event = vec![b'x'; 40];
        let mut accepted = 0;
        while outbox.has_room() {
            assert!(outbox.push(event.clone()));
            accepted += 1;
        }
        // 0, 40, 80 are under 100: three answers, 120 bytes held, then refusals.
        assert_eq!((accepted, outbox.backlog_bytes()), (3, 120));
        // Nothing was lost: a reader that comes back gets every answer, and the session accepts again.
        assert_eq!(drain(&mut stream).len(), 120);
        assert_eq!(outbox.backlog_bytes(), 0);
        assert!(outbox.has_room());
        let refused = backlog_full();
        assert_eq!(refused.status, 429);
        assert_eq!(refused.get_header("retry-after"), Some("1"));
    }

    #[test]
    fn a_reading_client_never_reaches_the_budget() {
        let (outbox, stream) = Outbox::open(100);
        let mut stream = Box::pin(stream);
        for _ in 0..1000 {
            assert!(outbox.has_room());
            assert!(outbox.push(vec![b'y'; 90]));
            assert_eq!(drain(&mut stream).len(), 90);
        }
        // One answer larger than the whole budget is still delivered when nothing else waits.
        assert!(outbox.has_room() && outbox.push(vec![b'z'; 1000]));
        assert!(!outbox.has_room());
        assert_eq!(drain(&mut stream).len(), 1000);
        assert!(outbox.has_room());
    }

    #[test]
    fn keepalives_are_only_queued_on_an_idle_stream_and_stop_when_it_closes() {
        let (outbox, stream) = Outbox::open(100);
        let mut stream = Box::pin(stream);
        assert!(outbox.keepalive());
        assert!(outbox.keepalive(), "the first one is not read yet: nothing added");
        assert_eq!(drain(&mut stream), KEEPALIVE.as_bytes());
        assert!(outbox.keepalive());
        assert_eq!(drain(&mut stream), KEEPALIVE.as_bytes());
        drop(stream);
        assert!(!outbox.keepalive());
        assert!(!outbox.push(b"late".to_vec()));
        assert_eq!(outbox.backlog_bytes(), 0);
    }

    #[test]
    fn the_stream_ends_when_every_outbox_is_dropped() {
        let (outbox, stream) = Outbox::open(100);
        let mut stream = Box::pin(stream);
        let keeper = outbox.clone();
        assert!(outbox.push(b"a".to_vec()));
        drop(outbox);
        assert!(keeper.push(b"b".to_vec()));
        drop(keeper);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert_eq!(stream.poll_next_unpin(&mut cx), std::task::Poll::Ready(Some(b"a".to_vec())));
        assert_eq!(stream.poll_next_unpin(&mut cx), std::task::Poll::Ready(Some(b"b".to_vec())));
        assert_eq!(stream.poll_next_unpin(&mut cx), std::task::Poll::Ready(None));
    }
}
