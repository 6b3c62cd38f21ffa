//! Verification: PKCE S256 at code redemption, and the bearer token of every MCP request.

use super::super::crypto::ServerKeys;
use super::super::metadata::{resource_uri, unauthorized_response, Resource};
use super::super::store::GrantStore;
use super::super::{AccessToken, OAuthError, OAuthServer, PkceChallenge, PkceVerifier, ResourceUri};
use crate::http::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use skillport_providers::Identity;

impl OAuthServer<'_> {
    /// The sign-in check of an MCP request on `/mcp`, `/sse` or `/sse/message`: its bearer token must be valid for
    /// the resource the path belongs to. On failure, the 401 with the `WWW-Authenticate` challenge to answer with.
    pub async fn verify(&self, req: &HttpRequest, now: u64) -> Result<Identity, HttpResponse> {
        let resource = Resource::of_path(&req.path).unwrap_or(Resource::Mcp);
        let Some(token) = bearer_token(req) else {
            return Err(unauthorized_response(self.public_url, &req.path, false));
        };
        match verify_access_token(self.store, self.keys, &token, &resource_uri(self.public_url, resource), now).await {
            Ok(identity) => Ok(identity),
            Err(OAuthError::Storage(e)) => Err(OAuthError::Storage(e).to_response()),
            Err(_) => Err(unauthorized_response(self.public_url, &req.path, true)),
        }
    }
}

/// PKCE S256 (RFC 7636 4.6): the verifier is 43-128 characters of `[A-Za-z0-9-._~]` and
/// BASE64URL(SHA256(verifier)) equals the challenge (compared in constant time).
pub fn verify_pkce(verifier: &PkceVerifier, challenge: &PkceChallenge) -> bool {
    let v = verifier.expose();
    let well_formed = (43..=128).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
    use subtle::ConstantTimeEq;
    computed.len() == challenge.as_str().len() && bool::from(computed.as_bytes().ct_eq(challenge.as_str().as_bytes()))
}

/// The bearer token of a request (`Authorization: Bearer <token>`), if any. Tokens in the query are not accepted
/// (`bearer_methods_supported: ["header"]`).
pub fn bearer_token(req: &HttpRequest) -> Option<AccessToken> {
    let h = req.header("authorization")?.trim();
    let (scheme, token) = h.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| AccessToken::new(token))
}

/// The check of every MCP request: the token is known, unexpired, issued for `resource`, and its grant is live.
/// Returns the signed-in identity. On error, answer with [`super::metadata::unauthorized_response`].
pub async fn verify_access_token(
    store: &dyn GrantStore,
    keys: &ServerKeys,
    token: &AccessToken,
    resource: &ResourceUri,
    now: u64,
) -> Result<Identity, OAuthError> {
    let record = store
        .get_access(&token.hash())
        .await?
        .ok_or_else(|| OAuthError::InvalidToken("the access token is not valid".into()))?;
    if now >= record.expires_at {
        return Err(OAuthError::InvalidToken("the access token has expired".into()));
    }
    if &record.resource != resource {
        return Err(OAuthError::InvalidToken("the access token was issued for another resource".into()));
    }
    let grant = store
        .get_grant(&record.grant_id)
        .await?
        .filter(|g| !g.revoked)
        .ok_or_else(|| OAuthError::InvalidToken("the access token was revoked".into()))?;
    keys.open_identity(&grant.grant_id, &grant.identity)
        .map_err(|_| OAuthError::InvalidToken("the access token's authorization cannot be read".into()))
}
