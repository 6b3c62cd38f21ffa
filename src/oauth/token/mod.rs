//! `/token` (RFC 6749 with OAuth 2.1's rules), `/revoke` (RFC 7009), and the bearer check of every MCP request.
//!
//! - `authorization_code`: the client authenticates (confidential clients) or names itself (public ones); the code
//!   is taken from the store atomically, so it is redeemed once; a second redemption is a replay and revokes the
//!   grant (and so every token already issued from it, RFC 6749 4.1.2); the PKCE verifier, the redirect URI and the
//!   resource must match the authorization request.
//! - `refresh_token`: every use rotates the token; the previous one keeps working until the new one is first used
//!   (so a client whose response was lost can retry), after which presenting it is a replay and revokes the grant
//!   (OAuth 2.1 section 4.3.1, refresh token rotation).
//! - Access tokens are opaque (32 random bytes), bound to one resource, and only as good as their grant.
//!
//! By stage: `client` (who is calling), `grants` (the two grant types), `verify` (PKCE and the bearer check of
//! MCP requests), `response` (what is answered, and the audit line's outcome); the endpoints themselves are here.

mod client;
mod grants;
mod response;
#[cfg(test)]
mod tests;
mod verify;

pub use response::{TokenOutcome, TokenResponse, TokenResult};
pub use verify::{bearer_token, verify_access_token, verify_pkce};

use super::{parse_form, ClientId, OAuthError, OAuthServer, TokenHash};
use crate::http::{HttpRequest, HttpResponse};

impl OAuthServer<'_> {
    /// `POST /token`.
    pub async fn handle_token(&self, req: &HttpRequest, now: u64) -> HttpResponse {
        self.handle_token_for(req, now).await.0
    }

    /// `POST /token`, with its audit line.
    pub async fn handle_token_audited(&self, req: &HttpRequest, now: u64) -> HttpResponse {
        let (resp, outcome) = self.handle_token_for(req, now).await;
        outcome.record(now);
        resp
    }

    /// `POST /token`, and what became of it.
    pub async fn handle_token_for(&self, req: &HttpRequest, now: u64) -> (HttpResponse, TokenOutcome) {
        // Read leniently, apart from the strict parse of the exchange: a form refused for a repeated parameter still
        // names its grant type in the audit line.
        let grant_type = url::form_urlencoded::parse(&req.body).filter(|(k, _)| k == "grant_type").last();
        let mut outcome = TokenOutcome {
            grant_type: grant_type.map(|(_, v)| v.into_owned()),
            client: None,
            result: TokenResult::WrongMethod,
        };
        if req.method != "POST" {
            return (HttpResponse::new(405).header("allow", "POST"), outcome);
        }
        let (client, result) = self.exchange_for(req, now).await;
        outcome.client = client;
        let resp = match result {
            Ok(tokens) => {
                outcome.result = TokenResult::Issued;
                tokens.to_response()
            }
            Err(e) => {
                outcome.result = TokenResult::Refused(e.code());
                e.to_response()
            }
        };
        (resp, outcome)
    }

    /// The token endpoint's logic, for callers that want the typed result.
    pub async fn exchange(&self, req: &HttpRequest, now: u64) -> Result<TokenResponse, OAuthError> {
        self.exchange_for(req, now).await.1
    }

    async fn exchange_for(&self, req: &HttpRequest, now: u64) -> (Option<ClientId>, Result<TokenResponse, OAuthError>) {
        let form = match parse_form(&req.body) {
            Ok(f) => f,
            Err(e) => return (None, Err(e)),
        };
        let client = match self.authenticate_client(req, &form).await {
            Ok(c) => c,
            Err(e) => return (None, Err(e)),
        };
        let result = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => self.redeem_code(&client, &form, now).await,
            Some("refresh_token") => self.refresh(&client, &form, now).await,
            Some(other) => Err(OAuthError::UnsupportedGrantType(other.chars().take(50).collect())),
            None => Err(OAuthError::InvalidRequest("grant_type is missing".into())),
        };
        (Some(client.client_id), result)
    }

    /// `POST /revoke` (RFC 7009): 200 whatever the token was (unknown, expired, another client's), so nothing can be
    /// learned by probing. A refresh token revokes its whole grant; an access token only itself. Only a failed client
    /// authentication (401) or a missing `token` (400) is an error.
    pub async fn handle_revoke(&self, req: &HttpRequest, _now: u64) -> HttpResponse {
        if req.method != "POST" {
            return HttpResponse::new(405).header("allow", "POST");
        }
        match self.revoke(req).await {
            Ok(()) => HttpResponse::new(200).header("cache-control", "no-store"),
            Err(e) => e.to_response(),
        }
    }

    async fn revoke(&self, req: &HttpRequest) -> Result<(), OAuthError> {
        let form = parse_form(&req.body)?;
        let client = self.authenticate_client(req, &form).await?;
        let token = form
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("token is missing".into()))?;
        let hash = TokenHash::of(token);
        if let Some(grant_id) = self.store.refresh_grant(&hash).await? {
            if let Some(grant) = self.store.get_grant(&grant_id).await? {
                if grant.client_id == client.client_id {
                    self.store.revoke_grant(&grant_id).await?;
                }
            }
            return Ok(());
        }
        if let Some(access) = self.store.get_access(&hash).await? {
            if access.client_id == client.client_id {
                self.store.delete_access(&hash).await?;
            }
        }
        Ok(())
    }
}
