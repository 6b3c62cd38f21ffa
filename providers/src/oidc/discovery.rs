//! Discovery: the provider's `/.well-known/openid-configuration` and its key set, fetched once and kept, and the
//! key set fetched again when a token names a key it does not hold.

use std::rc::Rc;

use openidconnect::core::{CoreResponseType, CoreSubjectIdentifierType};
use openidconnect::{AuthUrl, IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl, ResponseTypes, TokenUrl, UserInfoUrl};
use serde::Deserialize;
use serde_json::Value;

use super::seam::{get_json, SeamError};
use super::{OidcProvider, ProviderMetadata};
use crate::jws::Jwk;
use crate::{HttpClient, HttpResponse, ProviderError};

/// Why discovery or the key set failed, before it is said for one step (`discovery` or `key set`): the cases
/// `openidconnect`'s `DiscoveryError` had.
enum Failure {
    Request(SeamError),
    /// An answer that is not 200, or not of the expected content type.
    Response(u16),
    /// The document names another issuer.
    Validation,
    /// Not a URL, not the expected JSON.
    Unreadable,
}

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
    /// and checks (see [`Discovery`] for the one difference), with its outcomes.
    async fn discover(&self, client: &dyn HttpClient) -> Result<ProviderMetadata, Failure> {
        let url = self.issuer.join(".well-known/openid-configuration").map_err(|_| Failure::Unreadable)?;
        let response = get_json(client, url.as_str()).await.map_err(Failure::Request)?;
        let json = content_type(&response).is_none_or(|v| essence_is(v, "application/json"));
        if response.status != 200 || !json {
            return Err(Failure::Response(response.status));
        }
        let doc: Discovery = serde_json::from_slice(&response.body).map_err(|_| Failure::Unreadable)?;
        if doc.issuer != self.issuer {
            return Err(Failure::Validation);
        }
        // Read (a member of the wrong type fails the document, as before) but not kept: sign-in does not use them.
        let _ = (doc.response_types_supported, doc.subject_types_supported, doc.id_token_signing_alg_values_supported);
        let jwks = fetch_jwks(client, &doc.jwks_uri).await?;
        Ok(ProviderMetadata {
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            userinfo_endpoint: doc.userinfo_endpoint,
            jwks_uri: doc.jwks_uri,
            jwks,
        })
    }

    /// Fetches the JWKS again (a token named a key we do not hold: the provider rotated its keys).
    pub(super) async fn refresh_jwks(
        &self,
        client: &dyn HttpClient,
        metadata: &ProviderMetadata,
    ) -> Result<Rc<ProviderMetadata>, ProviderError> {
        let jwks = fetch_jwks(client, &metadata.jwks_uri).await.map_err(|e| discovery_error("key set", e))?;
        let metadata = Rc::new(ProviderMetadata { jwks, ..metadata.clone() });
        *self.metadata.borrow_mut() = Some(Rc::clone(&metadata));
        Ok(metadata)
    }
}

/// The key set at `url`, with the checks of `JsonWebKeySet::fetch_async`: a 200, JSON (`application/json` or
/// `application/jwk-set+json`, or no content type), keys `openidconnect` can read (others are skipped, as there).
async fn fetch_jwks(client: &dyn HttpClient, url: &JsonWebKeySetUrl) -> Result<JsonWebKeySet<Jwk>, Failure> {
    let response = get_json(client, url.as_str()).await.map_err(Failure::Request)?;
    let json = content_type(&response)
        .is_none_or(|v| essence_is(v, "application/json") || essence_is(v, "application/jwk-set+json"));
    if response.status != 200 || !json {
        return Err(Failure::Response(response.status));
    }
    serde_json::from_slice(&response.body).map_err(|_| Failure::Unreadable)
}

/// The answer's `content-type`, if it has one.
fn content_type(response: &HttpResponse) -> Option<&str> {
    response.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str())
}

/// Whether a content type's essence (before any `;`) is `essence`, case-insensitively.
fn essence_is(content_type: &str, essence: &str) -> bool {
    content_type[..content_type.find(';').unwrap_or(content_type.len())].eq_ignore_ascii_case(essence)
}

fn discovery_error(step: &str, error: Failure) -> ProviderError {
    match error {
        Failure::Request(e) => e.into_provider_error(step),
        Failure::Response(status) => {
            ProviderError::Misconfigured(format!("the provider's {step} document answered {status}"))
        }
        Failure::Validation => {
            ProviderError::Misconfigured(format!("the provider's {step} document does not match the configured issuer"))
        }
        Failure::Unreadable => {
            ProviderError::Misconfigured(format!("the provider's {step} document could not be read"))
        }
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
