//! Every servable skill as an MCP prompt: Claude Code shows prompts as slash commands, Claude Desktop and Claude.ai
//! in the attachment menu, so a user can use a skill at once, with nothing to download or install.
//!
//! `prompts/list` pages through one prompt per skill the caller may see (their access rules, through the catalogue
//! `View`), of the marketplaces `[prompts]` offers, filtered by the client's surface as `list_plugins` is. A prompt's
//! name is derived from marketplace, plugin and skill ([`prompt_name`]): stable, unique, and within the characters and
//! length the specification asks of names. `prompts/get` answers the skill's SKILL.md as the instructions, its other
//! files embedded (small text files, smallest first, while the whole result stays within [`BUDGET`]) or linked as
//! `skill://` resources, and the user's optional request; it is audited as a use of the skill, like `fetch_skill`.
//!
//! A skill hidden from the caller is in no page, and asking for its prompt answers exactly what asking for a name
//! that never existed answers (the lookup runs over the caller's view only, and the error names only what was asked).

use super::skills::{offset, page, skill_uri};
use super::{Context, RpcError, RpcResult, INVALID_PARAMS};
use crate::catalogue::content::{self, Content};
use crate::catalogue::{updates, Filter, PluginRef, View};
use crate::config::Surface;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use skillport_sources::Skill;
use std::collections::HashSet;

/// Prompts per `prompts/list` page, as `skills/list` pages.
const PAGE: usize = 50;
/// Most characters a `prompts/get` result takes, as JSON: what Claude.ai accepts of one tool result, the limit a
/// client is most likely to hold a prompt to as well.
pub const BUDGET: usize = 150_000;
/// The longest name the specification recommends (tool names; prompt names follow the same conventions).
pub const MAX_NAME: usize = 128;
/// The one argument every prompt takes.
pub const ARGUMENT: &str = "request";
/// Hex digits of the SHA-256 that stand for the cut-off part of a name too long to keep whole.
const HASH_HEX: usize = 24;

/// The prompt name of skill `skill` of plugin `plugin` of marketplace `marketplace`: the three, each with every
/// character but `A-Z a-z 0-9 -` written `_XX` (the hex of each UTF-8 byte), joined by `.`
/// (`example.brand-kit.brand-voice`). So it uses only the characters the specification recommends for names, and two
/// skills never share one: `.` only ever separates the parts, and `_` only ever starts an escape. A name longer than
/// [`MAX_NAME`] keeps its start and ends in `__` and the first 24 hex digits of the SHA-256 of the whole name; `__`
/// appears in no name kept whole (an escape's `_` is always followed by two hex digits).
pub fn prompt_name(marketplace: &str, plugin: &str, skill: &str) -> String {
    fn push_part(out: &mut String, part: &str) {
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' {
                out.push(b as char);
            } else {
                out.push_str(&format!("_{b:02X}"));
            }
        }
    }
    let mut name = String::with_capacity(marketplace.len() + plugin.len() + skill.len() + 2);
    push_part(&mut name, marketplace);
    name.push('.');
    push_part(&mut name, plugin);
    name.push('.');
    push_part(&mut name, skill);
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash: String = Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    // The name is ASCII, so any byte index is a character boundary.
    format!("{}__{}", &name[..MAX_NAME - 2 - HASH_HEX], &hash[..HASH_HEX])
}

/// One prompt: a skill the caller may see, with its plugin.
struct Prompt<'a> {
    name: String,
    plugin: PluginRef<'a>,
    skill: &'a Skill,
}

impl Prompt<'_> {
    fn uri(&self, path: &str) -> String {
        skill_uri(&self.plugin.marketplace.id, &self.plugin.plugin.name, &self.skill.name, path)
    }

    fn read(&self, path: &str) -> Option<&[u8]> {
        let full = if self.skill.dir.is_empty() { path.to_string() } else { format!("{}/{}", self.skill.dir, path) };
        self.plugin.marketplace.files.get(&full)
    }

    fn description(&self) -> &str {
        self.skill.description.as_deref().unwrap_or_default()
    }

    fn title(&self) -> String {
        format!("{} ({})", self.skill.name, self.plugin.qualified_name())
    }

    fn entry(&self) -> Value {
        json!({
            "name": self.name,
            "title": self.title(),
            "description": self.description(),
            "arguments": [{
                "name": ARGUMENT,
                "title": "What to do",
                "description": "What you want done with this skill (optional: without it, the skill is loaded and \
                                Claude asks)",
                "required": false,
            }],
        })
    }
}

/// Every prompt the caller of `view` is offered, in catalogue order: each skill of each servable plugin they may
/// see, of a marketplace `[prompts]` offers, for `surface` (every surface when `None`), that has the description a
/// prompt needs. A second skill that would take a name already given (two skills of one plugin declaring the same
/// `name`) is left out, as `skill://` URIs resolve to the first.
fn prompts<'a>(
    ctx: &'a Context<'a>,
    view: View<'a>,
    surface: Option<Surface>,
) -> impl Iterator<Item = Prompt<'a>> + 'a {
    let filter = Filter { surface, ..Filter::default() };
    let mut seen = HashSet::new();
    view.plugins()
        .filter(move |p| {
            p.plugin.status.is_servable() && ctx.config.prompts.offers(&p.marketplace.id) && filter.matches(p)
        })
        .flat_map(|p| p.skills().map(move |skill| (p, skill)))
        .filter(|(_, s)| s.description.as_deref().is_some_and(|d| !d.trim().is_empty()))
        .filter_map(move |(plugin, skill)| {
            let name = prompt_name(&plugin.marketplace.id, &plugin.plugin.name, &skill.name);
            seen.insert(name.clone()).then_some(Prompt { name, plugin, skill })
        })
}

pub fn list(ctx: &Context<'_>, surface: Option<Surface>, params: &Value) -> RpcResult {
    let start = offset(params)?;
    let access = ctx.access();
    Ok(page(prompts(ctx, ctx.catalogue.view(&access), surface), start, PAGE, "prompts", |p| p.entry()))
}

/// The error of a name no prompt the caller may see has: the very error of a name that never existed.
fn unknown(name: &str) -> RpcError {
    let shown: String = name.chars().take(200).collect();
    RpcError::new(INVALID_PARAMS, format!("Unknown prompt: {shown}"))
}

/// The user's request, from `arguments`: absent, or an object whose only member is a string [`ARGUMENT`].
fn request(params: &Value) -> Result<Option<&str>, RpcError> {
    let args = match params.get("arguments") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(args)) => args,
        Some(_) => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("`arguments` must be an object: {{\"{ARGUMENT}\": \"...\"}}"),
            ))
        }
    };
    if let Some(other) = args.keys().find(|k| k.as_str() != ARGUMENT) {
        let other: String = other.chars().take(100).collect();
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!("unknown argument `{other}`; skill prompts take one optional argument, `{ARGUMENT}`"),
        ));
    }
    match args.get(ARGUMENT) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RpcError::new(INVALID_PARAMS, format!("argument `{ARGUMENT}` must be a string"))),
    }
}

pub fn get(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(RpcError::new(INVALID_PARAMS, "prompts/get needs `name`, a prompt name from prompts/list"));
    };
    let now = crate::clock::now_unix();
    let access = ctx.access();
    // The lookup runs over what the caller may see, whatever their surface (as fetch_skill resolves a skill).
    let found = prompts(ctx, ctx.catalogue.view(&access), None).find(|p| p.name == name);
    let Some(prompt) = found else {
        let asked: String = name.chars().take(200).collect();
        audit(ctx, now, "not_found", None, Some(&format!("unknown prompt `{asked}`")));
        return Err(unknown(name));
    };
    let request = request(params)?;
    let result = render(&prompt, request);
    audit(ctx, now, "ok", Some(&prompt), None);
    Ok(result)
}

/// The audit line of a prompt's use: who used which skill at which version (hidden and unknown names alike are
/// `not_found`, with the name asked for).
fn audit(ctx: &Context<'_>, now: u64, outcome: &str, prompt: Option<&Prompt<'_>>, detail: Option<&str>) {
    let plugin = prompt.map(|p| p.plugin.qualified_name());
    let version = prompt.and_then(|p| updates::catalogue_version(&p.plugin)).map(|(v, _)| v);
    crate::audit::record(
        now,
        &crate::audit::Event {
            action: "get_prompt",
            outcome,
            user: Some(ctx.identity.into()),
            plugin: plugin.as_deref(),
            skill: prompt.map(|p| p.skill.name.as_str()),
            version,
            detail,
            ..Default::default()
        },
    );
}

/// Characters `value` takes as JSON.
fn json_chars(value: &Value) -> usize {
    value.to_string().chars().count()
}

fn text_message(text: String) -> Value {
    json!({"role": "user", "content": {"type": "text", "text": text}})
}

fn link(prompt: &Prompt<'_>, path: &str, size: u64, mime: &str) -> Value {
    json!({"role": "user", "content": {
        "type": "resource_link",
        "uri": prompt.uri(path),
        "name": format!("{}/{}", prompt.skill.name, path),
        "mimeType": mime,
        "size": size,
    }})
}

fn embedded(prompt: &Prompt<'_>, path: &str, text: &str) -> Value {
    json!({"role": "user", "content": {
        "type": "resource",
        "resource": {"uri": prompt.uri(path), "mimeType": content::text_mime(path), "text": text},
    }})
}

/// The `prompts/get` result: the instructions (SKILL.md), then each other file in path order (embedded or linked),
/// then the user's request, all within [`BUDGET`] characters. SKILL.md is inline unless it cannot fit (then linked);
/// every other file starts as a link (past the budget, the last links give way to a note naming the directory to
/// list); then, smallest first, each text file is embedded in place of its link while the whole still fits.
fn render(prompt: &Prompt<'_>, request: Option<&str>) -> Value {
    let skill = prompt.skill;
    let others: Vec<_> = skill.files.iter().filter(|f| f.path != "SKILL.md").collect();
    let skill_md_uri = prompt.uri("SKILL.md");
    let intro = |inline: bool| {
        let mut intro = format!(
            "Use the skill `{}` (from the plugin {}) for what follows.",
            skill.name,
            prompt.plugin.qualified_name()
        );
        if inline {
            intro.push_str(" Its instructions are its SKILL.md, below.");
        } else {
            intro.push_str(&format!(
                " Its instructions are its SKILL.md, which is not included here: read it first, at {skill_md_uri}."
            ));
        }
        if !others.is_empty() {
            intro.push_str(
                " Its other files follow as resources: some embedded in full, the others as skill:// links to read \
                 (resources/read) when the instructions call for them.",
            );
        }
        intro
    };
    let skill_md = match prompt.read("SKILL.md").map(content::classify) {
        Some(Content::Text(text)) => Some(text),
        _ => None,
    };
    let mut files: Vec<Value> = Vec::with_capacity(others.len());
    let mut texts: Vec<(u64, usize, &str)> = Vec::new();
    for (i, f) in others.iter().enumerate() {
        let bytes = prompt.read(&f.path);
        let (mime, text) = match bytes.map(content::classify) {
            Some(Content::Text(text)) => (content::text_mime(&f.path), Some(text)),
            Some(Content::Binary { mime }) => (mime, None),
            None => (content::text_mime(&f.path), None),
        };
        files.push(link(prompt, &f.path, f.size, mime));
        if let Some(text) = text {
            texts.push((f.size, i, text));
        }
    }
    let closing = request.map(|r| text_message(format!("What I want done with this skill:\n\n{r}")));

    let assemble = |first: &Value, files: &[Value]| -> Value {
        let mut messages = Vec::with_capacity(files.len() + 2);
        messages.push(first.clone());
        messages.extend(files.iter().cloned());
        messages.extend(closing.clone());
        let mut out = Map::new();
        out.insert("description".into(), json!(prompt.description()));
        out.insert("messages".into(), Value::Array(messages));
        Value::Object(out)
    };

    // The instructions come first: SKILL.md inline when it fits beside the request, else linked.
    let linked = || text_message(intro(false));
    let first = match skill_md {
        Some(md) => {
            let inline = text_message(format!("{}\n\n{md}", intro(true)));
            if json_chars(&assemble(&inline, &[])) <= BUDGET {
                inline
            } else {
                linked()
            }
        }
        // Not text (or not in the copy): linked, as any file that cannot be embedded is.
        None => linked(),
    };
    // Then a link to each other file, as many as fit, and a note for the rest. Each message after the first adds its
    // length and a comma.
    let mut total = json_chars(&assemble(&first, &[]));
    let sizes: Vec<usize> = files.iter().map(|f| json_chars(f) + 1).collect();
    if total + sizes.iter().sum::<usize>() > BUDGET {
        let note = |left: usize| {
            text_message(format!(
                "{left} more files of this skill are not listed here: resources/directory/read {} lists them all.",
                prompt.uri("")
            ))
        };
        let mut kept = 0;
        // The note, too, adds its length and a comma.
        while kept < files.len() && total + sizes[kept] + json_chars(&note(files.len() - kept - 1)) < BUDGET {
            total += sizes[kept];
            kept += 1;
        }
        let note = note(files.len() - kept);
        total += json_chars(&note) + 1;
        files.truncate(kept);
        files.push(note);
        texts.retain(|&(_, i, _)| i < kept);
    }
    // Then, smallest first, each text file embedded in place of its link while the whole stays within the budget.
    texts.sort_by_key(|&(size, i, _)| (size, i));
    for (size, i, text) in texts {
        // A UTF-8 character takes at most 4 bytes: a file whose text alone cannot fit is not serialized to find out
        // (files are sorted by size, so none after it can fit either).
        if size as usize / 4 > BUDGET.saturating_sub(total) {
            break;
        }
        let candidate = embedded(prompt, &others[i].path, text);
        let grown = total - json_chars(&files[i]) + json_chars(&candidate);
        if grown <= BUDGET {
            files[i] = candidate;
            total = grown;
        }
    }
    assemble(&first, &files)
}

#[cfg(test)]
mod tests {
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
            let ctx = Context {
                config: cfg,
                catalogue: &app.catalogue,
                client_surface: surface,
                headers: &[],
                identity: &me,
            };
            names(&list(&ctx, surface, &json!({})).unwrap())
        };
        let plugins_on = |surface: Option<Surface>| {
            let ctx = Context {
                config: cfg,
                catalogue: &app.catalogue,
                client_surface: surface,
                headers: &[],
                identity: &me,
            };
            let access = ctx.access();
            let view = ctx.catalogue.view(&access);
            view.list(&Filter { surface, ..Filter::default() })
                .iter()
                .map(|p| format!("{}.{}", p.marketplace.id, p.plugin.name))
                .collect::<HashSet<_>>()
        };
        for surface in [None, Some(Surface::ClaudeCode), Some(Surface::ClaudeAi), Some(Surface::ClaudeDesktop)] {
            let plugins: HashSet<String> =
                on(surface).iter().map(|n| n.rsplit_once('.').unwrap().0.to_string()).collect();
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
        assert!(
            first.starts_with("Use the skill `conventional-commits` (from the plugin writing-tools@one)"),
            "{first}"
        );
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
        assert!(result["description"]
            .as_str()
            .unwrap()
            .starts_with("Writes commit messages in the Conventional Commits"));

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
        let mine: Vec<&Value> = r["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"].as_str().unwrap().starts_with("one."))
            .collect();
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
        let embedded: Vec<&str> = contents
            .iter()
            .filter(|c| c["type"] == "resource")
            .map(|c| c["resource"]["uri"].as_str().unwrap())
            .collect();
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
        assert_eq!(
            result["messages"].as_array().unwrap().iter().filter(|m| m["content"]["type"] == "resource").count(),
            2
        );
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
}
