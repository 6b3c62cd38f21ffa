//! Asking the user: the consent page, its CSRF token, and the signed cookie that remembers which clients a user has
//! approved in this browser, each with the one redirect URI approved for it (so the page is shown once per client,
//! redirect URI and user).
//!
//! Why consent at all, when the user just signed in: any website can register a client and start an authorization
//! for it; without a page that names the client and where the code goes, a signed-in user could be walked through
//! a flow that hands their access to someone else (the "confused deputy" of the MCP security best practices).
//! The one exception is [`may_auto_approve`]: the `local` development provider with a loopback redirect URI.
//!
//! The CSRF token is an HMAC of the pending authorization's id: the sign-in flow stores a pending authorization under a random
//! id (and should bind that id to the browser, e.g. in a short-lived cookie), renders the page with
//! [`consent_page`], and on the POST checks [`verify_csrf`] before acting on the decision.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use skillport_providers::Identity;

use super::authorize::PendingAuthorization;
use super::crypto::ServerKeys;
use super::pages::html_page;
pub use super::pages::{error_page, html_escape, page_headers};
use super::registration::is_cimd_client_id;
use super::{ClientId, OAuthError, RedirectUri};
use crate::http::{HttpRequest, HttpResponse};

/// The consent cookie. `__Host-` makes browsers insist on `Secure`, `Path=/` and no `Domain`, so no sibling
/// subdomain can set or read it.
pub const CONSENT_COOKIE: &str = "__Host-skillport_consent";
/// How long approvals are remembered.
pub const CONSENT_MAX_AGE_SECONDS: u64 = 180 * 86_400;
/// Most approvals remembered (the oldest are forgotten first), which keeps the cookie under 1 KB.
const MAX_REMEMBERED: usize = 24;
const COOKIE_DOMAIN: &[u8] = b"skillport consent cookie v1\0";
const CSRF_DOMAIN: &[u8] = b"skillport consent csrf v1\0";
/// Version 1 remembered client ids alone, which let an approval cover every redirect URI the client has or adds
/// later: such cookies are not read, so those users are asked once more.
const COOKIE_VERSION: u8 = 2;
const ID_LEN: usize = 16;

/// The `local` development provider, and only with a loopback redirect URI, may skip the consent page: the only user
/// is the developer at the keyboard, and the code can only go to their own machine.
pub fn may_auto_approve(provider: crate::config::ProviderKind, redirect_uri: &RedirectUri) -> bool {
    provider == crate::config::ProviderKind::Local && redirect_uri.is_loopback()
}

/// A CSRF token for the consent form of pending authorization `pending_id`.
pub fn csrf_token(keys: &ServerKeys, pending_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(keys.cookie_mac(CSRF_DOMAIN, &[pending_id.as_bytes()]))
}

/// Checks a consent form's CSRF token, in constant time.
pub fn verify_csrf(keys: &ServerKeys, pending_id: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = csrf_token(keys, pending_id);
    expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}

/// The host (and port, when the URL names one) of a metadata-document client's URL: who that client is. Its
/// `client_name` is whatever its document says, so the page leads with this instead. `None` for a client registered
/// here (its id is a random string; the page names it and the host its codes go to).
pub fn metadata_document_host(client: &ClientId) -> Option<String> {
    if !is_cimd_client_id(client.as_str()) {
        return None;
    }
    let url = url::Url::parse(client.as_str()).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// The consent page for `pending`, posting to `action` with the pending id and its CSRF token. `server_name` is this
/// deployment's name; `user` is who signed in (shown so a user on a shared machine sees which account is used).
///
/// A client identified by a metadata document is named by its document's host, which it cannot choose: its
/// self-chosen `client_name` is only quoted, and the document's URL is shown in full.
pub fn consent_page(
    keys: &ServerKeys,
    server_name: &str,
    pending: &PendingAuthorization,
    user: &Identity,
    action: &str,
    pending_id: &str,
) -> HttpResponse {
    let who = user.email.as_deref().or(user.name.as_deref()).unwrap_or(&user.subject);
    let (client, identity) = match metadata_document_host(&pending.client_id) {
        Some(host) => {
            let calls_itself = match &pending.client_name {
                Some(name) => format!(" It calls itself &ldquo;{}&rdquo;.", html_escape(name)),
                None => String::new(),
            };
            let identity = format!(
                "<p class=\"identity\">This application is identified by <strong>{host}</strong>: its description is \
                 published at <code>{url}</code>.{calls_itself}</p>",
                host = html_escape(&host),
                url = html_escape(pending.client_id.as_str()),
            );
            (host, identity)
        }
        None => (pending.client_name.clone().unwrap_or_else(|| pending.client_id.as_str().to_owned()), String::new()),
    };
    let body = format!(
        "<h1>Allow {client} to use {server}?</h1>\
         <p class=\"who\">Signed in as {who}.</p>\
         {identity}\
         <p><strong>{client}</strong> will be able to list and read the plugins and skills {server} gives you access \
         to, acting as you.</p>\
         <p>After you approve, you will be sent back to <code>{host}</code>. Only approve if you started connecting \
         {client} yourself.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"pending\" value=\"{pending_id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         </form>",
        client = html_escape(&client),
        server = html_escape(server_name),
        who = html_escape(who),
        host = html_escape(&pending.redirect_uri.host()),
        action = html_escape(action),
        pending_id = html_escape(pending_id),
        csrf = html_escape(&csrf_token(keys, pending_id)),
    );
    let mut resp = html_page(200, "Authorize access", &body);
    // Chromium applies `form-action` to the redirects that follow a form submission too: the POST answers with a
    // redirect to the client, so the client's origin must be allowed as well, or the browser cancels it.
    let origin = pending.redirect_uri.url().origin().ascii_serialization();
    if origin != "null" {
        for (k, v) in resp.headers.iter_mut() {
            if k == "content-security-policy" {
                *v = v.replace("form-action 'self'", &format!("form-action 'self' {origin}"));
            }
        }
    }
    resp
}

/// What the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Approve,
    Deny,
}

/// Reads the consent form's POST body: the pending authorization's id and the decision, after checking the CSRF
/// token. The lead then loads the pending authorization by that id (and checks it belongs to this browser).
pub fn read_consent_form(keys: &ServerKeys, body: &[u8]) -> Result<(String, ConsentDecision), OAuthError> {
    let form = super::parse_form(body)?;
    let pending = form
        .get("pending")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("the consent form is incomplete; start connecting again".into()))?;
    let csrf = form.get("csrf").map(String::as_str).unwrap_or("");
    if !verify_csrf(keys, pending, csrf) {
        return Err(OAuthError::InvalidRequest("the consent form has expired or was not ours; start again".into()));
    }
    let decision = match form.get("decision").map(String::as_str) {
        Some("approve") => ConsentDecision::Approve,
        Some("deny") => ConsentDecision::Deny,
        _ => return Err(OAuthError::InvalidRequest("the consent form has no decision".into())),
    };
    Ok((pending.clone(), decision))
}

/// The clients one user has approved in this browser, each with the redirect URI it was approved for, read from and
/// written to a signed cookie. It records hashes (of the user's provider and subject, and of each client id and
/// redirect URI), so it names none of them.
///
/// An approval covers one client *and* one redirect URI: a client that lists more (or whose metadata document adds
/// one later) is asked about again for each, since the redirect URI is where the code goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentCookie {
    user: [u8; ID_LEN],
    approvals: Vec<[u8; ID_LEN]>,
}

fn short_hash(parts: &[&[u8]]) -> [u8; ID_LEN] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let full = h.finalize();
    let mut out = [0u8; ID_LEN];
    out.copy_from_slice(&full[..ID_LEN]);
    out
}

fn user_id(identity: &Identity) -> [u8; ID_LEN] {
    short_hash(&[identity.provider.as_bytes(), identity.subject.as_bytes()])
}

fn approval_hash(client: &ClientId, redirect_uri: &RedirectUri) -> [u8; ID_LEN] {
    short_hash(&[client.as_str().as_bytes(), redirect_uri.as_str().as_bytes()])
}

impl ConsentCookie {
    /// The cookie of `req`, if present, well-signed and unexpired; empty otherwise (a bad cookie only means the page
    /// is shown again).
    pub fn from_request(keys: &ServerKeys, req: &HttpRequest, now: u64) -> ConsentCookie {
        req.header("cookie")
            .and_then(|h| cookie_value(h, CONSENT_COOKIE))
            .and_then(|v| Self::decode(keys, v, now))
            .unwrap_or_default()
    }

    /// True when `identity` approved `client` sending its codes to `redirect_uri`, in this browser.
    pub fn has_approved(&self, identity: &Identity, client: &ClientId, redirect_uri: &RedirectUri) -> bool {
        self.user == user_id(identity) && self.approved_here(client, redirect_uri)
    }

    /// True when whoever last approved anything in this browser approved `client` with `redirect_uri`: before sign-in,
    /// the closest there is to "this user trusts that redirect URI" (the cookie is ours, signed, and `HttpOnly`).
    pub fn approved_here(&self, client: &ClientId, redirect_uri: &RedirectUri) -> bool {
        self.approvals.contains(&approval_hash(client, redirect_uri))
    }

    /// Remembers that `identity` approved `client` with `redirect_uri`. Another user's approvals are dropped: one
    /// browser, one user's list.
    pub fn approve(&mut self, identity: &Identity, client: &ClientId, redirect_uri: &RedirectUri) {
        let user = user_id(identity);
        if self.user != user {
            *self = ConsentCookie { user, approvals: Vec::new() };
        }
        let c = approval_hash(client, redirect_uri);
        self.approvals.retain(|x| *x != c);
        self.approvals.push(c);
        if self.approvals.len() > MAX_REMEMBERED {
            let excess = self.approvals.len() - MAX_REMEMBERED;
            self.approvals.drain(..excess);
        }
    }

    /// The `Set-Cookie` header value: `HttpOnly; Secure; SameSite=Lax; Path=/`.
    pub fn set_cookie(&self, keys: &ServerKeys, now: u64) -> String {
        format!(
            "{CONSENT_COOKIE}={}; Max-Age={CONSENT_MAX_AGE_SECONDS}; Path=/; HttpOnly; Secure; SameSite=Lax",
            self.encode(keys, now.saturating_add(CONSENT_MAX_AGE_SECONDS))
        )
    }

    /// `version, expiry (u64 BE), user, approvals...` base64url, `.`, HMAC base64url.
    fn encode(&self, keys: &ServerKeys, expires: u64) -> String {
        let mut payload = vec![COOKIE_VERSION];
        payload.extend_from_slice(&expires.to_be_bytes());
        payload.extend_from_slice(&self.user);
        for c in &self.approvals {
            payload.extend_from_slice(c);
        }
        let mac = keys.cookie_mac(COOKIE_DOMAIN, &[&payload]);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac))
    }

    fn decode(keys: &ServerKeys, value: &str, now: u64) -> Option<ConsentCookie> {
        if value.len() > 4096 {
            return None;
        }
        let (payload, mac) = value.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = keys.cookie_mac(COOKIE_DOMAIN, &[&payload]);
        use subtle::ConstantTimeEq;
        if mac.len() != expected.len() || !bool::from(expected.ct_eq(&mac)) {
            return None;
        }
        let (&version, rest) = payload.split_first()?;
        let (expires, rest) = rest.split_first_chunk::<8>()?;
        if version != COOKIE_VERSION
            || now >= u64::from_be_bytes(*expires)
            || rest.len() % ID_LEN != 0
            || rest.is_empty()
        {
            return None;
        }
        let mut chunks = rest.chunks_exact(ID_LEN).map(|c| <[u8; ID_LEN]>::try_from(c).ok());
        let user = chunks.next()??;
        let approvals = chunks.collect::<Option<Vec<_>>>()?;
        Some(ConsentCookie { user, approvals })
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests;
