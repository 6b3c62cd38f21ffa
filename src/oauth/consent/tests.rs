//! The consent page, its form and CSRF token, the remembered-approval cookie, and who may skip consent.

use super::*;
use crate::oauth::testutil::{identity, keys, CLAUDE_CALLBACK};
use crate::oauth::{PkceChallenge, ResourceUri};

fn pending(name: &str) -> PendingAuthorization {
    PendingAuthorization {
        client_id: ClientId::new("client-1"),
        client_name: Some(name.into()),
        redirect_uri: RedirectUri::new(CLAUDE_CALLBACK),
        state: None,
        code_challenge: PkceChallenge::new("x"),
        resource: ResourceUri::new("https://skills.example.com/mcp"),
        scope: "mcp".into(),
        created_at: 0,
    }
}

fn cookie_req(set_cookie: &str) -> HttpRequest {
    let pair = set_cookie.split(';').next().unwrap();
    HttpRequest::new("GET", "/authorize").with_header("cookie", &format!("other=1; {pair}"))
}

#[test]
fn auto_approval_only_for_local_and_loopback() {
    use crate::config::ProviderKind::{self, Local};
    assert!(may_auto_approve(Local, &RedirectUri::new("http://localhost:6274/cb")));
    assert!(may_auto_approve(Local, &RedirectUri::new("http://127.0.0.1:33418/")));
    assert!(may_auto_approve(Local, &RedirectUri::new("http://[::1]:1/cb")));
    assert!(!may_auto_approve(Local, &RedirectUri::new(CLAUDE_CALLBACK)));
    for other in ProviderKind::ALL.into_iter().filter(|k| *k != Local) {
        assert!(!may_auto_approve(other, &RedirectUri::new("http://localhost:6274/cb")));
    }
    assert!(!may_auto_approve(Local, &RedirectUri::new("http://localhost.evil.com/cb")));
}

#[test]
fn page_names_client_and_host_and_escapes() {
    let r = consent_page(&keys(), "Skillport", &pending("<script>alert(1)</script>"), &identity(), "/consent", "p1");
    let html = String::from_utf8(r.body.clone()).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("claude.ai"));
    assert!(html.contains("ada@example.com"));
    assert!(html.contains("method=\"post\""));
    assert!(html.contains(&csrf_token(&keys(), "p1")));
    assert_eq!(
        r.get_header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https://claude.ai; \
             frame-ancestors 'none'"
        ),
        "the form's redirect to the client must be allowed too (Chromium checks redirects after a POST)"
    );
    assert_eq!(r.get_header("x-frame-options"), Some("DENY"));
    assert_eq!(r.get_header("cache-control"), Some("no-store"));
}

#[test]
fn consent_form_needs_its_csrf_token() {
    let csrf = csrf_token(&keys(), "p1");
    let ok = format!("pending=p1&csrf={csrf}&decision=approve");
    assert_eq!(read_consent_form(&keys(), ok.as_bytes()).unwrap(), ("p1".into(), ConsentDecision::Approve));
    let deny = format!("pending=p1&csrf={csrf}&decision=deny");
    assert_eq!(read_consent_form(&keys(), deny.as_bytes()).unwrap().1, ConsentDecision::Deny);
    // Another pending id's token, no token, a forged one.
    let other = format!("pending=p2&csrf={csrf}&decision=approve");
    for body in [other.as_str(), "pending=p1&decision=approve", "pending=p1&csrf=AAAA&decision=approve"] {
        assert!(read_consent_form(&keys(), body.as_bytes()).is_err(), "{body}");
    }
}

fn cb() -> RedirectUri {
    RedirectUri::new(CLAUDE_CALLBACK)
}

#[test]
fn cookie_remembers_approvals_per_user_client_and_redirect_uri() {
    let k = keys();
    let me = identity();
    let mut c = ConsentCookie::default();
    assert!(!c.has_approved(&me, &ClientId::new("client-1"), &cb()));
    c.approve(&me, &ClientId::new("client-1"), &cb());
    let set = c.set_cookie(&k, 1000);
    assert!(set.starts_with("__Host-skillport_consent="));
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("client-1") && !set.contains("claude"));
    let read = ConsentCookie::from_request(&k, &cookie_req(&set), 2000);
    assert!(read.has_approved(&me, &ClientId::new("client-1"), &cb()));
    assert!(read.approved_here(&ClientId::new("client-1"), &cb()));
    assert!(!read.has_approved(&me, &ClientId::new("client-2"), &cb()));
    let mut someone_else = me.clone();
    someone_else.subject = "999".into();
    assert!(!read.has_approved(&someone_else, &ClientId::new("client-1"), &cb()));
    // Expired.
    let later = ConsentCookie::from_request(&k, &cookie_req(&set), 1000 + CONSENT_MAX_AGE_SECONDS);
    assert!(!later.has_approved(&me, &ClientId::new("client-1"), &cb()));
    assert!(!later.approved_here(&ClientId::new("client-1"), &cb()));
}

/// GHSA-6x8h-498w-gv8c: an approval remembered for one client must not let another client, nor the same client
/// with a redirect URI it lists (or its metadata document adds) later, skip the consent page.
#[test]
fn an_approval_covers_one_client_and_one_redirect_uri() {
    let me = identity();
    let doc = ClientId::new("https://app.example/oauth/client.json");
    let approved = RedirectUri::new("https://app.example/cb");
    let mut c = ConsentCookie::default();
    c.approve(&me, &doc, &approved);
    assert!(c.has_approved(&me, &doc, &approved));
    assert!(!c.has_approved(&me, &doc, &RedirectUri::new("https://app.example/cb2")));
    assert!(!c.has_approved(&me, &doc, &RedirectUri::new("https://evil.example/cb")));
    assert!(!c.approved_here(&doc, &RedirectUri::new("https://evil.example/cb")));
    assert!(!c.has_approved(&me, &ClientId::new("https://evil.example/oauth/client.json"), &approved));
    assert!(!c.has_approved(&me, &ClientId::new("client-1"), &approved));
    // Hashing keeps the parts apart: moving bytes between client id and redirect URI is another approval.
    let shifted = ClientId::new("https://app.example/oauth/client.jsonh");
    assert!(!c.has_approved(&me, &shifted, &RedirectUri::new("ttps://app.example/cb")));
}

#[test]
fn a_cookie_of_the_client_only_format_is_not_read() {
    // Version 1 remembered client ids alone; such a cookie, though well signed, approves nothing now.
    let k = keys();
    let mut payload = vec![1u8];
    payload.extend_from_slice(&u64::MAX.to_be_bytes());
    payload.extend_from_slice(&user_id(&identity()));
    payload.extend_from_slice(&short_hash(&[b"client-1"]));
    let mac = k.cookie_mac(COOKIE_DOMAIN, &[&payload]);
    let v1 = format!("{CONSENT_COOKIE}={}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac));
    assert_eq!(ConsentCookie::from_request(&k, &cookie_req(&v1), 1), ConsentCookie::default());
}

#[test]
fn tampered_or_foreign_cookie_is_ignored() {
    let k = keys();
    let me = identity();
    let mut c = ConsentCookie::default();
    c.approve(&me, &ClientId::new("client-1"), &cb());
    let set = c.set_cookie(&k, 0);
    let value = set.split(';').next().unwrap().split_once('=').unwrap().1;
    let (payload, mac) = value.split_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = format!("{CONSENT_COOKIE}={}.{mac}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(ConsentCookie::from_request(&k, &cookie_req(&forged), 1), ConsentCookie::default());
    let other_key = ServerKeys::derive(b"another master secret of 32 bytes or more");
    assert_eq!(ConsentCookie::from_request(&other_key, &cookie_req(&set), 1), ConsentCookie::default());
    assert_eq!(
        ConsentCookie::from_request(&k, &cookie_req("__Host-skillport_consent=garbage"), 1),
        ConsentCookie::default()
    );
}

#[test]
fn cookie_is_bounded() {
    let mut c = ConsentCookie::default();
    for i in 0..100 {
        c.approve(&identity(), &ClientId::new(format!("client-{i}")), &cb());
    }
    assert_eq!(c.approvals.len(), MAX_REMEMBERED);
    assert!(c.has_approved(&identity(), &ClientId::new("client-99"), &cb()));
    assert!(!c.has_approved(&identity(), &ClientId::new("client-0"), &cb()));
    assert!(c.set_cookie(&keys(), 0).len() < 1024);
}

#[test]
fn metadata_document_client_is_named_by_its_host_not_its_chosen_name() {
    let mut p = pending("Claude");
    p.client_id = ClientId::new("https://evil.example:8443/oauth/client.json");
    let html = String::from_utf8(consent_page(&keys(), "Skillport", &p, &identity(), "/consent", "p1").body).unwrap();
    assert!(html.contains("<h1>Allow evil.example:8443 to use Skillport?</h1>"), "{html}");
    assert!(html.contains("<code>https://evil.example:8443/oauth/client.json</code>"), "{html}");
    assert!(html.contains("calls itself &ldquo;Claude&rdquo;"), "{html}");
    assert!(!html.contains("Allow Claude"), "{html}");
    // Without a name: the host alone.
    p.client_name = None;
    p.client_id = ClientId::new("https://app.example/c.json");
    let html = String::from_utf8(consent_page(&keys(), "Skillport", &p, &identity(), "/consent", "p1").body).unwrap();
    assert!(html.contains("<h1>Allow app.example to use Skillport?</h1>") && !html.contains("calls itself"));
    // A client registered here keeps its name: it has no other.
    assert_eq!(metadata_document_host(&ClientId::new("client-1")), None);
    let html =
        String::from_utf8(consent_page(&keys(), "Skillport", &pending("Claude"), &identity(), "/consent", "p1").body)
            .unwrap();
    assert!(html.contains("<h1>Allow Claude to use Skillport?</h1>"), "{html}");
}

#[test]
fn error_page_is_escaped_and_framed_safely() {
    let r = error_page(400, "Bad", "<b>x</b>");
    assert_eq!(r.status, 400);
    assert!(String::from_utf8(r.body.clone()).unwrap().contains("&lt;b&gt;"));
    assert_eq!(r.get_header("x-frame-options"), Some("DENY"));
}
