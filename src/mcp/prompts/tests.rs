//! Prompts end to end: names, pages, rendering within the budget, access rules and the audit line.

use super::*;
use crate::access::fixtures::{self, ada, assert_hidden_is_absent_for_all, cases, rpc};
use crate::catalogue::cursor;

#[test]
fn names_are_valid_unique_and_stable() {
    assert_eq!(prompt_name("example", "brand-kit", "brand-voice"), "example.brand-kit.brand-voice");
    assert_eq!(prompt_name("acme.corp", "brand kit", "Voice_2"), "acme_2Ecorp.brand_20kit.Voice_5F2");
    // Parts that would run together under a plainer encoding stay apart.
    let pairs = [
        (("a.b", "c", "d"), ("a", "b.c", "d")),
        (("a", "b_2Ec", "d"), ("a", "b.c", "d")),
        (("a", "b", "c-d"), ("a", "b-c", "d")),
        (("a", "é", "x"), ("a", "_C3_A9", "x")),
    ];
    for ((a1, b1, c1), (a2, b2, c2)) in pairs {
        assert_ne!(prompt_name(a1, b1, c1), prompt_name(a2, b2, c2));
    }
    let valid = |n: &str| {
        !n.is_empty() && n.len() <= MAX_NAME && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    let long = "x".repeat(120);
    let cut1 = prompt_name("m", &long, "skill-one");
    let cut2 = prompt_name("m", &long, "skill-two");
    for n in [&cut1, &cut2, &prompt_name("m", "ü".repeat(200).as_str(), "s"), &prompt_name("acme", "p", "s")] {
        assert!(valid(n), "{n}");
    }
    assert_eq!(cut1.len(), MAX_NAME);
    assert_ne!(cut1, cut2);
    assert!(cut1.contains("__") && !prompt_name("a", "b_", "_c").contains("__"));
    // The same three parts give the same name, run after run.
    assert_eq!(cut1, prompt_name("m", &long, "skill-one"));
}

fn listed(app: &crate::App, id: &skillport_providers::Identity, params: Value) -> Value {
    rpc(app, id, "prompts/list", params)["result"].clone()
}

fn names(result: &Value) -> Vec<String> {
    result["prompts"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn one_prompt_per_servable_skill_with_title_description_and_one_optional_argument() {
    let app = fixtures::app();
    let r = listed(&app, &ada(), json!({}));
    let got = names(&r);
    let want: Vec<String> = ["one", "two"]
        .iter()
        .flat_map(|m| {
            [
                ("writing-tools", "release-notes"),
                ("writing-tools", "conventional-commits"),
                ("brand-kit", "brand-voice"),
                ("repo-tools", "repo-map"),
            ]
            .map(|(p, s)| prompt_name(m, p, s))
        })
        .collect();
    let mut sorted_got = got.clone();
    sorted_got.sort();
    let mut sorted_want = want.clone();
    sorted_want.sort();
    assert_eq!(sorted_got, sorted_want, "{r}");
    assert!(r.get("nextCursor").is_none());
    let voice = r["prompts"].as_array().unwrap().iter().find(|p| p["name"] == "one.brand-kit.brand-voice").unwrap();
    assert_eq!(voice["title"], "brand-voice (brand-kit@one)");
    let skill_md = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/marketplace/plugins/brand-kit/skills/brand-voice/SKILL.md"
    ))
    .unwrap();
    let description = voice["description"].as_str().unwrap();
    assert!(!description.is_empty() && skill_md.contains(description), "{description}");
    assert_eq!(voice["arguments"].as_array().unwrap().len(), 1);
    assert_eq!(voice["arguments"][0]["name"], ARGUMENT);
    assert_eq!(voice["arguments"][0]["required"], false);
}

#[test]
fn pages_follow_the_cursor_and_refuse_a_forged_one() {
    // 60 copies of the example marketplace: 240 prompts, five pages of 50.
    let markets: Vec<String> =
        (0..60).map(|i| format!(r#"{{id="m{i}",kind="bundled",location="marketplace"}}"#)).collect();
    let app = fixtures::app_with(&[
        ("SKILLPORT_MARKETPLACES", &format!("[{}]", markets.join(","))),
        ("SKILLPORT_ACCESS__RULES", "[]"),
    ]);
    let mut all = Vec::new();
    let mut params = json!({});
    let mut pages = 0;
    loop {
        let r = listed(&app, &ada(), params.clone());
        let page = names(&r);
        assert!(page.len() <= PAGE);
        all.extend(page);
        pages += 1;
        match r.get("nextCursor").and_then(Value::as_str) {
            Some(c) => params = json!({"cursor": c}),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(all.len(), 240);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 240, "names are unique");
    for bad in [json!({"cursor": "nope"}), json!({"cursor": 7})] {
        assert_eq!(rpc(&app, &ada(), "prompts/list", bad)["error"]["code"], INVALID_PARAMS);
    }
}

#[test]
fn the_clients_surface_filters_the_list_as_it_filters_list_plugins() {
    // brand-kit is for the chat surfaces only in the example marketplace.
    let app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", "[]")]);
    let cfg = app.config.as_ref().unwrap();
    let me = ada();
    let on = |surface: Option<Surface>| {
        let ctx =
            Context { config: cfg, catalogue: &app.catalogue, client_surface: surface, headers: &[], identity: &me };
        names(&list(&ctx, surface, &json!({})).unwrap())
    };
    let plugins_on = |surface: Option<Surface>| {
        let ctx =
            Context { config: cfg, catalogue: &app.catalogue, client_surface: surface, headers: &[], identity: &me };
        let access = ctx.access();
        let view = ctx.catalogue.view(&access);
        view.list(&Filter { surface, ..Filter::default() })
            .iter()
            .map(|p| format!("{}.{}", p.marketplace.id, p.plugin.name))
            .collect::<HashSet<_>>()
    };
    for surface in [None, Some(Surface::ClaudeCode), Some(Surface::ClaudeAi), Some(Surface::ClaudeDesktop)] {
        let plugins: HashSet<String> = on(surface).iter().map(|n| n.rsplit_once('.').unwrap().0.to_string()).collect();
        assert_eq!(plugins, plugins_on(surface), "{surface:?}");
    }
    // repo-tools is for Claude Code only, brand-kit for the chat surfaces only.
    let code = on(Some(Surface::ClaudeCode));
    assert!(code.contains(&"one.repo-tools.repo-map".to_string()) && !code.iter().any(|n| n.contains("brand-kit")));
    assert_eq!(on(None).len(), 8);
}

#[test]
fn get_returns_the_instructions_the_files_and_the_request() {
    let app = fixtures::app();
    let plugins = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/marketplace/plugins");
    let r = rpc(
        &app,
        &ada(),
        "prompts/get",
        json!({"name": "one.writing-tools.conventional-commits", "arguments": {ARGUMENT: "Fix the login bug"}}),
    );
    let result = &r["result"];
    let messages = result["messages"].as_array().unwrap();
    let dir = format!("{plugins}/writing-tools/skills/conventional-commits");
    let skill_md = std::fs::read_to_string(format!("{dir}/SKILL.md")).unwrap();
    assert_eq!(messages.len(), 3, "{result}");
    assert!(messages.iter().all(|m| m["role"] == "user"));
    let first = messages[0]["content"]["text"].as_str().unwrap();
    assert!(first.starts_with("Use the skill `conventional-commits` (from the plugin writing-tools@one)"), "{first}");
    assert!(first.contains("its SKILL.md, below.") && first.contains("other files follow"), "{first}");
    assert!(first.ends_with(&format!("\n\n{skill_md}")), "{first}");
    // A small text file: embedded, byte for byte.
    let types = &messages[1]["content"];
    assert_eq!(types["type"], "resource");
    assert_eq!(types["resource"]["uri"], "skill://one/writing-tools/conventional-commits/references/types.md");
    assert_eq!(types["resource"]["mimeType"], "text/markdown");
    assert_eq!(types["resource"]["text"], std::fs::read_to_string(format!("{dir}/references/types.md")).unwrap());
    assert_eq!(messages[2]["content"]["text"], "What I want done with this skill:\n\nFix the login bug");
    // The frontmatter's (folded) description.
    assert!(result["description"].as_str().unwrap().starts_with("Writes commit messages in the Conventional Commits"));

    // A binary file: linked to the resource that serves it. Without the argument there is no request message.
    let r = rpc(&app, &ada(), "prompts/get", json!({"name": "one.brand-kit.brand-voice"}));
    let messages = r["result"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{r}");
    let logo = &messages[1]["content"];
    assert_eq!(logo["type"], "resource_link");
    assert_eq!(logo["uri"], "skill://one/brand-kit/brand-voice/assets/logo.png");
    assert_eq!(logo["mimeType"], "image/png");
    assert_eq!(logo["size"], 352);
    let read = rpc(&app, &ada(), "resources/read", json!({"uri": logo["uri"]}));
    assert!(read["result"]["contents"][0]["blob"].is_string(), "{read}");
    // A skill of SKILL.md alone says nothing of other files.
    let r = rpc(&app, &ada(), "prompts/get", json!({"name": "one.repo-tools.repo-map"}));
    let text = r["result"]["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(!text.contains("other files"), "{text}");
}

#[test]
fn bad_arguments_are_invalid_params() {
    let app = fixtures::app();
    for args in [json!("x"), json!({"other": "x"}), json!({ARGUMENT: 3})] {
        let r = rpc(&app, &ada(), "prompts/get", json!({"name": "one.repo-tools.repo-map", "arguments": args}));
        assert_eq!(r["error"]["code"], INVALID_PARAMS, "{r}");
    }
    let r = rpc(&app, &ada(), "prompts/get", json!({}));
    assert_eq!(r["error"]["code"], INVALID_PARAMS);
}

/// A marketplace whose one skill has `count` text files of `size` bytes each and a SKILL.md of `skill_md` bytes.
/// The scenario's app with marketplace `one` replaced by a marketplace of one plugin, `bulky`, holding `files`
/// (paths inside the plugin), and no access rules.
fn plugin_app(files: Vec<(String, Vec<u8>)>) -> crate::App {
    use skillport_sources::FileSet;
    let mut set = FileSet::new();
    set.insert(
        ".claude-plugin/marketplace.json",
        br#"{"name":"big","owner":{"name":"o"},"plugins":[{"name":"bulky","source":"./bulky"}]}"#.to_vec(),
    )
    .unwrap();
    for (path, bytes) in files {
        set.insert(&format!("bulky/{path}"), bytes).unwrap();
    }
    let mut app = fixtures::app_with(&[("SKILLPORT_ACCESS__RULES", "[]")]);
    let entry = &mut app.catalogue.marketplaces[0];
    entry.loaded = Ok(skillport_sources::load::load_marketplace(&set).unwrap());
    entry.files = set;
    app
}

/// A marketplace whose one skill has `count` text files of `size` bytes each and a SKILL.md of `skill_md` bytes.
fn big_skill_app(count: usize, size: usize, skill_md: usize) -> crate::App {
    let head = "---\nname: heavy\ndescription: A skill with many large files.\n---\n";
    let body = format!("{head}{}", "i".repeat(skill_md.saturating_sub(head.len())));
    let mut files = vec![("skills/heavy/SKILL.md".to_string(), body.into_bytes())];
    for i in 0..count {
        files.push((format!("skills/heavy/refs/f{i:03}.md"), vec![b'a' + (i % 26) as u8; size + i]));
    }
    files.push(("skills/heavy/img.png".into(), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()));
    plugin_app(files)
}

#[test]
fn a_skill_without_a_description_is_no_prompt_and_skills_are_named_by_their_folder() {
    let skill = |name: &str, description: &str| {
        format!("---\nname: {name}\ndescription: {description}\n---\nDo it.\n").into_bytes()
    };
    let app = plugin_app(vec![
        ("skills/plain/SKILL.md".into(), skill("plain", "A plain skill.")),
        ("skills/mute/SKILL.md".into(), b"---\nname: mute\n---\nNo description.\n".to_vec()),
        ("skills/blank/SKILL.md".into(), skill("blank", "\"  \"")),
        ("skills/twin-a/SKILL.md".into(), skill("twin", "The first twin.")),
        ("skills/twin-b/SKILL.md".into(), skill("twin", "The second twin.")),
    ]);
    let r = listed(&app, &ada(), json!({}));
    let mine: Vec<&Value> =
        r["prompts"].as_array().unwrap().iter().filter(|p| p["name"].as_str().unwrap().starts_with("one.")).collect();
    let names: Vec<&str> = mine.iter().map(|p| p["name"].as_str().unwrap()).collect();
    // Claude Code names a skill after its folder, whatever its frontmatter says: two folders, two prompts.
    assert!(names.contains(&"one.bulky.twin-a") && names.contains(&"one.bulky.twin-b"), "{names:?}");
    assert!(!names.contains(&"one.bulky.twin"), "{names:?}");
    assert!(names.contains(&"one.bulky.plain"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("mute") || n.contains("blank")), "{names:?}");
    // Each prompt is the skill its skill:// URIs resolve to.
    for (folder, description) in [("twin-a", "The first twin."), ("twin-b", "The second twin.")] {
        let prompt = mine.iter().find(|p| p["name"] == format!("one.bulky.{folder}")).unwrap();
        assert_eq!(prompt["description"], description);
        let uri = format!("skill://one/bulky/{folder}/SKILL.md");
        let read = rpc(&app, &ada(), "resources/read", json!({ "uri": uri }));
        let got = rpc(&app, &ada(), "prompts/get", json!({"name": format!("one.bulky.{folder}")}));
        let skill_md = read["result"]["contents"][0]["text"].as_str().unwrap();
        assert!(skill_md.contains(description), "{skill_md}");
        assert_eq!(prompt["description"], got["result"]["description"]);
        assert!(got["result"]["messages"][0]["content"]["text"].as_str().unwrap().ends_with(skill_md));
    }
}

fn get_result(app: &crate::App, name: &str) -> Value {
    let r = rpc(app, &ada(), "prompts/get", json!({"name": name, "arguments": {ARGUMENT: "go"}}));
    r.get("result").cloned().unwrap_or_else(|| panic!("{r}"))
}

#[test]
fn files_are_embedded_smallest_first_within_the_budget_and_linked_past_it() {
    // 40 files of ~10 kB: some fit, the rest are linked.
    let app = big_skill_app(40, 10_000, 2_000);
    let result = get_result(&app, "one.bulky.heavy");
    assert!(result.to_string().chars().count() <= BUDGET, "{}", result.to_string().len());
    let contents: Vec<&Value> = result["messages"].as_array().unwrap().iter().map(|m| &m["content"]).collect();
    let embedded: Vec<&str> =
        contents.iter().filter(|c| c["type"] == "resource").map(|c| c["resource"]["uri"].as_str().unwrap()).collect();
    let linked: Vec<&str> =
        contents.iter().filter(|c| c["type"] == "resource_link").map(|c| c["uri"].as_str().unwrap()).collect();
    assert!(embedded.len() >= 10 && embedded.len() < 40, "{}", embedded.len());
    assert_eq!(embedded.len() + linked.len(), 41, "every file is there once");
    // Smallest first: file i is i bytes larger than file 0, so the embedded ones are a prefix.
    for (i, uri) in embedded.iter().enumerate() {
        assert!(uri.ends_with(&format!("refs/f{i:03}.md")), "{uri}");
    }
    assert!(linked.iter().any(|u| u.ends_with("img.png")));
    // Links point at resources this server reads.
    let read = rpc(&app, &ada(), "resources/read", json!({"uri": linked[0]}));
    assert!(read.get("result").is_some(), "{read}");
    // The room left is less than the next file would take (its content alone is 10,000 + its index characters).
    let next = embedded.len();
    assert!(BUDGET - result.to_string().chars().count() < 10_000 + next + 300);
}

#[test]
fn past_the_budget_the_last_links_give_way_to_a_note() {
    let app = big_skill_app(2000, 1, 500);
    let result = get_result(&app, "one.bulky.heavy");
    assert!(result.to_string().chars().count() <= BUDGET, "{}", result.to_string().chars().count());
    let messages = result["messages"].as_array().unwrap();
    let contents: Vec<&Value> = messages.iter().map(|m| &m["content"]).collect();
    let files = contents.iter().filter(|c| c["type"] == "resource" || c["type"] == "resource_link").count();
    let note = contents[contents.len() - 2]["text"].as_str().unwrap();
    let (left, rest) = note.split_once(' ').unwrap();
    assert_eq!(
        rest,
        "more files of this skill are not listed here: resources/directory/read skill://one/bulky/heavy lists \
         them all."
    );
    assert_eq!(files + left.parse::<usize>().unwrap(), 2001, "every file is listed or counted in the note");
    assert!(files > 100, "{files}");
    // The SKILL.md and the request are whole.
    assert!(contents[0]["text"].as_str().unwrap().ends_with("iiii"));
    assert_eq!(contents.last().unwrap()["text"], "What I want done with this skill:\n\ngo");
    let listed = rpc(&app, &ada(), "resources/directory/read", json!({"uri": "skill://one/bulky/heavy"}));
    assert!(listed.get("result").is_some(), "{listed}");
}

#[test]
fn a_skill_md_over_the_budget_is_linked_not_cut() {
    let app = big_skill_app(2, 100, BUDGET + 10);
    let result = get_result(&app, "one.bulky.heavy");
    assert!(result.to_string().chars().count() <= BUDGET);
    let first = result["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(first.contains("skill://one/bulky/heavy/SKILL.md") && !first.contains("iiiiiiiiii"), "{first}");
    // The small files still fit.
    assert_eq!(result["messages"].as_array().unwrap().iter().filter(|m| m["content"]["type"] == "resource").count(), 2);
}

#[test]
fn off_or_limited_by_configuration() {
    let off = fixtures::app_with(&[("SKILLPORT_PROMPTS__ENABLED", "false")]);
    for method in ["prompts/list", "prompts/get"] {
        let r = rpc(&off, &ada(), method, json!({"name": "one.repo-tools.repo-map"}));
        assert_eq!(r["error"]["code"], super::super::METHOD_NOT_FOUND, "{r}");
    }
    let init = rpc(&off, &ada(), "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}}));
    assert!(init["result"]["capabilities"].get("prompts").is_none(), "{init}");

    let only_two = fixtures::app_with(&[("SKILLPORT_PROMPTS__MARKETPLACES", r#"["two"]"#)]);
    let got = names(&listed(&only_two, &ada(), json!({})));
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|n| n.starts_with("two.")), "{got:?}");
    // A prompt of a marketplace not offered is an unknown prompt.
    let not_offered = rpc(&only_two, &ada(), "prompts/get", json!({"name": "one.repo-tools.repo-map"}));
    let never = rpc(&only_two, &ada(), "prompts/get", json!({"name": "one.repo-tools.nope"}));
    assert_eq!(not_offered["error"]["message"], "Unknown prompt: one.repo-tools.repo-map");
    assert_eq!(not_offered["error"]["code"], never["error"]["code"]);
}

#[test]
fn capability_in_both_eras() {
    let app = fixtures::app();
    let init = rpc(&app, &ada(), "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}}));
    assert_eq!(init["result"]["capabilities"]["prompts"], json!({"listChanged": false}));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let discover = rpc(&app, &ada(), "server/discover", json!({"_meta": meta}));
    assert_eq!(discover["result"]["capabilities"]["prompts"], json!({"listChanged": false}));
    // And a 2026-07-28 listing carries the cache hints.
    let list = rpc(&app, &ada(), "prompts/list", json!({"_meta": meta}));
    assert_eq!(list["result"]["ttlMs"], 0);
    assert_eq!(list["result"]["cacheScope"], "private");
    assert_eq!(list["result"]["prompts"].as_array().unwrap().len(), 8);
}

// --- access rules ------------------------------------------------------------------------------------------------

#[test]
fn access_prompts_list_leaves_hidden_skills_out() {
    assert_hidden_is_absent_for_all(&[
        ("prompts/list", json!({})),
        ("prompts/list", json!({"cursor": cursor::encode(1)})),
        ("prompts/list", json!({"cursor": cursor::encode(3)})),
    ]);
    let app = fixtures::app();
    for case in cases() {
        let got = names(&listed(&app, &case.identity, json!({})));
        let want = match case.who {
            "group" | "domain" => 7,
            "org" => 4,
            "team" | "email" => 6,
            other => panic!("{other}"),
        };
        assert_eq!(got.len(), want, "{}: {got:?}", case.who);
    }
}

#[test]
fn access_prompts_get_answers_a_hidden_skill_as_one_that_never_existed() {
    let mut requests = Vec::new();
    for m in ["one", "two", "three"] {
        for (p, s) in [
            ("brand-kit", "brand-voice"),
            ("writing-tools", "release-notes"),
            ("writing-tools", "conventional-commits"),
            ("repo-tools", "repo-map"),
            ("repo-tools", "nope"),
        ] {
            requests.push(("prompts/get", json!({"name": prompt_name(m, p, s)})));
            requests.push(("prompts/get", json!({"name": prompt_name(m, p, s), "arguments": {"bad": 1}})));
        }
    }
    assert_hidden_is_absent_for_all(&requests);
    // Byte for byte the error of a name that never existed, and the same audit line.
    let app = fixtures::app();
    let contractor = &cases()[0].identity;
    let name = prompt_name("two", "brand-kit", "brand-voice");
    crate::audit::drain();
    let hidden = rpc(&app, contractor, "prompts/get", json!({"name": name}));
    let hidden_audit = crate::audit::drain();
    let never = rpc(
        &fixtures::app_without(&[fixtures::Gone::Plugin("two", "brand-kit")]),
        contractor,
        "prompts/get",
        json!({"name": name}),
    );
    let never_audit = crate::audit::drain();
    assert_eq!(hidden.to_string(), never.to_string());
    assert_eq!(hidden["error"]["code"], INVALID_PARAMS);
    let strip_time = |lines: Vec<String>| -> Vec<Value> {
        lines
            .iter()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("time");
                v
            })
            .collect()
    };
    assert_eq!(strip_time(hidden_audit), strip_time(never_audit));
    // ada sees it.
    assert!(rpc(&app, &ada(), "prompts/get", json!({"name": name})).get("result").is_some());
}

#[test]
fn a_prompt_use_is_audited_like_fetch_skill() {
    let app = fixtures::app();
    crate::audit::drain();
    rpc(
        &app,
        &ada(),
        "prompts/get",
        json!({"name": "one.brand-kit.brand-voice", "arguments": {ARGUMENT: "secret plan"}}),
    );
    rpc(&app, &ada(), "prompts/list", json!({}));
    let lines = crate::audit::drain();
    assert_eq!(lines.len(), 1, "listings are not audited: {lines:?}");
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["action"], "get_prompt");
    assert_eq!(v["outcome"], "ok");
    assert_eq!(v["user"]["email"], "ada@example.com");
    assert_eq!(v["plugin"], "brand-kit@one");
    assert_eq!(v["skill"], "brand-voice");
    assert!(v["version"].is_string(), "{v}");
    assert!(!lines[0].contains("secret plan"), "the user's request is not logged");
}
