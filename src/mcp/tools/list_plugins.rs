//! `list_plugins`: the catalogue the caller may see, filtered and paged, written as bytes from the summaries the
//! catalogue serialized once per marketplace.

use super::{str_arg, MAX_RESULT_CHARS};
use crate::catalogue::json::JsonTwin;
use crate::catalogue::{self, cursor, surface, Filter};
use crate::config::{InstallPolicy, Surface};
use crate::mcp::{Context, RawObject, Reply};
use serde_json::Value;
use std::borrow::Cow;

const DEFAULT_PAGE: usize = 50;
pub(super) const MAX_PAGE: usize = 200;

/// The arguments of `list_plugins`: the filter, the offset its cursor stands for, and the page size.
pub(super) struct ListArgs {
    pub(super) filter: Filter,
    pub(super) offset: usize,
    pub(super) limit: usize,
}

impl ListArgs {
    /// The error is the tool error for the model.
    pub(super) fn parse(default_surface: Option<Surface>, args: &Value) -> Result<ListArgs, String> {
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
            policy: match str_arg(args, "policy") {
                Some(p) => Some(
                    InstallPolicy::parse(&p)
                        .ok_or_else(|| format!("invalid policy `{p}`: use one of required, recommended, available"))?,
                ),
                None => None,
            },
        };
        let offset = match args.get("cursor").and_then(Value::as_str) {
            Some(c) => cursor::decode(c)
                .ok_or("invalid cursor: pass the `nextCursor` of the previous page unchanged".to_string())?,
            None => 0,
        };
        let limit = args.get("limit").and_then(Value::as_u64).map(|l| l as usize).unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
        Ok(ListArgs { filter, offset, limit })
    }
}

/// The listing, written as bytes: each plugin's summary is the one its marketplace's `catalogue::Listing` serialized
/// once (or, for a user some of its skills are hidden from, serialized for them), and the result around them is
/// written directly, so a call neither builds a `Value` per plugin nor serializes the page three times (size check,
/// text copy, response).
pub(super) fn run(ctx: &Context<'_>, args: ListArgs) -> Reply {
    let ListArgs { filter, offset, limit } = args;
    let surface = filter.surface;
    let access = ctx.access();
    let view = ctx.catalogue.view(&access);
    // The plugins from `offset` on, and the listing's total: counted and skipped without visiting every plugin
    // when the view and filter allow it, else by walking the whole listing.
    let (total, page, size) = match view.listed_from(&filter, offset) {
        Some((total, rest)) => {
            let (page, size, _) = take_page(rest, limit);
            (total, page, size)
        }
        None => {
            let mut listed = view.listed(&filter);
            let before = listed.by_ref().take(offset).count();
            let (page, size, taken) = take_page(listed.by_ref(), limit);
            (before + taken + listed.count(), page, size)
        }
    };
    let next = offset + page.len();

    // The structured result, written twice at once: as JSON, and escaped for the text copy (each summary's escaped
    // form is precomputed too). The members go in key order, as serde_json writes an object.
    let mut out = JsonTwin::with_capacity(size + page.len() + 256);
    out.push("{");
    let notes = catalogue::marketplace_notes(view, crate::clock::now_unix());
    if !notes.is_empty() {
        out.push("\"marketplaceErrors\":");
        out.push(&Value::Array(notes).to_string());
        out.push(",");
    }
    if next < total {
        out.push(&format!("\"nextCursor\":{},", Value::from(cursor::encode(next))));
    }
    out.push("\"plugins\":[");
    for (i, (summary, escaped)) in page.iter().enumerate() {
        if i > 0 {
            out.push(",");
        }
        out.push_escaped(summary, escaped);
    }
    out.push("],");
    if let Some(s) = surface {
        out.push(&format!("\"surface\":{},", Value::from(surface::name(s))));
    }
    out.push(&format!("\"total\":{total}}}"));
    Reply::Raw(tool_ok_raw(out.json, &out.text))
}

/// The page: up to `limit` summaries (each serialized, and escaped) from `listed`, fewer when the next would take the
/// text and structured copies together over the result limit; with their length, and how many plugins it took of
/// `listed` (one more than it kept when the size limit stopped it).
fn take_page<'a>(
    mut listed: impl Iterator<Item = catalogue::Listed<'a>>,
    limit: usize,
) -> (Vec<(Cow<'a, str>, Cow<'a, str>)>, usize, usize) {
    let mut page = Vec::new();
    let mut size = 0;
    let mut taken = 0;
    // The limit is checked before taking the next plugin: the caller counts what is left of `listed`.
    while page.len() < limit {
        let Some(listed) = listed.next() else { break };
        taken += 1;
        let (summary, escaped) = listed.summary();
        // Keep the text copy and the structured copy together under the result limit.
        if !page.is_empty() && (size + summary.len()) * 2 > MAX_RESULT_CHARS {
            break;
        }
        size += summary.len();
        page.push((summary, escaped));
    }
    (page, size, taken)
}

/// [`tool_ok`](super::tool_ok) of a result already serialized (`structured`, and `escaped`, it escaped as the inside of a JSON
/// string): the same object, written from its parts.
fn tool_ok_raw(structured: String, escaped: &str) -> RawObject {
    let mut content = String::with_capacity(escaped.len() + 32);
    content.push_str("[{\"text\":\"");
    content.push_str(escaped);
    content.push_str("\",\"type\":\"text\"}]");
    let mut o = RawObject::default();
    o.insert_raw("content", content);
    o.insert_raw("isError", "false");
    o.insert_raw("structuredContent", structured);
    o
}
