//! The catalogue tools: their metadata (what a model reads to choose them) and their calls.

use super::{schema, Context, RpcError, RpcResult, ICON, INVALID_PARAMS};
use crate::catalogue::{self, cursor, surface, Filter};
use crate::config::Surface;
use serde_json::{json, Map, Value};

/// Results stay well under Claude.ai's 150,000-character tool-result limit; listings page instead.
pub const MAX_RESULT_CHARS: usize = 100_000;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

fn surface_schema() -> Value {
    json!({"type": "string", "enum": ["claude-code", "claude-desktop", "claude-ai", "all"],
        "description": "Only plugins available on this Claude surface. Defaults to the surface of the calling client when it is known; `all` lists every surface."})
}

fn annotations(title: &str) -> Value {
    json!({"title": title, "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
}

fn icons() -> Value {
    json!([{"src": ICON, "mimeType": "image/svg+xml", "sizes": ["any"]}])
}

/// Tool definitions, in the order `tools/list` shows them.
pub fn definitions() -> Vec<Value> {
    let plugin_summary = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "plugin": {"type": "string"}, "marketplace": {"type": "string"},
            "description": {"type": "string"}, "version": {"type": "string"}, "category": {"type": "string"},
            "surfaces": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": ["servable", "not_servable", "invalid"]},
            "reason": {"type": "string"},
            "skills": {"type": "array", "items": {"type": "object"}}
        },
        "required": ["name", "plugin", "marketplace", "surfaces", "status", "skills"]
    });
    vec![
        json!({
            "name": "list_plugins",
            "title": "List plugins",
            "description": "Lists the plugins of this organisation's marketplaces, with their skills. Filter with `query` (words matched against names, descriptions and keywords), `category`, `tag`, `marketplace` or `surface`. Each result has a `name` to pass to get_plugin. Results are paged: when `nextCursor` is present, call again with `cursor` set to it.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Free-text words; every word must match."},
                    "category": {"type": "string", "description": "Exact category, e.g. `development`."},
                    "tag": {"type": "string", "description": "A tag or keyword the plugin carries."},
                    "marketplace": {"type": "string", "description": "Only this marketplace id."},
                    "surface": surface_schema(),
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "description": "Page size (default 50)."},
                    "cursor": {"type": "string", "description": "The `nextCursor` of the previous page."}
                },
                "additionalProperties": false
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "plugins": {"type": "array", "items": plugin_summary},
                    "total": {"type": "integer"},
                    "nextCursor": {"type": "string"},
                    "marketplaceErrors": {"type": "array", "items": {"type": "object"}}
                },
                "required": ["plugins", "total"]
            },
            "annotations": annotations("List plugins"),
            "icons": icons(),
        }),
        json!({
            "name": "get_plugin",
            "title": "Get plugin details",
            "description": "Everything about one plugin: description, version, author, where it comes from, and each skill with its description, frontmatter, files (path, size, sha256) and content digest. `name` is `plugin@marketplace` as list_plugins returns it, or the bare plugin name when only one marketplace has it.",
            "inputSchema": {
                "type": "object",
                "properties": {"name": {"type": "string", "minLength": 1, "description": "`plugin@marketplace` or a unique plugin name."}},
                "required": ["name"],
                "additionalProperties": false
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"}, "plugin": {"type": "string"}, "marketplace": {"type": "string"},
                    "status": {"type": "string"}, "digest": {"type": "string"},
                    "skills": {"type": "array", "items": {"type": "object"}}
                },
                "required": ["name", "plugin", "marketplace", "status", "digest", "skills"]
            },
            "annotations": annotations("Get plugin details"),
            "icons": icons(),
        }),
    ]
}

pub fn list(params: &Value) -> RpcResult {
    if let Some(c) = params.get("cursor") {
        // One page holds every tool, so no cursor is ever handed out: any cursor is stale or forged.
        if !c.is_null() {
            return Err(RpcError::new(INVALID_PARAMS, "invalid cursor: tools/list has a single page"));
        }
    }
    Ok(json!({"tools": definitions()}))
}

/// A `tools/call` in the context of one request.
pub struct Call<'a> {
    pub ctx: &'a Context<'a>,
    /// The surface filter to apply when the caller gives none.
    pub surface: Option<Surface>,
}

impl Call<'_> {
    pub fn call(&self, params: &Value) -> RpcResult {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::new(INVALID_PARAMS, "tools/call needs `name`"));
        };
        let args = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
        let defs = definitions();
        let Some(def) = defs.iter().find(|d| d["name"] == name) else {
            let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("unknown tool `{name}`; available: {}", names.join(", ")),
            ));
        };
        if let Err(msg) = schema::validate(&def["inputSchema"], &args) {
            return Ok(tool_error(format!("invalid arguments for {name}: {msg}")));
        }
        Ok(match name {
            "list_plugins" => list_plugins(self.ctx, self.surface, &args),
            "get_plugin" => get_plugin(self.ctx, &args),
            _ => unreachable!("every defined tool is dispatched"),
        })
    }
}

/// A tool-level failure: the model sees it and can correct its call.
fn tool_error(message: String) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
}

fn tool_ok(structured: Value) -> Value {
    let text = serde_json::to_string(&structured).unwrap_or_default();
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": false})
}

fn str_arg(args: &Value, key: &str) -> Option<String> {
    args.get(key).and_then(Value::as_str).map(str::to_string).filter(|s| !s.trim().is_empty())
}

fn list_plugins(ctx: &Context<'_>, default_surface: Option<Surface>, args: &Value) -> Value {
    let surface = match str_arg(args, "surface").as_deref() {
        Some("all") => None,
        Some(s) => surface::parse_surfaces(s).and_then(|v| v.first().copied()),
        None => default_surface,
    };
    let filter = Filter {
        surface,
        marketplace: str_arg(args, "marketplace"),
        category: str_arg(args, "category"),
        tag: str_arg(args, "tag"),
        query: str_arg(args, "query"),
    };
    let offset = match args.get("cursor").and_then(Value::as_str) {
        Some(c) => match cursor::decode(c) {
            Some(o) => o,
            None => return tool_error("invalid cursor: pass the `nextCursor` of the previous page unchanged".into()),
        },
        None => 0,
    };
    let limit = args.get("limit").and_then(Value::as_u64).map(|l| l as usize).unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let all = ctx.catalogue.list(&filter);
    let total = all.len();
    let mut page = Vec::new();
    let mut size = 0;
    let mut next = offset;
    for p in all.iter().skip(offset).take(limit) {
        let v = catalogue::summary_json(p);
        let len = v.to_string().len();
        // Keep the text copy and the structured copy together under the result limit.
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
    let errors: Vec<Value> = ctx
        .catalogue
        .marketplaces
        .iter()
        .filter_map(|m| m.loaded.as_ref().err().map(|e| json!({"marketplace": m.id, "error": e})))
        .collect();
    if !errors.is_empty() {
        out.insert("marketplaceErrors".into(), Value::Array(errors));
    }
    tool_ok(Value::Object(out))
}

fn get_plugin(ctx: &Context<'_>, args: &Value) -> Value {
    let name = str_arg(args, "name").unwrap_or_default();
    match ctx.catalogue.find(&name) {
        Ok(p) => {
            let v = catalogue::detail_json(&p);
            if v.to_string().len() * 2 > MAX_RESULT_CHARS {
                return tool_error(format!(
                    "`{}` is too large to describe in one result; use list_plugins with query to narrow it down",
                    p.qualified_name()
                ));
            }
            let mut out = tool_ok(v);
            // Each skill's entry file as a resource link, so a client can open it without another tool call.
            if let Some(content) = out["content"].as_array_mut() {
                for s in p.plugin.skills.iter().filter(|_| p.plugin.status.is_servable()) {
                    content.push(json!({
                        "type": "resource_link",
                        "uri": super::skills::skill_uri(p.marketplace.id.as_str(), &p.plugin.name, &s.name, "SKILL.md"),
                        "name": format!("{}/SKILL.md", s.name),
                        "mimeType": "text/markdown",
                        "description": s.description,
                    }));
                }
            }
            out
        }
        Err(e) => tool_error(e.to_string()),
    }
}
