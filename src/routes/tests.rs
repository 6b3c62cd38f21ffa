//! Requests through the whole app (`App::handle`): the routing table, its guards and refusals, and what the endpoints
//! behind it answer.

use crate::http::{HttpRequest, HttpResponse};
use crate::testing::{block_on, dev_identity};
use crate::App;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The app for `env`, with `/mcp` open to loopback requests unless `env` says otherwise.
fn app_with(env: &[(&str, &str)]) -> App {
    let mut env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.entry("SKILLPORT_AUTH__OPEN".into()).or_insert("true".into());
    block_on(App::from_env(&env))
}

fn rpc(app: &App, body: Value) -> HttpResponse {
    let req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost:8787")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(serde_json::to_vec(&body).unwrap());
    app.handle(&req)
}

fn call(app: &App, tool: &str, args: Value) -> Value {
    let r = rpc(app, json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}}));
    assert_eq!(r.status, 200);
    r.json_body()["result"].clone()
}

#[test]
fn embedded_default_serves_the_example_marketplace() {
    let app = app_with(&[]);
    assert!(app.config.is_ok());
    assert!(app.start_log_line().contains("/mcp is OPEN"));
    let init = rpc(
        &app,
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
    );
    assert_eq!(init.status, 200);
    assert_eq!(init.json_body()["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init.get_header("mcp-protocol-version"), Some("2025-06-18"));
    let list = call(&app, "list_plugins", json!({"surface":"all"}));
    assert_eq!(list["isError"], false);
    let names: Vec<&str> =
        list["structuredContent"]["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["writing-tools@example", "brand-kit@example", "repo-tools@example"]);
    let text: Value = serde_json::from_str(list["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, list["structuredContent"]);
}

#[test]
fn unknown_version_is_answered_with_ours() {
    let app = app_with(&[]);
    let init =
        rpc(&app, json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2099-01-01"}}));
    assert_eq!(init.json_body()["result"]["protocolVersion"], crate::mcp::LATEST_VERSION);
}

#[test]
fn json_rpc_errors() {
    let app = app_with(&[]);
    let r = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"nope"}));
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::METHOD_NOT_FOUND);
    let r = rpc(&app, json!({"jsonrpc":"1.0","id":1,"method":"ping"}));
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::INVALID_REQUEST);
    let r = rpc(&app, json!({"jsonrpc":"2.0","id":{"x":1},"method":"ping"}));
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::INVALID_REQUEST);
    let r = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm_rf","arguments":{}}}));
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::INVALID_PARAMS);
    let r = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}));
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::INVALID_PARAMS);
    let r = rpc(&app, json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}));
    assert_eq!(r.status, 202);
    let r = rpc(&app, json!([{"jsonrpc":"2.0","id":1,"method":"ping"}]));
    assert_eq!(r.status, 400);
    // Ids that would come back rounded are refused, with a null id.
    for id in ["18446744073709551623", "0.5", "1e3"] {
        let msg = serde_json::from_str(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)).unwrap();
        let r = rpc(&app, msg);
        assert_eq!((r.status, r.json_body()["error"]["code"].clone()), (400, json!(crate::mcp::INVALID_REQUEST)));
        assert_eq!(r.json_body()["id"], Value::Null, "{id}");
    }
    for id in ["18446744073709551615", "-9223372036854775808", "\"x\""] {
        let msg = serde_json::from_str(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)).unwrap();
        assert_eq!(rpc(&app, msg).json_body()["id"].to_string(), id, "echoed exactly");
    }
    let raw = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(b"{oops".to_vec());
    let no_accept = HttpRequest { headers: raw.headers[..2].to_vec(), ..raw.clone() };
    assert_eq!(app.handle(&no_accept).status, 406);
    assert_eq!(app.handle(&raw).json_body()["error"]["code"], crate::mcp::PARSE_ERROR);
    let wrong_type =
        HttpRequest::new("POST", "/mcp").with_header("host", "localhost").with_header("content-type", "text/plain");
    assert_eq!(app.handle(&wrong_type).status, 415);
    let get = HttpRequest::new("GET", "/mcp").with_header("host", "localhost");
    assert_eq!(app.handle(&get).status, 405);
}

#[test]
fn wrong_methods_on_oauth_endpoints_name_the_allowed_one() {
    let app = app_with(&[]);
    for (method, path, allow) in [
        ("GET", "/token", "POST"),
        ("PUT", "/register", "POST"),
        ("DELETE", "/revoke", "POST"),
        ("TRACE", "/token", "POST"),
        ("POST", "/authorize", "GET"),
        ("GET", "/consent", "POST"),
    ] {
        let r = app.handle(&HttpRequest::new(method, path).with_header("host", "localhost:8787"));
        assert_eq!((r.status, r.get_header("allow")), (405, Some(allow)), "{method} {path}");
    }
}

#[test]
fn tool_argument_errors_are_tool_results() {
    let app = app_with(&[]);
    let r = call(&app, "list_plugins", json!({"limit": "ten"}));
    assert_eq!(r["isError"], true);
    assert!(r["content"][0]["text"].as_str().unwrap().contains("`limit`"));
    let r = call(&app, "list_plugins", json!({"cursor": "forged"}));
    assert_eq!(r["isError"], true);
    let r = call(&app, "get_plugin", json!({"name": "repo-tools"}));
    assert_eq!(r["isError"], false);
    assert_eq!(r["structuredContent"]["skills"][0]["name"], "repo-map");
    assert_eq!(r["structuredContent"]["source"]["kind"], "relative");
}

#[test]
fn ambiguous_names_need_the_marketplace() {
    let app = app_with(&[(
        "SKILLPORT_MARKETPLACES",
        r#"[{id="a",kind="bundled",location="marketplace"},{id="b",kind="bundled",location="marketplace"}]"#,
    )]);
    let r = call(&app, "get_plugin", json!({"name": "brand-kit"}));
    assert_eq!(r["isError"], true);
    let msg = r["content"][0]["text"].as_str().unwrap();
    assert!(msg.contains("ambiguous") && msg.contains("brand-kit@a") && msg.contains("brand-kit@b"), "{msg}");
    let r = call(&app, "get_plugin", json!({"name": "brand-kit@b"}));
    assert_eq!(r["structuredContent"]["marketplace"], "b");
    let r = call(&app, "list_plugins", json!({"marketplace": "a", "surface": "all"}));
    assert_eq!(r["structuredContent"]["total"], 3);
}

#[test]
fn local_sign_in_only_on_loopback_and_origin_checked() {
    let app = app_with(&[]);
    let body = serde_json::to_vec(&json!({"jsonrpc":"2.0","id":1,"method":"ping"})).unwrap();
    let base = HttpRequest::new("POST", "/mcp")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(body);
    assert_eq!(app.handle(&base.clone().with_header("host", "skillport.example.com")).status, 403);
    assert_eq!(app.handle(&base.clone().with_header("host", "127.0.0.1:8787")).status, 200);
    let foreign = base.clone().with_header("host", "localhost:8787").with_header("origin", "https://evil.example");
    assert_eq!(app.handle(&foreign).status, 403);
    let ours = base.with_header("host", "localhost:8787").with_header("origin", "http://localhost:8787");
    let r = app.handle(&ours);
    assert_eq!(r.status, 200);
    assert!(r.get_header("access-control-expose-headers").unwrap().contains("WWW-Authenticate"));
}

#[test]
fn invalid_config_answers_500_without_detail() {
    let app = app_with(&[("SKILLPORT_AUTH__PROVIDER", "bogus"), ("TOKEN", "s3cr3t-value")]);
    assert!(app.config.is_err());
    let r = app.handle(&HttpRequest::new("GET", "/").with_header("host", "localhost"));
    assert_eq!(r.status, 500);
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("configuration is invalid"));
    assert!(!body.contains("bogus"));
    let log = app.start_log_line();
    assert!(log.contains("auth.provider") && log.contains("Worker vars and secrets"), "{log}");
    assert!(!log.contains("s3cr3t-value"));
}

fn form(path: &str, body: &str) -> HttpRequest {
    HttpRequest::new("POST", path)
        .with_header("host", "localhost:8787")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body.as_bytes().to_vec())
}

fn get(path_and_query: &str) -> HttpRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut r = HttpRequest::new("GET", path).with_header("host", "localhost:8787");
    r.query = query.to_string();
    r
}

fn query_of(location: &str) -> BTreeMap<String, String> {
    url::Url::parse(location).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The local provider runs the production flow: discovery, registration, PKCE, an automatic sign-in, token.
#[test]
fn local_sign_in_runs_the_whole_oauth_flow() {
    let app = app_with(&[("SKILLPORT_AUTH__OPEN", "false")]);
    let ping = serde_json::to_vec(&json!({"jsonrpc":"2.0","id":1,"method":"ping"})).unwrap();
    let mcp = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost:8787")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(ping);
    let r = app.handle(&mcp);
    assert_eq!(r.status, 401);
    let challenge = r.get_header("www-authenticate").unwrap();
    assert!(challenge.contains("resource_metadata=\"http://localhost:8787/.well-known/oauth-protected-resource/mcp\""));
    let prm = app.handle(&get("/.well-known/oauth-protected-resource/mcp")).json_body();
    assert_eq!(prm["resource"], "http://localhost:8787/mcp");
    let asm = app.handle(&get("/.well-known/oauth-authorization-server")).json_body();
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));

    let reg = app.handle(
        &HttpRequest::new("POST", "/register")
            .with_header("host", "localhost:8787")
            .with_header("content-type", "application/json")
            .with_body(
                serde_json::to_vec(&json!({"redirect_uris": ["http://127.0.0.1:33418/cb"], "client_name": "t",
                    "token_endpoint_auth_method": "none"}))
                .unwrap(),
            ),
    );
    assert_eq!(reg.status, 201, "{:?}", reg.json_body());
    let client_id = reg.json_body()["client_id"].as_str().unwrap().to_string();
    let verifier = "v".repeat(50);
    let challenge = crate::oauth::authorize::tests::challenge(&verifier);
    let auth = app.handle(&get(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A33418%2Fcb\
         &code_challenge={challenge}&code_challenge_method=S256&state=xyz&resource=http%3A%2F%2Flocalhost%3A8787%2Fmcp"
    )));
    assert_eq!(auth.status, 302, "{}", String::from_utf8_lossy(&auth.body));
    let q = query_of(auth.get_header("location").unwrap());
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], "http://localhost:8787");
    let token = app.handle(&form(
        "/token",
        &format!(
            "grant_type=authorization_code&code={}&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A33418%2Fcb\
             &code_verifier={verifier}&resource=http%3A%2F%2Flocalhost%3A8787%2Fmcp",
            q["code"]
        ),
    ));
    assert_eq!(token.status, 200, "{:?}", token.json_body());
    let access = token.json_body()["access_token"].as_str().unwrap().to_string();
    let ok = app.handle(&mcp.clone().with_header("authorization", &format!("Bearer {access}")));
    assert_eq!(ok.status, 200);
    assert_eq!(app.handle(&mcp.clone().with_header("authorization", "Bearer forged")).status, 401);
    // On another host the local provider refuses, token or not.
    let mut foreign = mcp.with_header("authorization", &format!("Bearer {access}"));
    foreign.headers.retain(|(k, _)| k != "host");
    assert_eq!(app.handle(&foreign.with_header("host", "skills.example.com")).status, 403);
}

fn cookies_of(resp: &HttpResponse) -> String {
    resp.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn the_status_page_signs_in_through_the_oauth_flow() {
    let app = app_with(&[("SKILLPORT_AUTH__OPEN", "false")]);
    let start = app.handle(&get("/status"));
    assert_eq!(start.status, 302);
    let authorize = start.get_header("location").unwrap().strip_prefix("http://localhost:8787").unwrap();
    let pkce = cookies_of(&start);
    let back = app.handle(&get(authorize));
    assert_eq!(back.status, 302, "{}", String::from_utf8_lossy(&back.body));
    let callback = back.get_header("location").unwrap().strip_prefix("http://localhost:8787").unwrap();
    assert!(callback.starts_with("/status/callback?code="));
    // Without the browser's PKCE cookie the code is useless.
    assert_eq!(app.handle(&get(callback)).status, 400);
    let done = app.handle(&get(callback).with_header("cookie", &pkce));
    assert_eq!(done.status, 302, "{}", String::from_utf8_lossy(&done.body));
    let session = cookies_of(&done);
    assert!(session.starts_with("__Host-skillport_status="));
    let page = app.handle(&get("/status").with_header("cookie", &session));
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("Signed in as developer@localhost") && html.contains("3 (3 servable)"), "{html}");
    let forged = app.handle(&get("/status").with_header("cookie", "__Host-skillport_status=eyJ3aG8iOiJ4In0.AAAA"));
    assert_eq!(forged.status, 302);
}

#[test]
fn registrations_from_one_address_are_rate_limited() {
    let app = app_with(&[]);
    let register = |ip: &str| {
        app.handle(
            &HttpRequest::new("POST", "/register")
                .with_header("host", "localhost:8787")
                .with_header("content-type", "application/json")
                .with_header("cf-connecting-ip", ip)
                .with_body(serde_json::to_vec(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"]})).unwrap()),
        )
    };
    for _ in 0..crate::oauth::limits::ClientLimits::default().per_address_per_hour {
        assert_eq!(register("203.0.113.9").status, 201);
    }
    let refused = register("203.0.113.9");
    assert_eq!(refused.status, 429);
    assert!(refused.get_header("retry-after").unwrap().parse::<u64>().unwrap() <= 3600);
    assert_eq!(register("198.51.100.1").status, 201, "another address has its own budget");
}

#[test]
fn the_token_audit_line_names_only_an_authenticated_client() {
    let app = app_with(&[]);
    crate::audit::drain();
    let forged = form("/token", "grant_type=authorization_code&code=x&code_verifier=v&client_id=someone-innocent");
    assert_eq!(app.handle(&forged).status, 401);
    let lines = crate::audit::drain();
    let line = lines.iter().find(|l| l.contains("\"action\":\"token\"")).expect("a token line");
    assert!(!line.contains("someone-innocent") && !line.contains("\"client\""), "{line}");
    assert!(line.contains("refused: invalid_client"), "{line}");
    // A registered client that authenticated (a public one, by existing) is named, even when its grant fails.
    let reg = app.handle(
        &HttpRequest::new("POST", "/register")
            .with_header("host", "127.0.0.1:8787")
            .with_header("content-type", "application/json")
            .with_body(
                serde_json::to_vec(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"],
                "token_endpoint_auth_method": "none"}))
                .unwrap(),
            ),
    );
    let id = reg.json_body()["client_id"].as_str().unwrap().to_owned();
    let known = form("/token", &format!("grant_type=authorization_code&code=x&code_verifier=v&client_id={id}"));
    assert_eq!(app.handle(&known).status, 400);
    let lines = crate::audit::drain();
    let line = lines.iter().find(|l| l.contains("\"action\":\"token\"")).expect("a token line");
    assert!(line.contains(&format!("\"client\":\"{id}\"")), "{line}");
}

#[test]
fn a_remote_provider_needs_its_key_and_starts_upstream() {
    let env = [
        ("SKILLPORT_SERVER__PUBLIC_URL", "https://skillport.example.com"),
        (
            "SKILLPORT_AUTH",
            r#"{provider="github",client_id="gh-client",client_secret_secret="GH_SECRET",master_key_secret="OAUTH_KEY"}"#,
        ),
        ("GH_SECRET", "gh-s3cr3t"),
        ("OAUTH_KEY", "0123456789abcdef0123456789abcdef-key"),
        ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DOWNLOAD_KEY"),
        ("DOWNLOAD_KEY", "0123456789abcdef0123456789abcdef"),
    ];
    let app = app_with(&env);
    assert!(app.config.is_ok(), "{:?}", app.config.as_ref().err().map(|e| e.to_string()));
    let r = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(r.status, 401);
    let reg =
        app.handle(&HttpRequest::new("POST", "/register").with_header("content-type", "application/json").with_body(
            serde_json::to_vec(&json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]})).unwrap(),
        ));
    let client_id = reg.json_body()["client_id"].as_str().unwrap().to_string();
    let challenge = crate::oauth::authorize::tests::challenge(&"v".repeat(50));
    let auth = app.handle(&get(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback\
         &code_challenge={challenge}&code_challenge_method=S256"
    )));
    assert_eq!(auth.status, 302);
    let location = auth.get_header("location").unwrap();
    assert!(location.starts_with("https://github.com/login/oauth/authorize?"), "{location}");
    let q = query_of(location);
    assert_eq!(q["redirect_uri"], "https://skillport.example.com/callback");
    assert_eq!(q["client_id"], "gh-client");
    let cookie = auth.headers.iter().find(|(k, _)| k == "set-cookie").unwrap().1.clone();
    assert!(cookie.starts_with("__Host-skillport_signin=") && cookie.contains("HttpOnly") && cookie.contains("Secure"));
    // A client metadata document on a private or loopback address is never fetched in production.
    for doc in ["https://10.0.0.7/client.json", "https://127.0.0.1/client.json", "http://localhost:9/c.json"] {
        let r = app.handle(&get(&format!(
            "/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback\
             &code_challenge={challenge}&code_challenge_method=S256",
            url::form_urlencoded::byte_serialize(doc.as_bytes()).collect::<String>()
        )));
        assert_eq!(r.status, 400, "{doc}");
        assert!(r.get_header("location").is_none());
        assert!(String::from_utf8_lossy(&r.body).contains("metadata document cannot be used"), "{doc}");
    }
    // A callback from another browser (no cookie) is refused, and the state is spent.
    let cb = app.handle(&get(&format!("/callback?code=abc&state={}", q["state"])));
    assert_eq!(cb.status, 400);
    assert!(String::from_utf8_lossy(&cb.body).contains("another browser"));
    let again = app.handle(&get(&format!("/callback?code=abc&state={}", q["state"])));
    assert!(String::from_utf8_lossy(&again.body).contains("expired or was already used"));
}

fn modern(app: &App, method: &str, mut params: Value, extra: &[(&str, &str)]) -> HttpResponse {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "2"},
    });
    let name = params.get("name").or(params.get("uri")).and_then(Value::as_str).map(str::to_string);
    let mut req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost:8787")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_header("mcp-protocol-version", "2026-07-28")
        .with_header("mcp-method", method);
    if let Some(n) = name {
        req = req.with_header("mcp-name", &n);
    }
    for (k, v) in extra {
        req.headers.retain(|(h, _)| h != k);
        req = req.with_header(k, v);
    }
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
    app.handle(&req.with_body(serde_json::to_vec(&body).unwrap()))
}

#[test]
fn stateless_era_discover_and_calls() {
    let app = app_with(&[]);
    let r = modern(&app, "server/discover", json!({}), &[]);
    assert_eq!(r.status, 200);
    let d = r.json_body()["result"].clone();
    assert!(d["supportedVersions"].as_array().unwrap().contains(&json!("2026-07-28")));
    assert_eq!(d["resultType"], "complete");
    assert_eq!(d["cacheScope"], "private");
    assert!(d["capabilities"]["extensions"]["io.modelcontextprotocol/skills"]["directoryRead"] == true);
    // The client's surface (claude-code in _meta) is the default filter.
    let r = modern(&app, "tools/call", json!({"name": "list_plugins", "arguments": {}}), &[]);
    let names: Vec<String> = r.json_body()["result"]["structuredContent"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plugin"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["writing-tools", "repo-tools"]);
    // initialize does not exist in the stateless era.
    let r = modern(&app, "initialize", json!({}), &[]);
    assert_eq!((r.status, r.json_body()["error"]["code"].clone()), (404, json!(crate::mcp::METHOD_NOT_FOUND)));
}

#[test]
fn stateless_era_errors_carry_the_request_id() {
    let app = app_with(&[]);
    // An unsupported version in the header is refused before the message is handled, with the request's id.
    let body = json!({"jsonrpc":"2.0","id":301,"method":"server/discover","params":{"_meta":{
        "io.modelcontextprotocol/protocolVersion":"v999.0.0","io.modelcontextprotocol/clientCapabilities":{}}}});
    let req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json")
        .with_header("mcp-method", "server/discover")
        .with_header("mcp-protocol-version", "v999.0.0")
        .with_body(serde_json::to_vec(&body).unwrap());
    let r = app.handle(&req);
    assert_eq!(r.status, 400);
    let b = r.json_body();
    assert_eq!(
        (b["id"].clone(), b["error"]["code"].clone()),
        (json!(301), json!(crate::mcp::UNSUPPORTED_PROTOCOL_VERSION))
    );
    assert_eq!(b["error"]["data"]["requested"], "v999.0.0");
    // So are the transport's own refusals of a readable request.
    let r = app.handle(&HttpRequest { headers: vec![], ..req.clone() }.with_header("host", "localhost"));
    assert_eq!((r.status, r.json_body()["id"].clone()), (415, json!(301)));
    // And every method-level error.
    for (method, params) in [
        ("unknown/method", json!({})),
        ("skills/get", json!({"uri": "skill://example/nope/nope/SKILL.md"})),
        ("tools/call", json!({"name": "nope"})),
    ] {
        let b = modern(&app, method, params, &[]).json_body();
        assert_eq!(b["id"], 9, "{method}: {b}");
        assert!(b["error"].is_object() || b["result"]["isError"] == true, "{method}: {b}");
    }
}

#[test]
fn stateless_era_has_no_ping_or_set_level() {
    let app = app_with(&[]);
    for (method, params) in [("ping", json!({})), ("logging/setLevel", json!({"level": "info"}))] {
        let r = modern(&app, method, params.clone(), &[]);
        let b = r.json_body();
        assert_eq!(
            (r.status, b["id"].clone(), b["error"]["code"].clone()),
            (404, json!(9), json!(crate::mcp::METHOD_NOT_FOUND)),
            "{method}"
        );
        // The handshake era keeps both.
        let r = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}));
        assert_eq!((r.status, r.json_body()["result"].clone()), (200, json!({})), "{method}");
    }
}

#[test]
fn stateless_era_header_values_are_trimmed() {
    let app = app_with(&[]);
    for name in [" list_plugins", "list_plugins ", "\tlist_plugins\t", "  =?base64?bGlzdF9wbHVnaW5z?=  "] {
        let r = modern(&app, "tools/call", json!({"name": "list_plugins", "arguments": {}}), &[("mcp-name", name)]);
        assert_eq!(r.status, 200, "{name:?}: {:?}", r.json_body());
        assert_eq!(r.json_body()["result"]["isError"], false);
    }
    let r = modern(&app, "tools/list", json!({}), &[("mcp-method", " tools/list ")]);
    assert_eq!(r.status, 200);
    // Whitespace is not a licence for a different value.
    let r = modern(&app, "tools/call", json!({"name": "list_plugins"}), &[("mcp-name", " get_plugin ")]);
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::HEADER_MISMATCH);
}

#[test]
fn skills_extension_errors_are_invalid_params() {
    let app = app_with(&[]);
    let handshake = |method: &str, uri: &str| {
        rpc(&app, json!({"jsonrpc":"2.0","id":5,"method":method,"params":{"uri":uri}})).json_body()
    };
    let unserved = [
        "skill://example/brand-kit/nope/SKILL.md",
        "skill://example/brand-kit/brand-voice/assets/logo.png",
        "skill://elsewhere/brand-kit/brand-voice/SKILL.md",
        "https://example.com/SKILL.md",
    ];
    for uri in unserved {
        for b in [handshake("skills/get", uri), modern(&app, "skills/get", json!({"uri": uri}), &[]).json_body()] {
            assert_eq!(b["error"]["code"], crate::mcp::INVALID_PARAMS, "{uri}: {b}");
            assert_eq!(b["error"]["message"], format!("No skill is served at {uri}"));
        }
    }
    // Files, missing paths and URIs of no skill are not directories.
    for uri in [
        "skill://example/brand-kit/brand-voice/SKILL.md",
        "skill://example/brand-kit/brand-voice/assets/logo.png",
        "skill://example/brand-kit/brand-voice/nope",
        "skill://example/brand-kit/nope",
        "https://example.com/dir",
    ] {
        for b in [
            handshake("resources/directory/read", uri),
            modern(&app, "resources/directory/read", json!({"uri": uri}), &[]).json_body(),
        ] {
            assert_eq!(b["error"]["code"], crate::mcp::INVALID_PARAMS, "{uri}: {b}");
        }
    }
    // The root and a folder are directories, written without a trailing slash (and found with one too).
    for uri in ["skill://example/brand-kit/brand-voice", "skill://example/brand-kit/brand-voice/"] {
        let b = modern(&app, "resources/directory/read", json!({"uri": uri}), &[]).json_body();
        let kids = b["result"]["resources"].as_array().unwrap();
        let dir = kids.iter().find(|k| k["mimeType"] == "inode/directory").unwrap();
        assert_eq!(
            (dir["uri"].as_str().unwrap(), dir["name"].as_str().unwrap()),
            ("skill://example/brand-kit/brand-voice/assets", "assets")
        );
    }
    // An unknown resource: -32602 from 2026-07-28 on (SEP-2164), -32002 before.
    let uri = "skill://example/brand-kit/brand-voice/nope.md";
    assert_eq!(handshake("resources/read", uri)["error"]["code"], crate::mcp::RESOURCE_NOT_FOUND);
    let b = modern(&app, "resources/read", json!({"uri": uri}), &[]).json_body();
    assert_eq!(
        (b["error"]["code"].clone(), b["error"]["data"]["uri"].clone()),
        (json!(crate::mcp::INVALID_PARAMS), json!(uri))
    );
}

#[test]
fn skills_extension_offers_only_skills_named_as_their_folder() {
    // A SKILL.md whose name differs from its folder would give a URI whose last segment is not its name (or a
    // folder that is not its name): the extension leaves it out, get_plugin reports it.
    for (declared, name) in [("Repo Map", "Repo Map"), ("repo-atlas", "repo-atlas")] {
        let mut app = app_with(&[]);
        let m = &mut app.catalogue.marketplaces[0];
        let plugins = &mut m.loaded.as_mut().unwrap().plugins;
        let skill = plugins.iter_mut().flat_map(|p| p.skills.iter_mut()).find(|s| s.name == "repo-map").unwrap();
        skill.frontmatter.insert("name".into(), json!(declared));
        skill.name = name.into();
        let list = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"skills/list","params":{}})).json_body();
        let uris: Vec<&str> =
            list["result"]["skills"].as_array().unwrap().iter().map(|s| s["uri"].as_str().unwrap()).collect();
        assert_eq!(uris.len(), 3, "{uris:?}");
        assert!(!uris.iter().any(|u| u.contains("/repo-tools/")), "{uris:?}");
        for uri in ["skill://example/repo-tools/repo-map/SKILL.md", "skill://example/repo-tools/repo-atlas/SKILL.md"] {
            let get = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"skills/get","params":{"uri":uri}}));
            assert_eq!(get.json_body()["error"]["code"], crate::mcp::INVALID_PARAMS);
        }
    }
    // Every skill listed: the last segment before SKILL.md is the frontmatter name, SKILL.md is among the
    // resources, and every digest is `sha256:` and 64 lowercase hex digits.
    let app = app_with(&[]);
    let list = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"skills/list","params":{}})).json_body();
    for s in list["result"]["skills"].as_array().unwrap() {
        let uri = s["uri"].as_str().unwrap();
        let segs: Vec<&str> = uri.rsplit('/').take(2).collect();
        assert_eq!((segs[0], segs[1]), ("SKILL.md", s["frontmatter"]["name"].as_str().unwrap()));
        let res = s["resources"].as_array().unwrap();
        assert!(res.iter().any(|r| r["uri"] == uri));
        for r in res {
            let d = r["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap();
            assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{d}");
            assert!(r["size"].is_u64());
        }
    }
}

#[test]
fn tools_carry_directory_metadata_in_both_eras() {
    let app = app_with(&[]);
    let handshake = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})).json_body();
    let modern = modern(&app, "tools/list", json!({}), &[]).json_body();
    for listed in [&handshake, &modern] {
        let tools = listed["result"]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 4);
        for t in tools {
            let title = t["title"].as_str().unwrap();
            assert!(!title.is_empty());
            let a = &t["annotations"];
            assert_eq!(a["title"], title);
            // Every tool only reads the configured catalogue: nothing changes, nothing outside it is reached.
            assert_eq!(
                (&a["readOnlyHint"], &a["destructiveHint"], &a["openWorldHint"]),
                (&json!(true), &json!(false), &json!(false)),
                "{}",
                t["name"]
            );
        }
    }
    assert_eq!(handshake["result"]["tools"], modern["result"]["tools"]);
}

#[test]
fn stateless_era_envelope_checks() {
    let app = app_with(&[]);
    let r = modern(&app, "tools/list", json!({}), &[("mcp-method", "tools/call")]);
    assert_eq!((r.status, r.json_body()["error"]["code"].clone()), (400, json!(crate::mcp::HEADER_MISMATCH)));
    let r = modern(&app, "tools/call", json!({"name": "list_plugins"}), &[("mcp-name", "get_plugin")]);
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::HEADER_MISMATCH);
    // The same name, base64-wrapped as clients do for unsafe values, matches.
    let r = modern(&app, "tools/call", json!({"name": "list_plugins"}), &[("mcp-name", "=?base64?bGlzdF9wbHVnaW5z?=")]);
    assert_eq!(r.status, 200);
    // A well-formed but unknown stateless version: -32022 naming what we speak.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2027-01-01","io.modelcontextprotocol/clientCapabilities":{}}}});
    let req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json")
        .with_header("mcp-method", "tools/list")
        .with_body(serde_json::to_vec(&body).unwrap());
    let r = app.handle(&req.clone().with_header("mcp-protocol-version", "2027-01-01"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::UNSUPPORTED_PROTOCOL_VERSION);
    assert!(r.json_body()["error"]["data"]["supported"].as_array().unwrap().contains(&json!("2026-07-28")));
    // Missing envelope keys.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}});
    let r = app.handle(&HttpRequest { body: serde_json::to_vec(&body).unwrap(), ..req });
    assert_eq!(r.json_body()["error"]["code"], crate::mcp::INVALID_PARAMS);
}

#[test]
fn initialize_hands_out_a_session_that_remembers_the_surface() {
    let app = app_with(&[]);
    let init = rpc(
        &app,
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"claude-ai","version":"1"}}}),
    );
    let sid = init.get_header("mcp-session-id").unwrap().to_string();
    let req = HttpRequest::new("POST", "/mcp")
        .with_header("host", "localhost")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json")
        .with_header("mcp-session-id", &sid)
        .with_body(
            serde_json::to_vec(
                &json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_plugins","arguments":{}}}),
            )
            .unwrap(),
        );
    let r = app.handle(&req).json_body();
    assert_eq!(r["result"]["structuredContent"]["surface"], "claude-ai");
    let names: Vec<&str> = r["result"]["structuredContent"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plugin"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["writing-tools", "brand-kit"]);
    let del = HttpRequest::new("DELETE", "/mcp").with_header("host", "localhost").with_header("mcp-session-id", &sid);
    // A session holds nothing server-side, so nothing could record its end: DELETE is refused, and the id
    // still works.
    assert_eq!(app.handle(&del).status, 405);
    assert_eq!(app.handle(&req).json_body()["result"]["structuredContent"]["surface"], "claude-ai");
}

#[test]
fn skills_extension_and_resources() {
    use sha2::Digest;
    let app = app_with(&[]);
    let list = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"skills/list","params":{}})).json_body();
    let skills = list["result"]["skills"].as_array().unwrap();
    assert_eq!(skills.len(), 4);
    let voice = skills.iter().find(|s| s["frontmatter"]["name"] == "brand-voice").unwrap();
    assert_eq!(voice["uri"], "skill://example/brand-kit/brand-voice/SKILL.md");
    assert_eq!(voice["frontmatter"]["metadata"]["owner"], "design-team");
    let logo_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/marketplace/plugins/brand-kit/skills/brand-voice/assets/logo.png"
    );
    let logo = std::fs::read(logo_path).unwrap();
    let want = format!("sha256:{:x}", sha2::Sha256::digest(&logo));
    let res = voice["resources"].as_array().unwrap();
    let png = res.iter().find(|r| r["uri"] == "skill://example/brand-kit/brand-voice/assets/logo.png").unwrap();
    assert_eq!((png["digest"].as_str().unwrap(), png["size"].as_u64().unwrap()), (want.as_str(), logo.len() as u64));
    // The entry is the extension's shape and nothing else: uri, frontmatter verbatim, resources with digest and
    // size.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(voice), ["frontmatter", "resources", "uri"]);
    assert_eq!(keys(png), ["digest", "size", "uri"]);
    assert_eq!(res.iter().filter(|r| r["uri"] == voice["uri"]).count(), 1, "SKILL.md is listed once");

    let read = |uri: &str| {
        rpc(&app, json!({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":uri}})).json_body()
    };
    let r = read("skill://example/brand-kit/brand-voice/assets/logo.png");
    let blob = r["result"]["contents"][0]["blob"].as_str().unwrap();
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(blob).unwrap(), logo);
    let r = read("skill://example/writing-tools/conventional-commits/references/types.md");
    assert!(r["result"]["contents"][0]["text"].as_str().unwrap().starts_with("# Commit types"));
    assert_eq!(r["result"]["contents"][0]["mimeType"], "text/markdown");
    for bad in [
        "skill://example/brand-kit/brand-voice/../../../.claude-plugin/marketplace.json",
        "skill://example/brand-kit/brand-voice/nope.md",
        "https://x/y",
    ] {
        assert_eq!(read(bad)["error"]["code"], crate::mcp::RESOURCE_NOT_FOUND, "{bad}");
    }
    let get = rpc(&app, json!({"jsonrpc":"2.0","id":3,"method":"skills/get","params":{"uri":"skill://example/repo-tools/repo-map/SKILL.md"}})).json_body();
    // Cache hints, which the extension requires, in the handshake era too.
    for r in [&list["result"], &get["result"]] {
        assert_eq!((r["ttlMs"].clone(), r["cacheScope"].clone()), (json!(0), json!("private")));
    }
    assert_eq!(get["result"]["skill"]["frontmatter"]["allowed-tools"], "Read, Grep, Glob, Bash(git log:*)");
    let dir = rpc(&app, json!({"jsonrpc":"2.0","id":4,"method":"resources/directory/read","params":{"uri":"skill://example/writing-tools/conventional-commits/"}})).json_body();
    let kids: Vec<&str> =
        dir["result"]["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert_eq!(
        kids,
        [
            "skill://example/writing-tools/conventional-commits/SKILL.md",
            "skill://example/writing-tools/conventional-commits/references"
        ]
    );
    let all = rpc(&app, json!({"jsonrpc":"2.0","id":5,"method":"resources/list","params":{}})).json_body();
    assert_eq!(all["result"]["resources"].as_array().unwrap().len(), 6);
    let bad =
        rpc(&app, json!({"jsonrpc":"2.0","id":6,"method":"resources/list","params":{"cursor":"nope"}})).json_body();
    assert_eq!(bad["error"]["code"], crate::mcp::INVALID_PARAMS);
    let t = rpc(&app, json!({"jsonrpc":"2.0","id":7,"method":"resources/templates/list","params":{}})).json_body();
    assert_eq!(t["result"]["resourceTemplates"].as_array().unwrap().len(), 2);
    // get_plugin links each skill's entry file.
    let g = call(&app, "get_plugin", json!({"name": "writing-tools"}));
    let links: Vec<&str> = g["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "resource_link")
        .map(|c| c["uri"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 2);
}

#[test]
fn legacy_sse_step_answers_on_the_stream() {
    let app = app_with(&[]);
    let cfg = app.config.as_ref().unwrap();
    let dev = dev_identity();
    let ctx = app.mcp_context(cfg, &[], &dev);
    let step = crate::mcp::sse::step(&ctx, br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"Claude Desktop","version":"1"}}}"#);
    assert_eq!(step.http.status, 202);
    assert_eq!(step.declared_surface, Some(Some(crate::config::Surface::ClaudeDesktop)));
    let ev = step.event.unwrap();
    assert!(ev.starts_with("event: message\ndata: {") && ev.contains("\"protocolVersion\":\"2024-11-05\""), "{ev}");
    let note = crate::mcp::sse::step(&ctx, br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert!(note.event.is_none());
    assert_eq!(crate::mcp::sse::step(&ctx, b"{").http.status, 400);
}

#[test]
fn renamed_plugins_are_found_under_their_old_name() {
    let mut app = app_with(&[]);
    let m = &mut app.catalogue.marketplaces[0];
    m.loaded.as_mut().unwrap().manifest.renames.insert("commit-tools".into(), "writing-tools".into());
    let r = call(&app, "get_plugin", json!({"name": "commit-tools"}));
    assert_eq!(r["structuredContent"]["name"], "writing-tools@example");
    let r = call(&app, "get_plugin", json!({"name": "commit-tools@example"}));
    assert_eq!(r["structuredContent"]["name"], "writing-tools@example");
    assert_eq!(call(&app, "get_plugin", json!({"name": "never-existed"}))["isError"], true);
}

#[test]
fn skills_list_pages_with_opaque_cursors() {
    let list: Vec<String> =
        (0..13).map(|i| format!(r#"{{id="m{i}",kind="bundled",location="marketplace"}}"#)).collect();
    let app = app_with(&[("SKILLPORT_MARKETPLACES", &format!("[{}]", list.join(",")))]);
    let first = rpc(&app, json!({"jsonrpc":"2.0","id":1,"method":"skills/list","params":{}})).json_body();
    assert_eq!(first["result"]["skills"].as_array().unwrap().len(), 50);
    let cursor = first["result"]["nextCursor"].as_str().unwrap().to_string();
    let second =
        rpc(&app, json!({"jsonrpc":"2.0","id":2,"method":"skills/list","params":{"cursor": cursor}})).json_body();
    assert_eq!(second["result"]["skills"].as_array().unwrap().len(), 2);
    assert!(second["result"].get("nextCursor").is_none());
    let all = rpc(&app, json!({"jsonrpc":"2.0","id":3,"method":"resources/list","params":{}})).json_body();
    assert_eq!(all["result"]["resources"].as_array().unwrap().len(), 78);
    assert!(all["result"].get("nextCursor").is_none());
}

#[test]
fn every_endpoint_has_its_own_line_in_the_table() {
    use super::{paths, Path, ROUTES};
    let line = |path: &str| ROUTES.iter().position(|r| r.path.matches(path)).unwrap();
    let catch_all = ROUTES.iter().position(|r| matches!(r.path, Path::Any)).unwrap();
    assert_eq!(catch_all, ROUTES.len() - 1, "the catch-all is the last line");
    for path in [
        paths::ROOT,
        paths::MCP,
        paths::SSE,
        paths::SSE_MESSAGE,
        paths::AUTHORIZATION_SERVER,
        paths::OPENID_CONFIGURATION,
        paths::PROTECTED_RESOURCE,
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/sse",
        paths::REGISTER,
        paths::AUTHORIZE,
        paths::CALLBACK,
        paths::CONSENT,
        paths::TOKEN,
        paths::REVOKE,
        paths::STATUS,
        paths::STATUS_CALLBACK,
        "/download/token",
        "/hooks/example",
    ] {
        assert!(line(path) < catch_all, "{path} has no line of its own");
    }
    for unknown in ["/nope", "/.well-known/oauth-protected-resource/other", "/mcp/", "/status/", "/download"] {
        assert_eq!(line(unknown), catch_all, "{unknown}");
    }
}

/// Which refusal a request gets when several apply is the order of its line's guards, then the method.
#[test]
fn the_first_guard_that_refuses_decides_the_answer() {
    let app = app_with(&[]);
    let at = |method: &str, path: &str, headers: &[(&str, &str)]| {
        let mut r = HttpRequest::new(method, path).with_header("host", "localhost:8787");
        for (k, v) in headers {
            r = r.with_header(k, v);
        }
        app.handle(&r)
    };
    let evil = [("origin", "https://evil.example")];
    // The Origin check comes before the preflight on the MCP transports, and only there.
    assert_eq!(at("OPTIONS", "/mcp", &evil).status, 403);
    assert_eq!(at("OPTIONS", "/sse/message", &evil).status, 403);
    assert_eq!(at("OPTIONS", "/token", &evil).status, 204);
    assert_eq!(at("OPTIONS", "/nope", &[]).status, 204);
    // A document or page under another method does not exist; an endpoint names its method.
    assert_eq!(at("POST", "/.well-known/oauth-authorization-server", &[]).status, 404);
    assert_eq!(at("POST", "/status", &[]).status, 404);
    assert_eq!(at("POST", "/download/x", &[]).status, 404);
    assert_eq!(at("POST", "/", &[]).status, 404);
    assert_eq!(at("GET", "/revoke", &[]).get_header("allow"), Some("POST"));
    // The transports sign in before the method is looked at.
    let signed = app_with(&[("SKILLPORT_AUTH__OPEN", "false")]);
    let r = signed.handle(&HttpRequest::new("POST", "/sse").with_header("host", "localhost:8787"));
    assert_eq!(r.status, 401);
    let r = app.handle(&HttpRequest::new("POST", "/sse").with_header("host", "localhost:8787"));
    assert_eq!((r.status, r.get_header("allow")), (405, Some(super::SSE_ALLOW)));
    // local's loopback rule comes before everything, the preflight included.
    let r = app.handle(&HttpRequest::new("OPTIONS", "/token").with_header("host", "skillport.example.com"));
    assert_eq!(r.status, 403);
}

/// The requests a fresh isolate answers before its catalogue is loaded get the same answer from an app without a
/// catalogue as from one with it; everything else is counted as reading the catalogue.
#[test]
fn catalogue_free_requests_answer_the_same_without_the_catalogue() {
    use super::reads_catalogue;
    let app = app_with(&[]);
    let bare = App::without_catalogue(app.config.clone());
    assert!(bare.catalogue.marketplaces.is_empty() && !app.catalogue.marketplaces.is_empty());
    let mcp = |body: Value| {
        HttpRequest::new("POST", "/mcp")
            .with_header("host", "localhost:8787")
            .with_header("content-type", "application/json")
            .with_header("accept", "application/json, text/event-stream")
            .with_body(serde_json::to_vec(&body).unwrap())
    };
    let free = [
        get("/.well-known/oauth-protected-resource"),
        get("/.well-known/oauth-protected-resource/mcp"),
        get("/.well-known/oauth-authorization-server"),
        get("/.well-known/openid-configuration"),
        get("/"),
        get("/authorize"),
        form("/token", "grant_type=authorization_code&code=nope"),
        form("/revoke", "token=nope"),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"x"}})),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).with_header("mcp-protocol-version", "2026-07-28"),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"server/discover"}))
            .with_header("mcp-protocol-version", "2026-07-28"),
    ];
    let cfg = app.config.as_ref().ok();
    for req in &free {
        assert!(!reads_catalogue(req, cfg), "{} {}", req.method, req.path);
        let (a, b) = (app.handle(req), bare.handle(req));
        // A legacy `initialize` hands out a new random session id each time: compared by presence only.
        let headers = |r: &HttpResponse| {
            let masked =
                |(k, v): &(String, String)| (k.clone(), if k == "mcp-session-id" { "…".into() } else { v.clone() });
            r.headers.iter().map(masked).collect::<Vec<_>>()
        };
        assert_eq!((a.status, headers(&a), &a.body), (b.status, headers(&b), &b.body), "{} {}", req.method, req.path);
    }
    let reading = [
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_plugins","arguments":{}}})),
        mcp(json!([{"jsonrpc":"2.0","id":1,"method":"tools/list"}])),
        mcp(json!({"jsonrpc":"2.0","id":1,"method":"resources/list"})),
        get("/mcp"),
        get("/sse"),
        get("/status"),
        get("/download/x"),
        form("/hooks/example", "{}"),
        get("/nowhere"),
    ];
    for req in &reading {
        assert!(reads_catalogue(req, cfg), "{} {}", req.method, req.path);
    }
    // With an install policy, the instructions of `initialize` name the required plugins: they read the catalogue.
    let policies =
        app_with(&[("SKILLPORT_ACCESS__RULES", r#"[{effect="allow",marketplace="example",policy="required"}]"#)]);
    let init = mcp(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}));
    assert!(reads_catalogue(&init, policies.config.as_ref().ok()));
    let bare = App::without_catalogue(policies.config.clone());
    assert_ne!(policies.handle(&init).body, bare.handle(&init).body);
    assert!(reads_catalogue(&init, None));
}
