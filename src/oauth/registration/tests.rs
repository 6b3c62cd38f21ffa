use super::*;
use crate::oauth::store::MemoryGrantStore;
use crate::oauth::testutil::{block_on, CountingRandom, CLAUDE_CALLBACK};
use serde_json::json;

fn post(body: serde_json::Value) -> HttpResponse {
    let store = MemoryGrantStore::new();
    let req = HttpRequest::new("POST", "/register").with_body(serde_json::to_vec(&body).unwrap());
    block_on(handle_register(&store, &CountingRandom::default(), &req, 1000, Default::default()))
}

fn refused(uri: &str) {
    let r = post(json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}));
    assert_eq!(r.status, 400, "{uri}");
    assert_eq!(r.json_body()["error"], "invalid_redirect_uri", "{uri}");
}

#[test]
fn claude_callbacks_are_accepted() {
    for uri in [CLAUDE_CALLBACK, "https://claude.com/api/mcp/auth_callback"] {
        assert_eq!(validate_redirect_uri(uri).unwrap().as_str(), uri);
    }
    for uri in ["http://localhost:6274/callback", "http://127.0.0.1:33418/", "http://[::1]:8080/cb"] {
        assert!(validate_redirect_uri(uri).is_ok(), "{uri}");
    }
}

#[test]
fn public_client_registers() {
    let r = post(json!({
        "redirect_uris": [CLAUDE_CALLBACK],
        "token_endpoint_auth_method": "none",
        "client_name": "Claude",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }));
    assert_eq!(r.status, 201);
    let b = r.json_body();
    assert!(b["client_id"].as_str().unwrap().len() >= 32);
    assert_eq!(b["client_id_issued_at"], 1000);
    assert_eq!(b["redirect_uris"], json!([CLAUDE_CALLBACK]));
    assert_eq!(b["token_endpoint_auth_method"], "none");
    assert_eq!(b["client_name"], "Claude");
    assert!(b.get("client_secret").is_none());
    assert_eq!(r.get_header("cache-control"), Some("no-store"));
}

#[test]
fn confidential_client_gets_a_secret_stored_only_as_its_hash() {
    let store = MemoryGrantStore::new();
    let body = json!({"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "client_secret_post"});
    let req = HttpRequest::new("POST", "/register").with_body(serde_json::to_vec(&body).unwrap());
    let r = block_on(handle_register(&store, &CountingRandom::default(), &req, 1, Default::default()));
    assert_eq!(r.status, 201);
    let secret = r.json_body()["client_secret"].as_str().unwrap().to_owned();
    let dump = store.dump().to_string();
    assert!(!dump.contains(&secret), "secret stored in clear");
    let id = ClientId::new(r.json_body()["client_id"].as_str().unwrap());
    let rec = block_on(store.get_client(&id)).unwrap().unwrap();
    assert_eq!(rec.secret_hash, Some(ClientSecret::new(secret).hash()));
}

#[test]
fn http_non_loopback_is_refused() {
    refused("http://claude.ai/api/mcp/auth_callback");
    refused("http://192.168.1.10/cb");
    refused("http://localhost.evil.com/cb");
}

#[test]
fn javascript_redirect_is_refused() {
    refused("javascript:alert(1)");
    refused("JavaScript://claude.ai/%0aalert(1)");
}

/// Scheme checks that a case change, a space or a control character could slip past (fixed in
/// `@cloudflare/workers-oauth-provider` 0.0.13): each is refused at registration and in a metadata document.
const DISGUISED_REDIRECTS: &[&str] = &[
    "JavaScript:alert(1)",
    "JAVASCRIPT://claude.ai/%0aalert(1)",
    " javascript:alert(1)",
    "javascript :alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\u{0}script:alert(1)",
    "\u{1}javascript:alert(1)",
    "\u{1}https://claude.ai/api/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth_callback\u{1}",
    " https://claude.ai/api/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth_callback ",
    "\u{a0}https://claude.ai/api/mcp/auth_callback",
    "\u{feff}https://claude.ai/api/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth\u{7f}_callback",
    "HTTPS://claude.ai/api/mcp/auth_callback",
    "Https://claude.ai/api/mcp/auth_callback",
    "https:/claude.ai/api/mcp/auth_callback",
    "https:\\\\evil.example/cb",
    "https://claude.ai\u{200b}/api/mcp/auth_callback",
    "HTTP://localhost:6274/callback",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "DATA:text/html,hi",
    "file:///etc/passwd",
    "blob:https://claude.ai/x",
];

#[test]
fn disguised_schemes_are_refused_at_registration_and_in_metadata_documents() {
    for uri in DISGUISED_REDIRECTS {
        refused(uri);
        let doc = json!({"client_id": CIMD, "redirect_uris": [uri], "token_endpoint_auth_method": "none"});
        assert!(
            matches!(validate_cimd(CIMD, doc.to_string().as_bytes(), 5), Err(OAuthError::InvalidRedirectUri(_))),
            "{uri:?}"
        );
    }
}

#[test]
fn data_redirect_is_refused() {
    refused("data:text/html,<script>alert(1)</script>");
}

#[test]
fn fragment_redirect_is_refused() {
    refused("https://claude.ai/api/mcp/auth_callback#frag");
}

#[test]
fn wildcard_redirect_is_refused() {
    refused("https://*.claude.ai/cb");
    refused("https://claude.ai/*");
}

#[test]
fn userinfo_and_non_canonical_redirects_are_refused() {
    refused("https://claude.ai@evil.com/api/mcp/auth_callback");
    refused("https://claude.ai\\@evil.com/cb");
    refused("https://CLAUDE.ai/cb");
    refused("https://claude.ai/a/../cb");
    refused("custom-app://callback");
}

#[test]
fn missing_redirect_uris_are_refused() {
    let r = post(json!({"token_endpoint_auth_method": "none"}));
    assert_eq!(r.json_body()["error"], "invalid_redirect_uri");
    let r = post(json!({"redirect_uris": [], "token_endpoint_auth_method": "none"}));
    assert_eq!(r.status, 400);
}

#[test]
fn bad_metadata_is_refused() {
    for body in [
        json!({"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [CLAUDE_CALLBACK], "grant_types": ["implicit"]}),
        json!({"redirect_uris": [CLAUDE_CALLBACK], "response_types": ["token"]}),
        json!({"redirect_uris": [CLAUDE_CALLBACK], "client_name": "x".repeat(101)}),
        json!({"redirect_uris": [CLAUDE_CALLBACK], "client_name": "Claude\u{202E}resU"}),
        json!({"redirect_uris": [CLAUDE_CALLBACK], "client_name": "a\nb"}),
        json!({"redirect_uris": CLAUDE_CALLBACK}),
    ] {
        let r = post(body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json_body()["error"], "invalid_client_metadata", "{body}");
    }
    let store = MemoryGrantStore::new();
    let req = HttpRequest::new("POST", "/register").with_body(b"not json".to_vec());
    let r = block_on(handle_register(&store, &CountingRandom::default(), &req, 1, Default::default()));
    assert_eq!(r.json_body()["error"], "invalid_client_metadata");
}

// --- Client ID Metadata Documents ----------------------------------------------------------------------------

const CIMD: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

#[test]
fn cimd_ids() {
    assert!(is_cimd_client_id(CIMD));
    assert!(is_cimd_client_id("http://127.0.0.1:9000/client.json"));
    for id in ["https://claude.ai", "https://claude.ai/", "http://claude.ai/x", "https://u@claude.ai/x", "abc123"] {
        assert!(!is_cimd_client_id(id), "{id}");
    }
    assert!(!is_cimd_client_id("https://claude.ai/x#f"));
}

#[test]
fn cimd_document_is_validated() {
    let doc = json!({"client_id": CIMD, "client_name": "Claude", "redirect_uris": [CLAUDE_CALLBACK],
                     "token_endpoint_auth_method": "none"});
    let rec = validate_cimd(CIMD, doc.to_string().as_bytes(), 5).unwrap();
    assert!(rec.metadata_document && rec.allows_redirect(CLAUDE_CALLBACK));
    assert_eq!(rec.auth_method, ClientAuthMethod::None);

    let other = json!({"client_id": "https://evil.com/doc", "redirect_uris": [CLAUDE_CALLBACK]});
    assert!(matches!(validate_cimd(CIMD, other.to_string().as_bytes(), 5), Err(OAuthError::InvalidClientMetadata(_))));
    let bad_uri = json!({"client_id": CIMD, "redirect_uris": ["javascript:alert(1)"]});
    assert!(matches!(validate_cimd(CIMD, bad_uri.to_string().as_bytes(), 5), Err(OAuthError::InvalidRedirectUri(_))));
    let secret = json!({"client_id": CIMD, "redirect_uris": [CLAUDE_CALLBACK], "client_secret": "s"});
    assert!(validate_cimd(CIMD, secret.to_string().as_bytes(), 5).is_err());
    let big = vec![b' '; MAX_CIMD_BYTES + 1];
    assert!(validate_cimd(CIMD, &big, 5).is_err());
}

#[test]
fn cimd_fetch_refuses_private_addresses() {
    for url in [
        "https://10.0.0.1/c",
        "https://172.16.5.4/c",
        "https://192.168.0.1/c",
        "https://[fc00::1]/c",
        "https://[fd12::1]/c",
    ] {
        assert!(cimd_fetch_allowed(url, true).is_err(), "{url}");
    }
}

#[test]
fn cimd_fetch_refuses_loopback() {
    for url in [
        "https://127.0.0.1/c",
        "https://[::1]/c",
        "https://localhost/c",
        "https://app.localhost/c",
        "https://0x7f.1/c",
        "https://2130706433/c",
        "https://[::ffff:127.0.0.1]/c",
        "https://0.0.0.0/c",
    ] {
        assert!(cimd_fetch_allowed(url, true).is_err(), "{url}");
    }
    // Only a deployment that is itself on loopback reads documents served there.
    assert!(cimd_fetch_allowed("http://127.0.0.1:9000/client.json", false).is_ok());
    assert!(cimd_fetch_allowed("http://127.0.0.1:9000/client.json", true).is_err());
    assert!(cimd_fetch_allowed("https://10.0.0.1/c", false).is_err());
}

#[test]
fn cimd_fetch_refuses_link_local() {
    for url in ["https://169.254.169.254/latest/meta-data", "https://[fe80::1]/c", "https://[::ffff:169.254.1.1]/c"] {
        assert!(cimd_fetch_allowed(url, true).is_err(), "{url}");
    }
}

#[test]
fn cimd_fetch_needs_https_in_production() {
    assert!(cimd_fetch_allowed("http://claude.ai/doc", true).is_err());
    assert!(cimd_fetch_allowed("http://claude.ai/doc", false).is_ok());
    assert!(cimd_fetch_allowed(CIMD, true).is_ok());
    assert!(cimd_fetch_allowed("https://8.8.8.8/doc", true).is_ok());
    assert!(cimd_fetch_allowed("ftp://claude.ai/doc", false).is_err());
}
