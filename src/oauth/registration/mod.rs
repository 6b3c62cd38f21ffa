//! How clients become known: Dynamic Client Registration (RFC 7591) at `/register`, and Client ID Metadata Documents
//! (an https URL as `client_id`, whose JSON document names the client and its redirect URIs).
//!
//! The one rule both share is [`validate_redirect_uri`]: https, or http on a loopback host; never a fragment, a
//! wildcard, user info or another scheme (`javascript:`, `data:`, custom schemes). Redirect URIs are later matched
//! exactly, byte for byte, so what is accepted here is exactly where codes can ever be sent.
//!
//! Fetching a metadata document is the sign-in flow's (`super::flow`, over the outbound HTTP seam), after [`cimd_fetch_allowed`]. That
//! check can only judge the URL: a Worker cannot resolve DNS itself, so a public name that resolves to a private
//! address is not caught here. On Cloudflare that is contained by the platform (a Worker's `fetch` does not reach
//! private networks, nor the Worker's own zone's origin behind a name it cannot see), which is why literal addresses
//! and `localhost` names are what this refuses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use url::{Host, Url};

use super::crypto::{random_token, Random};
use super::store::{ClientAuthMethod, ClientRecord, GrantStore};
use super::{ClientId, ClientSecret, OAuthError, RedirectUri};
use crate::http::{HttpRequest, HttpResponse};

/// Longest redirect URI accepted.
const MAX_REDIRECT_URI_LEN: usize = 2000;
/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Longest client name, in characters: it is shown on the consent page.
const MAX_CLIENT_NAME_CHARS: usize = 100;
/// Largest metadata document read (the CIMD draft suggests 5 KB).
pub const MAX_CIMD_BYTES: usize = 5 * 1024;

/// Checks one redirect URI and returns it as registered. Accepted: `https://host/...`, and `http://` on
/// `localhost`, `127.0.0.1` or `[::1]` (native apps listen on loopback; RFC 8252). The string must be in the URL's
/// canonical form (or lack only the root path's `/`), so what the user is shown, what the browser follows and what is
/// compared are the same.
pub fn validate_redirect_uri(raw: &str) -> Result<RedirectUri, OAuthError> {
    let bad = |why: &str| Err(OAuthError::InvalidRedirectUri(format!("redirect URI `{}`: {why}", shorten(raw))));
    if raw.is_empty() || raw.len() > MAX_REDIRECT_URI_LEN {
        return bad("must be 1-2000 characters long");
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain spaces or control characters");
    }
    if raw.contains('#') {
        return bad("must not contain a fragment");
    }
    if raw.contains('*') {
        return bad("must not contain a wildcard");
    }
    let Ok(url) = Url::parse(raw) else { return bad("is not an absolute URL") };
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user info");
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => {}
        ("http", Some(host)) if is_loopback_redirect_host(&host) => {}
        ("http", _) => return bad("http is only allowed on a loopback host (localhost, 127.0.0.1, [::1])"),
        _ => return bad("must be an https URL (or http on a loopback host)"),
    }
    let canonical = url.as_str();
    if raw != canonical && format!("{raw}/") != canonical {
        return bad("must be written in its canonical form");
    }
    RedirectUri::parse(raw).or_else(|_| bad("is not an absolute URL"))
}

fn is_loopback_redirect_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => *ip == Ipv4Addr::LOCALHOST,
        Host::Ipv6(ip) => *ip == Ipv6Addr::LOCALHOST,
    }
}

fn shorten(s: &str) -> String {
    let short: String = s.chars().take(100).filter(|c| !c.is_control()).collect();
    if short.len() < s.len() {
        format!("{short}...")
    } else {
        short
    }
}

fn validate_redirect_uris(uris: Option<Vec<String>>) -> Result<Vec<RedirectUri>, OAuthError> {
    let uris = uris.unwrap_or_default();
    if uris.is_empty() {
        return Err(OAuthError::InvalidRedirectUri("redirect_uris is required and must not be empty".into()));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::InvalidRedirectUri(format!("at most {MAX_REDIRECT_URIS} redirect_uris")));
    }
    let mut out: Vec<RedirectUri> = Vec::new();
    for u in uris {
        let u = validate_redirect_uri(&u)?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

fn validate_client_name(name: Option<String>) -> Result<Option<String>, OAuthError> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_CLIENT_NAME_CHARS {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "client_name must be at most {MAX_CLIENT_NAME_CHARS} characters"
        )));
    }
    // Control characters, and the bidirectional overrides that could make a name read as another on the consent page.
    let sneaky = |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if name.chars().any(sneaky) {
        return Err(OAuthError::InvalidClientMetadata("client_name must not contain control characters".into()));
    }
    Ok(Some(name))
}

/// The parts of client metadata Skillport reads; the rest is ignored (RFC 7591 2).
#[derive(Debug, Deserialize)]
struct ClientMetadata {
    client_id: Option<String>,
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_secret: Option<serde_json::Value>,
}

fn parse_metadata(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::InvalidClientMetadata(format!("the client metadata is not valid JSON here: {e}")))
}

fn check_grant_and_response_types(m: &ClientMetadata) -> Result<(), OAuthError> {
    if let Some(types) = &m.grant_types {
        if let Some(t) = types.iter().find(|t| !matches!(t.as_str(), "authorization_code" | "refresh_token")) {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "grant_type `{}` is not supported (authorization_code, refresh_token)",
                shorten(t)
            )));
        }
    }
    if let Some(types) = &m.response_types {
        if types.iter().any(|t| t != "code") {
            return Err(OAuthError::InvalidClientMetadata("only the `code` response_type is supported".into()));
        }
    }
    Ok(())
}

/// Registers a client from an RFC 7591 request body. Returns the record stored and, for a confidential client, its
/// secret (shown once in the response; only its hash is kept); `None` when the store already holds
/// `limits.max_clients`.
pub async fn register(
    store: &dyn GrantStore,
    rng: &dyn Random,
    body: &[u8],
    now: u64,
    limits: super::limits::ClientLimits,
) -> Result<Option<(ClientRecord, Option<ClientSecret>)>, OAuthError> {
    let m = parse_metadata(body)?;
    let redirect_uris = validate_redirect_uris(m.redirect_uris.clone())?;
    check_grant_and_response_types(&m)?;
    let auth_method = match m.token_endpoint_auth_method.as_deref() {
        // RFC 7591's default is client_secret_basic; MCP clients register as public clients and say so.
        None => ClientAuthMethod::ClientSecretBasic,
        Some(s) => ClientAuthMethod::parse(s).ok_or_else(|| {
            OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method `{}` is not supported (none, client_secret_post, client_secret_basic)",
                shorten(s)
            ))
        })?,
    };
    let client_name = validate_client_name(m.client_name)?;
    let secret = (auth_method != ClientAuthMethod::None).then(|| ClientSecret::new(random_token(rng)));
    let record = ClientRecord {
        client_id: ClientId::new(random_token(rng)),
        redirect_uris,
        client_name,
        auth_method,
        secret_hash: secret.as_ref().map(ClientSecret::hash),
        issued_at: now,
        metadata_document: false,
    };
    if !store.add_client(&record, limits.max_clients, limits.unused_seconds).await? {
        return Ok(None);
    }
    Ok(Some((record, secret)))
}

/// `POST /register`: 201 with the client's metadata (RFC 7591 3.2.1), 400 with `invalid_redirect_uri` /
/// `invalid_client_metadata`, or 503 when the store holds `limits.max_clients` clients already.
pub async fn handle_register(
    store: &dyn GrantStore,
    rng: &dyn Random,
    req: &HttpRequest,
    now: u64,
    limits: super::limits::ClientLimits,
) -> HttpResponse {
    if req.method != "POST" {
        return HttpResponse::new(405).header("allow", "POST");
    }
    match register(store, rng, &req.body, now, limits).await {
        Ok(None) => super::limits::Refusal::Full.to_response(),
        Ok(Some((record, secret))) => {
            let mut body = serde_json::json!({
                "client_id": record.client_id.as_str(),
                "client_id_issued_at": record.issued_at,
                "redirect_uris": record.redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": record.auth_method.as_str(),
            });
            if let Some(name) = &record.client_name {
                body["client_name"] = name.as_str().into();
            }
            if let Some(secret) = &secret {
                body["client_secret"] = secret.expose().into();
                body["client_secret_expires_at"] = 0.into();
            }
            HttpResponse::json(201, &body).header("cache-control", "no-store").header("pragma", "no-cache")
        }
        Err(e) => e.to_response(),
    }
}

impl super::OAuthServer<'_> {
    /// `POST /register`: admitted under the client limits ([`super::limits::admit_registration`]: per address, which
    /// is Cloudflare's `CF-Connecting-IP`, and for everyone), then [`handle_register`].
    pub async fn handle_register(&self, req: &HttpRequest, now: u64) -> HttpResponse {
        if req.method != "POST" {
            return HttpResponse::new(405).header("allow", "POST");
        }
        let ip = req.header("cf-connecting-ip");
        if let Err(refusal) = super::limits::admit_registration(self.store, &self.settings.clients, ip, now).await {
            return refusal.to_response();
        }
        handle_register(self.store, self.rng, req, now, self.settings.clients).await
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Client ID Metadata Documents
// ---------------------------------------------------------------------------------------------------------------------

/// True when `id` is a Client ID Metadata Document URL: https (or http on a loopback host, for clients on a
/// developer's machine; [`cimd_fetch_allowed`] refuses those in production), with a path past `/`, no fragment, no
/// user info, in canonical form (so no `.`/`..` segments).
pub fn is_cimd_client_id(id: &str) -> bool {
    let Ok(url) = Url::parse(id) else { return false };
    let loopback = url.host_str().is_some_and(skillport_providers::local::is_loopback_host);
    (url.scheme() == "https" || (url.scheme() == "http" && loopback))
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && url.path() != "/"
        && !url.path().is_empty()
        && url.as_str() == id
}

/// Reads a fetched metadata document for `client_id` into a (public) client record. The document must name itself
/// (`client_id` equal to the URL it came from), list valid redirect URIs, and not claim a secret.
pub fn validate_cimd(client_id: &str, document: &[u8], now: u64) -> Result<ClientRecord, OAuthError> {
    if !is_cimd_client_id(client_id) {
        return Err(OAuthError::InvalidClient("client_id is not a client metadata document URL".into()));
    }
    if document.len() > MAX_CIMD_BYTES {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "the client metadata document is larger than {MAX_CIMD_BYTES} bytes"
        )));
    }
    let m = parse_metadata(document)?;
    if m.client_id.as_deref() != Some(client_id) {
        return Err(OAuthError::InvalidClientMetadata(
            "the client metadata document's client_id is not the URL it was fetched from".into(),
        ));
    }
    if m.client_secret.is_some() {
        return Err(OAuthError::InvalidClientMetadata("a client metadata document must not carry a secret".into()));
    }
    match m.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method `{}` is not supported for metadata document clients (none)",
                shorten(other)
            )))
        }
    }
    check_grant_and_response_types(&m)?;
    Ok(ClientRecord {
        client_id: ClientId::new(client_id),
        redirect_uris: validate_redirect_uris(m.redirect_uris)?,
        client_name: validate_client_name(m.client_name)?,
        auth_method: ClientAuthMethod::None,
        secret_hash: None,
        issued_at: now,
        metadata_document: true,
    })
}

/// Whether the Worker may fetch a metadata document from `url`: https (http too when not `production`), and not a
/// literal private, loopback, link-local or otherwise non-public address, nor a `localhost` name. DNS names are not
/// resolved (a Worker cannot); see the module documentation.
pub fn cimd_fetch_allowed(url: &str, production: bool) -> Result<(), String> {
    let url = Url::parse(url).map_err(|_| "the client_id is not a URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if !production => {}
        other => return Err(format!("client metadata documents are fetched over https only, not `{other}`")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the client metadata URL must not contain user info".into());
    }
    // A deployment on a developer's machine may read a document served on that machine.
    if !production && url.host_str().is_some_and(skillport_providers::local::is_loopback_host) {
        return Ok(());
    }
    match url.host() {
        None => Err("the client metadata URL has no host".into()),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                Err(format!("`{d}` is a loopback name"))
            } else {
                Ok(())
            }
        }
        Some(Host::Ipv4(ip)) => public_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => public_ip(IpAddr::V6(ip)),
    }
}

fn public_ip(ip: IpAddr) -> Result<(), String> {
    let refused = match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => non_public_v4(v4),
            None => {
                let s = v6.segments();
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                    || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                    || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                    || (s[..6] == [0; 6]) // IPv4-compatible ::a.b.c.d (deprecated)
            }
        },
    };
    if refused {
        Err(format!("{ip} is not a public address"))
    } else {
        Ok(())
    }
}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_loopback() // 127/8
        || ip.is_link_local() // 169.254/16 (cloud metadata lives here)
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT 100.64/10
        || o[0] >= 240 // reserved
}

#[cfg(test)]
mod tests;
