//! The callback: the code exchanged with the kept PKCE verifier, the ID token validated (signature, issuer,
//! audience, nonce, expiry), userinfo merged in, and the claims mapped to an [`Identity`]; each failure mapped to the
//! [`ProviderError`] that says which step failed.

use openidconnect::{RedirectUrl, TokenUrl};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwt::{read_claims, without_null_standard_claims, Expected, Jwt, Refusal};
use super::seam::{send, SeamError};
use super::{claim_strings, ClientAuth, OidcProvider, ProviderMetadata, Verified, ALLOWED_ALGS, LEEWAY_SECS};
use crate::{
    check_callback, email_domain, oauth_code, CallbackParams, HttpClient, HttpRequest, Identity, ProviderError, Secret,
    SignInStart,
};

/// The token endpoint's success answer (RFC 6749 5.1, OpenID Connect Core 3.1.3.3), with the types `oauth2`'s
/// `StandardTokenResponse` required of its members; other members are ignored.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[allow(dead_code)]
    token_type: String,
    #[allow(dead_code)]
    expires_in: Option<u64>,
    #[allow(dead_code)]
    refresh_token: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
    id_token: Option<String>,
}

/// The token endpoint's error answer (RFC 6749 5.2).
#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[allow(dead_code)]
    error_description: Option<String>,
    #[allow(dead_code)]
    error_uri: Option<String>,
}

impl OidcProvider {
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
        let nonce = kept.nonce.as_ref().ok_or(ProviderError::BadState)?.expose().to_string();
        let metadata = self.metadata(client).await?;
        // The redirect URI is checked as the authorization request checked it.
        RedirectUrl::new(redirect_uri.to_string())
            .map_err(|_| ProviderError::Misconfigured("the redirect URI is not a URL".into()))?;
        let token_url = metadata
            .token_endpoint()
            .ok_or_else(|| ProviderError::Misconfigured("the provider publishes no token endpoint".into()))?;
        let token = self.exchange(client, token_url, code, &kept.pkce_verifier, redirect_uri).await?;
        let id_token = token
            .id_token
            .as_deref()
            .ok_or_else(|| ProviderError::InvalidToken("the token response carries no ID token".into()))?;
        let id_token = Jwt::parse(id_token, true).ok_or_else(malformed_token_response)?;

        let expected = Expected { issuer: self.issuer.as_str(), client_id: self.settings.client_id.as_str() };
        let mut metadata = metadata;
        let checked = match id_token.verify(&expected, metadata.jwks(), &ALLOWED_ALGS).await {
            // A key we do not hold: the provider rotated its keys; fetch them again, once.
            Err(Refusal::NoMatchingKey) => {
                metadata = self.refresh_jwks(client, &metadata).await?;
                id_token.verify(&expected, metadata.jwks(), &ALLOWED_ALGS).await
            }
            other => other,
        };
        checked.and_then(|()| id_token.check_times_and_nonce(now, LEEWAY_SECS, &nonce)).map_err(refusal)?;
        let subject = id_token.subject();
        let id_token_claims = without_null_standard_claims(id_token.claims.clone());

        // Userinfo fills what the ID token left out; the validated ID token wins where both speak.
        let mut merged = Map::new();
        if let Some(userinfo_url) = metadata.userinfo_endpoint() {
            merged = self.userinfo(client, &metadata, userinfo_url.as_str(), &token.access_token, subject).await?;
        }
        merged.extend(id_token_claims.clone());

        let identity = self.identity(subject, &merged)?;
        Ok(Verified { identity, id_token_claims })
    }

    /// The authorization code exchanged for tokens, authenticated as `oauth2` did (HTTP Basic with the form-encoded
    /// id and secret, or both in the body; the id alone in the body for a public client).
    async fn exchange(
        &self,
        client: &dyn HttpClient,
        token_url: &TokenUrl,
        code: &Secret,
        verifier: &Secret,
        redirect_uri: &str,
    ) -> Result<TokenAnswer, ProviderError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code.expose())
            .append_pair("code_verifier", verifier.expose());
        let mut request = HttpRequest::new("POST", token_url.url().as_str())
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded");
        let client_id = self.settings.client_id.as_str();
        match (self.settings.client_auth, &self.settings.client_secret) {
            (ClientAuth::Basic, Some(secret)) => {
                use base64::Engine as _;
                let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let credentials = format!("{}:{}", encode(client_id), encode(secret.expose()));
                let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header("authorization", format!("Basic {basic}"));
            }
            (_, secret) => {
                form.append_pair("client_id", client_id);
                if let Some(secret) = secret {
                    form.append_pair("client_secret", secret.expose());
                }
            }
        }
        form.append_pair("redirect_uri", redirect_uri);
        request.body = form.finish().into_bytes();
        let response = send(client, request).await.map_err(|e| e.into_provider_error("token endpoint"))?;
        let failed = || ProviderError::Exchange("token_request_failed".into());
        if response.status != 200 {
            if response.body.is_empty() {
                return Err(failed());
            }
            let error: TokenError = serde_json::from_slice(&response.body).map_err(|_| malformed_token_response())?;
            return Err(match error.error.as_str() {
                "invalid_client" | "unauthorized_client" => {
                    ProviderError::Misconfigured("the token endpoint refused the client credentials".into())
                }
                code => ProviderError::Exchange(oauth_code(code)),
            });
        }
        let json = content_type(&response).is_none_or(|ct| ct.to_lowercase().starts_with("application/json"));
        if !json || response.body.is_empty() {
            return Err(failed());
        }
        serde_json::from_slice(&response.body).map_err(|_| malformed_token_response())
    }

    /// The userinfo answer's claims (a signed answer verified first), for `subject` only.
    async fn userinfo(
        &self,
        client: &dyn HttpClient,
        metadata: &ProviderMetadata,
        url: &str,
        access_token: &str,
        subject: &str,
    ) -> Result<Map<String, Value>, ProviderError> {
        let request = HttpRequest::new("GET", url)
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {access_token}"));
        let response =
            send(client, request).await.map_err(|e: SeamError| e.into_provider_error("userinfo endpoint"))?;
        if response.status != 200 {
            return Err(ProviderError::Unavailable(format!("userinfo endpoint answered {}", response.status)));
        }
        let unreadable = || ProviderError::Unavailable("userinfo endpoint sent an unreadable answer".into());
        let another_subject = || ProviderError::InvalidToken("userinfo describes another subject".into());
        let essence = content_type(&response).map(|ct| ct[..ct.find(';').unwrap_or(ct.len())].to_lowercase());
        match essence.as_deref() {
            None | Some("application/json") => {
                let (claims, registered) = read_claims(&response.body, false).ok_or_else(unreadable)?;
                if registered.subject() != subject {
                    return Err(another_subject());
                }
                Ok(without_null_standard_claims(claims))
            }
            Some("application/jwt") => {
                let token = std::str::from_utf8(&response.body).map_err(|_| unreadable())?;
                let jwt = Jwt::parse(token, false).ok_or_else(unreadable)?;
                let expected = Expected { issuer: self.issuer.as_str(), client_id: self.settings.client_id.as_str() };
                // `openidconnect`'s default for signed userinfo: RS256 only.
                let rs256 = [openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256];
                jwt.verify(&expected, metadata.jwks(), &rs256).await.map_err(refusal)?;
                if jwt.subject() != subject {
                    return Err(another_subject());
                }
                Ok(without_null_standard_claims(jwt.claims))
            }
            Some(_) => Err(ProviderError::Unavailable(format!("userinfo endpoint answered {}", response.status))),
        }
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

/// The answer's `content-type`, if it has one.
fn content_type(response: &crate::HttpResponse) -> Option<&str> {
    response.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str())
}

fn malformed_token_response() -> ProviderError {
    ProviderError::InvalidToken("the token response or its ID token is malformed".into())
}

fn refusal(refusal: Refusal) -> ProviderError {
    ProviderError::InvalidToken(
        match refusal {
            Refusal::Expired => "expired (or issued in the future)",
            Refusal::Audience => "issued for another client (audience)",
            Refusal::Issuer => "issued by another issuer",
            Refusal::Nonce => "its nonce does not match this sign-in",
            Refusal::NoMatchingKey => "no published key matches its key id",
            Refusal::DisallowedAlg => "signature algorithm not accepted",
            Refusal::Unsigned => "unsigned",
            Refusal::AmbiguousKey => "several published keys match it",
            Refusal::BadSignature => "signature does not verify",
            Refusal::Unsupported => "malformed",
        }
        .into(),
    )
}
