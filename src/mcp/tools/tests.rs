//! The catalogue tools end to end through `tools/call`: names, files, install steps, updates, access rules and
//! install policies, and the precomputed listing held byte for byte to the rendering it replaced.

use super::check_updates::MAX_INSTALLED;
use super::list_plugins::{ListArgs, MAX_PAGE};
use super::*;
use crate::catalogue::{self, cursor, surface};
use crate::config::SourceKind;
use crate::testing::block_on;
use crate::App;
use base64::Engine as _;
use std::collections::BTreeMap;

#[test]
fn the_tool_enum_names_the_definitions_in_their_order() {
    let names: Vec<&str> = definitions().iter().map(|d| d["name"].as_str().unwrap()).collect();
    let tools: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(names, tools);
    for tool in Tool::ALL {
        assert_eq!(Tool::parse(tool.name()), Some(tool));
        assert_eq!(tool.definition()["name"], tool.name());
    }
    assert_eq!(Tool::parse("List_plugins"), None);
    assert_eq!(Tool::parse(""), None);
}

#[test]
fn definitions_json_states_the_limits_the_code_applies() {
    let tools = definitions();
    let by_name = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap();
    assert_eq!(by_name("list_plugins")["inputSchema"]["properties"]["limit"]["maximum"], MAX_PAGE);
    assert_eq!(by_name("check_updates")["inputSchema"]["properties"]["installed"]["maxItems"], MAX_INSTALLED);
    for tool in tools {
        assert_eq!(tool["annotations"]["title"], tool["title"]);
    }
}

const LOGO: &[u8] =
    include_bytes!("../../../examples/marketplace/plugins/brand-kit/skills/brand-voice/assets/logo.png");
const SKILL_MD: &str = include_str!("../../../examples/marketplace/plugins/brand-kit/skills/brand-voice/SKILL.md");

static DEV: std::sync::LazyLock<skillport_providers::Identity> = std::sync::LazyLock::new(crate::testing::dev_identity);

fn app_with(env: &[(&str, &str)]) -> App {
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let app = block_on(App::from_env(&env));
    assert!(app.config.is_ok(), "{}", app.config.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
    app
}

/// Calls `tool` as a client on `surface` would.
fn call_on(app: &App, surface: Option<Surface>, tool: &str, args: Value) -> Value {
    let cfg = app.config.as_ref().unwrap();
    let ctx = Context { config: cfg, catalogue: &app.catalogue, client_surface: surface, headers: &[], identity: &DEV };
    Call { ctx: &ctx, surface }.call(&json!({"name": tool, "arguments": args})).unwrap().into_value()
}

fn call(app: &App, tool: &str, args: Value) -> Value {
    call_on(app, None, tool, args)
}

fn error_text(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result:#}");
    result["content"][0]["text"].as_str().unwrap().to_string()
}

#[test]
fn tools_list_serialized_once_is_the_definitions() {
    let got = list(&json!({})).unwrap().to_vec();
    assert_eq!(String::from_utf8(got).unwrap(), json!({"tools": definitions()}).to_string());
    assert!(list(&json!({"cursor": "x"})).is_err());
}

#[test]
fn every_tool_has_full_metadata() {
    let defs = definitions();
    let names: Vec<&str> = defs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["list_plugins", "get_plugin", "fetch_skill", "check_updates"]);
    for d in defs {
        for key in ["title", "description", "inputSchema", "outputSchema", "annotations", "icons"] {
            assert!(d.get(key).is_some(), "{} lacks {key}", d["name"]);
        }
        let a = &d["annotations"];
        assert_eq!(
            (&a["readOnlyHint"], &a["destructiveHint"], &a["openWorldHint"]),
            (&json!(true), &json!(false), &json!(false))
        );
        assert_eq!(d["inputSchema"]["type"], "object");
        assert_eq!(d["outputSchema"]["type"], "object");
    }
}

#[test]
fn fetch_skill_gives_every_file_text_or_base64() {
    let app = app_with(&[]);
    let r = call(&app, "fetch_skill", json!({"name": "brand-voice"}));
    assert_eq!(r["isError"], false, "{r:#}");
    let s = &r["structuredContent"];
    assert_eq!(s["name"], "brand-kit@example/brand-voice");
    assert_eq!(s["plugin"], "brand-kit@example");
    assert_eq!(s["marketplace"], "example");
    assert_eq!(s["version"], "0.3.1");
    let p = app.catalogue.unfiltered().find("brand-kit@example").unwrap();
    assert_eq!(s["digest"], p.plugin.skills[0].digest);
    assert_eq!(serde_json::from_str::<Value>(r["content"][0]["text"].as_str().unwrap()).unwrap(), *s);

    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let md = files.iter().find(|f| f["path"] == "SKILL.md").unwrap();
    assert_eq!(md["encoding"], "utf-8");
    assert_eq!(md["mimeType"], "text/markdown");
    assert_eq!(md["content"], SKILL_MD);
    let png = files.iter().find(|f| f["path"] == "assets/logo.png").unwrap();
    assert_eq!(png["encoding"], "base64");
    assert_eq!(png["mimeType"], "image/png");
    assert_eq!(png["size"], LOGO.len());
    assert_eq!(png["sha256"], skillport_sources::sha256_digest(LOGO));
    let decoded = base64::engine::general_purpose::STANDARD.decode(png["content"].as_str().unwrap()).unwrap();
    assert_eq!(decoded, LOGO);

    let download = &s["download"];
    let url = download["url"].as_str().unwrap();
    assert!(url.starts_with("http://localhost:8787/download/"), "{url}");
    assert_eq!(download["fileName"], "brand-voice.skill");
    assert!(download["sha256"].as_str().unwrap().starts_with("sha256:"));
    let expires = download["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    // The link works, and its bytes are the digest it announced.
    let link = crate::http::HttpRequest::new("GET", &url["http://localhost:8787".len()..]);
    let zip = app.handle(&link.with_header("host", "localhost:8787"));
    assert_eq!(zip.status, 200);
    assert_eq!(skillport_sources::sha256_digest(&zip.body), download["sha256"]);

    assert_eq!(
        s["resources"],
        json!([
            "skill://example/brand-kit/brand-voice/SKILL.md",
            "skill://example/brand-kit/brand-voice/assets/logo.png"
        ])
    );
    assert_eq!(r["content"][1]["type"], "resource_link");
}

#[test]
fn fetch_skill_names() {
    let app = app_with(&[]);
    for name in
        ["brand-kit@example/brand-voice", "brand-kit/brand-voice", "brand-kit@example", "brand-kit", " brand-voice "]
    {
        let r = call(&app, "fetch_skill", json!({"name": name}));
        assert_eq!(r["structuredContent"]["name"], "brand-kit@example/brand-voice", "{name}: {r:#}");
    }
    // A plugin with several skills must be narrowed down, and the message says how.
    let e = error_text(&call(&app, "fetch_skill", json!({"name": "writing-tools@example"})));
    assert!(e.contains("has 2 skills"), "{e}");
    assert!(
        e.contains("writing-tools@example/conventional-commits") && e.contains("writing-tools@example/release-notes"),
        "{e}"
    );
    // Unknown names point at list_plugins.
    for name in ["nope", "nope@example", "brand-kit@example/nope", "nope/brand-voice"] {
        let e = error_text(&call(&app, "fetch_skill", json!({"name": name})));
        assert!(e.contains("list_plugins") || e.contains("its skills: brand-kit@example/brand-voice"), "{name}: {e}");
    }
    // Bad arguments are tool errors too.
    assert!(error_text(&call(&app, "fetch_skill", json!({}))).contains("missing required argument `name`"));
    assert!(error_text(&call(&app, "fetch_skill", json!({"name": "brand-voice", "surface": "tv"}))).contains("surface"));
}

#[test]
fn fetch_skill_ambiguity_lists_candidates() {
    let app = app_with(&[(
        "SKILLPORT_MARKETPLACES",
        r#"[{id="one",kind="bundled",location="marketplace"},{id="two",kind="bundled",location="marketplace"}]"#,
    )]);
    let e = error_text(&call(&app, "fetch_skill", json!({"name": "brand-voice"})));
    assert!(e.contains("ambiguous"), "{e}");
    assert!(e.contains("brand-kit@one/brand-voice") && e.contains("brand-kit@two/brand-voice"), "{e}");
    let e = error_text(&call(&app, "fetch_skill", json!({"name": "brand-kit/brand-voice"})));
    assert!(e.contains("brand-kit@one") && e.contains("brand-kit@two"), "{e}");
    let r = call(&app, "fetch_skill", json!({"name": "brand-kit@two/brand-voice"}));
    assert_eq!(r["structuredContent"]["name"], "brand-kit@two/brand-voice");
}

#[test]
fn install_text_per_surface() {
    let app = app_with(&[]);
    let install = |surface: Option<Surface>, args: Value| {
        call_on(&app, surface, "fetch_skill", args)["structuredContent"]["install"].as_str().unwrap().to_string()
    };
    let web = install(Some(Surface::ClaudeAi), json!({"name": "brand-voice"}));
    assert!(web.starts_with("Download brand-voice.skill") && web.contains("valid 15 minutes"), "{web}");
    assert!(web.contains("Settings > Capabilities > Skills"), "{web}");
    assert_eq!(install(Some(Surface::ClaudeDesktop), json!({"name": "brand-voice"})), web);
    // The argument wins over the client's surface.
    let code = install(Some(Surface::ClaudeAi), json!({"name": "brand-voice", "surface": "claude-code"}));
    // A bundled marketplace cannot be added to Claude Code: only the copy remains.
    assert_eq!(code, "Copy the files into `~/.claude/skills/brand-voice/`.");
    let unknown = install(None, json!({"name": "brand-voice"}));
    assert!(
        unknown.contains("Claude.ai or Claude Desktop: download") && unknown.contains("Claude Code: copy"),
        "{unknown}"
    );
}

#[test]
fn claude_code_is_told_to_add_a_git_marketplace() {
    let app = app_with(&[]);
    let cfg = app.config.as_ref().unwrap().clone();
    let mut cfg = cfg;
    cfg.marketplaces[0].kind = SourceKind::Github;
    cfg.marketplaces[0].location = "acme/plugins".into();
    let ctx = Context { config: &cfg, catalogue: &app.catalogue, client_surface: None, headers: &[], identity: &DEV };
    let r = Call { ctx: &ctx, surface: Some(Surface::ClaudeCode) }
        .call(&json!({"name": "fetch_skill", "arguments": {"name": "brand-voice"}}))
        .unwrap()
        .into_value();
    assert_eq!(
        r["structuredContent"]["install"],
        "Run `/plugin marketplace add acme/plugins` then `/plugin install brand-kit@skillport-example`, or copy \
         the files into `~/.claude/skills/brand-voice/`."
    );
}

#[test]
fn fetch_skill_omits_the_largest_contents_over_the_limit() {
    let app = app_with(&[]);
    let p = app.catalogue.unfiltered().find("brand-kit@example").unwrap();
    let skill = &p.plugin.skills[0];
    let cfg = app.config.as_ref().unwrap();
    let ctx = Context { config: cfg, catalogue: &app.catalogue, client_surface: None, headers: &[], identity: &DEV };
    // Shrink the effective limit by padding: call through the real function, then check the invariant on a
    // skill whose logo alone is over the cap (built by hand).
    let mut files = p.marketplace.files.clone();
    let big = "x".repeat(MAX_RESULT_CHARS);
    files.insert(&format!("{}/references/big.md", skill.dir), big.clone().into_bytes()).unwrap();
    let mut big_skill = skill.clone();
    big_skill.files.push(skillport_sources::SkillFile {
        path: "references/big.md".into(),
        size: big.len() as u64,
        sha256: skillport_sources::sha256_digest(big.as_bytes()),
    });
    let mut catalogue = crate::catalogue::Catalogue::default();
    let mut entry_plugin = p.plugin.clone();
    entry_plugin.skills = vec![big_skill];
    let mut loaded = p.marketplace.loaded.clone().unwrap();
    loaded.plugins = vec![entry_plugin];
    catalogue.marketplaces.push(crate::catalogue::MarketplaceEntry {
        id: "example".parse().unwrap(),
        kind: crate::config::SourceKind::Bundled.into(),
        revision: p.marketplace.revision.clone(),
        loaded: Ok(loaded),
        files,
        external_failures: Default::default(),
        fetched_at: None,
        error: None,
        refresh: Default::default(),
        cache: Default::default(),
    });
    let ctx = Context { catalogue: &catalogue, ..ctx };
    let r = Call { ctx: &ctx, surface: None }
        .call(&json!({"name": "fetch_skill", "arguments": {"name": "brand-voice"}}))
        .unwrap()
        .into_value();
    assert_eq!(r["isError"], false, "{}", r["content"][0]["text"]);
    assert!(r.to_string().len() < MAX_RESULT_CHARS + 10_000);
    let files = r["structuredContent"]["files"].as_array().unwrap();
    let big = files.iter().find(|f| f["path"] == "references/big.md").unwrap();
    assert!(big.get("content").is_none());
    assert_eq!(big["omitted"], "too large; read it at skill://example/brand-kit/brand-voice/references/big.md");
    assert_eq!(big["encoding"], "utf-8");
    assert!(files.iter().filter(|f| f["path"] != "references/big.md").all(|f| f.get("content").is_some()));
}

#[test]
fn check_updates_statuses() {
    let app = app_with(&[]);
    let fetched = call(&app, "fetch_skill", json!({"name": "brand-voice"}))["structuredContent"].clone();
    let (version, digest) = (fetched["version"].as_str().unwrap(), fetched["digest"].as_str().unwrap());
    let r = call(
        &app,
        "check_updates",
        json!({"installed": [
            {"name": "brand-kit@example/brand-voice", "version": version, "digest": digest},
            {"name": "brand-kit@example/brand-voice", "version": "0.2.0"},
            {"name": "brand-kit@example/brand-voice", "version": version, "digest": "sha256:0000"},
            {"name": "made-up@example"},
            {"name": "writing-tools@example", "version": "1.2.0"},
        ]}),
    );
    assert_eq!(r["isError"], false, "{r:#}");
    let s = &r["structuredContent"];
    let statuses: Vec<&str> = s["results"].as_array().unwrap().iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["up_to_date", "update_available", "update_available", "removed", "up_to_date"]);
    assert_eq!(s["results"][1]["reason"], "version");
    assert_eq!(s["results"][1]["latestVersion"], "0.3.1");
    assert_eq!(s["results"][2]["reason"], "content");
    assert_eq!(s["results"][3]["reason"], "not_in_catalogue");
    assert_eq!(s["results"][0]["qualifiedName"], "brand-kit@example/brand-voice");
    assert_eq!(s["summary"], json!({"upToDate": 2, "updateAvailable": 2, "removed": 1, "ambiguous": 0, "unknown": 0}));
    assert!(s["results"].as_array().unwrap().iter().all(|x| !x["detail"].as_str().unwrap().is_empty()));
}

#[test]
fn check_updates_refuses_bad_shapes_as_tool_errors() {
    let app = app_with(&[]);
    let too_many: Vec<Value> = (0..=MAX_INSTALLED).map(|i| json!({"name": format!("p{i}")})).collect();
    for (args, expect) in [
        (json!({}), "missing required argument `installed`"),
        (json!({"installed": "brand-kit"}), "must be of type array"),
        (json!({"installed": []}), "1 to 200 items"),
        (json!({"installed": too_many}), "1 to 200 items, got 201"),
        (json!({"installed": ["brand-kit"]}), "must be of type object"),
        (json!({"installed": [{"version": "1"}]}), "`installed[0].name` is required"),
        (json!({"installed": [{"name": ""}]}), "`installed[0].name` is required"),
        (json!({"installed": [{"name": "a", "version": 1}]}), "`installed[0].version` must be a string"),
        (json!({"installed": [{"name": "a", "sha": "x"}]}), "unknown key `sha`"),
    ] {
        let e = error_text(&call(&app, "check_updates", args.clone()));
        assert!(e.contains(expect), "{args}: {e}");
    }
    // 200 items fit the result limit.
    let many: Vec<Value> =
        (0..MAX_INSTALLED).map(|_| json!({"name": "brand-kit@example/brand-voice", "version": "0.3.1"})).collect();
    let r = call(&app, "check_updates", json!({"installed": many}));
    assert_eq!(r["isError"], false);
    assert!(r.to_string().len() <= MAX_RESULT_CHARS, "{} chars", r.to_string().len());
    assert_eq!(r["structuredContent"]["results"].as_array().unwrap().len(), MAX_INSTALLED);
    assert!(r["content"][0]["text"].as_str().unwrap().starts_with("200 up to date."));
    let e = error_text(&call(&app, "check_updates", json!({"installed": [{"name": "x".repeat(300)}]})));
    assert!(e.contains("over 256 characters"), "{e}");
}

// --- access rules ------------------------------------------------------------------------------------------------
// Each catalogue tool, for five users who each may not see something different (by group, domain, org, team and
// email): what they get equals what the catalogue without that something gives (`access::fixtures`).

use crate::access::fixtures::{self, ada, assert_hidden_is_absent_for_all, cases, identity, tool};
use crate::mcp::Outcome;

fn plugin_names(result: &Value) -> Vec<String> {
    result["structuredContent"]["plugins"]
        .as_array()
        .unwrap_or_else(|| panic!("{result:#}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn access_list_plugins_lists_counts_pages_and_searches_only_what_the_user_may_see() {
    let mut requests = vec![("tools/call", json!({"name": "list_plugins", "arguments": {"surface": "all"}}))];
    for args in [
        json!({"surface": "all", "limit": 1}),
        json!({"surface": "all", "limit": 2, "cursor": cursor::encode(2)}),
        json!({"surface": "all", "query": "merged"}),
        json!({"surface": "all", "query": "brand voice"}),
        json!({"surface": "all", "query": "repository"}),
        json!({"surface": "all", "marketplace": "two"}),
        json!({"surface": "all", "category": "productivity"}),
        json!({"surface": "claude-code"}),
    ] {
        requests.push(("tools/call", json!({"name": "list_plugins", "arguments": args})));
    }
    assert_hidden_is_absent_for_all(&requests);

    // And concretely: the totals, every page and the searches leave the hidden plugins out.
    let app = fixtures::app();
    let all = tool(&app, &ada(), "list_plugins", json!({"surface": "all"}));
    assert_eq!(all["structuredContent"]["total"], 6);
    for case in cases() {
        let mut names = Vec::new();
        let mut args = json!({"surface": "all", "limit": 1});
        loop {
            let page = tool(&app, &case.identity, "list_plugins", args.clone());
            names.extend(plugin_names(&page));
            match page["structuredContent"]["nextCursor"].as_str() {
                Some(c) => args["cursor"] = json!(c),
                None => break,
            }
        }
        let total = tool(&app, &case.identity, "list_plugins", json!({"surface": "all"}))["structuredContent"]["total"]
            .as_u64()
            .unwrap();
        assert_eq!(names.len() as u64, total, "{}", case.who);
        let expected: &[&str] = match case.who {
            "group" => &["writing-tools@one", "brand-kit@one", "repo-tools@one", "writing-tools@two", "repo-tools@two"],
            "domain" => &[
                "writing-tools@one",
                "brand-kit@one",
                "repo-tools@one",
                "writing-tools@two",
                "brand-kit@two",
                "repo-tools@two",
            ],
            "org" => &["writing-tools@one", "brand-kit@one", "repo-tools@one"],
            "team" => &["writing-tools@one", "brand-kit@one", "writing-tools@two", "brand-kit@two"],
            "email" => &["writing-tools@one", "repo-tools@one", "writing-tools@two", "repo-tools@two"],
            other => panic!("{other}"),
        };
        assert_eq!(names, expected, "{}", case.who);
    }
    // A hidden skill's words find nothing of it: only the other marketplace's copy matches.
    let vendor = identity("val@vendor.io");
    let hits = tool(&app, &vendor, "list_plugins", json!({"surface": "all", "query": "merged"}));
    assert_eq!(plugin_names(&hits), ["writing-tools@two"]);
    let listed = &tool(&app, &vendor, "list_plugins", json!({"surface": "all", "marketplace": "one"}));
    let skills: Vec<&str> = listed["structuredContent"]["plugins"][0]["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skills, ["conventional-commits"]);
}

#[test]
fn access_list_plugins_names_only_marketplaces_the_user_may_see() {
    // Marketplace `two` is served from an older copy: a note, which must not name it to the outside-org user.
    let mut app = fixtures::app();
    app.catalogue.marketplaces[1].error = Some("HTTP 503 from upstream".into());
    app.catalogue.marketplaces[1].fetched_at = Some(1);
    let notes = |id: &skillport_providers::Identity| {
        tool(&app, id, "list_plugins", json!({"surface": "all"}))["structuredContent"].get("marketplaceErrors").cloned()
    };
    assert_eq!(notes(&ada()).unwrap()[0]["marketplace"], "two");
    let outsider = cases().into_iter().find(|c| c.who == "org").unwrap().identity;
    assert_eq!(notes(&outsider), None);
}

#[test]
fn access_get_plugin_answers_hidden_plugins_as_unknown_and_hides_skills() {
    let mut requests = Vec::new();
    for name in [
        "brand-kit@two",
        "brand-kit@one",
        "brand-kit",
        "writing-tools@one",
        "writing-tools",
        "repo-tools",
        "repo-tools@one",
        "repo-tools@two",
        "nope@two",
    ] {
        requests.push(("tools/call", json!({"name": "get_plugin", "arguments": {"name": name}})));
    }
    assert_hidden_is_absent_for_all(&requests);

    let app = fixtures::app();
    let contractor = &cases()[0].identity;
    // The unqualified name is ambiguous for a user who sees both copies, and not for one who sees one.
    let e = error_text(&tool(&app, &ada(), "get_plugin", json!({"name": "brand-kit"})));
    assert!(e.contains("ambiguous") && e.contains("brand-kit@two"), "{e}");
    let r = tool(&app, contractor, "get_plugin", json!({"name": "brand-kit"}));
    assert_eq!(r["structuredContent"]["name"], "brand-kit@one");
    // The hidden plugin's answer is, byte for byte, a made-up name's.
    let hidden = error_text(&tool(&app, contractor, "get_plugin", json!({"name": "brand-kit@two"})));
    assert_eq!(tool(&app, &ada(), "get_plugin", json!({"name": "brand-kit@two"}))["isError"], false);
    let never = fixtures::app_without(&[fixtures::Gone::Plugin("two", "brand-kit")]);
    assert_eq!(hidden, error_text(&tool(&never, &ada(), "get_plugin", json!({"name": "brand-kit@two"}))));
    // A hidden skill is not described, linked or counted in the digest.
    let vendor = identity("val@vendor.io");
    let r = tool(&app, &vendor, "get_plugin", json!({"name": "writing-tools@one"}));
    assert!(!r.to_string().contains("release-notes"), "{r:#}");
    let full = tool(&app, &ada(), "get_plugin", json!({"name": "writing-tools@one"}));
    assert_ne!(r["structuredContent"]["digest"], full["structuredContent"]["digest"]);
}

#[test]
fn access_fetch_skill_resolves_only_visible_skills_and_links_nothing_hidden() {
    let mut requests = Vec::new();
    for name in [
        "brand-kit@two/brand-voice",
        "brand-kit@two",
        "brand-kit/brand-voice",
        "brand-voice",
        "brand-kit",
        "writing-tools@one/release-notes",
        "writing-tools@one",
        "writing-tools/release-notes",
        "release-notes",
        "repo-map",
        "repo-tools@two/repo-map",
        "repo-tools@one",
    ] {
        requests.push(("tools/call", json!({"name": "fetch_skill", "arguments": {"name": name}})));
    }
    assert_hidden_is_absent_for_all(&requests);

    let app = fixtures::app();
    for case in cases() {
        for name in ["brand-kit@two/brand-voice", "writing-tools@one/release-notes", "repo-tools@one/repo-map"] {
            let r = tool(&app, &case.identity, "fetch_skill", json!({"name": name}));
            let (m, p, s) = {
                let (plugin, skill) = name.split_once('/').unwrap();
                let (p, m) = plugin.split_once('@').unwrap();
                (m, p, skill)
            };
            let hidden = case.gone.iter().any(|g| match *g {
                fixtures::Gone::Marketplace(gm) => gm == m,
                fixtures::Gone::Plugin(gm, gp) => (gm, gp) == (m, p),
                fixtures::Gone::Skill(gm, gp, gs) => (gm, gp, gs) == (m, p, s),
            });
            // No link is ever minted for what the user may not see; what they may see gets one.
            assert_eq!(r["isError"], hidden, "{} {name}: {r:#}", case.who);
            assert_eq!(r.to_string().contains("/download/"), !hidden, "{} {name}", case.who);
        }
    }
    // The hidden skill's bare name is not ambiguous for the user who cannot see one of its two copies.
    let vendor = identity("val@vendor.io");
    let r = tool(&app, &vendor, "fetch_skill", json!({"name": "release-notes"}));
    assert_eq!(r["structuredContent"]["name"], "writing-tools@two/release-notes");
    let e = error_text(&tool(&app, &ada(), "fetch_skill", json!({"name": "release-notes"})));
    assert!(e.contains("ambiguous"), "{e}");
    // And a plugin with that one skill visible is a one-skill plugin for them.
    let r = tool(&app, &vendor, "fetch_skill", json!({"name": "writing-tools@one"}));
    assert_eq!(r["structuredContent"]["name"], "writing-tools@one/conventional-commits");
}

#[test]
fn access_check_updates_answers_hidden_items_as_gone() {
    let app = fixtures::app();
    let brand_kit = app.catalogue.unfiltered().find("brand-kit@one").unwrap();
    let (version, digest) = ("0.3.1", brand_kit.plugin.skills[0].digest.clone());
    let writing = app.catalogue.unfiltered().find("writing-tools@one").unwrap();
    let mut installed = Vec::new();
    for name in [
        "brand-kit@two",
        "brand-kit@two/brand-voice",
        "brand-kit",
        "brand-kit/brand-voice",
        "brand-voice",
        "writing-tools@one/release-notes",
        "writing-tools@one",
        "release-notes",
        "repo-tools@one",
        "repo-tools",
        "repo-map",
        "nope@two",
        "nope",
    ] {
        installed.push(json!({"name": name, "version": version, "digest": digest}));
    }
    installed.push(json!({"name": "writing-tools@one", "digest": writing.plugin.digest()}));
    let request = ("tools/call", json!({"name": "check_updates", "arguments": {"installed": installed}}));
    assert_hidden_is_absent_for_all(&[request]);

    // Concretely: for the outside-org user, a plugin of marketplace `two` is as gone as one of a marketplace
    // that was never configured, and the plugin digest they are given ignores the skill they cannot see.
    let outsider = cases().into_iter().find(|c| c.who == "org").unwrap().identity;
    let results = |id: &skillport_providers::Identity, items: Value| {
        tool(&app, id, "check_updates", json!({"installed": items}))["structuredContent"]["results"].clone()
    };
    let r = results(&outsider, json!([{"name": "brand-kit@two"}, {"name": "brand-kit@nowhere"}]));
    assert_eq!(
        (r[0]["status"].clone(), r[0]["reason"].clone()),
        (json!("removed"), json!("marketplace_not_configured"))
    );
    assert_eq!(r[0]["detail"].as_str().unwrap().replace("`two`", "`nowhere`"), r[1]["detail"]);
    let vendor = identity("val@vendor.io");
    let r = results(&vendor, json!([{"name": "writing-tools@one", "digest": writing.plugin.digest()}]));
    assert_eq!((r[0]["status"].clone(), r[0]["reason"].clone()), (json!("update_available"), json!("content")));
    let r = results(&ada(), json!([{"name": "writing-tools@one", "digest": writing.plugin.digest()}]));
    assert_eq!(r[0]["status"], "up_to_date");

    // While marketplace `two` is down, those who may see it are told it might still hold what they ask for; the
    // outside-org user is told exactly what they would be told were it never configured.
    let mut down = fixtures::app();
    down.catalogue.marketplaces[1].loaded = Err("HTTP 503".into());
    let never = fixtures::app_without(&[fixtures::Gone::Marketplace("two")]);
    let items =
        json!([{"name": "gone-plugin"}, {"name": "brand-kit@two"}, {"name": "gone-skill", "digest": "sha256:00"}]);
    let ask = |app: &App, id: &skillport_providers::Identity| {
        tool(app, id, "check_updates", json!({"installed": items.clone()})).to_string()
    };
    assert_eq!(ask(&down, &outsider), ask(&never, &outsider));
    let told = ask(&down, &ada());
    assert!(told.contains("marketplace_unavailable") && told.contains("two could not be loaded"), "{told}");
}

#[test]
fn access_default_deny_shows_only_what_a_rule_allows() {
    let app = fixtures::app_with(&[
        ("SKILLPORT_ACCESS__DEFAULT", "deny"),
        ("SKILLPORT_ACCESS__RULES", r#"[{effect="allow",plugin="writing-tools@one",groups=["eng"]}]"#),
    ]);
    let mut eng = identity("e@example.com");
    eng.groups = vec!["eng".into()];
    let r = tool(&app, &eng, "list_plugins", json!({"surface": "all"}));
    assert_eq!(plugin_names(&r), ["writing-tools@one"]);
    assert_eq!(tool(&app, &eng, "fetch_skill", json!({"name": "release-notes"}))["isError"], false);
    let nobody = identity("n@example.com");
    let r = tool(&app, &nobody, "list_plugins", json!({"surface": "all"}));
    assert_eq!((plugin_names(&r).len(), r["structuredContent"]["total"].clone()), (0, json!(0)));
    let e = error_text(&tool(&app, &nobody, "get_plugin", json!({"name": "writing-tools@one"})));
    assert_eq!(e, "no plugin named `writing-tools@one` in the catalogue; call list_plugins to see the names");
    let r = tool(&app, &nobody, "check_updates", json!({"installed": [{"name": "writing-tools@one"}]}));
    assert_eq!(r["structuredContent"]["results"][0]["reason"], "marketplace_not_configured");
}

#[test]
fn access_rules_apply_to_the_signed_in_user_over_http() {
    // The local provider's user, configured with a group, through the real /mcp route.
    let request = |app: &App| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_plugins", "arguments": {"surface": "all"}}});
        let req = crate::http::HttpRequest::new("POST", "/mcp")
            .with_header("host", "localhost:8787")
            .with_header("content-type", "application/json")
            .with_header("accept", "application/json, text/event-stream")
            .with_body(serde_json::to_vec(&body).unwrap());
        plugin_names(&app.handle(&req).json_body()["result"])
    };
    // `auth.open`: the local provider answers loopback requests without a token (as `bash scripts/dev.sh` runs).
    let everyone = fixtures::app_with(&[("SKILLPORT_AUTH__OPEN", "true")]);
    assert_eq!(request(&everyone).len(), 6);
    let contractor =
        fixtures::app_with(&[("SKILLPORT_AUTH__OPEN", "true"), ("SKILLPORT_AUTH__USER__GROUPS", r#"["contractors"]"#)]);
    let names = request(&contractor);
    assert_eq!(names.len(), 5);
    assert!(!names.contains(&"brand-kit@two".to_string()), "{names:?}");
}

// --- list_plugins from the catalogue's listing rows, against the rendering it replaced -------------------------

/// `list_plugins` as it was before listings were precomputed: every plugin filtered with `Filter::matches`, each
/// page entry built as a `Value` with `summary_json`, the result built with `tool_ok`. The reference the byte
/// output of the precomputed path is held to.
fn reference_list_plugins(ctx: &Context<'_>, default_surface: Option<Surface>, args: &Value) -> Value {
    let ListArgs { filter, offset, limit } = match ListArgs::parse(default_surface, args) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let surface = filter.surface;
    let access = ctx.access();
    let view = ctx.catalogue.view(&access);
    let all = view.list(&filter);
    let total = all.len();
    let mut page = Vec::new();
    let mut size = 0;
    let mut next = offset;
    for p in all.iter().skip(offset).take(limit) {
        let v = catalogue::summary_json(p);
        let len = v.to_string().len();
        if !page.is_empty() && (size + len) * 2 > MAX_RESULT_CHARS {
            break;
        }
        size += len;
        page.push(v);
        next += 1;
    }
    let mut out = Map::new();
    out.insert("plugins".into(), Value::Array(page));
    out.insert("total".into(), json!(total));
    if next < total {
        out.insert("nextCursor".into(), json!(cursor::encode(next)));
    }
    if let Some(s) = surface {
        out.insert("surface".into(), json!(surface::name(s)));
    }
    let notes = catalogue::marketplace_notes(view, crate::clock::now_unix());
    if !notes.is_empty() {
        out.insert("marketplaceErrors".into(), Value::Array(notes));
    }
    tool_ok(Value::Object(out))
}

/// Argument sets covering every filter, paging, cursors and the surfaces.
fn listing_args() -> Vec<Value> {
    let mut args = vec![
        json!({}),
        json!({"surface": "all"}),
        json!({"surface": "claude-code"}),
        json!({"surface": "claude-desktop"}),
        json!({"surface": "claude-ai"}),
        json!({"surface": "all", "limit": 1}),
        json!({"surface": "all", "limit": 2, "cursor": cursor::encode(2)}),
        json!({"surface": "all", "cursor": cursor::encode(5)}),
        json!({"surface": "all", "cursor": cursor::encode(500)}),
        json!({"surface": "all", "cursor": "nope"}),
        json!({"surface": "all", "query": "merged"}),
        json!({"surface": "all", "query": "brand voice"}),
        json!({"surface": "all", "query": "BRAND   Voice"}),
        json!({"surface": "all", "query": "repository"}),
        json!({"surface": "all", "query": "release-notes"}),
        json!({"surface": "all", "query": "notes\nrelease"}),
        json!({"surface": "all", "query": "nothing-has-this"}),
        json!({"surface": "all", "query": "   "}),
        // Words a query index must neither miss nor wrongly keep: short ones, non-ASCII ones (lower-cased by
        // `to_lowercase`), one only a skill's text holds, and words each in some plugin but together in none.
        json!({"surface": "all", "query": "ünïcode 0599"}),
        json!({"surface": "all", "query": "ÜNÏCODE kw3", "limit": 200}),
        json!({"surface": "all", "query": "kw3 a", "cursor": cursor::encode(40)}),
        json!({"surface": "all", "query": "ic"}),
        json!({"surface": "all", "query": "\"quoted\" skill-0007"}),
        json!({"surface": "all", "query": "plugin-0001 plugin-0002"}),
        json!({"surface": "all", "query": "conventional commits"}),
        json!({"surface": "all", "marketplace": "two"}),
        json!({"surface": "all", "marketplace": "ONE"}),
        json!({"surface": "all", "category": "productivity"}),
        json!({"surface": "all", "tag": "git"}),
        json!({"query": "commit", "surface": "claude-code", "limit": 1}),
        json!({"surface": "all", "policy": "required"}),
        json!({"surface": "all", "policy": "available", "limit": 2}),
    ];
    // Cursors inside the first marketplace, at its end, across into the next and past the whole listing.
    for n in [3, 50, 199, 200, 201, 598, 599, 600, 601, 602, 603, 604] {
        args.push(json!({"surface": "all", "limit": 200, "cursor": cursor::encode(n)}));
        args.push(json!({"surface": "claude-ai", "query": "synthetic", "limit": 200, "cursor": cursor::encode(n)}));
    }
    args
}

/// For each identity and argument set, the answer over HTTP-free JSON-RPC in both protocol eras, and the tool
/// result itself, are byte for byte what the reference rendering gives.
fn assert_listing_matches_reference(app: &App, identities: &[skillport_providers::Identity]) {
    let cfg = app.config.as_ref().unwrap();
    for identity in identities {
        for surface in [None, Some(Surface::ClaudeCode)] {
            let ctx =
                Context { config: cfg, catalogue: &app.catalogue, client_surface: surface, headers: &[], identity };
            for args in listing_args() {
                let mut want = reference_list_plugins(&ctx, surface, &args);
                let got =
                    Call { ctx: &ctx, surface }.call(&json!({"name": "list_plugins", "arguments": args})).unwrap();
                // A marketplace note carries the age of its copy in seconds: a second may have passed.
                if got.to_vec() != want.to_string().into_bytes() {
                    want = reference_list_plugins(&ctx, surface, &args);
                }
                assert_eq!(
                    String::from_utf8(got.to_vec()).unwrap(),
                    want.to_string(),
                    "{} {surface:?} {args}",
                    identity.subject
                );
                // The whole JSON-RPC response, handshake era then stateless era (whose result is stamped).
                let msg = json!({"jsonrpc": "2.0", "id": "x", "method": "tools/call",
                    "params": {"name": "list_plugins", "arguments": args}});
                let Outcome::Response { body, .. } = super::super::handle_message(&ctx, &msg) else { panic!() };
                if body.to_vec() != json!({"jsonrpc": "2.0", "id": "x", "result": want}).to_string().into_bytes() {
                    want = reference_list_plugins(&ctx, surface, &args);
                }
                assert_eq!(
                    String::from_utf8(body.to_vec()).unwrap(),
                    json!({"jsonrpc": "2.0", "id": "x", "result": want}).to_string()
                );
                let mut modern = msg.clone();
                modern["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {}});
                let Outcome::Response { body, .. } = super::super::handle_message(&ctx, &modern) else { panic!() };
                let stamped = |want: Value| {
                    let mut reply = Reply::Value(want);
                    super::super::era::stamp_result("tools/call", &mut reply);
                    json!({"jsonrpc": "2.0", "id": "x", "result": reply.into_value()}).to_string()
                };
                let mut want = stamped(want);
                if body.to_vec() != want.as_bytes() {
                    want = stamped(reference_list_plugins(&ctx, surface, &args));
                }
                assert_eq!(String::from_utf8(body.to_vec()).unwrap(), want, "{} {args}", identity.subject);
            }
        }
    }
}

#[test]
fn listing_rows_render_exactly_what_the_reference_renders_for_every_user() {
    // Access rules hiding a marketplace, plugins and (for the `domain` user) one skill of a plugin that stays
    // listed, and a marketplace served from an older copy (a note in every answer).
    let mut app = fixtures::app();
    app.catalogue.marketplaces[1].error = Some("HTTP 503 from upstream".into());
    app.catalogue.marketplaces[1].fetched_at = Some(1);
    let mut identities: Vec<_> = cases().into_iter().map(|c| c.identity).collect();
    identities.push(ada());
    assert_listing_matches_reference(&app, &identities);
    // The hidden skill is left out of that user's summary (not the row everyone else is given).
    let vendor = identity("val@vendor.io");
    let r = tool(&app, &vendor, "list_plugins", json!({"surface": "all", "marketplace": "one", "limit": 1}));
    assert_eq!(r["structuredContent"]["plugins"][0]["skills"].as_array().unwrap().len(), 1);
    let r = tool(&app, &ada(), "list_plugins", json!({"surface": "all", "marketplace": "one", "limit": 1}));
    assert_eq!(r["structuredContent"]["plugins"][0]["skills"].as_array().unwrap().len(), 2);
}

#[test]
fn listing_rows_render_exactly_what_the_reference_renders_over_pages_and_the_size_limit() {
    // 600 plugins whose summaries are long enough that a page of 200 runs into the result limit, with surfaces
    // from tags and from the `surfaces` field, keywords, and a skill whose text only a query reaches.
    let mut files = skillport_sources::FileSet::new();
    let mut plugins = Vec::new();
    for i in 0..600 {
        let name = format!("plugin-{i:04}");
        files
            .insert(
                &format!("plugins/{name}/skills/skill-{i:04}/SKILL.md"),
                format!("---\nname: skill-{i:04}\ndescription: Synthetic skill {i} \"quoted\" Ünïcode\n---\n# S\n")
                    .into_bytes(),
            )
            .unwrap();
        let category = ["development", "productivity", "design"][i % 3];
        let tags = [["surface:CALL"], ["surface:CC"], ["surface:CDAI"]][i % 3];
        let mut p = json!({"name": name, "source": format!("./plugins/{name}"),
            "description": format!("Synthetic plugin {i} {}", "padding ".repeat(i % 40)),
            "version": format!("1.{}.0", i % 10), "category": category, "tags": tags,
            "keywords": [format!("kw{}", i % 7)]});
        if i % 5 == 0 {
            p["surfaces"] = json!(["claude-ai"]);
        }
        plugins.push(p);
    }
    let manifest = json!({"name": "bench", "owner": {"name": "Bench"}, "plugins": plugins});
    files.insert(".claude-plugin/marketplace.json", serde_json::to_vec(&manifest).unwrap()).unwrap();
    let mut app = app_with(&[]);
    app.catalogue.marketplaces.insert(
        0,
        crate::catalogue::MarketplaceEntry {
            id: "big".parse().unwrap(),
            kind: crate::config::SourceKind::Github.into(),
            revision: Some("r1".into()),
            loaded: skillport_sources::load::load_marketplace(&files).map_err(|e| e.to_string()),
            files,
            external_failures: Default::default(),
            fetched_at: Some(1),
            error: None,
            refresh: Default::default(),
            cache: Default::default(),
        },
    );
    let page = call(&app, "list_plugins", json!({"surface": "all", "limit": 200}));
    let n = page["structuredContent"]["plugins"].as_array().unwrap().len();
    assert!(n > 1 && n < 200, "the result limit cuts the page: {n}");
    assert_listing_matches_reference(&app, std::slice::from_ref(&DEV));
}

// --- install policies --------------------------------------------------------------------------------------------

/// The example marketplace twice (`one`, `two`) with rules that give two groups conflicting policies.
const POLICY_RULES: &str = concat!(
    "[",
    r#"{effect="allow",marketplace="one",groups=["platform"],policy="required"},"#,
    r#"{effect="allow",plugin="repo-tools@one",groups=["contractors"],policy="available"},"#,
    r#"{effect="deny",plugin="brand-kit@one",groups=["contractors"]},"#,
    r#"{effect="allow",plugin="writing-tools",domains=["example.com"],policy="recommended"}"#,
    "]"
);

fn policy_users() -> (skillport_providers::Identity, skillport_providers::Identity) {
    let mut platform = identity("pat@example.com");
    platform.groups = vec!["platform".into()];
    let mut both = identity("sam@example.com");
    both.groups = vec!["platform".into(), "contractors".into()];
    (platform, both)
}

fn policies_listed(app: &App, who: &skillport_providers::Identity, args: Value) -> Vec<(String, String)> {
    let r = tool(app, who, "list_plugins", args);
    r["structuredContent"]["plugins"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["policy"].as_str().unwrap_or("-").to_string()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn policy_list_plugins_shows_and_filters_each_users_policy() {
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", POLICY_RULES)]);
    let (platform, both) = policy_users();
    let all = json!({"surface": "all"});
    assert_eq!(
        policies_listed(&app, &platform, all.clone()),
        pairs(&[
            ("writing-tools@one", "recommended"),
            ("brand-kit@one", "required"),
            ("repo-tools@one", "required"),
            ("writing-tools@two", "recommended"),
            ("brand-kit@two", "available"),
            ("repo-tools@two", "available"),
        ])
    );
    // In both groups: the plugin rules beat the marketplace rule, the deny hides brand-kit@one.
    assert_eq!(
        policies_listed(&app, &both, all),
        pairs(&[
            ("writing-tools@one", "recommended"),
            ("repo-tools@one", "available"),
            ("writing-tools@two", "recommended"),
            ("brand-kit@two", "available"),
            ("repo-tools@two", "available"),
        ])
    );
    let required = json!({"surface": "all", "policy": "required"});
    assert_eq!(
        policies_listed(&app, &platform, required.clone()),
        pairs(&[("brand-kit@one", "required"), ("repo-tools@one", "required")])
    );
    assert_eq!(tool(&app, &both, "list_plugins", required)["structuredContent"]["total"], 0);
    let available = json!({"surface": "all", "policy": "available"});
    assert_eq!(tool(&app, &both, "list_plugins", available)["structuredContent"]["total"], 3);
    let bad = tool(&app, &platform, "list_plugins", json!({"policy": "mandatory"}));
    assert!(error_text(&bad).contains("policy"), "{bad}");
    // Without policies nothing about them is shown, and every plugin is `available`.
    let plain = fixtures::app();
    let listed = policies_listed(&plain, &ada(), json!({"surface": "all"}));
    assert!(listed.iter().all(|(_, p)| p == "-"), "{listed:?}");
    let r = tool(&plain, &ada(), "list_plugins", json!({"surface": "all", "policy": "available"}));
    assert_eq!(r["structuredContent"]["total"], 6);
}

#[test]
fn policy_get_plugin_shows_the_callers_policy() {
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", POLICY_RULES)]);
    let (platform, both) = policy_users();
    let get = |who, name: &str| tool(&app, who, "get_plugin", json!({"name": name}))["structuredContent"].clone();
    assert_eq!(get(&platform, "repo-tools@one")["policy"], "required");
    assert_eq!(get(&both, "repo-tools@one")["policy"], "available");
    assert_eq!(get(&both, "writing-tools@one")["policy"], "recommended");
    assert_eq!(get(&both, "brand-kit@one"), Value::Null);
    let plain = fixtures::app();
    assert!(get_plugin_policy_absent(&plain));
}

fn get_plugin_policy_absent(app: &App) -> bool {
    let r = tool(app, &ada(), "get_plugin", json!({"name": "repo-tools@one"}));
    r["structuredContent"]["name"] == "repo-tools@one" && r["structuredContent"].get("policy").is_none()
}

#[test]
fn policy_check_updates_reports_what_is_required_and_not_installed() {
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", POLICY_RULES)]);
    let (platform, both) = policy_users();
    let missing = |who, installed: Value| {
        let r = tool(&app, who, "check_updates", json!({"installed": installed}))["structuredContent"].clone();
        let names: Vec<String> = r["requiredMissing"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(r["summary"]["requiredMissing"], names.len(), "{r}");
        names
    };
    assert_eq!(missing(&platform, json!([{"name": "writing-tools@two"}])), ["brand-kit@one", "repo-tools@one"]);
    // The plugin itself, or a skill of it, counts as installed.
    assert_eq!(missing(&platform, json!([{"name": "repo-tools@one"}])), ["brand-kit@one"]);
    assert_eq!(missing(&platform, json!([{"name": "brand-kit@one/brand-voice"}])), ["repo-tools@one"]);
    assert!(missing(&platform, json!([{"name": "brand-kit@one"}, {"name": "repo-tools@one"}])).is_empty());
    // A name that resolves elsewhere does not count: brand-kit@two is not brand-kit@one.
    assert_eq!(missing(&platform, json!([{"name": "brand-kit@two"}])), ["brand-kit@one", "repo-tools@one"]);
    assert!(missing(&both, json!([{"name": "writing-tools@two"}])).is_empty());
    let r = tool(&app, &platform, "check_updates", json!({"installed": [{"name": "repo-tools@one"}]}));
    assert_eq!(r["structuredContent"]["requiredMissing"][0]["latestVersion"], "0.3.1", "{r}");
    // Without policies the result is as it always was.
    let plain = fixtures::app();
    let r = tool(&plain, &ada(), "check_updates", json!({"installed": [{"name": "repo-tools@one"}]}));
    assert!(r["structuredContent"].get("requiredMissing").is_none(), "{r}");
    assert!(r["structuredContent"]["summary"].get("requiredMissing").is_none(), "{r}");
}

#[test]
fn policy_instructions_tell_each_user_what_to_offer_first() {
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", POLICY_RULES)]);
    let (platform, both) = policy_users();
    let said = |app: &App, who, method: &str| {
        let r = fixtures::rpc(
            app,
            who,
            method,
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}),
        );
        r["result"]["instructions"].as_str().unwrap_or_else(|| panic!("{r}")).to_string()
    };
    let text = said(&app, &platform, "initialize");
    assert!(text.starts_with(crate::mcp::INSTRUCTIONS), "{text}");
    assert!(text.contains("Offer to install the required plugins first"), "{text}");
    assert!(text.contains("Required for this user: brand-kit@one, repo-tools@one."), "{text}");
    assert!(text.contains("Recommended for this user: writing-tools@one, writing-tools@two."), "{text}");
    let text = said(&app, &both, "initialize");
    assert!(!text.contains("Required for this user"), "{text}");
    assert!(text.contains("Recommended for this user: writing-tools@one, writing-tools@two."), "{text}");
    // Without policies: the instructions everyone always had.
    assert_eq!(said(&fixtures::app(), &ada(), "initialize"), crate::mcp::INSTRUCTIONS);
}

#[test]
fn policy_listing_rows_render_exactly_what_the_reference_renders() {
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", POLICY_RULES)]);
    let (platform, both) = policy_users();
    assert_listing_matches_reference(&app, &[platform, both, ada()]);
}

// --- the call's edges: errors before the tool runs, and the audit line ----------------------------------------------

#[test]
fn call_errors_keep_their_codes_and_texts() {
    let app = app_with(&[]);
    let cfg = app.config.as_ref().unwrap();
    let ctx = Context { config: cfg, catalogue: &app.catalogue, client_surface: None, headers: &[], identity: &DEV };
    let rpc = |params: Value| Call { ctx: &ctx, surface: None }.call(&params).map(|r| r.into_value());
    let e = rpc(json!({"arguments": {}})).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (INVALID_PARAMS, "tools/call needs `name`"));
    let e = rpc(json!({"name": 7})).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (INVALID_PARAMS, "tools/call needs `name`"));
    let e = rpc(json!({"name": "list_plugin"})).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (INVALID_PARAMS, "unknown tool `list_plugin`; available: list_plugins, get_plugin, fetch_skill, check_updates")
    );
    // Argument errors are tool errors, for the model to correct its call.
    for (tool, args, text) in [
        ("get_plugin", json!({}), "invalid arguments for get_plugin: missing required argument `name`"),
        ("get_plugin", json!({"name": 1}), "invalid arguments for get_plugin: argument `name` must be of type string, got number"),
        ("get_plugin", json!({"name": ""}), "invalid arguments for get_plugin: argument `name` must not be empty"),
        ("get_plugin", json!([]), "invalid arguments for get_plugin: arguments must be a JSON object"),
        ("fetch_skill", json!({"name": "x", "surface": "tv"}), "invalid arguments for fetch_skill: argument `surface` must be one of \"claude-code\", \"claude-desktop\", \"claude-ai\", got \"tv\""),
        ("list_plugins", json!({"limit": 0}), "invalid arguments for list_plugins: argument `limit` must be at least 1, got 0"),
        ("list_plugins", json!({"nope": 0}), "invalid arguments for list_plugins: unknown argument `nope`; accepted arguments: category, cursor, limit, marketplace, policy, query, surface, tag"),
        ("list_plugins", json!({"cursor": "!"}), "invalid cursor: pass the `nextCursor` of the previous page unchanged"),
        ("check_updates", json!({"installed": [{"name": "a", "digest": 2}]}), "invalid arguments for check_updates: `installed[0].digest` must be a string"),
    ] {
        let r = rpc(json!({"name": tool, "arguments": args})).unwrap();
        assert_eq!(error_text(&r), text, "{tool} {args}");
    }
    // Absent arguments are an empty object.
    let r = rpc(json!({"name": "get_plugin"})).unwrap();
    assert_eq!(error_text(&r), "invalid arguments for get_plugin: missing required argument `name`");
    assert_eq!(rpc(json!({"name": "list_plugins"})).unwrap()["isError"], false);
}

#[test]
fn each_catalogue_read_writes_one_audit_line() {
    let app = app_with(&[]);
    crate::audit::drain();
    let calls = [
        ("list_plugins", json!({})),
        ("get_plugin", json!({"name": "brand-kit"})),
        ("get_plugin", json!({"name": " nope "})),
        ("fetch_skill", json!({"name": "brand-voice"})),
        ("fetch_skill", json!({"name": "nope@example/x"})),
        ("check_updates", json!({"installed": [{"name": "brand-kit@example/brand-voice", "version": "0.0.1"}]})),
        ("check_updates", json!({"installed": [{"name": 3}]})),
        ("get_plugin", json!({})),
    ];
    for (tool, args) in calls {
        call(&app, tool, args);
    }
    let lines: Vec<Value> = crate::audit::drain()
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            assert_eq!(o.remove("audit").unwrap(), "skillport");
            assert!(o.remove("time").is_some());
            assert_eq!(o.remove("user").unwrap()["provider"], DEV.provider.as_str());
            v
        })
        .collect();
    let version = lines[0]["version"].clone();
    assert!(version.is_string(), "{lines:#?}");
    assert_eq!(
        lines,
        vec![
            json!({"action": "get_plugin", "outcome": "ok", "plugin": "brand-kit@example", "version": version}),
            // What was asked, as written.
            json!({"action": "get_plugin", "outcome": "not_found", "plugin": " nope ",
                "detail": "no plugin named `nope` in the catalogue; call list_plugins to see the names"}),
            json!({"action": "fetch_skill", "outcome": "ok", "plugin": "brand-kit@example",
                "skill": "brand-kit@example/brand-voice", "version": version}),
            json!({"action": "fetch_skill", "outcome": "not_found", "plugin": "nope@example/x",
                "detail": "no plugin named `nope@example` in the catalogue; call list_plugins to see the names"}),
            json!({"action": "check_updates", "outcome": "ok",
                "detail": "1 item(s): 1 update(s) available, 0 removed"}),
            json!({"action": "check_updates", "outcome": "not_found",
                "detail": "0 item(s): null update(s) available, null removed"}),
            // Arguments the schema refuses end the call before it is a catalogue read: no line.
        ],
    );
}
