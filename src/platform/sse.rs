//! Legacy HTTP+SSE sessions on Workers. A stream and the POSTs that answer on it may reach different isolates, so
//! each session is a Durable Object (id = session id) that holds the open stream's sender; the message step itself
//! is `mcp::sse`, shared with native tests.

use super::app;
use super::convert::to_worker;
use crate::config::Surface;
use crate::http::{HttpRequest, HttpResponse};
use crate::mcp::sse as proto;
use skillport_providers::Identity;
use std::cell::{Cell, RefCell};
use worker::{durable_object, Delay, Env, Method, Request, RequestInit, Response, Result, State};

pub const BINDING: &str = "SSE_SESSIONS";

fn stub_for(env: &Env, session: Option<&str>) -> Result<(String, worker::Stub)> {
    let ns = env.durable_object(BINDING)?;
    let id = match session {
        Some(s) => ns.id_from_string(s)?,
        None => ns.unique_id()?,
    };
    let name = id.to_string();
    Ok((name, id.get_stub()?))
}

/// The header that carries the signed-in identity from the Worker to the session object (internal only: a Durable
/// Object is reachable from this Worker alone).
const IDENTITY_HEADER: &str = "x-skillport-identity";

fn with_identity(req: Request, identity: &Identity) -> Result<Request> {
    let mut req = req;
    let json = serde_json::to_string(identity).map_err(|e| worker::Error::RustError(e.to_string()))?;
    req.headers_mut()?.set(IDENTITY_HEADER, &json)?;
    Ok(req)
}

fn identity_of(req: &Request) -> Option<Identity> {
    let raw = req.headers().get(IDENTITY_HEADER).ok().flatten()?;
    serde_json::from_str(&raw).ok()
}

/// Who owns a session: the provider and subject of the user who opened it.
fn owner(identity: &Identity) -> String {
    format!("{}\u{0}{}", identity.provider, identity.subject)
}

/// `GET /sse`: a new session and its stream, owned by the signed-in user.
pub async fn open(env: &Env, identity: &Identity) -> Result<Response> {
    let (session, stub) = stub_for(env, None)?;
    let req = Request::new(&format!("https://sse.internal/open?session={session}"), Method::Get)?;
    stub.fetch_with_request(with_identity(req, identity)?).await
}

/// `POST /sse/message?sessionId=…`: hand the message to the session's object.
pub async fn deliver(env: &Env, session: &str, identity: &Identity, hreq: HttpRequest) -> Result<Response> {
    let (_, stub) = match stub_for(env, Some(session)) {
        Ok(s) => s,
        Err(_) => return to_worker(HttpResponse::text(404, "unknown SSE session; open a new stream with GET /sse\n")),
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(js_sys::Uint8Array::from(hreq.body.as_slice()).into()));
    let req = Request::new_with_init("https://sse.internal/message", &init)?;
    stub.fetch_with_request(with_identity(req, identity)?).await
}

#[durable_object(fetch)]
pub struct SseSession {
    env: Env,
    /// The open stream's queue, with its backlog budget (`server.sse_backlog_bytes`).
    outbox: RefCell<Option<proto::Outbox>>,
    surface: Cell<Option<Surface>>,
    /// The user who opened the stream; only they may post to it.
    owner: RefCell<Option<String>>,
}

impl worker::DurableObject for SseSession {
    fn new(_state: State, env: Env) -> Self {
        SseSession { env, outbox: RefCell::new(None), surface: Cell::new(None), owner: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let Some(identity) = identity_of(&req) else {
            return to_worker(HttpResponse::text(401, "sign-in required\n"));
        };
        match url.path() {
            "/open" => {
                *self.owner.borrow_mut() = Some(owner(&identity));
                let session =
                    url.query_pairs().find(|(k, _)| k == "session").map(|(_, v)| v.into_owned()).unwrap_or_default();
                let budget =
                    app(&self.env).await.config.as_ref().map(|c| c.server.sse_backlog_bytes).unwrap_or(1 << 20);
                let (outbox, stream) = proto::Outbox::open(usize::try_from(budget).unwrap_or(usize::MAX));
                outbox.push(proto::endpoint_event(&session).into_bytes());
                *self.outbox.borrow_mut() = Some(outbox.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    loop {
                        Delay::from(std::time::Duration::from_secs(15)).await;
                        if !outbox.keepalive() {
                            break;
                        }
                    }
                });
                let stream = futures_util::StreamExt::map(stream, Ok::<Vec<u8>, worker::Error>);
                let headers = worker::Headers::new();
                headers.set("content-type", "text/event-stream")?;
                headers.set("cache-control", "no-cache, no-transform")?;
                Ok(Response::from_stream(stream)?.with_headers(headers))
            }
            "/message" => {
                if self.owner.borrow().as_deref() != Some(owner(&identity).as_str()) {
                    // Not this user's stream (or the object was evicted and forgot it): as if it did not exist.
                    return to_worker(HttpResponse::text(
                        404,
                        "unknown SSE session; open a new stream with GET /sse\n",
                    ));
                }
                let body = req.bytes().await?;
                let app = app(&self.env).await;
                let Ok(cfg) = app.config.as_ref() else {
                    return to_worker(HttpResponse::text(500, "configuration invalid\n"));
                };
                // Checked after the last await, so that no other message can fill the queue between this check and
                // the answer below being queued. Refused unprocessed: the client may send it again once it reads.
                if self.outbox.borrow().as_ref().is_some_and(|o| !o.has_room()) {
                    return to_worker(proto::backlog_full());
                }
                let mut ctx = app.mcp_context(cfg, &[], &identity);
                ctx.client_surface = self.surface.get();
                let step = proto::step(&ctx, &body);
                if let Some(declared) = step.declared_surface {
                    self.surface.set(declared);
                }
                if let Some(event) = step.event {
                    let sent = self.outbox.borrow().as_ref().map(|o| o.push(event.into_bytes()));
                    if sent != Some(true) {
                        return to_worker(HttpResponse::text(
                            410,
                            "this SSE session's stream is closed; open a new one with GET /sse\n",
                        ));
                    }
                }
                super::flush_audit();
                to_worker(step.http)
            }
            _ => to_worker(HttpResponse::text(404, "not found\n")),
        }
    }
}
