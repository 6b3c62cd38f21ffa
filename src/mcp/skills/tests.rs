use super::*;

#[test]
fn uris_round_trip_and_refuse_escapes() {
    let u = skill_uri("example", "brand kit", "brand-voice", "assets/logo.png");
    assert_eq!(u, "skill://example/brand%20kit/brand-voice/assets/logo.png");
    assert_eq!(
        parse_skill_uri(&u),
        Some(SkillUri {
            marketplace: "example".into(),
            plugin: "brand kit".into(),
            skill: "brand-voice".into(),
            path: "assets/logo.png".into()
        })
    );
    assert_eq!(parse_skill_uri("skill://m/p/s/../../x"), None);
    assert_eq!(parse_skill_uri("skill://m/p/s/%2e%2e/x"), None);
    assert_eq!(parse_skill_uri("skill://m/p/s/a%2Fb"), None);
    assert_eq!(parse_skill_uri("file:///etc/passwd"), None);
    assert_eq!(parse_skill_uri("skill://m/p"), None);
}

// --- access rules ------------------------------------------------------------------------------------------------
// Each method, for five users who each may not see something different (by group, domain, org, team and email):
// what they get equals what the catalogue without that something gives (`access::fixtures`).

use crate::access::fixtures::{self, ada, assert_hidden_is_absent, assert_hidden_is_absent_for_all, cases, rpc};

/// URIs of every file of every skill the hidden things hold, some that never existed, and a visible one.
fn uris() -> Vec<String> {
    let mut uris = Vec::new();
    for m in ["one", "two"] {
        uris.push(skill_uri(m, "brand-kit", "brand-voice", "SKILL.md"));
        uris.push(skill_uri(m, "brand-kit", "brand-voice", "assets/logo.png"));
        uris.push(skill_uri(m, "brand-kit", "brand-voice", ""));
        uris.push(skill_uri(m, "writing-tools", "release-notes", "SKILL.md"));
        uris.push(skill_uri(m, "writing-tools", "conventional-commits", "references/types.md"));
        uris.push(skill_uri(m, "repo-tools", "repo-map", "SKILL.md"));
        uris.push(skill_uri(m, "repo-tools", "nope", "SKILL.md"));
    }
    uris.push(skill_uri("three", "brand-kit", "brand-voice", "SKILL.md"));
    uris
}

/// The first page and two later ones.
fn pages(method: &'static str) -> Vec<(&'static str, Value)> {
    vec![
        (method, json!({})),
        (method, json!({"cursor": cursor::encode(1)})),
        (method, json!({"cursor": cursor::encode(3)})),
    ]
}

#[test]
fn access_skills_list_leaves_hidden_skills_out() {
    assert_hidden_is_absent_for_all(&pages("skills/list"));
    let app = fixtures::app();
    let listed = |id: &skillport_providers::Identity| -> Vec<String> {
        rpc(&app, id, "skills/list", json!({}))["result"]["skills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["uri"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(&ada()).len(), 8);
    for case in cases() {
        let uris = listed(&case.identity);
        let want = match case.who {
            "group" | "domain" => 7,
            "org" => 4,
            "team" | "email" => 6,
            other => panic!("{other}"),
        };
        assert_eq!(uris.len(), want, "{}: {uris:?}", case.who);
    }
}

#[test]
fn access_skills_get_answers_hidden_skills_as_not_found() {
    let requests: Vec<(&str, Value)> = uris().into_iter().map(|u| ("skills/get", json!({"uri": u}))).collect();
    assert_hidden_is_absent_for_all(&requests);
    // Byte for byte the error of a URI that never existed, with the URI asked for.
    let app = fixtures::app();
    let contractor = &cases()[0].identity;
    let uri = skill_uri("two", "brand-kit", "brand-voice", "SKILL.md");
    let hidden = rpc(&app, contractor, "skills/get", json!({"uri": uri}));
    let never = rpc(
        &fixtures::app_without(&[fixtures::Gone::Plugin("two", "brand-kit")]),
        &ada(),
        "skills/get",
        json!({"uri": uri}),
    );
    assert_eq!(hidden.to_string(), never.to_string());
    assert_eq!(hidden["error"]["code"], INVALID_PARAMS);
}

#[test]
fn access_resources_list_leaves_hidden_files_out() {
    assert_hidden_is_absent_for_all(&pages("resources/list"));
    let app = fixtures::app();
    let vendor = fixtures::identity("val@vendor.io");
    let all = rpc(&app, &vendor, "resources/list", json!({}))["result"]["resources"].to_string();
    assert!(!all.contains("skill://one/writing-tools/release-notes/"), "{all}");
    assert!(all.contains("skill://two/writing-tools/release-notes/"), "{all}");
}

#[test]
fn access_resources_templates_name_nothing_and_are_the_same_for_everyone() {
    // The templates are fixed patterns: nothing of the catalogue, hidden or not, is in them.
    let requests = [("resources/templates/list", json!({}))];
    for (who, differs) in assert_hidden_is_absent(&requests) {
        assert!(!differs, "{who}");
    }
}

#[test]
fn access_resources_read_answers_hidden_files_as_not_found() {
    let requests: Vec<(&str, Value)> = uris().into_iter().map(|u| ("resources/read", json!({"uri": u}))).collect();
    assert_hidden_is_absent_for_all(&requests);
    let app = fixtures::app();
    let intern = &cases()[3].identity;
    let r = rpc(&app, intern, "resources/read", json!({"uri": "skill://one/repo-tools/repo-map/SKILL.md"}));
    assert_eq!(r["error"]["message"], "Resource not found: skill://one/repo-tools/repo-map/SKILL.md");
}

#[test]
fn access_resources_directory_read_answers_hidden_skills_as_not_found() {
    let mut requests: Vec<(&str, Value)> =
        uris().into_iter().map(|u| ("resources/directory/read", json!({"uri": u}))).collect();
    for m in ["one", "two"] {
        for (p, s, dir) in [
            ("brand-kit", "brand-voice", "assets"),
            ("writing-tools", "conventional-commits", "references"),
            ("writing-tools", "release-notes", ""),
            ("repo-tools", "repo-map", ""),
        ] {
            let uri = format!("{}/", skill_uri(m, p, s, dir).trim_end_matches('/'));
            requests.push(("resources/directory/read", json!({"uri": uri})));
        }
    }
    assert_hidden_is_absent_for_all(&requests);
}
