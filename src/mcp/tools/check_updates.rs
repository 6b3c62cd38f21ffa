//! `check_updates`: whether the plugins and skills a user installed are still current, and (with install
//! policies) what is required for them and not installed.

use super::{tool_ok, MAX_RESULT_CHARS};
use crate::catalogue::updates::{self, Installed, Status};
use crate::mcp::Context;
use serde_json::{json, Value};

/// Most items one `check_updates` call answers.
pub(super) const MAX_INSTALLED: usize = 200;
/// Longest `plugin@marketplace/skill` accepted by `check_updates` (64-character parts and separators fit easily).
const MAX_NAME_LEN: usize = 256;

/// The arguments of `check_updates`.
pub(super) struct CheckArgs {
    pub(super) installed: Vec<Installed>,
}

impl CheckArgs {
    /// The error is the tool error for the model.
    pub(super) fn parse(args: &Value) -> Result<CheckArgs, String> {
        installed_items(args)
            .map(|installed| CheckArgs { installed })
            .map_err(|message| format!("invalid arguments for check_updates: {message}"))
    }
}

/// The `installed` list, checked item by item (the generic schema check does not look inside array items).
fn installed_items(args: &Value) -> Result<Vec<Installed>, String> {
    let Some(list) = args.get("installed").and_then(Value::as_array) else {
        return Err("`installed` must be an array of {name, version?, digest?}".into());
    };
    if list.is_empty() || list.len() > MAX_INSTALLED {
        return Err(format!(
            "`installed` must hold 1 to {MAX_INSTALLED} items, got {}; split a longer list over several calls",
            list.len()
        ));
    }
    let mut items = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Some(o) = item.as_object() else {
            return Err(format!("`installed[{i}]` must be an object such as {{\"name\": \"plugin@marketplace/skill\", \"version\": \"1.0.0\"}}"));
        };
        if let Some(key) = o.keys().find(|k| !matches!(k.as_str(), "name" | "version" | "digest")) {
            return Err(format!("`installed[{i}]` has an unknown key `{key}`; accepted: name, version, digest"));
        }
        let text = |key: &str| -> Result<Option<String>, String> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`installed[{i}].{key}` must be a string")),
            }
        };
        let name = text("name")?.filter(|n| !n.trim().is_empty());
        let Some(name) = name else {
            return Err(format!(
                "`installed[{i}].name` is required: `plugin@marketplace` or `plugin@marketplace/skill`"
            ));
        };
        if name.len() > MAX_NAME_LEN {
            return Err(format!("`installed[{i}].name` is over {MAX_NAME_LEN} characters; no plugin or skill name is"));
        }
        items.push(Installed { name, version: text("version")?, digest: text("digest")? });
    }
    Ok(items)
}

pub(super) fn run(ctx: &Context<'_>, args: &CheckArgs) -> Value {
    let items = &args.installed;
    let access = ctx.access();
    let view = ctx.catalogue.view(&access);
    let results = updates::check(view, items);
    let missing = updates::required_missing(view, items);
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    let summary = json!({
        "upToDate": count(Status::UpToDate),
        "updateAvailable": count(Status::UpdateAvailable),
        "removed": count(Status::Removed),
        "ambiguous": count(Status::Ambiguous),
        "unknown": count(Status::Unknown),
    });
    let lines: Vec<String> = results
        .iter()
        .filter(|r| r.status != Status::UpToDate)
        .map(|r| format!("- {}: {}", r.name, r.detail))
        .collect();
    let up_to_date = results.len() - lines.len();
    let results = serde_json::to_value(&results).unwrap_or_else(|_| json!([]));
    let mut structured = json!({"results": results, "summary": summary});
    if access.has_policies() {
        let missing: Vec<Value> = missing
            .iter()
            .map(|p| {
                let mut o = json!({
                    "name": p.qualified_name(),
                    "detail": format!(
                        "`{}` is required for you and not installed: fetch its skills with fetch_skill",
                        p.qualified_name()
                    ),
                });
                if let Some((v, _)) = updates::catalogue_version(p) {
                    o["latestVersion"] = json!(v);
                }
                o
            })
            .collect();
        structured["summary"]["requiredMissing"] = json!(missing.len());
        structured["requiredMissing"] = Value::Array(missing);
    }
    let mut out = tool_ok(structured);
    // The text copy of a long list would double it past the limit: clients that read only text get the summary and
    // what needs attention instead; `structuredContent` stays complete.
    if out.to_string().len() > MAX_RESULT_CHARS {
        let mut text = format!("{up_to_date} up to date. Summary: {summary}");
        for line in lines {
            text.push('\n');
            text.push_str(&line);
        }
        for p in &missing {
            text.push_str(&format!("\n- {}: required for you, not installed", p.qualified_name()));
        }
        out["content"][0]["text"] = json!(text);
    }
    out
}
