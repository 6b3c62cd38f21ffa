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
use crate::audit::{Action, Event, Outcome};
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
        audit(ctx, now, Outcome::NotFound, None, Some(&format!("unknown prompt `{asked}`")));
        return Err(unknown(name));
    };
    let request = request(params)?;
    let result = render(&prompt, request);
    audit(ctx, now, Outcome::Ok, Some(&prompt), None);
    Ok(result)
}

/// The audit line of a prompt's use: who used which skill at which version (hidden and unknown names alike are
/// `not_found`, with the name asked for).
fn audit(ctx: &Context<'_>, now: u64, outcome: Outcome, prompt: Option<&Prompt<'_>>, detail: Option<&str>) {
    let plugin = prompt.map(|p| p.plugin.qualified_name());
    let version = prompt.and_then(|p| updates::catalogue_version(&p.plugin)).map(|(v, _)| v);
    crate::audit::record(
        now,
        &Event {
            user: Some(ctx.identity.into()),
            plugin: plugin.as_deref(),
            skill: prompt.map(|p| p.skill.name.as_str()),
            version,
            detail,
            ..Event::new(Action::GetPrompt, outcome)
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
mod tests;
