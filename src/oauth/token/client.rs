//! Client authentication at `/token` and `/revoke` (RFC 6749 2.3.1): `Authorization: Basic`, or the form's
//! `client_id` (and `client_secret`). A public client authenticates by existing.

use super::super::store::{ClientAuthMethod, ClientRecord};
use super::super::{ClientId, ClientSecret, OAuthError, OAuthServer};
use crate::http::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeMap;

impl OAuthServer<'_> {
    /// Who is calling: `Authorization: Basic` or the form's `client_id` (and `client_secret`). An unknown client, or a
    /// confidential one with a wrong or missing secret, is `invalid_client` (401: Claude then registers again).
    pub(super) async fn authenticate_client(
        &self,
        req: &HttpRequest,
        form: &BTreeMap<String, String>,
    ) -> Result<ClientRecord, OAuthError> {
        let basic = match req.header("authorization") {
            // Compared as bytes: slicing the header as a str could split a multi-byte character (found by fuzzing).
            Some(h) if h.len() > 6 && h.as_bytes()[..6].eq_ignore_ascii_case(b"basic ") => Some(parse_basic(&h[6..])?),
            _ => None,
        };
        let form_id = form.get("client_id").filter(|s| !s.is_empty());
        let form_secret = form.get("client_secret").filter(|s| !s.is_empty());
        let (id, secret) = match (basic, form_id) {
            (Some((id, secret)), maybe_form_id) => {
                if form_secret.is_some() {
                    return Err(OAuthError::InvalidRequest("use one client authentication method, not two".into()));
                }
                if maybe_form_id.is_some_and(|f| *f != id) {
                    return Err(OAuthError::InvalidClient("client_id differs from the authenticated client".into()));
                }
                (id, Some(secret))
            }
            (None, Some(id)) => (id.clone(), form_secret.cloned()),
            (None, None) => return Err(OAuthError::InvalidClient("client_id is missing".into())),
        };
        let client = self
            .store
            .get_client(&ClientId::new(id))
            .await?
            .ok_or_else(|| OAuthError::InvalidClient("unknown client; register again".into()))?;
        match (client.auth_method, &client.secret_hash) {
            (ClientAuthMethod::None, _) => Ok(client),
            (_, Some(expected)) => {
                let given = secret.ok_or_else(|| OAuthError::InvalidClient("client authentication failed".into()))?;
                if ClientSecret::new(given).hash().ct_eq(expected) {
                    Ok(client)
                } else {
                    Err(OAuthError::InvalidClient("client authentication failed".into()))
                }
            }
            (_, None) => Err(OAuthError::InvalidClient("client authentication failed".into())),
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 2.3.1).
fn parse_basic(encoded: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::InvalidClient("malformed Basic authorization".into());
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    let id = unescape(id);
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, unescape(secret)))
}
