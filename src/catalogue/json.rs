//! The catalogue as JSON: the summary and detail of a plugin, the notes on marketplaces that are not current, and
//! the fast writer that listings use to put already-serialized JSON inside a JSON string without parsing it again.
//!
//! Every byte here reaches clients (tool results, their text copies, the SEP-2640 skill digests computed over them),
//! so members are written in the order serde_json writes an object (its `Map` is sorted by key) and strings are
//! escaped exactly as serde_json escapes them: rendering the same plugin twice gives the same bytes.
//!
//! The writer is [`escape_into`] (a string's inside, as serde_json escapes it), [`JsonTwin`] (a JSON text and its
//! escaped copy side by side) and [`RawObject`] (an object from already-serialized members, in key order).
//!
//! Not for: deciding what a user may see (that is `View`'s; everything here renders what a [`PluginRef`] shows), or
//! what a JSON-RPC result holds (`mcp` assembles it with the writer).

use super::{surface, PluginRef, View};
use serde_json::{json, Map, Value};
use skillport_sources::load::PluginStatus;
use std::collections::BTreeMap;

/// `text` as the inside of a JSON string (without the quotes), exactly as serde_json escapes it: `"` and `\`, and
/// the control characters (`\n`, `\t`, ..., else `\u00xx`); everything else as it is. Escaping works character by
/// character, so escaping parts and joining them gives what escaping the whole gives.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

/// [`escaped`], appended to `out`.
pub fn escape_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Only ASCII bytes end a run, so `start..i` is whole characters.
        out.push_str(&text[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// What a caller should know about marketplaces that are not current: never loaded (their plugins are missing from
/// the listing), or served from an older copy because the last refresh failed (with how old that copy is). Only
/// marketplaces the view's user may be shown.
pub fn marketplace_notes(view: View<'_>, now: u64) -> Vec<Value> {
    view.marketplaces()
        .filter_map(|m| {
            let mut note = match (&m.loaded, &m.error) {
                (Err(e), _) => json!({"marketplace": m.id, "error": e, "served": false}),
                (Ok(_), Some(e)) => {
                    let fetched = m.fetched_at.unwrap_or(0);
                    json!({
                        "marketplace": m.id,
                        "error": e,
                        "served": true,
                        "copyFetchedAt": crate::clock::rfc3339(fetched),
                        "copyAgeSeconds": now.saturating_sub(fetched),
                    })
                }
                (Ok(_), None) if m.refresh.loading.is_some() => json!({"marketplace": m.id, "served": true}),
                (Ok(_), None) => return None,
            };
            if let Some(loading) = &m.refresh.loading {
                note["loading"] = json!(loading.to_string());
            }
            if let Some(t) = m.refresh.retry_at.filter(|t| *t > now) {
                note["nextRefreshAt"] = json!(crate::clock::rfc3339(t));
            }
            Some(note)
        })
        .collect()
}

/// Compact JSON of a plugin for listings.
pub fn summary_json(p: &PluginRef<'_>) -> Value {
    let entry = p.plugin.entry.as_ref();
    let mut o = Map::new();
    o.insert("name".into(), json!(p.qualified_name()));
    o.insert("plugin".into(), json!(p.plugin.name));
    o.insert("marketplace".into(), json!(p.marketplace.id));
    // A repository that is not a marketplace says how it was read: a single plugin, or a plugin per skill folder.
    if let Ok(loaded) = &p.marketplace.loaded {
        let layout = skillport_sources::layout::layout_of(&loaded.manifest.extra);
        if layout != skillport_sources::Layout::Marketplace {
            o.insert("layout".into(), json!(layout.as_str()));
        }
    }
    if let Some(d) = p.description() {
        o.insert("description".into(), json!(d));
    }
    if let Some(v) = p.plugin.version() {
        o.insert("version".into(), json!(v));
    }
    if let Some(c) = entry.and_then(|e| e.category.as_deref()) {
        o.insert("category".into(), json!(c));
    }
    if let Some(e) = entry {
        if !e.tags.is_empty() {
            o.insert("tags".into(), json!(e.tags));
        }
        if !e.keywords.is_empty() {
            o.insert("keywords".into(), json!(e.keywords));
        }
    }
    o.insert("surfaces".into(), json!(p.surfaces().into_iter().map(surface::name).collect::<Vec<_>>()));
    if let Some(policy) = p.policy() {
        o.insert("policy".into(), json!(policy.as_str()));
    }
    status_into(&p.plugin.status, &mut o);
    o.insert(
        "skills".into(),
        Value::Array(
            p.skills()
                .map(|s| {
                    let mut so = Map::new();
                    so.insert("name".into(), json!(s.name));
                    if let Some(d) = &s.description {
                        so.insert("description".into(), json!(d));
                    }
                    Value::Object(so)
                })
                .collect(),
        ),
    );
    Value::Object(o)
}

fn status_into(status: &PluginStatus, o: &mut Map<String, Value>) {
    match status {
        PluginStatus::Servable => {
            o.insert("status".into(), json!("servable"));
        }
        PluginStatus::NotServable { reason } => {
            o.insert("status".into(), json!("not_servable"));
            o.insert("reason".into(), json!(skillport_sources::shown_locations(reason)));
        }
        PluginStatus::Invalid { reason } => {
            o.insert("status".into(), json!("invalid"));
            o.insert("reason".into(), json!(skillport_sources::shown_locations(reason)));
        }
    }
}

/// `value` with every string in it as users may see it (`shown_locations`): a plugin's source as marketplace.json
/// wrote it may hold a URL with a key in its query or user part.
fn shown_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(skillport_sources::shown_locations(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(shown_json).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, shown_json(v))).collect()),
        other => other,
    }
}

/// Everything about one plugin: metadata, skills with their files and digests, where it comes from.
pub fn detail_json(p: &PluginRef<'_>) -> Value {
    let mut v = summary_json(p);
    let o = v.as_object_mut().expect("summary is an object");
    let entry = p.plugin.entry.as_ref();
    let manifest = p.plugin.manifest.as_ref();
    if let Some(e) = entry {
        o.insert("source".into(), json!({ "kind": e.source.kind(), "spec": shown_json(json!(e.source)) }));
        if let Some(a) = &e.author {
            o.insert("author".into(), json!(a));
        }
        for (k, val) in [("homepage", &e.homepage), ("license", &e.license)] {
            if let Some(val) = val {
                o.insert(k.into(), json!(val));
            }
        }
        if let Some(r) = &e.repository {
            o.insert("repository".into(), r.clone());
        }
    }
    if let Some(m) = manifest {
        if !o.contains_key("author") {
            if let Some(a) = &m.author {
                o.insert("author".into(), json!(a));
            }
        }
        for (k, val) in [("homepage", &m.homepage), ("license", &m.license)] {
            if let (false, Some(val)) = (o.contains_key(k), val) {
                o.insert(k.into(), json!(val));
            }
        }
    }
    o.insert("digest".into(), json!(p.digest()));
    if let Some(rev) = &p.marketplace.revision {
        o.insert("marketplaceRevision".into(), json!(rev));
    }
    o.insert(
        "skills".into(),
        Value::Array(
            p.skills()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "description": s.description,
                        "path": s.dir,
                        "digest": s.digest,
                        "frontmatter": s.frontmatter,
                        "files": s.files.iter().map(|f| json!({"path": f.path, "size": f.size, "sha256": f.sha256})).collect::<Vec<_>>(),
                        "problems": shown_json(json!(s.problems)),
                    })
                })
                .collect(),
        ),
    );
    if !p.plugin.commands.is_empty() {
        o.insert("commands".into(), json!(p.plugin.commands));
    }
    if !p.plugin.problems.is_empty() {
        o.insert("problems".into(), shown_json(json!(p.plugin.problems)));
    }
    v
}

/// A JSON text and the same text escaped as the inside of a JSON string, written side by side: a tool result's
/// structured copy and its text copy in one pass, without serializing the result twice.
#[derive(Debug, Default)]
pub struct JsonTwin {
    /// The JSON as written.
    pub json: String,
    /// [`escaped`] of `json`, as it stood after each write.
    pub text: String,
}

impl JsonTwin {
    /// Empty, with room for `json_bytes` of JSON (and its escaped copy).
    pub fn with_capacity(json_bytes: usize) -> Self {
        JsonTwin { json: String::with_capacity(json_bytes), text: String::with_capacity(json_bytes * 9 / 8) }
    }

    /// Appends `json` to the JSON, and it escaped to the text.
    pub fn push(&mut self, json: &str) {
        self.json.push_str(json);
        escape_into(&mut self.text, json);
    }

    /// Appends `json` whose escaped form the caller already has (a listing row's precomputed summary).
    pub fn push_escaped(&mut self, json: &str, escaped: &str) {
        self.json.push_str(json);
        self.text.push_str(escaped);
    }
}

/// A JSON object whose members are already serialized, kept in key order: a result assembled from fragments the
/// catalogue serialized once (`list_plugins`), which would cost more to parse back into a [`Value`] than to write.
/// It serializes exactly as the same object held in a [`Value`] does (serde_json's `Map` is sorted by key too), in
/// one pass into one buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawObject(BTreeMap<&'static str, RawMember>);

#[derive(Debug, Clone, PartialEq)]
enum RawMember {
    /// One serialized JSON value.
    Json(std::borrow::Cow<'static, str>),
    Object(RawObject),
}

impl RawObject {
    /// Sets `key` to `json`, which must be one serialized JSON value.
    pub fn insert_raw(&mut self, key: &'static str, json: impl Into<std::borrow::Cow<'static, str>>) {
        self.0.insert(key, RawMember::Json(json.into()));
    }

    pub fn insert(&mut self, key: &'static str, value: &Value) {
        self.insert_raw(key, value.to_string());
    }

    pub fn insert_object(&mut self, key: &'static str, object: RawObject) {
        self.0.insert(key, RawMember::Object(object));
    }

    /// The member `key` as a [`Value`] (parsed: for the rare paths that must look inside).
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.0.get(key)? {
            RawMember::Json(json) => serde_json::from_str(json).ok(),
            RawMember::Object(o) => serde_json::from_str(&o.to_string()).ok(),
        }
    }

    /// The serialized length.
    pub fn len(&self) -> usize {
        let members: usize = self
            .0
            .iter()
            .map(|(k, v)| {
                k.len()
                    + 4
                    + match v {
                        RawMember::Json(json) => json.len(),
                        RawMember::Object(o) => o.len(),
                    }
            })
            .sum();
        members + 1
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn write_to(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Keys are ours: identifiers that need no escaping.
            debug_assert!(k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{k}");
            out.push('"');
            out.push_str(k);
            out.push_str("\":");
            match v {
                RawMember::Json(json) => out.push_str(json),
                RawMember::Object(o) => o.write_to(out),
            }
        }
        out.push('}');
    }
}

impl std::fmt::Display for RawObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(self.len());
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::{escaped, JsonTwin, RawObject};

    #[test]
    fn escaping_is_serde_jsons() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("Ünïcode \u{2028} \u{1F600} \\\" end");
        for text in [all.as_str(), "", "plain", "\"", "a\u{1}b", "\u{7f}"] {
            let quoted = serde_json::to_string(text).unwrap();
            assert_eq!(escaped(text), quoted[1..quoted.len() - 1], "{text:?}");
        }
    }

    #[test]
    fn the_twin_text_is_the_json_as_a_json_string() {
        let value = serde_json::json!({"a": "line\nbreak \"quoted\"", "b": [1, "\u{1}"]});
        let mut twin = JsonTwin::with_capacity(64);
        twin.push("{\"a\":");
        twin.push(&value["a"].to_string());
        let b = value["b"].to_string();
        twin.push_escaped(",\"b\":", &escaped(",\"b\":"));
        twin.push(&b);
        twin.push("}");
        assert_eq!(twin.json, value.to_string());
        assert_eq!(serde_json::from_str::<String>(&format!("\"{}\"", twin.text)).unwrap(), twin.json);
    }

    #[test]
    fn a_raw_object_serializes_as_the_same_value_does() {
        let value = serde_json::json!({
            "structuredContent": {"plugins": [{"name": "a@b"}], "total": 1},
            "content": [{"text": "x\"y", "type": "text"}],
            "isError": false,
        });
        let mut inner = RawObject::default();
        inner.insert_raw("total", "1");
        inner.insert("plugins", &value["structuredContent"]["plugins"]);
        let mut raw = RawObject::default();
        raw.insert_raw("isError", "false");
        raw.insert_object("structuredContent", inner);
        raw.insert("content", &value["content"]);
        assert_eq!(raw.to_string(), value.to_string());
        assert_eq!(raw.len(), value.to_string().len());
        assert_eq!(raw.get("content"), Some(value["content"].clone()));
        assert_eq!(raw.get("structuredContent"), Some(value["structuredContent"].clone()));
        assert!(!raw.is_empty() && RawObject::default().is_empty());
    }
}
