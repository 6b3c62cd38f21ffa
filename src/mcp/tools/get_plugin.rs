//! `get_plugin`: everything about one plugin the caller may see, with a resource link to each skill's entry file.

use super::{str_arg, tool_error, tool_ok, MAX_RESULT_CHARS};
use crate::catalogue;
use crate::mcp::Context;
use serde_json::{json, Value};

/// The arguments of `get_plugin`.
pub(super) struct GetArgs {
    /// `plugin@marketplace` or a bare plugin name, as the caller wrote it (empty when blank: no plugin has that name).
    pub(super) name: String,
}

impl GetArgs {
    /// Never fails: the schema check already refused a missing or ill-typed `name`.
    pub(super) fn parse(args: &Value) -> GetArgs {
        GetArgs { name: str_arg(args, "name").unwrap_or_default() }
    }
}

pub(super) fn run(ctx: &Context<'_>, args: &GetArgs) -> Value {
    let access = ctx.access();
    match ctx.catalogue.view(&access).find(&args.name) {
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
                for s in p.skills().filter(|_| p.plugin.status.is_servable()) {
                    content.push(json!({
                        "type": "resource_link",
                        "uri": crate::mcp::skills::skill_uri(p.marketplace.id.as_str(), &p.plugin.name, &s.name, "SKILL.md"),
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
