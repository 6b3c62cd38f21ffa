//! The two grant types of `/token`: `authorization_code` (the code taken once, then PKCE, redirect URI and resource
//! checked) and `refresh_token` (rotated on every use, a replay revokes the grant), and the tokens both issue.

use super::super::crypto::random_token;
use super::super::metadata::resource_of_uri;
use super::super::store::{AccessRecord, ClientRecord, CodeTake, GrantRecord, IssuedAccess, Rotation};
use super::super::{AccessToken, OAuthError, OAuthServer, PkceVerifier, RefreshToken, ResourceUri, TokenHash};
use super::{verify_pkce, TokenResponse};
use std::collections::BTreeMap;

impl OAuthServer<'_> {
    pub(super) async fn redeem_code(
        &self,
        client: &ClientRecord,
        form: &BTreeMap<String, String>,
        now: u64,
    ) -> Result<TokenResponse, OAuthError> {
        let required = |k: &str| {
            form.get(k).filter(|v| !v.is_empty()).ok_or_else(|| OAuthError::InvalidRequest(format!("{k} is missing")))
        };
        let code = required("code")?;
        let verifier = PkceVerifier::new(required("code_verifier")?.as_str());
        let redirect_uri = required("redirect_uri")?;

        let record = match self.store.take_code(&TokenHash::of(code)).await? {
            CodeTake::Taken(r) => r,
            CodeTake::AlreadyUsed { grant_id } => {
                self.store.revoke_grant(&grant_id).await?;
                return Err(OAuthError::InvalidGrant(
                    "the authorization code was already used; every token issued from it is revoked".into(),
                ));
            }
            CodeTake::Unknown => return Err(OAuthError::InvalidGrant("the authorization code is not valid".into())),
        };
        // The code is spent from here on, whatever follows: a wrong verifier cannot be retried.
        if record.client_id != client.client_id {
            return Err(OAuthError::InvalidGrant("the authorization code was issued to another client".into()));
        }
        if now >= record.expires_at {
            return Err(OAuthError::InvalidGrant("the authorization code has expired".into()));
        }
        if record.redirect_uri.as_str() != redirect_uri {
            return Err(OAuthError::InvalidGrant("redirect_uri differs from the authorization request's".into()));
        }
        if !verify_pkce(&verifier, &record.code_challenge) {
            return Err(OAuthError::InvalidGrant("the PKCE code_verifier does not match the code_challenge".into()));
        }
        self.check_resource(form, &record.resource)?;
        let grant = self
            .store
            .get_grant(&record.grant_id)
            .await?
            .filter(|g| !g.revoked)
            .ok_or_else(|| OAuthError::InvalidGrant("the authorization was revoked".into()))?;

        let refresh = RefreshToken::new(random_token(self.rng));
        let (access_token, access) = self.new_access(&grant, now);
        let ttl = self.settings.refresh_ttl_seconds;
        if !self.store.begin_refresh(&grant.grant_id, &refresh.hash(), &access, now, ttl).await? {
            return Err(OAuthError::InvalidGrant("the authorization was revoked".into()));
        }
        Ok(self.response(&grant, access_token, refresh))
    }

    pub(super) async fn refresh(
        &self,
        client: &ClientRecord,
        form: &BTreeMap<String, String>,
        now: u64,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = form
            .get("refresh_token")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is missing".into()))?;
        let presented = TokenHash::of(presented);
        let invalid = || OAuthError::InvalidGrant("the refresh token is not valid".into());
        // Checked before rotating: another client's token, or a wrong resource, must change nothing.
        let grant_id = self.store.refresh_grant(&presented).await?.ok_or_else(invalid)?;
        let grant = self.store.get_grant(&grant_id).await?.ok_or_else(invalid)?;
        if grant.client_id != client.client_id {
            return Err(OAuthError::InvalidGrant("the refresh token was issued to another client".into()));
        }
        self.check_resource(form, &grant.resource)?;

        let next = RefreshToken::new(random_token(self.rng));
        // Built from the grant read above: its id, client, resource and scope do not change when it rotates.
        let (access_token, access) = self.new_access(&grant, now);
        let ttl = self.settings.refresh_ttl_seconds;
        match self.store.rotate_refresh(&presented, &next.hash(), &access, now, ttl).await? {
            Rotation::Rotated(grant) => Ok(self.response(&grant, access_token, next)),
            Rotation::Replayed(_) => Err(OAuthError::InvalidGrant(
                "the refresh token was already replaced and used; the authorization is revoked".into(),
            )),
            Rotation::Dead => Err(OAuthError::InvalidGrant("the authorization has expired or was revoked".into())),
            Rotation::Unknown => Err(invalid()),
        }
    }

    /// RFC 8707: a `resource` in the token request must be the one the grant is for.
    fn check_resource(&self, form: &BTreeMap<String, String>, bound: &ResourceUri) -> Result<(), OAuthError> {
        match form.get("resource").filter(|r| !r.is_empty()) {
            Some(r) if r != bound.as_str() || resource_of_uri(self.public_url, r).is_none() => {
                Err(OAuthError::InvalidTarget("resource differs from the one authorized".into()))
            }
            _ => Ok(()),
        }
    }

    /// A new access token for `grant`, and what the store keeps of it (stored with the refresh token it comes with).
    fn new_access(&self, grant: &GrantRecord, now: u64) -> (AccessToken, IssuedAccess) {
        let access_token = AccessToken::new(random_token(self.rng));
        let record = AccessRecord {
            grant_id: grant.grant_id.clone(),
            client_id: grant.client_id.clone(),
            resource: grant.resource.clone(),
            scope: grant.scope.clone(),
            expires_at: now.saturating_add(self.settings.access_ttl_seconds),
        };
        let issued = IssuedAccess { token: access_token.hash(), record };
        (access_token, issued)
    }

    fn response(&self, grant: &GrantRecord, access_token: AccessToken, refresh_token: RefreshToken) -> TokenResponse {
        TokenResponse {
            access_token,
            refresh_token,
            expires_in: self.settings.access_ttl_seconds,
            scope: grant.scope.clone(),
        }
    }
}
