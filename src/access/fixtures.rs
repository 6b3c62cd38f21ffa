//! The access scenario every catalogue path is tested with (`mcp::tools`, `mcp::skills`, `download`): the example
//! marketplace served twice (`one`, `two`), five users who each lose something different through a different kind of
//! subject, and, for each, the same catalogue with that something really removed. A path honours the rules when each
//! user's answer from the full catalogue is byte-for-byte the answer from the catalogue without what they may not see.

use crate::mcp::{handle_message, Context, Outcome};
use crate::testing::block_on;
use crate::App;
use serde_json::{json, Value};
use skillport_providers::Identity;
use std::collections::BTreeMap;

pub const MARKETPLACES: &str =
    r#"[{id="one",kind="bundled",location="marketplace"},{id="two",kind="bundled",location="marketplace"}]"#;
pub const RULES: &str = concat!(
    "[",
    r#"{effect="deny",plugin="brand-kit@two",groups=["contractors"]},"#,
    r#"{effect="deny",marketplace="one",plugin="writing-tools",skill="release-notes",domains=["vendor.io"]},"#,
    r#"{effect="deny",marketplace="two",orgs=["outside-org"]},"#,
    r#"{effect="deny",plugin="repo-tools",teams=["interns"]},"#,
    r#"{effect="deny",plugin="brand-kit",emails=["eve@example.com"]}"#,
    "]"
);

/// Something really taken out of the catalogue.
#[derive(Debug, Clone, Copy)]
pub enum Gone {
    Marketplace(&'static str),
    Plugin(&'static str, &'static str),
    Skill(&'static str, &'static str, &'static str),
}

pub struct Case {
    /// Which kind of subject hides something from this user.
    pub who: &'static str,
    pub identity: Identity,
    pub gone: Vec<Gone>,
}

pub fn identity(email: &str) -> Identity {
    Identity {
        provider: "oidc".into(),
        subject: format!("sub:{email}"),
        email: Some(email.into()),
        email_verified: true,
        name: None,
        domain: email.rsplit_once('@').map(|(_, d)| d.into()),
        groups: vec![],
        orgs: vec![],
        teams: vec![],
    }
}

/// Sees everything: no rule applies to them.
pub fn ada() -> Identity {
    identity("ada@example.com")
}

pub fn cases() -> Vec<Case> {
    let mut contractor = identity("carl@example.com");
    contractor.groups = vec!["contractors".into()];
    let mut outsider = identity("olga@example.com");
    outsider.provider = "github".into();
    outsider.orgs = vec!["outside-org".into()];
    let mut intern = identity("ivan@example.com");
    intern.provider = "github".into();
    intern.orgs = vec!["acme".into()];
    intern.teams = vec!["acme/interns".into()];
    vec![
        Case { who: "group", identity: contractor, gone: vec![Gone::Plugin("two", "brand-kit")] },
        Case {
            who: "domain",
            identity: identity("val@vendor.io"),
            gone: vec![Gone::Skill("one", "writing-tools", "release-notes")],
        },
        Case { who: "org", identity: outsider, gone: vec![Gone::Marketplace("two")] },
        Case {
            who: "team",
            identity: intern,
            gone: vec![Gone::Plugin("one", "repo-tools"), Gone::Plugin("two", "repo-tools")],
        },
        Case {
            who: "email",
            identity: identity("eve@example.com"),
            gone: vec![Gone::Plugin("one", "brand-kit"), Gone::Plugin("two", "brand-kit")],
        },
    ]
}

/// The scenario's app, with `extra` Worker vars.
pub fn app_with(extra: &[(&str, &str)]) -> App {
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("SKILLPORT_MARKETPLACES".to_string(), MARKETPLACES.to_string()),
        ("SKILLPORT_ACCESS__RULES".to_string(), RULES.to_string()),
    ]);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let app = block_on(App::from_env(&env));
    assert!(app.config.is_ok(), "{}", app.config.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
    app
}

pub fn app() -> App {
    app_with(&[])
}

/// The scenario's app with `gone` really removed from the catalogue (the configuration, rules included, unchanged).
pub fn app_without(gone: &[Gone]) -> App {
    let mut app = app();
    for g in gone {
        let markets = &mut app.catalogue.marketplaces;
        match *g {
            Gone::Marketplace(m) => markets.retain(|e| e.id != m),
            Gone::Plugin(m, p) => {
                let entry = markets.iter_mut().find(|e| e.id == m).unwrap();
                let plugins = &mut entry.loaded.as_mut().unwrap().plugins;
                let before = plugins.len();
                plugins.retain(|x| x.name != p);
                assert_eq!(plugins.len() + 1, before, "{g:?}");
            }
            Gone::Skill(m, p, s) => {
                let entry = markets.iter_mut().find(|e| e.id == m).unwrap();
                let plugin = entry.loaded.as_mut().unwrap().plugins.iter_mut().find(|x| x.name == p).unwrap();
                let before = plugin.skills.len();
                plugin.skills.retain(|x| x.name != s);
                assert_eq!(plugin.skills.len() + 1, before, "{g:?}");
            }
        }
    }
    app
}

/// The JSON-RPC response `identity` gets for `method` with `params`.
pub fn rpc(app: &App, identity: &Identity, method: &str, params: Value) -> Value {
    let cfg = app.config.as_ref().unwrap();
    let ctx = Context { config: cfg, catalogue: &app.catalogue, client_surface: None, headers: &[], identity };
    match handle_message(&ctx, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})) {
        Outcome::Response { body, .. } => body.into_value(),
        Outcome::Accepted => panic!("{method} got no response"),
    }
}

/// `tools/call` of `tool`: the tool's result.
pub fn tool(app: &App, identity: &Identity, tool: &str, args: Value) -> Value {
    let r = rpc(app, identity, "tools/call", json!({"name": tool, "arguments": args}));
    r.get("result").cloned().unwrap_or_else(|| panic!("{tool}: {r}"))
}

/// `value` without what legitimately differs between two calls a second apart: download links and their expiry
/// (also inside the text copy of a tool's structured result), and the age of a marketplace copy.
pub fn timeless(value: &Value) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match k.as_str() {
                    "expiresAt" | "copyAgeSeconds" => (k.clone(), json!("<time>")),
                    _ => (k.clone(), timeless(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(timeless).collect()),
        Value::String(s) if s.contains("/download/") => json!("<link>"),
        Value::String(s) if s.starts_with('{') => match serde_json::from_str::<Value>(s) {
            Ok(inner) => json!(timeless(&inner).to_string()),
            Err(_) => value.clone(),
        },
        other => other.clone(),
    }
}

/// For every case and request: what the user gets from the full catalogue is exactly what they get from the
/// catalogue without what is hidden from them. Returns, per case, whether any request's answer differed from what
/// `ada` (who sees everything) gets, so a caller can check the requests exercised the hidden things at all.
pub fn assert_hidden_is_absent(requests: &[(&str, Value)]) -> Vec<(&'static str, bool)> {
    let full = app();
    let mut exercised = Vec::new();
    for case in cases() {
        let absent = app_without(&case.gone);
        let mut differs = false;
        for (method, params) in requests {
            let got = timeless(&rpc(&full, &case.identity, method, params.clone()));
            let want = timeless(&rpc(&absent, &case.identity, method, params.clone()));
            assert_eq!(
                got.to_string(),
                want.to_string(),
                "{} ({}): {method} {params}",
                case.who,
                case.identity.subject
            );
            differs |= got != timeless(&rpc(&full, &ada(), method, params.clone()));
        }
        exercised.push((case.who, differs));
    }
    exercised
}

/// [`assert_hidden_is_absent`], and every case's hidden thing made a difference to some request.
pub fn assert_hidden_is_absent_for_all(requests: &[(&str, Value)]) {
    for (who, differs) in assert_hidden_is_absent(requests) {
        assert!(differs, "no request exercised what is hidden from the `{who}` user");
    }
}
