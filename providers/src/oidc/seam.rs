//! `openidconnect`'s async HTTP client over the `skillport-http` seam: every request capped at
//! [`crate::ANSWER_MAX_BYTES`], a 5xx or 429 turned into an error whatever the body says, and a signed (JWT) answer's
//! signature prechecked before `openidconnect` verifies it.

use std::future::Future;
use std::pin::Pin;

use openidconnect::{AsyncHttpClient, JsonWebKeySet};

use super::ALLOWED_ALGS;
use crate::jws::{self, Jwk};
use crate::{transport, HttpClient, HttpError, HttpRequest, ProviderError};

/// Why a request through [`Seam`] produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeamError {
    #[error(transparent)]
    Transport(HttpError),
    /// A 5xx or 429: the provider is down or shedding load, whatever the body says.
    #[error("answered {0}")]
    Status(u16),
    #[error("the response could not be represented")]
    Malformed,
}

impl SeamError {
    pub(super) fn into_provider_error(self, step: &str) -> ProviderError {
        match self {
            SeamError::Transport(e) => transport(step, &e),
            SeamError::Status(status) => ProviderError::Unavailable(format!("{step} answered {status}")),
            SeamError::Malformed => ProviderError::Unavailable(format!("{step} sent an unreadable answer")),
        }
    }
}

/// `openidconnect`'s async HTTP client over the `skillport-http` seam.
pub(crate) struct Seam<'a> {
    client: &'a dyn HttpClient,
    /// The provider's keys, for an answer that is a signed JWT (a userinfo endpoint may sign its answer): its
    /// signature is prechecked here (see `crate::jws`) before `openidconnect` verifies it.
    keys: Option<&'a JsonWebKeySet<Jwk>>,
}

impl<'a> Seam<'a> {
    pub(crate) fn new(client: &'a dyn HttpClient) -> Self {
        Seam { client, keys: None }
    }

    pub(super) fn with_keys(client: &'a dyn HttpClient, keys: &'a JsonWebKeySet<Jwk>) -> Self {
        Seam { client, keys: Some(keys) }
    }
}

impl<'c> AsyncHttpClient<'c> for Seam<'_> {
    type Error = SeamError;
    type Future = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, SeamError>> + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut req = HttpRequest::new(parts.method.as_str(), parts.uri.to_string()).limit(crate::ANSWER_MAX_BYTES);
            req.body = body;
            for (name, value) in &parts.headers {
                if let Ok(value) = value.to_str() {
                    req = req.header(name.as_str(), value);
                }
            }
            req = req.header("user-agent", "skillport");
            let response = self.client.send(req).await.map_err(SeamError::Transport)?;
            if response.status >= 500 || response.status == 429 {
                return Err(SeamError::Status(response.status));
            }
            if let Some(keys) = self.keys {
                let jwt = response.headers.iter().any(|(name, value)| {
                    name.eq_ignore_ascii_case("content-type")
                        && value.split(';').next().is_some_and(|v| v.trim().eq_ignore_ascii_case("application/jwt"))
                });
                if let (true, Ok(token)) = (jwt, std::str::from_utf8(&response.body)) {
                    jws::precheck(token.trim(), keys, &ALLOWED_ALGS).await;
                }
            }
            // Only `content-type`: the one response header openidconnect and oauth2 read (discovery, JWKS, token and
            // userinfo answers), named by its constant so that no header name is parsed here.
            let mut builder = openidconnect::http::Response::builder().status(response.status);
            for (_, value) in response.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
                builder = builder.header(openidconnect::http::header::CONTENT_TYPE, value.as_str());
            }
            builder.body(response.body).map_err(|_| SeamError::Malformed)
        })
    }
}
