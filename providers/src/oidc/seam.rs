//! Requests to the provider over the `skillport-http` seam: every answer capped at [`crate::ANSWER_MAX_BYTES`], and
//! a 5xx or 429 turned into an error whatever the body says.

use crate::{transport, HttpClient, HttpError, HttpRequest, HttpResponse, ProviderError};

/// Why a request through [`send`] produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeamError {
    #[error(transparent)]
    Transport(HttpError),
    /// A 5xx or 429: the provider is down or shedding load, whatever the body says.
    #[error("answered {0}")]
    Status(u16),
}

impl SeamError {
    pub(super) fn into_provider_error(self, step: &str) -> ProviderError {
        match self {
            SeamError::Transport(e) => transport(step, &e),
            SeamError::Status(status) => ProviderError::Unavailable(format!("{step} answered {status}")),
        }
    }
}

/// Sends `request` (with the size cap and Skillport's user agent); a 5xx or 429 is an error.
pub(crate) async fn send(client: &dyn HttpClient, request: HttpRequest) -> Result<HttpResponse, SeamError> {
    let request = request.limit(crate::ANSWER_MAX_BYTES).header("user-agent", "skillport");
    let response = client.send(request).await.map_err(SeamError::Transport)?;
    if response.status >= 500 || response.status == 429 {
        return Err(SeamError::Status(response.status));
    }
    Ok(response)
}

/// A GET of `url` asking for JSON.
pub(crate) async fn get_json(client: &dyn HttpClient, url: &str) -> Result<HttpResponse, SeamError> {
    send(client, HttpRequest::new("GET", url).header("accept", "application/json")).await
}
