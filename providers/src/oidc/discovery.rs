//! Discovery: the provider's `/.well-known/openid-configuration` and its key set, fetched once and kept, and the
//! key set fetched again when a token names a key it does not hold.

use std::rc::Rc;

use openidconnect::core::{CoreResponseType, CoreSubjectIdentifierType};
use openidconnect::{
    AsyncHttpClient, AuthUrl, DiscoveryError, EmptyAdditionalProviderMetadata, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, ResponseTypes, TokenUrl, UserInfoUrl,
};
use serde::Deserialize;
use serde_json::Value;

use super::seam::{Seam, SeamError};
use super::{OidcProvider, ProviderMetadata};
use crate::jws::Jwk;
use crate::{HttpClient, ProviderError};

impl OidcProvider {
    /// The discovery document (with its JWKS), fetched on first use and kept.
    pub(super) async fn metadata(&self, client: &dyn HttpClient) -> Result<Rc<ProviderMetadata>, ProviderError> {
        if let Some(metadata) = self.metadata.borrow().as_ref() {
            return Ok(Rc::clone(metadata));
        }
        let metadata = self.discover(client).await.map_err(|e| discovery_error("discovery", e))?;
        let metadata = Rc::new(metadata);
        *self.metadata.borrow_mut() = Some(Rc::clone(&metadata));
        Ok(metadata)
    }

    /// `<issuer>/.well-known/openid-configuration`, then the JWKS it names: `ProviderMetadata::discover_async`'s steps
    /// and checks (see [`Discovery`] for the one difference), with its errors.
    async fn discover(&self, client: &dyn HttpClient) -> Result<ProviderMetadata, DiscoveryError<SeamError>> {
        let url = self.issuer.join(".well-known/openid-configuration").map_err(DiscoveryError::UrlParse)?;
        let request = openidconnect::http::Request::get(url.as_str())
            .header(openidconnect::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| DiscoveryError::Other(e.to_string()))?;
        let response = Seam::new(client).call(request).await.map_err(DiscoveryError::Request)?;
        let (status, body) = (response.status(), response.body());
        let json = response.headers().get("content-type").is_none_or(|value| {
            value.to_str().is_ok_and(|v| v[..v.find(';').unwrap_or(v.len())].eq_ignore_ascii_case("application/json"))
        });
        if status != 200 || !json {
            return Err(DiscoveryError::Response(status, body.clone(), "unexpected answer".into()));
        }
        let doc: Discovery = serde_json::from_slice(body).map_err(|e| DiscoveryError::Other(e.to_string()))?;
        if doc.issuer != self.issuer {
            return Err(DiscoveryError::Validation(format!("unexpected issuer URI `{}`", doc.issuer.as_str())));
        }
        let algs = doc.id_token_signing_alg_values_supported.into_iter().filter_map(|a| serde_json::from_value(a).ok());
        let metadata = ProviderMetadata::new(
            doc.issuer,
            doc.authorization_endpoint,
            doc.jwks_uri,
            doc.response_types_supported,
            doc.subject_types_supported,
            algs.collect(),
            EmptyAdditionalProviderMetadata {},
        )
        .set_token_endpoint(doc.token_endpoint)
        .set_userinfo_endpoint(doc.userinfo_endpoint);
        let jwks = JsonWebKeySet::<Jwk>::fetch_async(metadata.jwks_uri(), &Seam::new(client)).await?;
        Ok(metadata.set_jwks(jwks))
    }

    /// Fetches the JWKS again (a token named a key we do not hold: the provider rotated its keys).
    pub(super) async fn refresh_jwks(
        &self,
        client: &dyn HttpClient,
        metadata: &ProviderMetadata,
    ) -> Result<Rc<ProviderMetadata>, ProviderError> {
        let jwks = JsonWebKeySet::<Jwk>::fetch_async(metadata.jwks_uri(), &Seam::new(client))
            .await
            .map_err(|e| discovery_error("key set", e))?;
        let metadata = Rc::new(metadata.clone().set_jwks(jwks));
        *self.metadata.borrow_mut() = Some(Rc::clone(&metadata));
        Ok(metadata)
    }
}

fn discovery_error(step: &str, error: DiscoveryError<SeamError>) -> ProviderError {
    match error {
        DiscoveryError::Request(e) => e.into_provider_error(step),
        DiscoveryError::Response(status, _, _) => {
            ProviderError::Misconfigured(format!("the provider's {step} document answered {}", status.as_u16()))
        }
        DiscoveryError::Validation(_) => {
            ProviderError::Misconfigured(format!("the provider's {step} document does not match the configured issuer"))
        }
        _ => ProviderError::Misconfigured(format!("the provider's {step} document could not be read")),
    }
}

/// What this client reads of a discovery document. `openidconnect`'s own parser (`ProviderMetadata`'s) checks all of
/// its ~30 members, through `serde_path_to_error` and a `#[serde(flatten)]`: 60 KB of the Worker's wasm for the six
/// members this client uses. Those are read with the same types and rules here (required ones required, endpoints
/// URLs, signing algorithms `openidconnect` does not know skipped); a member no part of sign-in reads is no longer
/// checked, so a document malformed only there is accepted.
#[derive(Deserialize)]
struct Discovery {
    issuer: IssuerUrl,
    authorization_endpoint: AuthUrl,
    token_endpoint: Option<TokenUrl>,
    userinfo_endpoint: Option<UserInfoUrl>,
    jwks_uri: JsonWebKeySetUrl,
    response_types_supported: Vec<ResponseTypes<CoreResponseType>>,
    subject_types_supported: Vec<CoreSubjectIdentifierType>,
    id_token_signing_alg_values_supported: Vec<Value>,
}
