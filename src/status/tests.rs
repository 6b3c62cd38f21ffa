use super::*;

#[test]
fn the_page_lists_marketplaces_surfaces_and_provider_without_secrets() {
    let env = [(
        "SKILLPORT_MARKETPLACES".to_string(),
        r#"[{id="example",kind="bundled",location="marketplace"}]"#.to_string(),
    )];
    let app = crate::testing::block_on(crate::App::from_env(&env.into_iter().collect()));
    let cfg = app.config.as_ref().unwrap();
    let r = render(cfg, &app.catalogue, "ada@acme.example", 100);
    let html = String::from_utf8(r.body).unwrap();
    assert!(html.contains("Signed in as ada@acme.example"));
    assert!(html.contains("<td>example</td>") && html.contains("3 (3 servable)"), "{html}");
    assert!(html.contains("<td>claude-ai</td><td>served</td><td>2</td>"), "{html}");
    assert!(html.contains("<code>local</code>"));
    assert_eq!(r.headers.iter().find(|(k, _)| k == "x-frame-options").unwrap().1, "DENY");
}

fn app(env: &[(&str, &str)]) -> crate::App {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    crate::testing::block_on(crate::App::from_env(&env))
}

fn get(path_and_query: &str, cookie: Option<&str>) -> HttpRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut r = HttpRequest::new("GET", path).with_header("host", "localhost:8787");
    r.query = query.to_string();
    match cookie {
        Some(c) => r.with_header("cookie", c),
        None => r,
    }
}

fn cookies(resp: &HttpResponse) -> String {
    let set = resp.headers.iter().filter(|(k, _)| k == "set-cookie");
    set.map(|(_, v)| v.split(';').next().unwrap().to_string())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `/status`, its sign-in through the local provider, and the callback's answer.
fn sign_in(app: &crate::App) -> HttpResponse {
    let start = app.handle(&get("/status", None));
    assert_eq!(start.status, 302);
    let authorize = start.get_header("location").unwrap().strip_prefix("http://localhost:8787").unwrap();
    let back = app.handle(&get(authorize, None));
    assert_eq!(back.status, 302, "{}", String::from_utf8_lossy(&back.body));
    let callback = back.get_header("location").unwrap().strip_prefix("http://localhost:8787").unwrap();
    app.handle(&get(callback, Some(&cookies(&start))))
}

#[test]
fn only_admins_get_the_page_and_everyone_else_one_refusal() {
    // `local` with no admins listed: the development user is the admin.
    let dev = app(&[]);
    let done = sign_in(&dev);
    assert_eq!(done.status, 302);
    let session = cookies(&done);
    assert!(session.starts_with("__Host-skillport_status="));
    assert_eq!(dev.handle(&get("/status", Some(&session))).status, 200);

    // Listing admins who are not the development user: it signs in, and is refused.
    let mut refusals = Vec::new();
    for env in [
        vec![("SKILLPORT_ACCESS__ADMINS__EMAILS", r#"["ops@example.com"]"#)],
        vec![
            ("SKILLPORT_ACCESS__ADMINS", r#"{domains=["example.com"],groups=["admins"],teams=["acme/ops"]}"#),
            ("SKILLPORT_MARKETPLACES", r#"[{id="hidden-vendor",kind="bundled",location="marketplace"}]"#),
            ("SKILLPORT_ACCESS__DEFAULT", "deny"),
        ],
    ] {
        let app = app(&env);
        let r = sign_in(&app);
        assert_eq!(r.status, 403, "{env:?}");
        assert!(!cookies(&r).contains("skillport_status="), "no session for a non-admin");
        let html = String::from_utf8(r.body.clone()).unwrap();
        for secret in ["example", "hidden-vendor", "developer@localhost", "bundled", "servable"] {
            assert!(!html.contains(secret), "{secret} in {html}");
        }
        refusals.push((r.status, r.body, r.headers.into_iter().filter(|(k, _)| k != "set-cookie").collect::<Vec<_>>()));
        // A session from a deployment where this user was an admin does not carry over.
        assert_eq!(app.handle(&get("/status", Some(&session))).status, 302, "{env:?}");
    }
    assert_eq!(refusals[0], refusals[1], "one page, whatever is configured");
    let named = app(&[("SKILLPORT_ACCESS__ADMINS__EMAILS", r#"["developer@localhost"]"#)]);
    assert_eq!(sign_in(&named).status, 302, "a listed admin signs in");
}

/// Wherever a location reaches a user (tool results, install steps, errors, this page, the start-up log), its
/// query and user part are left out: either may carry a key.
#[test]
fn locations_reach_users_without_query_or_credentials() {
    use crate::access::fixtures::tool;
    use serde_json::json;
    use skillport_sources::{PluginSource, PluginStatus};
    const URL: &str = "https://files.example/m/.claude-plugin/marketplace.json?token=s3cr3t-q";
    let markets = format!(
        r#"[{{id="example",kind="bundled",location="marketplace"}},{{id="signed",kind="https",location="{URL}"}}]"#
    );
    let app = self::app(&[("SKILLPORT_MARKETPLACES", &markets)]);
    let dev = crate::testing::dev_identity();
    let clean = |what: &str, text: &str| {
        assert!(!text.contains("s3cr3t"), "{what}: {text}");
    };
    // The https marketplace failed to load (no network here): its error names the URL.
    let failed = app.catalogue.marketplaces[1].loaded.as_ref().unwrap_err();
    assert!(failed.contains("https://files.example/m/"), "{failed}");
    clean("start-up log", &app.start_log_line());
    let cfg = app.config.as_ref().unwrap();
    clean("status page", &String::from_utf8(render(cfg, &app.catalogue, "ada", 100).body).unwrap());
    let list = tool(&app, &dev, "list_plugins", json!({"surface": "all"}));
    assert!(list.to_string().contains("marketplaceErrors"));
    clean("list_plugins", &list.to_string());
    let updates = tool(&app, &dev, "check_updates", json!({"installed": [{"name": "x@signed"}]}));
    assert!(updates.to_string().contains("could not be loaded"), "{updates}");
    clean("check_updates", &updates.to_string());

    // A loaded marketplace read from such a URL, whose plugins name sources with keys in them (a fresh app: the
    // listing above was worked out once per marketplace copy).
    let mut app = self::app(&[("SKILLPORT_MARKETPLACES", &markets)]);
    {
        let cfg = app.config.as_mut().unwrap();
        cfg.marketplaces[0].kind = crate::config::SourceKind::Https;
        cfg.marketplaces[0].location = URL.into();
        let loaded = app.catalogue.marketplaces[0].loaded.as_mut().unwrap();
        let secret_url = "https://bot:s3cr3t-u@archives.example/p.zip?sig=s3cr3t-q#s3cr3t-f";
        let brand = loaded.plugins.iter_mut().find(|p| p.name == "brand-kit").unwrap();
        brand.entry.as_mut().unwrap().source =
            PluginSource::Archive { url: secret_url.into(), sha256: None, extra: Default::default() };
        let repo = loaded.plugins.iter_mut().find(|p| p.name == "repo-tools").unwrap();
        repo.status = PluginStatus::NotServable { reason: format!("could not fetch {secret_url}: HTTP 404") };
    }
    let fetched = tool(&app, &dev, "fetch_skill", json!({"name": "brand-voice", "surface": "claude-code"}));
    let install = fetched["structuredContent"]["install"].as_str().unwrap();
    assert!(
        install.contains("/plugin marketplace add https://files.example/m/.claude-plugin/marketplace.json`"),
        "{install}"
    );
    clean("fetch_skill", &fetched.to_string());
    let plugin = tool(&app, &dev, "get_plugin", json!({"name": "brand-kit@example"}));
    assert_eq!(plugin["structuredContent"]["source"]["spec"]["url"], "https://archives.example/p.zip");
    clean("get_plugin", &plugin.to_string());
    let list = tool(&app, &dev, "list_plugins", json!({"surface": "all"}));
    assert!(list.to_string().contains("could not fetch https://archives.example/p.zip: HTTP 404"), "{list}");
    clean("list_plugins", &list.to_string());
    let cfg = app.config.as_ref().unwrap();
    clean("status page", &String::from_utf8(render(cfg, &app.catalogue, "ada", 100).body).unwrap());
}
