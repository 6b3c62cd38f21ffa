//! The skills extension (SEP-2640, `io.modelcontextprotocol/skills`) and the resources behind it.
//!
//! Every file of every servable skill is a resource at `skill://<marketplace>/<plugin>/<skill>/<path>`; a skill is
//! named by its entry file `…/<skill>/SKILL.md`, and `<skill>`, the last segment of its path, is the `name` its
//! frontmatter declares (which is also its folder's name: a skill whose name and folder disagree, or whose name
//! breaks the Agent Skills naming rules, is not offered through the extension). `skills/list` and `skills/get` give
//! each skill's frontmatter exactly as its SKILL.md declares it and every file with its size and `sha256:` digest,
//! so a host can verify what it reads. Directories (the skill's root and every folder in it) are resources of type
//! `inode/directory`, written without a trailing slash, listed by `resources/directory/read`.
//!
//! Every method reads the catalogue through the caller's `catalogue::View` (their access rules): a skill they may not
//! see (or whose plugin they may not see) is in no listing or page, and reading, getting or listing the directory of
//! any of its URIs answers the very error a URI that never existed gets. The resource templates are fixed patterns
//! that name nothing in the catalogue.

use super::{Context, RpcError, RpcResult, INVALID_PARAMS, RESOURCE_NOT_FOUND};
use crate::catalogue::content::{self, Content};
use crate::catalogue::{cursor, MarketplaceEntry, View};
use serde_json::{json, Map, Value};
use skillport_sources::load::{LoadedPlugin, Skill};

pub const EXTENSION: &str = "io.modelcontextprotocol/skills";
const SKILLS_PAGE: usize = 50;
/// The extension's per-skill limits: every conforming host loads a skill within them, none has to load one beyond.
const MAX_SKILL_FILES: usize = 512;
const MAX_SKILL_BYTES: u64 = 16 * 1024 * 1024;
const RESOURCES_PAGE: usize = 200;

/// Characters kept verbatim in a URI path segment; everything else is percent-encoded.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `skill://<marketplace>/<plugin>/<skill>/<path>`; `path` keeps its `/` separators. An empty `path` gives the
/// skill's root directory, `skill://<marketplace>/<plugin>/<skill>` (directory URIs have no trailing slash).
pub fn skill_uri(marketplace: &str, plugin: &str, skill: &str, path: &str) -> String {
    let mut uri =
        format!("skill://{}/{}/{}", encode_segment(marketplace), encode_segment(plugin), encode_segment(skill));
    for seg in path.split('/').filter(|p| !p.is_empty()) {
        uri.push('/');
        uri.push_str(&encode_segment(seg));
    }
    uri
}

/// A parsed `skill://` URI: marketplace, plugin, skill and the (possibly empty) path inside the skill.
#[derive(Debug, PartialEq)]
pub struct SkillUri {
    pub marketplace: String,
    pub plugin: String,
    pub skill: String,
    pub path: String,
}

pub fn parse_skill_uri(uri: &str) -> Option<SkillUri> {
    let rest = uri.strip_prefix("skill://")?;
    let mut parts = rest.splitn(4, '/');
    let marketplace = decode_segment(parts.next()?)?;
    let plugin = decode_segment(parts.next()?)?;
    let skill = decode_segment(parts.next()?)?;
    let raw_path = parts.next().unwrap_or("");
    let mut segs = Vec::new();
    for seg in raw_path.split('/').filter(|s| !s.is_empty()) {
        let seg = decode_segment(seg)?;
        // A path never climbs out of its skill, whatever the encoding.
        if seg == "." || seg == ".." || seg.contains('/') || seg.contains('\\') {
            return None;
        }
        segs.push(seg);
    }
    if marketplace.is_empty() || plugin.is_empty() || skill.is_empty() {
        return None;
    }
    Some(SkillUri { marketplace, plugin, skill, path: segs.join("/") })
}

/// A servable skill of the catalogue with where it lives.
#[derive(Clone)]
struct SkillRef<'a> {
    marketplace: &'a MarketplaceEntry,
    plugin: &'a LoadedPlugin,
    skill: &'a Skill,
}

impl SkillRef<'_> {
    fn uri(&self, path: &str) -> String {
        skill_uri(&self.marketplace.id, &self.plugin.name, &self.skill.name, path)
    }

    fn read(&self, path: &str) -> Option<&[u8]> {
        let full = if self.skill.dir.is_empty() { path.to_string() } else { format!("{}/{}", self.skill.dir, path) };
        self.marketplace.files.get(&full)
    }

    /// The skills offered through the extension: a frontmatter with a name and a description (a host cannot load a
    /// skill without them), the name the last segment of the skill's URI and the name of its folder and valid by the
    /// Agent Skills rules, a SKILL.md, and within the extension's limits. `get_plugin` reports the problem of any
    /// other skill, and `fetch_skill` still serves it.
    fn listable(&self) -> bool {
        let fm = &self.skill.frontmatter;
        // The loader's notion of the folder: a skill at the root of the marketplace is named after its plugin.
        let folder = match self.skill.dir.rsplit('/').next() {
            Some(f) if !f.is_empty() => f,
            _ => &self.plugin.name,
        };
        let named = fm
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n == self.skill.name && n == folder && skillport_sources::load::is_valid_skill_name(n));
        named
            && fm.get("description").and_then(Value::as_str).is_some()
            && self.skill.files.iter().any(|f| f.path == "SKILL.md")
            && self.skill.files.len() <= MAX_SKILL_FILES
            && self.skill.files.iter().map(|f| f.size).sum::<u64>() <= MAX_SKILL_BYTES
    }

    fn mime(&self, path: &str) -> &'static str {
        self.read(path).map(|b| content::mime_of(path, b)).unwrap_or_else(|| content::text_mime(path))
    }

    /// The extension's `Skill` entry, exactly its shape: the SKILL.md URI, the frontmatter verbatim, and every file
    /// with its digest and size (the plugin is in the URI; `get_plugin` gives the rest).
    fn entry(&self) -> Value {
        let resources: Vec<Value> = self
            .skill
            .files
            .iter()
            .map(|f| json!({"uri": self.uri(&f.path), "digest": f.sha256, "size": f.size}))
            .collect();
        json!({
            "uri": self.uri("SKILL.md"),
            "frontmatter": self.skill.frontmatter,
            "resources": resources,
        })
    }
}

/// Every servable skill the user of `view` may see.
fn skills<'a>(view: View<'a>) -> impl Iterator<Item = SkillRef<'a>> + 'a {
    view.plugins()
        .filter(|p| p.plugin.status.is_servable())
        .flat_map(|p| p.skills().map(move |s| SkillRef { marketplace: p.marketplace, plugin: p.plugin, skill: s }))
}

fn find_skill<'a>(view: View<'a>, u: &SkillUri) -> Option<SkillRef<'a>> {
    skills(view).find(|s| s.marketplace.id == u.marketplace && s.plugin.name == u.plugin && s.skill.name == u.skill)
}

fn uri_param(params: &Value) -> Result<&str, RpcError> {
    params.get("uri").and_then(Value::as_str).ok_or_else(|| RpcError::new(INVALID_PARAMS, "`uri` is required"))
}

fn not_found(uri: &str) -> RpcError {
    RpcError {
        code: RESOURCE_NOT_FOUND,
        message: format!("Resource not found: {uri}"),
        data: Some(json!({"uri": uri})),
    }
}

/// `skills/get` of a URI that names no skill served (to this user): invalid params, as the extension specifies.
fn no_skill(uri: &str) -> RpcError {
    RpcError { code: INVALID_PARAMS, message: format!("No skill is served at {uri}"), data: Some(json!({"uri": uri})) }
}

/// `resources/directory/read` of a URI that is no directory served (to this user): invalid params.
fn not_a_directory(uri: &str) -> RpcError {
    RpcError {
        code: INVALID_PARAMS,
        message: format!("{uri} is not a directory resource"),
        data: Some(json!({"uri": uri})),
    }
}

/// Offset from a request's `cursor`; a cursor we did not issue is an error, never a silent restart.
pub(super) fn offset(params: &Value) -> Result<usize, RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(c)) => cursor::decode(c).ok_or_else(|| RpcError::new(INVALID_PARAMS, "invalid cursor")),
        Some(_) => Err(RpcError::new(INVALID_PARAMS, "invalid cursor: must be a string")),
    }
}

/// One page of `items`, turned into JSON by `render` only for the items on the page: listings of a large catalogue
/// must not build (and sniff the content of) every file to return two hundred of them.
pub(super) fn page<I: Iterator>(
    items: I,
    start: usize,
    size: usize,
    key: &str,
    render: impl Fn(I::Item) -> Value,
) -> Value {
    let mut items = items.skip(start);
    let page: Vec<Value> = items.by_ref().take(size).map(render).collect();
    let mut out = Map::new();
    out.insert(key.into(), Value::Array(page));
    if items.next().is_some() {
        out.insert("nextCursor".into(), json!(cursor::encode(start + size)));
    }
    Value::Object(out)
}

/// The extension's results are cacheable in every era (its `CacheableResult`): private, since what a user sees
/// depends on their access rules, and not to be reused (0 ms), since a catalogue refresh changes them unannounced.
/// The stateless era stamps the same hints on every cacheable result (`era::stamp_result`).
fn with_cache_hints(mut result: Value) -> Value {
    if let Some(o) = result.as_object_mut() {
        o.insert("ttlMs".into(), json!(0));
        o.insert("cacheScope".into(), json!("private"));
    }
    result
}

pub fn skills_list(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let start = offset(params)?;
    let access = ctx.access();
    let listed =
        page(skills(ctx.catalogue.view(&access)).filter(SkillRef::listable), start, SKILLS_PAGE, "skills", |s| {
            s.entry()
        });
    Ok(with_cache_hints(listed))
}

pub fn skills_get(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let uri = uri_param(params)?;
    let access = ctx.access();
    let found = parse_skill_uri(uri)
        .filter(|u| u.path.is_empty() || u.path == "SKILL.md")
        .and_then(|u| find_skill(ctx.catalogue.view(&access), &u))
        .filter(SkillRef::listable);
    match found {
        Some(s) => Ok(with_cache_hints(json!({"skill": s.entry()}))),
        None => Err(no_skill(uri)),
    }
}

/// A skill file as a resource. A SKILL.md is named after its skill and described by its description, as the
/// extension asks.
fn resource(s: &SkillRef<'_>, path: &str, size: u64) -> Value {
    let mut r = json!({
        "uri": s.uri(path),
        "name": format!("{}/{}", s.skill.name, path),
        "title": format!("{} — {} ({})", s.skill.name, path, s.plugin.name),
        "mimeType": s.mime(path),
        "size": size,
    });
    if path == "SKILL.md" {
        r["name"] = json!(s.skill.name);
        if let Some(d) = s.skill.frontmatter.get("description").filter(|d| d.is_string()) {
            r["description"] = d.clone();
        }
    }
    r
}

pub fn resources_list(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let start = offset(params)?;
    let access = ctx.access();
    let files = skills(ctx.catalogue.view(&access)).flat_map(|s| s.skill.files.iter().map(move |f| (s.clone(), f)));
    Ok(page(files, start, RESOURCES_PAGE, "resources", |(s, f)| resource(&s, &f.path, f.size)))
}

pub fn templates_list(params: &Value) -> RpcResult {
    offset(params).and_then(|o| {
        if o != 0 {
            return Err(RpcError::new(INVALID_PARAMS, "invalid cursor: resources/templates/list has a single page"));
        }
        Ok(json!({"resourceTemplates": [
            {"uriTemplate": "skill://{marketplace}/{plugin}/{skill}/SKILL.md", "name": "skill",
             "title": "A skill's entry file", "mimeType": "text/markdown",
             "description": "The SKILL.md of a skill; list_plugins and skills/list give the names."},
            {"uriTemplate": "skill://{marketplace}/{plugin}/{skill}/{+path}", "name": "skill-file",
             "title": "A file of a skill", "description": "Any file inside a skill folder, by its path in the skill."}
        ]}))
    })
}

pub fn resources_read(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let uri = uri_param(params)?;
    let u = parse_skill_uri(uri).ok_or_else(|| not_found(uri))?;
    let access = ctx.access();
    let s = find_skill(ctx.catalogue.view(&access), &u).ok_or_else(|| not_found(uri))?;
    let path = if u.path.is_empty() { "SKILL.md".to_string() } else { u.path.clone() };
    if !s.skill.files.iter().any(|f| f.path == path) {
        return Err(not_found(uri));
    }
    let bytes = s.read(&path).ok_or_else(|| not_found(uri))?;
    let item = match content::classify(bytes) {
        Content::Text(text) => json!({"uri": uri, "mimeType": content::text_mime(&path), "text": text}),
        Content::Binary { mime } => {
            json!({"uri": uri, "mimeType": mime, "blob": content::base64_encode(bytes)})
        }
    };
    Ok(json!({"contents": [item]}))
}

pub fn directory_read(ctx: &Context<'_>, params: &Value) -> RpcResult {
    let uri = uri_param(params)?;
    let start = offset(params)?;
    let u = parse_skill_uri(uri).ok_or_else(|| not_a_directory(uri))?;
    let access = ctx.access();
    let s = find_skill(ctx.catalogue.view(&access), &u).ok_or_else(|| not_a_directory(uri))?;
    let prefix = if u.path.is_empty() { String::new() } else { format!("{}/", u.path) };
    let mut children: Vec<Value> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for f in &s.skill.files {
        let Some(rest) = f.path.strip_prefix(&prefix) else { continue };
        match rest.split_once('/') {
            None => children.push(resource(&s, &f.path, f.size)),
            Some((dir, _)) => {
                let d = format!("{prefix}{dir}");
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
    }
    if children.is_empty() && dirs.is_empty() {
        return Err(not_a_directory(uri));
    }
    for d in dirs {
        let name = d.rsplit('/').next().unwrap_or(&d).to_string();
        children.push(json!({"uri": s.uri(&d), "name": name, "mimeType": "inode/directory"}));
    }
    Ok(page(children.into_iter(), start, RESOURCES_PAGE, "resources", |v| v))
}

#[cfg(test)]
mod tests;
