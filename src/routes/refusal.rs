//! Why a request stopped before its endpoint's handler, and the one place each reason becomes an HTTP response.
//!
//! The texts and codes are part of the connector's behaviour (clients and the hardening suite read them): change
//! one only together with the README.

use crate::http::HttpResponse;
use serde_json::json;

/// Why the routing stopped a request short of its handler.
#[derive(Debug)]
pub enum Refusal {
    /// The configuration did not validate: every request gets a 500 without detail (the detail is in the log).
    ConfigInvalid,
    /// The `local` provider answers requests addressed to a loopback host only.
    NotLoopback,
    /// A browser page from this Origin called an MCP endpoint (DNS-rebinding protection).
    OriginNotAllowed(String),
    /// A CORS preflight. Not an error: it is answered before the endpoint, with nothing but CORS headers.
    Preflight,
    /// The identity provider or the OAuth keys could not be set up (the reason never holds a secret).
    SignInNotSetUp(String),
    /// `local` refused to sign the development user in for this host.
    LocalSignIn(String),
    /// No usable bearer token: the OAuth server's answer (a 401 with its `WWW-Authenticate` challenge, or the
    /// store's failure).
    NotSignedIn(HttpResponse),
    /// The path exists, not with this method (RFC 9110 15.5.6: a 405 names the methods it takes).
    MethodNotAllowed(&'static str),
    NotFound,
}

/// The `Allow` of the legacy SSE transport's paths, which take one method each.
pub const SSE_ALLOW: &str = "GET (/sse), POST (/sse/message)";

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::ConfigInvalid => 500,
            Refusal::NotLoopback | Refusal::OriginNotAllowed(_) | Refusal::LocalSignIn(_) => 403,
            Refusal::Preflight => 204,
            Refusal::SignInNotSetUp(_) => 503,
            Refusal::NotSignedIn(resp) => resp.status,
            Refusal::MethodNotAllowed(_) => 405,
            Refusal::NotFound => 404,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let status = self.status();
        let forbidden = |description: &str| json!({"error": "forbidden", "error_description": description});
        match self {
            Refusal::ConfigInvalid => HttpResponse::text(
                status,
                "Skillport's configuration is invalid, so it cannot serve requests. The details are in the Worker log (wrangler tail).",
            ),
            Refusal::NotLoopback => HttpResponse::json(
                status,
                &forbidden("the local development provider only answers requests addressed to a loopback host"),
            ),
            Refusal::OriginNotAllowed(origin) => {
                HttpResponse::json(status, &forbidden(&format!("Origin `{origin}` is not allowed")))
            }
            Refusal::Preflight => HttpResponse::new(status),
            Refusal::SignInNotSetUp(e) => HttpResponse::json(
                status,
                &json!({"error": "temporarily_unavailable", "error_description": format!("sign-in is not set up: {e}")}),
            ),
            Refusal::LocalSignIn(e) => HttpResponse::json(status, &forbidden(&e)),
            Refusal::NotSignedIn(resp) => resp,
            Refusal::MethodNotAllowed(allow) => HttpResponse::new(status).header("allow", allow),
            Refusal::NotFound => HttpResponse::text(status, "not found\n"),
        }
    }
}
