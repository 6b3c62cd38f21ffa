//! The catalogue tools: their metadata (what a model reads to choose them) and their calls.
//!
//! `list_plugins` and `get_plugin` browse; `fetch_skill` hands over one skill's files and a signed `.skill` download
//! link (see `crate::download`) with install steps for the caller's surface; `check_updates` compares what a user
//! installed with what the catalogue serves now.
//!
//! When access rules carry install policies, `list_plugins` and `get_plugin` show the caller's `policy` for each
//! plugin (and `list_plugins` filters by it), and `check_updates` adds `requiredMissing`: what is required for the
//! caller and not in their list.
//!
//! Every tool reads the catalogue through the caller's `catalogue::View` (their access rules, `crate::access`): a
//! plugin or skill hidden from them is missing from listings, totals, pages and searches, never makes a name
//! ambiguous, and asking for it by name gets the very answer a name that does not exist gets. `fetch_skill` mints a
//! download link only for a skill that passed that check.
//!
//! Each tool is one file (`list_plugins`, `get_plugin`, `fetch_skill`, `check_updates`) holding its arguments, parsed
//! once into a struct after the schema check here, and its call; this module names the tools ([`Tool`]), checks
//! arguments against `tools.json`, dispatches, and writes the audit line.

mod check_updates;
mod fetch_skill;
mod get_plugin;
mod list_plugins;

use super::{schema, Context, RawObject, Reply, RpcError, ICON, INVALID_PARAMS};
use crate::audit::{Action, Event, Outcome};
use crate::catalogue::QualifiedName;
use crate::config::Surface;
use check_updates::CheckArgs;
use fetch_skill::FetchArgs;
use get_plugin::GetArgs;
use list_plugins::ListArgs;
use serde_json::{json, Map, Value};

/// Results stay well under Claude.ai's 150,000-character tool-result limit; listings page instead.
pub const MAX_RESULT_CHARS: usize = 100_000;

/// The tools, in the order `tools/list` shows them (the order of `tools.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    ListPlugins,
    GetPlugin,
    FetchSkill,
    CheckUpdates,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::ListPlugins, Tool::GetPlugin, Tool::FetchSkill, Tool::CheckUpdates];

    /// The tool a `tools/call` names, if it is one of ours.
    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Tool::ListPlugins => "list_plugins",
            Tool::GetPlugin => "get_plugin",
            Tool::FetchSkill => "fetch_skill",
            Tool::CheckUpdates => "check_updates",
        }
    }

    /// Its entry in [`definitions`] (which holds the tools in [`Tool::ALL`]'s order).
    pub fn definition(self) -> &'static Value {
        &definitions()[self as usize]
    }
}

/// Tool definitions, in the order `tools/list` shows them, without the `annotations` and `icons` every tool carries
/// (added by [`build_definitions`]). Kept as JSON text rather than `json!` literals: the macro expands each literal
/// into code that builds it node by node, which was 28 KB of the Worker's wasm (3 KB gzipped); parsing this text once
/// per isolate costs next to nothing.
const DEFINITIONS_JSON: &str = include_str!("tools.json");

/// The tool definitions, built once per isolate: every `tools/list` and `tools/call` reads them (building them each
/// time was most of `tools/list`'s CPU).
pub fn definitions() -> &'static [Value] {
    static DEFINITIONS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    DEFINITIONS.get_or_init(build_definitions)
}

fn build_definitions() -> Vec<Value> {
    let mut tools: Vec<Value> =
        serde_json::from_str(DEFINITIONS_JSON).expect("src/mcp/tools/tools.json is a JSON array");
    for tool in &mut tools {
        let title = tool["title"].clone();
        tool["annotations"] = json!({"title": title, "readOnlyHint": true, "destructiveHint": false,
            "idempotentHint": true, "openWorldHint": false});
        tool["icons"] = json!([{"src": ICON, "mimeType": "image/svg+xml", "sizes": ["any"]}]);
    }
    tools
}

/// `tools/list`: the definitions, serialized once per isolate too.
pub fn list(params: &Value) -> Result<Reply, RpcError> {
    if let Some(c) = params.get("cursor") {
        // One page holds every tool, so no cursor is ever handed out: any cursor is stale or forged.
        if !c.is_null() {
            return Err(RpcError::new(INVALID_PARAMS, "invalid cursor: tools/list has a single page"));
        }
    }
    static TOOLS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let tools = TOOLS.get_or_init(|| Value::Array(definitions().to_vec()).to_string());
    let mut result = RawObject::default();
    result.insert_raw("tools", tools.as_str());
    Ok(Reply::Raw(result))
}

/// A `tools/call` in the context of one request.
pub struct Call<'a> {
    pub ctx: &'a Context<'a>,
    /// The surface filter to apply when the caller gives none.
    pub surface: Option<Surface>,
}

impl Call<'_> {
    pub fn call(&self, params: &Value) -> Result<Reply, RpcError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::new(INVALID_PARAMS, "tools/call needs `name`"));
        };
        let no_args = json!({});
        let args = params.get("arguments").unwrap_or(&no_args);
        let Some(tool) = Tool::parse(name) else {
            let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("unknown tool `{name}`; available: {}", names.join(", ")),
            ));
        };
        // The schema check refuses missing and ill-typed arguments with one message for every tool; each tool's
        // parser then reads what the schema cannot say.
        if let Err(msg) = schema::validate(&tool.definition()["inputSchema"], args) {
            return Ok(tool_error(format!("invalid arguments for {name}: {msg}")).into());
        }
        let ctx = self.ctx;
        let now = crate::clock::now_unix();
        let (result, asked) = match tool {
            // Listings are not audited.
            Tool::ListPlugins => {
                return Ok(match ListArgs::parse(self.surface, args) {
                    Ok(args) => list_plugins::run(ctx, args),
                    Err(e) => tool_error(e).into(),
                })
            }
            Tool::GetPlugin => {
                let args = GetArgs::parse(args);
                (get_plugin::run(ctx, &args), Some(args.name))
            }
            Tool::FetchSkill => {
                let args = FetchArgs::parse(self.surface, args);
                (fetch_skill::run(ctx, &args, now), Some(args.name))
            }
            Tool::CheckUpdates => match CheckArgs::parse(args) {
                Ok(args) => (check_updates::run(ctx, &args), None),
                Err(e) => (tool_error(e), None),
            },
        };
        audit_call(ctx, tool, asked.as_deref(), &result, now);
        Ok(result.into())
    }
}

/// The audit line of a catalogue read: who read which plugin (or skill) at which version, or what they asked for
/// (`asked`, the name a plugin or skill tool was given) when it was refused (hidden and unknown items answer the
/// same, so the line says `not_found` for both).
fn audit_call(ctx: &Context<'_>, tool: Tool, asked: Option<&str>, result: &Value, now: u64) {
    let action = match tool {
        Tool::ListPlugins => return,
        Tool::GetPlugin => Action::GetPlugin,
        Tool::FetchSkill => Action::FetchSkill,
        Tool::CheckUpdates => Action::CheckUpdates,
    };
    let sc = &result["structuredContent"];
    let failed = result["isError"] == true;
    let plugin = match (sc["plugin"].as_str(), sc["marketplace"].as_str()) {
        (Some(p), _) if p.contains('@') => Some(p.to_owned()),
        (Some(p), Some(m)) => Some(QualifiedName::of_plugin(p, m).to_string()),
        _ => asked.map(|a| a.chars().take(200).collect()),
    };
    let skill = (tool == Tool::FetchSkill).then(|| sc["skill"].as_str().or(sc["name"].as_str())).flatten();
    let detail = match tool {
        Tool::CheckUpdates => Some(format!(
            "{} item(s): {} update(s) available, {} removed",
            sc["results"].as_array().map_or(0, Vec::len),
            sc["summary"]["updateAvailable"],
            sc["summary"]["removed"]
        )),
        _ if failed => result["content"][0]["text"].as_str().map(|t| t.chars().take(300).collect()),
        _ => None,
    };
    crate::audit::record(
        now,
        &Event {
            user: Some(ctx.identity.into()),
            plugin: plugin.as_deref(),
            skill,
            version: sc["version"].as_str(),
            detail: detail.as_deref(),
            ..Event::new(action, if failed { Outcome::NotFound } else { Outcome::Ok })
        },
    );
}

/// A tool-level failure: the model sees it and can correct its call.
fn tool_error(message: String) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
}

fn tool_ok(structured: Value) -> Value {
    let text = serde_json::to_string(&structured).unwrap_or_default();
    // Built by hand: `json!` would copy `structured` whole.
    let mut o = Map::new();
    o.insert("content".into(), json!([{"type": "text", "text": text}]));
    o.insert("structuredContent".into(), structured);
    o.insert("isError".into(), Value::Bool(false));
    Value::Object(o)
}

/// A string argument, `None` when absent or blank.
fn str_arg(args: &Value, key: &str) -> Option<String> {
    args.get(key).and_then(Value::as_str).map(str::to_string).filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests;
