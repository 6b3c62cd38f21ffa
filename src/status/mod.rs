//! The admin status page (`GET /status`): what this deployment serves and how its marketplaces are doing — each
//! configured marketplace with its last refresh and result, plugin counts per surface, and the identity provider in
//! use. Never a secret: marketplaces are described as the start-up log describes them (secret names, not values;
//! locations without query or user part, as `skillport_sources::shown_locations` gives them).
//!
//! It is behind sign-in, through the deployment's own OAuth flow: `/status` without a session sends the browser to
//! `/authorize` as the built-in client `skillport-status` (redirect URI `<public_url>/status/callback`, PKCE), and
//! the callback redeems the code itself, reads who signed in, revokes the grant it no longer needs, and keeps a
//! signed one-hour session cookie. Consent is not asked for this client: its code can only come back here.
//!
//! The page is for admins alone (`access.admins`, decided by `access::is_admin` when the sign-in comes back): anyone
//! else gets one 403 page, the same whoever they are and whatever is configured, and no session. A session names the
//! admin list it was issued under, so changing `access.admins` ends every session at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::Catalogue;
use crate::config::{Config, Surface};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::consent::cookie_value;
use crate::oauth::crypto::random_token;
use crate::oauth::pages::{error_page, html_escape, page_headers};
use crate::oauth::store::{ClientAuthMethod, ClientRecord};
use crate::oauth::{ClientId, OAuthServer, RedirectUri};

/// The built-in client the status page signs in as.
pub const STATUS_CLIENT_ID: &str = "skillport-status";
pub const STATUS_PATH: &str = crate::routes::paths::STATUS;
pub const STATUS_CALLBACK_PATH: &str = crate::routes::paths::STATUS_CALLBACK;
const SESSION_COOKIE: &str = "__Host-skillport_status";
const PKCE_COOKIE: &str = "__Host-skillport_status_pkce";
const SESSION_SECONDS: u64 = 3600;
const SESSION_DOMAIN: &[u8] = b"skillport status session v1\0";

fn base(cfg: &Config) -> String {
    cfg.server.public_url.as_str().trim_end_matches('/').to_owned()
}

fn callback(cfg: &Config) -> String {
    format!("{}{STATUS_CALLBACK_PATH}", base(cfg))
}

/// Who is looking at the page.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    who: String,
    exp: u64,
    /// [`admins_fingerprint`] of the configuration the session was issued under.
    admins: String,
}

/// Identifies the admin list (and the provider, which decides `local`'s default admin), so a session ends when either
/// changes.
fn admins_fingerprint(cfg: &Config) -> String {
    let listed = format!("{:?}|{}", cfg.access.admins, cfg.auth.kind());
    URL_SAFE_NO_PAD.encode(&Sha256::digest(listed.as_bytes())[..16])
}

/// The one answer to a signed-in user who is not an admin: the same page whoever they are and whatever is
/// configured or served.
pub fn not_an_admin() -> HttpResponse {
    error_page(403, "Not available", "This page is only for the administrators of this deployment.")
}

fn seal_session(oauth: &OAuthServer<'_>, session: &Session) -> String {
    let payload = serde_json::to_vec(session).unwrap_or_default();
    let mac = oauth.keys.cookie_mac(SESSION_DOMAIN, &[&payload]);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac))
}

fn open_session(cfg: &Config, oauth: &OAuthServer<'_>, req: &HttpRequest, now: u64) -> Option<Session> {
    let value = cookie_value(req.header("cookie")?, SESSION_COOKIE)?;
    let (payload, mac) = value.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let expected = oauth.keys.cookie_mac(SESSION_DOMAIN, &[&payload]);
    use subtle::ConstantTimeEq;
    if mac.len() != expected.len() || !bool::from(expected.ct_eq(&mac)) {
        return None;
    }
    let session: Session = serde_json::from_slice(&payload).ok()?;
    (now < session.exp && session.admins == admins_fingerprint(cfg)).then_some(session)
}

fn cookie(name: &str, value: &str, max_age: u64) -> String {
    format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; Secure; SameSite=Lax")
}

/// `GET /status`: the page, or the start of sign-in.
pub async fn page(
    cfg: &Config,
    catalogue: &Catalogue,
    oauth: &OAuthServer<'_>,
    req: &HttpRequest,
    now: u64,
) -> HttpResponse {
    if let Some(session) = open_session(cfg, oauth, req, now) {
        return render(cfg, catalogue, &session.who, now);
    }
    // The callback is built from the validated public URL, so it parses; were it not to, no sign-in could finish.
    let Ok(callback_uri) = RedirectUri::parse(callback(cfg)) else {
        return error_page(500, "Status unavailable", "The status page's sign-in address is not a URL.");
    };
    let client = ClientRecord {
        client_id: ClientId::new(STATUS_CLIENT_ID),
        redirect_uris: vec![callback_uri],
        client_name: Some("Skillport status page".into()),
        auth_method: ClientAuthMethod::None,
        secret_hash: None,
        issued_at: now,
        metadata_document: false,
    };
    if oauth.store.put_client(&client).await.is_err() {
        return error_page(503, "Status unavailable", "The sign-in store is briefly unavailable; try again.");
    }
    let verifier = random_token(oauth.rng);
    let state = random_token(oauth.rng);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", STATUS_CLIENT_ID)
        .append_pair("redirect_uri", &callback(cfg))
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &format!("{}/mcp", base(cfg)))
        .finish();
    crate::oauth::authorize::redirect(&format!("{}/authorize?{query}", base(cfg)))
        .header("set-cookie", &cookie(PKCE_COOKIE, &format!("{state}.{verifier}"), 600))
        .header("cache-control", "no-store")
}

/// `GET /status/callback`: redeem the code, note who signed in, and go back to the page.
pub async fn callback_route(cfg: &Config, oauth: &OAuthServer<'_>, req: &HttpRequest, now: u64) -> HttpResponse {
    let params: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(req.query.as_bytes()).into_owned().collect();
    let kept = req.header("cookie").and_then(|h| cookie_value(h, PKCE_COOKIE)).and_then(|v| v.split_once('.'));
    let (Some((state, verifier)), Some(code)) = (kept, params.get("code")) else {
        let why = params.get("error").map_or("the sign-in did not complete", |e| e.as_str());
        return error_page(400, "Status page sign-in failed", &format!("{why}; open /status again."));
    };
    if params.get("state").map(String::as_str) != Some(state) {
        return error_page(400, "Status page sign-in failed", "This sign-in was not started here; open /status again.");
    }
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("client_id", STATUS_CLIENT_ID)
        .append_pair("redirect_uri", &callback(cfg))
        .append_pair("code_verifier", verifier)
        .finish();
    let token_req = HttpRequest::new("POST", "/token")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form.into_bytes());
    let tokens = match oauth.exchange(&token_req, now).await {
        Ok(t) => t,
        Err(e) => return error_page(400, "Status page sign-in failed", &e.to_string()),
    };
    let resource = crate::oauth::metadata::resource_uri(oauth.public_url, crate::oauth::metadata::Resource::Mcp);
    let identity =
        match crate::oauth::token::verify_access_token(oauth.store, oauth.keys, &tokens.access_token, &resource, now)
            .await
        {
            Ok(i) => i,
            Err(e) => return error_page(400, "Status page sign-in failed", &e.to_string()),
        };
    // The grant has served its purpose; the session cookie is all the page needs.
    let revoke = HttpRequest::new("POST", "/revoke")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(format!("token={}&client_id={STATUS_CLIENT_ID}", tokens.refresh_token.expose()).into_bytes());
    let _ = oauth.handle_revoke(&revoke, now).await;
    if !crate::access::is_admin(&cfg.access, &cfg.auth, &identity) {
        crate::audit::record(
            now,
            &crate::audit::Event {
                user: Some((&identity).into()),
                detail: Some("not an admin (access.admins)"),
                ..crate::audit::Event::new(crate::audit::Action::Status, crate::audit::Outcome::Refused)
            },
        );
        return not_an_admin().header("set-cookie", &cookie(PKCE_COOKIE, "", 0));
    }
    let who = identity.email.clone().or(identity.name.clone()).unwrap_or(identity.subject.clone());
    let session = seal_session(oauth, &Session { who, exp: now + SESSION_SECONDS, admins: admins_fingerprint(cfg) });
    crate::oauth::authorize::redirect(&format!("{}{STATUS_PATH}", base(cfg)))
        .header("set-cookie", &cookie(SESSION_COOKIE, &session, SESSION_SECONDS))
        .header("set-cookie", &cookie(PKCE_COOKIE, "", 0))
        .header("cache-control", "no-store")
}

fn ago(now: u64, then: Option<u64>) -> String {
    match then {
        None => "never".into(),
        Some(t) => {
            let s = now.saturating_sub(t);
            match s {
                0..=119 => format!("{s} s ago"),
                120..=7199 => format!("{} min ago", s / 60),
                _ => format!("{} h ago", s / 3600),
            }
        }
    }
}

/// The page itself (pure, for tests).
pub fn render(cfg: &Config, catalogue: &Catalogue, who: &str, now: u64) -> HttpResponse {
    let mut rows = String::new();
    for (m, conf) in catalogue.marketplaces.iter().zip(cfg.marketplaces.iter()) {
        let (plugins, servable, state) = match &m.loaded {
            Ok(l) => {
                let servable = l.plugins.iter().filter(|p| p.status.is_servable()).count();
                let mut state = match &m.error {
                    None => "ok".to_owned(),
                    Some(e) => format!("refresh failing, serving the copy from {}: {e}", ago(now, m.fetched_at)),
                };
                if let Some(loading) = &m.refresh.loading {
                    state.push_str(&format!("; {loading}"));
                }
                if let Some(t) = m.refresh.retry_at.filter(|t| *t > now) {
                    state.push_str(&format!("; next try in {}s", t - now));
                }
                (l.plugins.len(), servable, state)
            }
            Err(e) => (0, 0, format!("not loaded: {e}")),
        };
        let state = match crate::webhooks::last(&m.id) {
            Some(h) => format!(
                "{state}; last webhook: {} `{}` {}: {}",
                h.form.as_str(),
                h.event,
                ago(now, Some(h.at)),
                h.outcome
            ),
            None => state,
        };
        let class = if m.error.is_none() && m.loaded.is_ok() { "ok" } else { "bad" };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{plugins} ({servable} servable)</td>\
             <td class=\"{class}\">{}</td></tr>",
            html_escape(&m.id),
            html_escape(&conf.describe()),
            html_escape(&m.revision.as_deref().map_or("-".to_owned(), |r| r.chars().take(12).collect::<String>())),
            html_escape(&ago(now, m.fetched_at)),
            html_escape(&state),
        ));
    }
    let view = catalogue.unfiltered();
    let mut per_surface = String::new();
    for surface in [Surface::ClaudeCode, Surface::ClaudeDesktop, Surface::ClaudeAi] {
        let served = cfg.catalogue.surfaces.contains(&surface);
        let count = view.plugins().filter(|p| p.plugin.status.is_servable() && p.surfaces().contains(&surface)).count();
        per_surface.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{count}</td></tr>",
            crate::catalogue::surface::name(surface),
            if served { "served" } else { "not served by this deployment" },
        ));
    }
    let body = format!(
        "<h1>{name}: status</h1><p class=\"who\">Signed in as {who}.</p>\
         <h2>Sign-in</h2><p>Identity provider: <code>{provider}</code>. Public URL: <code>{url}</code>.</p>\
         <h2>Marketplaces</h2><table><tr><th>Id</th><th>Source</th><th>Revision</th><th>Refreshed</th>\
         <th>Plugins</th><th>State</th></tr>{rows}</table>\
         <h2>Plugins per surface</h2><table><tr><th>Surface</th><th></th><th>Servable plugins</th></tr>{per_surface}\
         </table><p class=\"who\">Refreshed every {refresh} s; a failing source's last good copy is served for up to \
         {stale} s.</p>",
        name = html_escape(&cfg.server.name),
        who = html_escape(who),
        provider = html_escape(cfg.auth.kind()),
        url = html_escape(cfg.server.public_url.as_str()),
        refresh = cfg.catalogue.refresh_seconds,
        stale = cfg.catalogue.stale_seconds,
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} status</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;\
         vertical-align:top}}.ok{{color:#0a7a2f}}.bad{{color:#b42318}}.who{{color:#555}}code{{background:#f3f3f3}}\
         </style></head><body>{body}</body></html>",
        html_escape(&cfg.server.name)
    );
    page_headers(HttpResponse::new(200).header("content-type", "text/html; charset=utf-8").body(html.into_bytes()))
}

#[cfg(test)]
mod tests;
