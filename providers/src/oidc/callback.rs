//! The callback: the code exchanged with the kept PKCE verifier, the ID token validated (signature, issuer,
//! audience, nonce, expiry), userinfo merged in, and the claims mapped to an [`Identity`]; each failure mapped to the
//! [`ProviderError`] that says which step failed.

use openidconnect::core::{
    CoreErrorResponseType, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, IdTokenClaims, IdTokenVerifier, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, RequestTokenError, SignatureVerificationError, StandardErrorResponse, TokenResponse,
    UserInfoError,
};
use serde_json::{Map, Value};

use super::seam::{Seam, SeamError};
use super::{claim_strings, OidcProvider, OtherClaims, ProviderMetadata, Verified, ALLOWED_ALGS, LEEWAY_SECS};
use crate::jws;
use crate::{
    check_callback, email_domain, oauth_code, CallbackParams, HttpClient, Identity, ProviderError, SignInStart,
};

impl OidcProvider {
    fn verify_id_token(
        &self,
        metadata: &ProviderMetadata,
        id_token: &openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
        now: u64,
    ) -> Result<IdTokenClaims<OtherClaims, CoreGenderClaim>, ClaimsVerificationError> {
        let checked_at = unix_time(now.saturating_sub(LEEWAY_SECS));
        let latest_iat = unix_time(now.saturating_add(LEEWAY_SECS));
        let verifier = IdTokenVerifier::new_public_client(
            self.settings.client_id.clone(),
            self.issuer.clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(move || checked_at)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > latest_iat {
                Err("issued in the future".to_string())
            } else {
                Ok(())
            }
        });
        Ok(id_token.claims(&verifier, nonce)?.clone())
    }

    /// The flow up to a checked identity, without the allowed-domain rule (Google applies its own, on `hd`).
    pub(crate) async fn verify(
        &self,
        client: &dyn HttpClient,
        callback: &CallbackParams,
        kept: &SignInStart,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Verified, ProviderError> {
        let code = check_callback(callback, kept)?;
        let nonce = Nonce::new(kept.nonce.as_ref().ok_or(ProviderError::BadState)?.expose().to_string());
        let metadata = self.metadata(client).await?;
        let oidc = self.client(&metadata, redirect_uri)?;
        let token = oidc
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .map_err(|_| ProviderError::Misconfigured("the provider publishes no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(kept.pkce_verifier.expose().to_string()))
            .request_async(&Seam::new(client))
            .await
            .map_err(token_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProviderError::InvalidToken("the token response carries no ID token".into()))?;

        // The signature is checked ahead, asynchronously (WebCrypto on Workers), for the keys the verifier may pick.
        let compact = id_token.to_string();
        jws::precheck(&compact, metadata.jwks(), &ALLOWED_ALGS).await;
        let claims = match self.verify_id_token(&metadata, id_token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let metadata = self.refresh_jwks(client, &metadata).await?;
                jws::precheck(&compact, metadata.jwks(), &ALLOWED_ALGS).await;
                self.verify_id_token(&metadata, id_token, &nonce, now)
            }
            other => other,
        }
        .map_err(id_token_error)?;
        let id_token_claims = match serde_json::to_value(&claims) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ProviderError::InvalidToken("the ID token's claims could not be read".into())),
        };

        // Userinfo fills what the ID token left out; the validated ID token wins where both speak.
        let mut merged = Map::new();
        if metadata.userinfo_endpoint().is_some() {
            let metadata = self.metadata(client).await?;
            let oidc = self.client(&metadata, redirect_uri)?;
            let request = oidc
                .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|_| ProviderError::Misconfigured("the userinfo endpoint is not usable".into()))?;
            let userinfo: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> =
                request.request_async(&Seam::with_keys(client, metadata.jwks())).await.map_err(userinfo_error)?;
            if let Ok(Value::Object(map)) = serde_json::to_value(&userinfo) {
                merged = map;
            }
        }
        merged.extend(id_token_claims.clone());

        let identity = self.identity(claims.subject().as_str(), &merged)?;
        Ok(Verified { identity, id_token_claims })
    }

    fn identity(&self, subject: &str, claims: &Map<String, Value>) -> Result<Identity, ProviderError> {
        let email = claims.get("email").and_then(Value::as_str).map(str::to_string);
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        if self.settings.require_verified_email && !(email.is_some() && email_verified) {
            return Err(ProviderError::Rejected(match email {
                Some(_) => "the email address is not verified at the identity provider".into(),
                None => "the identity provider did not share an email address".into(),
            }));
        }
        let name = claims
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| claims.get("preferred_username").and_then(Value::as_str))
            .map(str::to_string);
        let domain = if email_verified { email.as_deref().and_then(email_domain) } else { None };
        let mut groups: Vec<String> = Vec::new();
        for path in &self.settings.groups_claims {
            for group in claim_strings(claims, path) {
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }
        Ok(Identity {
            provider: self.kind.to_string(),
            subject: subject.to_string(),
            email,
            email_verified,
            name,
            domain,
            groups,
            orgs: Vec::new(),
            teams: Vec::new(),
        })
    }
}

fn unix_time(secs: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX / 2), 0).unwrap_or_default()
}

fn token_error(error: RequestTokenError<SeamError, StandardErrorResponse<CoreErrorResponseType>>) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => {
                ProviderError::Misconfigured("the token endpoint refused the client credentials".into())
            }
            CoreErrorResponseType::InvalidGrant => ProviderError::Exchange("invalid_grant".into()),
            CoreErrorResponseType::Extension(code) => ProviderError::Exchange(oauth_code(code)),
            other => ProviderError::Exchange(oauth_code(other.as_ref())),
        },
        RequestTokenError::Request(e) => e.into_provider_error("token endpoint"),
        RequestTokenError::Parse(_, _) => {
            ProviderError::InvalidToken("the token response or its ID token is malformed".into())
        }
        RequestTokenError::Other(_) => ProviderError::Exchange("token_request_failed".into()),
    }
}

fn id_token_error(error: ClaimsVerificationError) -> ProviderError {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    ProviderError::InvalidToken(
        match error {
            C::Expired(_) => "expired (or issued in the future)",
            C::InvalidAudience(_) => "issued for another client (audience)",
            C::InvalidIssuer(_) => "issued by another issuer",
            C::InvalidNonce(_) => "its nonce does not match this sign-in",
            C::InvalidSubject(_) => "subject mismatch",
            C::SignatureVerification(S::NoMatchingKey) => "no published key matches its key id",
            C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_)) => "signature algorithm not accepted",
            C::SignatureVerification(S::NoSignature) => "unsigned",
            C::SignatureVerification(S::AmbiguousKeyId(_)) => "several published keys match it",
            C::SignatureVerification(_) => "signature does not verify",
            _ => "malformed",
        }
        .into(),
    )
}

fn userinfo_error(error: UserInfoError<SeamError>) -> ProviderError {
    match error {
        UserInfoError::Request(e) => e.into_provider_error("userinfo endpoint"),
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            ProviderError::InvalidToken("userinfo describes another subject".into())
        }
        UserInfoError::ClaimsVerification(e) => id_token_error(e),
        UserInfoError::Response(status, _, _) => {
            ProviderError::Unavailable(format!("userinfo endpoint answered {}", status.as_u16()))
        }
        _ => ProviderError::Unavailable("userinfo endpoint sent an unreadable answer".into()),
    }
}
