//! What `/token` answers (RFC 6749 5.1) and what became of a request, as the audit line reads it.

use super::super::{AccessToken, ClientId, RefreshToken};
use crate::http::HttpResponse;

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub refresh_token: RefreshToken,
    pub expires_in: u64,
    pub scope: String,
}

impl TokenResponse {
    /// RFC 6749 5.1, never cached.
    pub fn to_response(&self) -> HttpResponse {
        HttpResponse::json(
            200,
            &serde_json::json!({
                "access_token": self.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": self.refresh_token.expose(),
                "scope": self.scope,
            }),
        )
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
    }
}

/// What became of a token request, for its audit line: the grant type asked for, the client once it
/// authenticated, and whether tokens were issued. Never a code, token or secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOutcome {
    /// The form's `grant_type` as written (the last one when repeated), even when the form was refused.
    pub grant_type: Option<String>,
    /// `None` when the request got no further than client authentication, so that a `client_id` someone merely
    /// wrote in a form is never reported as the caller.
    pub client: Option<ClientId>,
    pub result: TokenResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenResult {
    Issued,
    /// Refused with this RFC 6749 error code.
    Refused(&'static str),
    /// Not a `POST`.
    WrongMethod,
}

impl TokenOutcome {
    /// The audit line of a token request: which grant type for which client, and the outcome (the error code when
    /// refused). The client is named only once it authenticated.
    pub fn record(&self, now: u64) {
        let grant_type = self.grant_type.as_deref();
        let detail = match self.result {
            TokenResult::Refused(code) => format!("{} refused: {code}", grant_type.unwrap_or("?")),
            TokenResult::Issued | TokenResult::WrongMethod => grant_type.unwrap_or_default().to_owned(),
        };
        let client: Option<String> = self.client.as_ref().map(|c| c.as_str().chars().take(200).collect());
        crate::audit::record(
            now,
            &crate::audit::Event {
                client: client.as_deref(),
                detail: Some(&detail),
                ..crate::audit::Event::new(
                    crate::audit::Action::Token,
                    if self.result == TokenResult::Issued {
                        crate::audit::Outcome::Ok
                    } else {
                        crate::audit::Outcome::Refused
                    },
                )
            },
        );
    }
}
