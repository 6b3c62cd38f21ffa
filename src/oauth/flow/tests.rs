//! The sign-in flow end to end over the in-memory store and the `local` provider: where authorization errors go
//! (page or redirect), what remembered consent covers, and consent from another browser.

use super::*;
use crate::bundle::NoNetwork;
use crate::oauth::authorize::tests::challenge;
use crate::oauth::store::{ClientAuthMethod, ClientRecord, GrantStore, MemoryGrantStore};
use crate::oauth::testutil::{block_on, keys, CountingRandom};
use crate::oauth::{RedirectUri, ServerKeys, TokenSettings};

const BASE: &str = "http://localhost:8787";
const APP_CB: &str = "https://app.example/cb";
const APP_CB2: &str = "https://app.example/other-cb";
const PHISH: &str = "https://evil.example/phish";

struct World {
    store: MemoryGrantStore,
    keys: ServerKeys,
    rng: CountingRandom,
    url: url::Url,
    local: LocalProvider,
}

impl World {
    fn new() -> World {
        let w = World {
            store: MemoryGrantStore::new(),
            keys: keys(),
            rng: CountingRandom::default(),
            url: url::Url::parse(BASE).unwrap(),
            local: LocalProvider::new(Default::default()),
        };
        for (id, uris) in [("client-a", vec![APP_CB, APP_CB2]), ("client-b", vec![APP_CB]), ("phisher", vec![PHISH])] {
            let record = ClientRecord {
                client_id: ClientId::new(id),
                redirect_uris: uris.into_iter().map(RedirectUri::new).collect(),
                client_name: Some("Claude".into()),
                auth_method: ClientAuthMethod::None,
                secret_hash: None,
                issued_at: 0,
                metadata_document: false,
            };
            block_on(w.store.put_client(&record)).unwrap();
        }
        w
    }

    fn signin(&self) -> SignIn<'_> {
        SignIn {
            oauth: OAuthServer {
                store: &self.store,
                keys: &self.keys,
                rng: &self.rng,
                public_url: &self.url,
                settings: TokenSettings::default(),
            },
            upstream: Upstream::Local(&self.local),
            http: &NoNetwork,
            server_name: "Skillport",
            now: 1000,
        }
    }

    /// `GET /authorize` for `client` and `redirect`, with `changes` replacing (or, valued `None`, removing) some
    /// parameters of a valid request.
    fn authorize_with(
        &self,
        client: &str,
        redirect: &str,
        changes: &[(&str, Option<&str>)],
        cookie: Option<&str>,
    ) -> HttpResponse {
        let ch = challenge(&"v".repeat(50));
        let mut params = vec![
            ("response_type", Some("code")),
            ("client_id", Some(client)),
            ("redirect_uri", Some(redirect)),
            ("code_challenge", Some(ch.as_str())),
            ("code_challenge_method", Some("S256")),
            ("state", Some("st")),
        ];
        for (k, v) in changes {
            match params.iter_mut().find(|(pk, _)| pk == k) {
                Some(p) => p.1 = *v,
                None => params.push((k, *v)),
            }
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
        let mut req = HttpRequest::new("GET", "/authorize").with_header("host", "localhost:8787");
        req.query = query.finish();
        if let Some(c) = cookie {
            req = req.with_header("cookie", c);
        }
        block_on(self.signin().authorize(&req))
    }

    fn authorize(&self, client: &str, redirect: &str, cookie: Option<&str>) -> HttpResponse {
        self.authorize_with(client, redirect, &[], cookie)
    }

    /// The consent page's hidden fields and the sign-in cookie it set.
    fn consent_form(page: &HttpResponse) -> (String, String, String) {
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let html = String::from_utf8(page.body.clone()).unwrap();
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html.find(&marker).unwrap() + marker.len();
            html[start..].split('"').next().unwrap().to_owned()
        };
        let cookie = page
            .headers
            .iter()
            .find(|(k, v)| k == "set-cookie" && v.starts_with(SIGNIN_COOKIE))
            .map(|(_, v)| v.split(';').next().unwrap().to_owned())
            .unwrap();
        (field("pending"), field("csrf"), cookie)
    }

    fn post_consent(&self, pending: &str, csrf: &str, cookie: Option<&str>) -> HttpResponse {
        let mut req = HttpRequest::new("POST", CONSENT_PATH)
            .with_header("host", "localhost:8787")
            .with_body(format!("pending={pending}&csrf={csrf}&decision=approve"));
        if let Some(c) = cookie {
            req = req.with_header("cookie", c);
        }
        block_on(self.signin().consent(&req))
    }

    /// Approves `client` with `redirect` in a fresh browser; returns that browser's consent cookie.
    fn approve(&self, client: &str, redirect: &str) -> String {
        let (pending, csrf, signin) = Self::consent_form(&self.authorize(client, redirect, None));
        let done = self.post_consent(&pending, &csrf, Some(&signin));
        assert_eq!(done.status, 302);
        assert!(done.get_header("location").unwrap().starts_with(redirect));
        done.headers
            .iter()
            .find(|(k, v)| k == "set-cookie" && v.starts_with(CONSENT_COOKIE_NAME))
            .map(|(_, v)| v.split(';').next().unwrap().to_owned())
            .unwrap()
    }
}

use crate::oauth::consent::CONSENT_COOKIE as CONSENT_COOKIE_NAME;

fn is_page(r: &HttpResponse) -> bool {
    r.status == 400
        && r.get_header("location").is_none()
        && r.get_header("content-type").is_some_and(|c| c.starts_with("text/html"))
}

/// RFC 9700 4.11.2: anyone may register `https://evil.example/phish`; an invalid request for that client must not
/// make this server redirect there before the user ever approved it.
#[test]
fn authorization_errors_redirect_only_to_a_redirect_uri_this_browser_approved() {
    let w = World::new();
    let invalid: [&[(&str, Option<&str>)]; 4] = [
        &[("response_type", Some("token"))],
        &[("code_challenge_method", Some("plain"))],
        &[("code_challenge", None)],
        &[("resource", Some("https://evil.example/"))],
    ];
    for changes in invalid {
        let r = w.authorize_with("phisher", PHISH, changes, None);
        assert!(is_page(&r), "{changes:?}: {} {:?}", r.status, r.get_header("location"));
    }
    // Approved in this browser (client and redirect URI both): the error goes back to the client.
    let approved = w.approve("client-a", APP_CB);
    let bad_resource: &[(&str, Option<&str>)] = &[("resource", Some("https://evil.example/"))];
    let r = w.authorize_with("client-a", APP_CB, bad_resource, Some(&approved));
    assert_eq!(r.status, 302);
    let loc = r.get_header("location").unwrap();
    assert!(loc.starts_with(APP_CB) && loc.contains("error=invalid_target") && loc.contains("state=st"), "{loc}");
    // The same client's other redirect URI, or another client with the approved URI: not approved, a page.
    assert!(is_page(&w.authorize_with("client-a", APP_CB2, bad_resource, Some(&approved))));
    assert!(is_page(&w.authorize_with("client-b", APP_CB, bad_resource, Some(&approved))));
    // `local` approves loopback redirect URIs by itself, so errors may go there.
    let mut loopback = block_on(w.store.get_client(&ClientId::new("client-b"))).unwrap().unwrap();
    loopback.client_id = ClientId::new("dev-tool");
    loopback.redirect_uris = vec![RedirectUri::new("http://127.0.0.1:33418/cb")];
    block_on(w.store.put_client(&loopback)).unwrap();
    let r = w.authorize_with("dev-tool", "http://127.0.0.1:33418/cb", bad_resource, None);
    assert_eq!(r.status, 302);
    assert!(r.get_header("location").unwrap().contains("error=invalid_target"));
}

/// GHSA-6x8h-498w-gv8c: a remembered approval of client A must not let client B, nor A with another redirect
/// URI, complete without the consent page.
#[test]
fn remembered_consent_covers_one_client_and_one_redirect_uri() {
    let w = World::new();
    let approved = w.approve("client-a", APP_CB);
    let again = w.authorize("client-a", APP_CB, Some(&approved));
    assert_eq!(again.status, 302, "remembered: no page");
    assert!(again.get_header("location").unwrap().starts_with(&format!("{APP_CB}?code=")));
    // A redirect URI the client gains after the approval (a metadata document refetched with one more).
    let mut grown = block_on(w.store.get_client(&ClientId::new("client-a"))).unwrap().unwrap();
    grown.redirect_uris.push(RedirectUri::new("https://app.example/added-later"));
    block_on(w.store.put_client(&grown)).unwrap();
    for (client, redirect) in
        [("client-a", APP_CB2), ("client-a", "https://app.example/added-later"), ("client-b", APP_CB)]
    {
        let r = w.authorize(client, redirect, Some(&approved));
        assert_eq!(r.status, 200, "{client} {redirect}: the consent page");
        assert!(String::from_utf8_lossy(&r.body).contains("name=\"decision\" value=\"approve\""));
    }
}

/// GHSA-rww4-4w9c-7733: the consent form completes only in the browser that signed in; its id and CSRF token
/// alone (what a page shown elsewhere would leak) are not enough.
#[test]
fn consent_from_another_browser_does_not_complete_the_grant() {
    let w = World::new();
    let (_, _, other_browser) = World::consent_form(&w.authorize("client-b", APP_CB, None));
    for cookie in [None, Some(other_browser.as_str()), Some("__Host-skillport_signin=forged")] {
        let (pending, csrf, _) = World::consent_form(&w.authorize("client-a", APP_CB, None));
        let r = w.post_consent(&pending, &csrf, cookie);
        assert!(is_page(&r), "{cookie:?}: {} {:?}", r.status, r.get_header("location"));
        assert!(String::from_utf8_lossy(&r.body).contains("another browser"));
        assert!(r.headers.iter().all(|(k, v)| k != "set-cookie" || !v.starts_with(CONSENT_COOKIE_NAME)));
    }
    // The right browser completes.
    let (pending, csrf, mine) = World::consent_form(&w.authorize("client-a", APP_CB, None));
    assert_eq!(w.post_consent(&pending, &csrf, Some(&mine)).status, 302);
}
