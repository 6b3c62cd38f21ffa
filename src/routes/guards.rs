//! The checks a request passes before its handler, each a small function the routing table names, and the CORS
//! headers put on the answer. Each returns the [`Refusal`] that stops the request; none builds a response itself.

use super::{Cx, Refusal};
use crate::config::{AuthConfig, Config};
use crate::http::{HttpRequest, HttpResponse};
use crate::signin::Provider;
use skillport_providers::local::is_loopback_host;

/// A check the routing table lists for a route; they run in the order listed, before the method is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// DNS-rebinding protection for the MCP transports: a browser may call them only from an allowed Origin.
    Origin,
    /// A CORS preflight (`OPTIONS`) is answered here, before anything else is asked of it.
    Preflight,
    /// The identity provider and OAuth keys are set up, else 503.
    SignInReady,
    /// The same for a page that needs sign-in: without it the page does not exist (404).
    SignInPage,
    /// The request is signed in: its bearer token, or `local`'s development user (see [`signed_in`]).
    SignedIn,
}

impl Guard {
    pub(super) async fn check(self, cx: &mut Cx<'_>) -> Result<(), Refusal> {
        match self {
            Guard::Origin => origin(cx.cfg, cx.req),
            Guard::Preflight => preflight(cx.req),
            Guard::SignInReady => cx.setup().map(|_| ()),
            Guard::SignInPage => cx.setup().map(|_| ()).map_err(|_| Refusal::NotFound),
            Guard::SignedIn => {
                let identity = signed_in(cx).await?;
                cx.identity = Some(identity);
                Ok(())
            }
        }
    }
}

/// Every request, before the table: the configuration validated.
pub fn configured<C, E>(config: &Result<C, E>) -> Result<&C, Refusal> {
    config.as_ref().map_err(|_| Refusal::ConfigInvalid)
}

/// Every request, before the table: with the `local` provider, every route (pages, OAuth endpoints, discovery,
/// `/mcp`, `/download`, `/status`) answers requests addressed to a loopback host only, all with one refusal: the
/// development user and the development download key must not be reachable under any other name (a DNS-rebinding
/// page, a tunnel, a LAN address).
pub fn loopback_only(cfg: &Config, req: &HttpRequest) -> Result<(), Refusal> {
    if !matches!(cfg.auth, AuthConfig::Local { .. }) || is_loopback_host(req.host()) {
        return Ok(());
    }
    Err(Refusal::NotLoopback)
}

/// DNS-rebinding protection for the MCP endpoints. The OAuth endpoints are public by design (browser-based clients
/// call them cross-origin) and the pages are protected by their own CSRF checks, so only the transports list it.
pub fn origin(cfg: &Config, req: &HttpRequest) -> Result<(), Refusal> {
    match req.header("origin") {
        Some(origin) if !origin_allowed(cfg, origin) => Err(Refusal::OriginNotAllowed(origin.to_owned())),
        _ => Ok(()),
    }
}

/// A browser may call us only from our own origin, or from loopback while developing with the local provider.
fn origin_allowed(cfg: &Config, origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else { return false };
    let public = &cfg.server.public_url;
    if url.scheme() == public.scheme()
        && url.host_str() == public.host_str()
        && url.port_or_known_default() == public.port_or_known_default()
    {
        return true;
    }
    matches!(cfg.auth, AuthConfig::Local { .. }) && url.host_str().is_some_and(is_loopback_host)
}

pub fn preflight(req: &HttpRequest) -> Result<(), Refusal> {
    if req.method == "OPTIONS" {
        return Err(Refusal::Preflight);
    }
    Ok(())
}

/// Signs an MCP request in: its bearer token, or, with `local` and `auth.open`, the development user for a loopback
/// request that brings none. A refusal is audited, except a request without any token (the normal start of sign-in,
/// not worth a line).
pub async fn signed_in(cx: &Cx<'_>) -> Result<skillport_providers::Identity, Refusal> {
    let req = cx.req;
    let result = authenticate(cx).await;
    if let Err(refusal) = &result {
        if req.header("authorization").is_some() || refusal.status() != 401 {
            let detail = format!("HTTP {} on {}", refusal.status(), req.path);
            crate::audit::record(
                cx.svc.now,
                &crate::audit::Event {
                    detail: Some(&detail),
                    ..crate::audit::Event::new(crate::audit::Action::Refused, crate::audit::Outcome::Refused)
                },
            );
        }
    }
    result
}

async fn authenticate(cx: &Cx<'_>) -> Result<skillport_providers::Identity, Refusal> {
    let setup = cx.setup()?;
    if let Provider::Local(local) = &setup.provider {
        // Whatever the token, `local` serves loopback hosts only.
        let me = local.sign_in(cx.req.host()).map_err(|e| Refusal::LocalSignIn(e.to_string()))?;
        if matches!(cx.cfg.auth, AuthConfig::Local { open: true, .. }) && cx.req.header("authorization").is_none() {
            return Ok(me);
        }
    }
    cx.oauth()?.verify(cx.req, cx.svc.now).await.map_err(Refusal::NotSignedIn)
}

/// CORS for the endpoints a browser-based client calls cross-origin (the routes whose line says so): the discovery
/// documents, dynamic registration, token and revocation (any origin: they are public by design and carry no
/// cookie), and the MCP transports (only origins [`origin`] lets through reach this far). Never a page: `/`,
/// `/authorize`, `/callback`, `/consent`, `/status` and `/download` are for top-level navigation, and a cross-origin
/// script must not read them.
pub fn cors(req: &HttpRequest, cross_origin: bool, resp: HttpResponse) -> HttpResponse {
    let Some(origin) = req.header("origin") else { return resp };
    // A response that states its own CORS (the discovery documents: `*`) keeps it: a second
    // Access-Control-Allow-Origin would make browsers refuse both.
    if resp.status == 403 || !cross_origin || resp.get_header("access-control-allow-origin").is_some() {
        return resp;
    }
    let origin = origin.to_string();
    resp.header("access-control-allow-origin", &origin)
        .header("vary", "Origin")
        .header("access-control-expose-headers", crate::mcp::transport::EXPOSE_HEADERS)
        .header("access-control-allow-headers", crate::mcp::transport::ALLOW_HEADERS)
        .header("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")
        .header("access-control-max-age", "86400")
}
