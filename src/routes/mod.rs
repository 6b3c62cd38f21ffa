//! The routing table: every endpoint the connector answers, one line each (methods, path, CORS, guards, handler),
//! and the few lines that run a request through it.
//!
//! A request goes: the configuration validated ([`guards::configured`]), `local`'s loopback rule
//! ([`guards::loopback_only`]), then the first line of [`ROUTES`] whose path matches. That line's guards run in the
//! order listed, then its method is checked, then its handler answers. Whatever stops a request early is a
//! [`Refusal`], turned into a response in one place ([`Refusal::into_response`]); CORS headers go on the answer
//! last, for the lines that allow cross-origin calls ([`guards::cors`]). The order is behaviour: which check runs
//! first decides which 4xx a bad request gets.
//!
//! Handlers here are adapters of a few lines: each calls the module of its concern (`oauth`, `mcp`, `status`,
//! `download`, `webhooks`), which knows nothing of routing.

pub mod guards;
pub mod paths;
mod refusal;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::flow::SignIn;
use crate::oauth::{GrantStore, OAuthServer, Random};
use crate::signin::SignInSetup;
use crate::App;
use guards::Guard::{self, Origin, Preflight, SignInPage, SignInReady, SignedIn};
pub use refusal::{Refusal, SSE_ALLOW};
use skillport_http::HttpClient;
use skillport_providers::Identity;
use std::future::Future;
use std::pin::Pin;

/// Every endpoint. The first line whose path matches takes the request; the last line takes the rest.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    //     methods          path                                     CORS   guards                                         handler
    route(ANY,              Path::Exact(paths::MCP),                 true,  &[Origin, Preflight, SignInReady, SignedIn],  mcp),
    route(Methods::SSE_GET, Path::Exact(paths::SSE),                 true,  &[Origin, Preflight, SignInReady, SignedIn],  sse_open),
    route(Methods::SSE_POST,Path::Exact(paths::SSE_MESSAGE),         true,  &[Origin, Preflight, SignInReady, SignedIn],  sse_message),
    route(GET_ELSE_404,     Path::Exact(paths::AUTHORIZATION_SERVER),true,  &[Preflight],                                 discovery),
    route(GET_ELSE_404,     Path::Exact(paths::OPENID_CONFIGURATION),true,  &[Preflight],                                 discovery),
    route(GET_ELSE_404,     Path::ResourceMetadata,                  true,  &[Preflight],                                 discovery),
    route(ANY,              Path::Prefix(paths::HOOKS_PREFIX),       false, &[Preflight],                                 webhook),
    route(POST,             Path::Exact(paths::REGISTER),            true,  &[Preflight, SignInReady],                    register),
    route(POST,             Path::Exact(paths::TOKEN),               true,  &[Preflight, SignInReady],                    token),
    route(POST,             Path::Exact(paths::REVOKE),              true,  &[Preflight, SignInReady],                    revoke),
    route(GET,              Path::Exact(paths::AUTHORIZE),           false, &[Preflight, SignInReady],                    authorize),
    route(GET,              Path::Exact(paths::CALLBACK),            false, &[Preflight, SignInReady],                    callback),
    route(POST,             Path::Exact(paths::CONSENT),             false, &[Preflight, SignInReady],                    consent),
    route(GET_ELSE_404,     Path::Exact(paths::STATUS),              false, &[Preflight, SignInPage],                     status),
    route(GET_ELSE_404,     Path::Exact(paths::STATUS_CALLBACK),     false, &[Preflight, SignInPage],                     status_callback),
    route(GET_ELSE_404,     Path::Prefix(paths::DOWNLOAD_PREFIX),    false, &[Preflight],                                 download),
    route(GET_ELSE_404,     Path::Exact(paths::ROOT),                false, &[Preflight],                                 home),
    route(ANY,              Path::Any,                               false, &[Preflight],                                 not_found),
];

/// One line of the table.
pub struct Route {
    pub methods: Methods,
    pub path: Path,
    /// Whether a browser page on another origin may read the answer (see [`guards::cors`]).
    pub cors: bool,
    pub guards: &'static [Guard],
    pub handler: Handler,
}

const fn route(methods: Methods, path: Path, cors: bool, guards: &'static [Guard], handler: Handler) -> Route {
    Route { methods, path, cors, guards, handler }
}

/// Which paths a line takes.
#[derive(Debug, Clone, Copy)]
pub enum Path {
    Exact(&'static str),
    /// The path and everything under it (`/download/<token>`, `/hooks/<id>`).
    Prefix(&'static str),
    /// The protected resource metadata: bare, or followed by the path of a resource we protect.
    ResourceMetadata,
    Any,
}

impl Path {
    pub fn matches(self, path: &str) -> bool {
        match self {
            Path::Exact(p) => path == p,
            Path::Prefix(p) => path.starts_with(p),
            Path::ResourceMetadata => crate::oauth::metadata::protected_resource_path_for(path).is_some(),
            Path::Any => true,
        }
    }
}

/// Which method a line takes, and what a request with another one gets.
#[derive(Debug, Clone, Copy)]
pub enum Methods {
    /// The handler takes every method (the MCP transport and the webhooks answer the others themselves).
    Any,
    /// Only this one.
    Only(&'static str, Otherwise),
}

/// What a request with another method gets.
#[derive(Debug, Clone, Copy)]
pub enum Otherwise {
    /// 405 with this `Allow`.
    Allow(&'static str),
    /// 404: under another method the document or page does not exist.
    NotFound,
}

impl Methods {
    const SSE_GET: Methods = Methods::Only("GET", Otherwise::Allow(SSE_ALLOW));
    const SSE_POST: Methods = Methods::Only("POST", Otherwise::Allow(SSE_ALLOW));
}

const ANY: Methods = Methods::Any;
/// An endpoint: another method gets a 405 naming this one.
const GET: Methods = Methods::Only("GET", Otherwise::Allow("GET"));
const POST: Methods = Methods::Only("POST", Otherwise::Allow("POST"));
/// A document or page.
const GET_ELSE_404: Methods = Methods::Only("GET", Otherwise::NotFound);

/// What a handler answers: an action for the platform, or a refusal.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Action, Refusal>> + 'a>>;
pub type Handler = for<'a> fn(Cx<'a>) -> Reply<'a>;

/// What the platform must do with a request.
#[derive(Debug)]
pub enum Action {
    Respond(HttpResponse),
    /// Answer, then refresh this marketplace off the response, whatever its copy's age (an accepted webhook).
    RespondThenRefresh {
        response: HttpResponse,
        marketplace: String,
    },
    /// Open a legacy SSE stream (a new session) for the signed-in user.
    OpenSse {
        identity: Identity,
    },
    /// Deliver a POSTed message to the SSE session that holds the stream; only its owner may.
    SseMessage {
        session: String,
        identity: Identity,
    },
}

/// What a request is served with beyond the app itself: the platform's storage, network, randomness and clock.
pub struct Services<'a> {
    /// Clients, codes, grants and tokens (a Durable Object in the Worker).
    pub grants: &'a dyn GrantStore,
    /// Outbound HTTP (identity providers, client metadata documents).
    pub http: &'a dyn HttpClient,
    pub rng: &'a dyn Random,
    /// Unix seconds.
    pub now: u64,
}

/// One request on its way through the table: what guards and handlers read.
pub struct Cx<'a> {
    pub app: &'a App,
    pub cfg: &'a Config,
    pub req: &'a HttpRequest,
    pub svc: &'a Services<'a>,
    /// Set by the [`Guard::SignedIn`] guard.
    identity: Option<Identity>,
}

impl<'a> Cx<'a> {
    /// The identity provider and OAuth keys.
    pub fn setup(&self) -> Result<&'a SignInSetup, Refusal> {
        self.app.signin.as_ref().map_err(|e| Refusal::SignInNotSetUp(e.clone()))
    }

    /// The OAuth endpoints for this request.
    pub fn oauth(&self) -> Result<OAuthServer<'a>, Refusal> {
        let setup = self.setup()?;
        Ok(OAuthServer {
            store: self.svc.grants,
            keys: &setup.keys,
            rng: self.svc.rng,
            public_url: &self.cfg.server.public_url,
            settings: setup.settings,
        })
    }

    /// The browser sign-in flow for this request.
    fn flow(&self) -> Result<SignIn<'a>, Refusal> {
        Ok(SignIn {
            oauth: self.oauth()?,
            upstream: self.setup()?.upstream(),
            http: self.svc.http,
            server_name: &self.cfg.server.name,
            now: self.svc.now,
        })
    }

    /// Who signed in: what the [`Guard::SignedIn`] guard found (asked again if a line forgot the guard).
    async fn identity(&mut self) -> Result<Identity, Refusal> {
        match self.identity.take() {
            Some(identity) => Ok(identity),
            None => guards::signed_in(self).await,
        }
    }
}

/// Runs `req` through the table (after the configuration and `local`'s loopback rule, which every request passes).
pub async fn serve(app: &App, req: &HttpRequest, svc: &Services<'_>) -> Action {
    let cfg = match guards::configured(&app.config) {
        Ok(cfg) => cfg,
        Err(refusal) => return Action::Respond(refusal.into_response()),
    };
    if let Err(refusal) = guards::loopback_only(cfg, req) {
        return Action::Respond(refusal.into_response());
    }
    let Some(route) = ROUTES.iter().find(|r| r.path.matches(&req.path)) else {
        return Action::Respond(Refusal::NotFound.into_response());
    };
    let answered = run(route, Cx { app, cfg, req, svc, identity: None }).await;
    match answered {
        Ok(Action::Respond(resp)) => Action::Respond(guards::cors(req, route.cors, resp)),
        Ok(other) => other,
        Err(refusal) => Action::Respond(guards::cors(req, route.cors, refusal.into_response())),
    }
}

/// Whether serving `req` under `config` may read the catalogue. Only these never do: the discovery documents, the
/// OAuth endpoints, the home page, and one MCP message (not a batch) that is `tools/list` or `ping`, or `initialize`
/// or `server/discover` when no access rule sets an install policy (their instructions then name no plugin). A
/// fresh isolate answers them before its catalogue is loaded (`App::without_catalogue`); `routes::tests` checks
/// that such an app gives the same answers.
pub fn reads_catalogue(req: &HttpRequest, config: Option<&Config>) -> bool {
    let Some(route) = ROUTES.iter().find(|r| r.path.matches(&req.path)) else { return true };
    match route.path {
        Path::ResourceMetadata => false,
        Path::Exact(paths::MCP) => {
            let policies = config.is_none_or(|c| c.access.rules.iter().any(|r| r.policy.is_some()));
            let method = if req.method == "POST" { single_method(&req.body) } else { None };
            match method.as_deref() {
                Some("tools/list" | "ping") => false,
                Some("initialize" | "server/discover") => policies,
                _ => true,
            }
        }
        Path::Exact(p) => ![
            paths::AUTHORIZATION_SERVER,
            paths::OPENID_CONFIGURATION,
            paths::REGISTER,
            paths::TOKEN,
            paths::REVOKE,
            paths::AUTHORIZE,
            paths::CALLBACK,
            paths::CONSENT,
            paths::ROOT,
        ]
        .contains(&p),
        _ => true,
    }
}

/// The `method` of a single JSON-RPC message (`None` for a batch or anything else).
fn single_method(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Message {
        method: Option<String>,
    }
    serde_json::from_slice::<Message>(body).ok()?.method
}

async fn run(route: &Route, mut cx: Cx<'_>) -> Result<Action, Refusal> {
    for guard in route.guards {
        guard.check(&mut cx).await?;
    }
    if let Methods::Only(method, otherwise) = route.methods {
        if cx.req.method != method {
            return Err(match otherwise {
                Otherwise::Allow(allow) => Refusal::MethodNotAllowed(allow),
                Otherwise::NotFound => Refusal::NotFound,
            });
        }
    }
    (route.handler)(cx).await
}

fn respond(resp: HttpResponse) -> Result<Action, Refusal> {
    Ok(Action::Respond(resp))
}

// The handlers: each hands the request to the module of its concern.

fn mcp(mut cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move {
        let identity = cx.identity().await?;
        respond(crate::mcp::transport::handle(&cx.app.mcp_context(cx.cfg, &cx.req.headers, &identity), cx.req))
    })
}

fn sse_open(mut cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { Ok(Action::OpenSse { identity: cx.identity().await? }) })
}

fn sse_message(mut cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move {
        let identity = cx.identity().await?;
        match crate::mcp::sse::session_from_query(&cx.req.query) {
            Some(s) => Ok(Action::SseMessage { session: s.to_string(), identity }),
            None => {
                respond(HttpResponse::text(400, "missing or malformed sessionId; open a stream with GET /sse first\n"))
            }
        }
    })
}

fn discovery(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move {
        let doc = cx.app.documents.as_ref().and_then(|d| d.response(&cx.req.path));
        doc.map_or(Err(Refusal::NotFound), respond)
    })
}

/// Webhooks are signed by the sender, not signed in.
fn webhook(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move {
        let handled = crate::webhooks::handle(cx.cfg, cx.req, cx.svc.grants, cx.svc.now).await;
        Ok(match handled.refresh {
            Some(marketplace) => Action::RespondThenRefresh { response: handled.response, marketplace },
            None => Action::Respond(handled.response),
        })
    })
}

fn register(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.oauth()?.handle_register(cx.req, cx.svc.now).await) })
}

fn token(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.oauth()?.handle_token_audited(cx.req, cx.svc.now).await) })
}

fn revoke(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.oauth()?.handle_revoke(cx.req, cx.svc.now).await) })
}

fn authorize(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.flow()?.authorize(cx.req).await) })
}

fn callback(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.flow()?.callback(cx.req).await) })
}

fn consent(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(cx.flow()?.consent(cx.req).await) })
}

fn status(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(
        async move { respond(crate::status::page(cx.cfg, &cx.app.catalogue, &cx.oauth()?, cx.req, cx.svc.now).await) },
    )
}

fn status_callback(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(crate::status::callback_route(cx.cfg, &cx.oauth()?, cx.req, cx.svc.now).await) })
}

/// Not behind sign-in: the signed, short-lived token is the capability (see `download`).
fn download(cx: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { respond(crate::download::serve(cx.cfg, &cx.app.catalogue, &cx.req.path)) })
}

fn home(_: Cx<'_>) -> Reply<'_> {
    Box::pin(async move {
        respond(HttpResponse::text(
            200,
            "Skillport: Claude plugin marketplaces over MCP. Add this server's /mcp URL as a custom connector.\n\
             Administrators: /status (after sign-in) shows the marketplaces and their last refresh.\n",
        ))
    })
}

fn not_found(_: Cx<'_>) -> Reply<'_> {
    Box::pin(async move { Err(Refusal::NotFound) })
}

impl App {
    /// Serves one request: the configuration check, then the routing table.
    pub async fn serve(&self, req: &HttpRequest, svc: &Services<'_>) -> Action {
        serve(self, req, svc).await
    }

    /// Serves one request natively, with an in-memory grant store kept per thread, no network and the system
    /// clock: for tests and tools.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle(&self, req: &HttpRequest) -> HttpResponse {
        thread_local! {
            static GRANTS: crate::oauth::MemoryGrantStore = crate::oauth::MemoryGrantStore::new();
        }
        GRANTS.with(|grants| {
            let svc = Services {
                grants,
                http: &crate::bundle::NoNetwork,
                rng: &crate::oauth::OsRandom,
                now: crate::clock::now_unix(),
            };
            match crate::testing::block_on(self.serve(req, &svc)) {
                Action::Respond(r) => r,
                // Natively there is no platform to refresh after the response.
                Action::RespondThenRefresh { response, .. } => response,
                Action::OpenSse { .. } | Action::SseMessage { .. } => guards::cors(
                    req,
                    true,
                    HttpResponse::text(501, "the legacy SSE transport needs the Workers runtime (a Durable Object)\n"),
                ),
            }
        })
    }
}
