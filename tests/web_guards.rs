//! The worker's front door through its public routing (`App::handle`): CORS only on the endpoints browser-based
//! clients call, never on a page; the `local` provider's loopback rule on every route, with one refusal.

use std::collections::BTreeMap;

use skillport::http::{HttpRequest, HttpResponse};
use skillport::App;

fn app(env: &[(&str, &str)]) -> App {
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    skillport::testing::block_on(App::from_env(&env))
}

fn request(method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> HttpRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut r = HttpRequest::new(method, path);
    r.query = query.to_string();
    for (k, v) in headers {
        r = r.with_header(k, v);
    }
    r
}

fn cors_headers(r: &HttpResponse) -> Vec<&(String, String)> {
    r.headers.iter().filter(|(k, _)| k.starts_with("access-control-")).collect()
}

const PAGES: [(&str, &str); 7] = [
    ("GET", "/"),
    ("GET", "/authorize?response_type=code&client_id=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"),
    ("GET", "/callback?code=x&state=y"),
    ("POST", "/consent"),
    ("GET", "/status"),
    ("GET", "/status/callback?code=x&state=y"),
    ("GET", "/download/garbage"),
];

const ENDPOINTS: [(&str, &str); 8] = [
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-protected-resource"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ("GET", "/.well-known/oauth-protected-resource/sse"),
    ("POST", "/register"),
    ("POST", "/token"),
    ("POST", "/revoke"),
];

#[test]
fn pages_never_answer_cross_origin() {
    let app = app(&[]);
    for (method, path) in PAGES {
        for origin in ["https://app.example", "http://localhost:8787", "null"] {
            for m in ["OPTIONS", method] {
                let r = app.handle(&request(m, path, &[("host", "localhost:8787"), ("origin", origin)]));
                assert!(cors_headers(&r).is_empty(), "{m} {path} from {origin}: {:?}", r.headers);
            }
        }
    }
}

#[test]
fn endpoints_for_browser_clients_answer_any_origin() {
    let app = app(&[]);
    for (method, path) in ENDPOINTS {
        for m in ["OPTIONS", method] {
            let r = app.handle(&request(m, path, &[("host", "localhost:8787"), ("origin", "https://app.example")]));
            // One Access-Control-Allow-Origin (two make browsers refuse both): the origin, or `*` for a document.
            let allowed: Vec<&str> =
                r.headers.iter().filter(|(k, _)| k == "access-control-allow-origin").map(|(_, v)| v.as_str()).collect();
            let want = if path.starts_with("/.well-known/") && m == "GET" { "*" } else { "https://app.example" };
            assert_eq!(allowed, [want], "{m} {path}");
        }
    }
    // The MCP transports: our own origin (and loopback, with `local`) only.
    for path in ["/mcp", "/sse", "/sse/message"] {
        let ours =
            app.handle(&request("OPTIONS", path, &[("host", "localhost:8787"), ("origin", "http://localhost:8787")]));
        assert_eq!((ours.status, ours.get_header("access-control-allow-origin")), (204, Some("http://localhost:8787")));
        let theirs =
            app.handle(&request("OPTIONS", path, &[("host", "localhost:8787"), ("origin", "https://app.example")]));
        assert_eq!(theirs.status, 403, "{path}");
        assert!(cors_headers(&theirs).is_empty(), "{path}");
    }
}

#[test]
fn local_answers_loopback_hosts_only_on_every_route() {
    let app = app(&[("SKILLPORT_AUTH__OPEN", "true")]);
    // A real download link, as fetch_skill hands it out.
    let call = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"fetch_skill","arguments":{"name":"brand-voice"}}});
    let fetched = app.handle(
        &request(
            "POST",
            "/mcp",
            &[
                ("host", "localhost:8787"),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
            ],
        )
        .with_body(serde_json::to_vec(&call).unwrap()),
    );
    let url = fetched.json_body()["result"]["structuredContent"]["download"]["url"].as_str().unwrap().to_string();
    let download = url.strip_prefix("http://localhost:8787").unwrap().to_string();
    let loopback = app.handle(&request("GET", &download, &[("host", "127.0.0.1:8787")]));
    assert_eq!(loopback.status, 200);

    let mut routes: Vec<(&str, &str)> = PAGES.iter().chain(ENDPOINTS.iter()).copied().collect();
    routes.extend([("POST", "/mcp"), ("OPTIONS", "/mcp"), ("GET", "/sse"), ("GET", "/nope"), ("GET", &download)]);
    let mut refusals = Vec::new();
    for (method, path) in routes {
        for host in ["skillport.example.com", "localhost.evil.example", "127.0.0.1.nip.io:8787", "[::2]:8787", ""] {
            let origin = format!("http://{host}");
            let r = app.handle(&request(method, path, &[("host", host), ("origin", &origin)]));
            assert_eq!(r.status, 403, "{method} {path} on {host:?}");
            assert!(cors_headers(&r).is_empty(), "{method} {path} on {host:?}");
            refusals.push(r);
        }
    }
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "one refusal for every route and host");
}
