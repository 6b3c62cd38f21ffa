//! Whatever `Host` a request carries, the worker answers it with its own 4xx or a normal answer, never a 500: the
//! header is only ever compared (the `local` provider's loopback rule), never parsed into something that can fail.
//!
//! Locally, the runtime in front of the worker refuses some malformed values itself before the worker runs (workerd
//! and `wrangler dev` answer `Host: exa mple.com` with their own 500: "invalid hostname when stringifying URL"); this
//! is what the worker does with every value that reaches it, as Cloudflare's edge or another runtime may pass it.

use std::collections::BTreeMap;

use skillport::http::HttpRequest;
use skillport::testing::block_on;
use skillport::App;

fn app() -> App {
    let env: BTreeMap<String, String> = [("SKILLPORT_AUTH__OPEN".to_owned(), "true".to_owned())].into();
    block_on(App::from_env(&env))
}

const MALFORMED: &[&str] = &[
    "",
    " ",
    "exa mple.com",
    "a\tb",
    "[::1",
    "[",
    "]",
    "[zz]",
    "[::1]x",
    "[::1]:99999999",
    "localhost:99999999",
    "localhost:abc",
    "localhost:",
    "localhost:-1",
    "a:b:c",
    "a@b",
    "user:pw@localhost",
    "%zz",
    "%6c%6f%63%61%6c%68%6f%73%74",
    "localhost:8787/x",
    "localhost?x",
    "localhost#x",
    "a\\b",
    "<script>alert(1)</script>",
    "127.0.0.1:8787, evil.example",
    "..",
    ".",
    "localhost\u{0}",
    "localhost\u{0}.evil.example",
    "\u{ff}\u{fe}",
    "l\u{43e}calhost",
    "xn--",
    "127.1",
    "0x7f.0.0.1",
    "2130706433",
    "[::ffff:127.0.0.1]",
];

/// Values that name no loopback host however they are read.
const NOT_LOOPBACK: &[Option<&str>] = &[
    None,
    Some(""),
    Some("exa mple.com"),
    Some("a@b"),
    Some("<script>alert(1)</script>"),
    Some("127.0.0.1:8787, evil.example"),
    Some("localhost\u{0}.evil.example"),
    Some("l\u{43e}calhost"),
];

fn requests(host: Option<&str>) -> Vec<HttpRequest> {
    let with = |r: HttpRequest| match host {
        Some(h) => r.with_header("host", h),
        None => r,
    };
    let mut authorize = HttpRequest::new("GET", "/authorize");
    authorize.query = "response_type=code&client_id=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb".into();
    vec![
        with(HttpRequest::new("GET", "/")),
        with(
            HttpRequest::new("POST", "/mcp")
                .with_header("content-type", "application/json")
                .with_header("accept", "application/json, text/event-stream")
                .with_body(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec()),
        ),
        with(HttpRequest::new("GET", "/sse")),
        with(authorize),
        with(HttpRequest::new("GET", "/callback")),
        with(HttpRequest::new("POST", "/consent").with_body(b"pending=x&csrf=y&decision=approve".to_vec())),
        with(HttpRequest::new("POST", "/token").with_body(b"grant_type=refresh_token&refresh_token=x".to_vec())),
        with(
            HttpRequest::new("POST", "/register")
                .with_body(br#"{"redirect_uris":["https://app.example/cb"]}"#.to_vec()),
        ),
        with(HttpRequest::new("GET", "/.well-known/oauth-authorization-server")),
        with(HttpRequest::new("GET", "/status")),
        with(HttpRequest::new("GET", "/download/garbage")),
    ]
}

#[test]
fn every_host_value_gets_the_workers_own_answer_never_a_500() {
    let app = app();
    let mut bad = Vec::new();
    let long = "a".repeat(70_000);
    for host in MALFORMED.iter().copied().map(Some).chain([Some(long.as_str()), None]) {
        for req in requests(host) {
            let resp = app.handle(&req);
            if resp.status >= 500 {
                bad.push((
                    host.map(|h| h.chars().take(40).collect::<String>()),
                    req.method.clone(),
                    req.path.clone(),
                    resp.status,
                ));
            }
            // MCP is served only on a loopback host with the `local` provider.
            if req.path == "/mcp" && NOT_LOOPBACK.contains(&host) {
                assert_eq!(resp.status, 403, "{host:?}");
            }
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn loopback_hosts_still_reach_mcp() {
    let app = app();
    for host in ["localhost", "localhost:8787", "LOCALHOST:8787", "localhost.", "127.0.0.1:8787", "[::1]:8787"] {
        let mcp = requests(Some(host)).into_iter().find(|r| r.path == "/mcp").unwrap();
        assert_eq!(app.handle(&mcp).status, 200, "{host}");
    }
}
