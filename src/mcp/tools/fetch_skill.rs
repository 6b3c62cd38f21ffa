//! `fetch_skill`: one skill's files, a signed `.skill` download link (see `crate::download`) and install steps for
//! the caller's surface. The skill is resolved among those the caller may see, so only such a skill gets a link.

use super::{str_arg, tool_error, tool_ok, MAX_RESULT_CHARS};
use crate::catalogue::content::{self, Content};
use crate::catalogue::updates;
use crate::catalogue::{surface, LookupError, PluginRef, View};
use crate::config::{SourceKind, Surface};
use crate::mcp::Context;
use serde_json::{json, Map, Value};
use skillport_sources::Skill;

/// The arguments of `fetch_skill`.
pub(super) struct FetchArgs {
    /// `plugin@marketplace/skill`, `plugin@marketplace`, or a bare skill or plugin name (empty when blank).
    pub(super) name: String,
    /// The surface to write install steps for: the one asked for, else the calling client's, else every surface.
    pub(super) surface: Option<Surface>,
}

impl FetchArgs {
    /// Never fails: the schema check already refused a missing or ill-typed argument, and a surface it lets through
    /// that names none falls back to the client's.
    pub(super) fn parse(default_surface: Option<Surface>, args: &Value) -> FetchArgs {
        let surface =
            str_arg(args, "surface").and_then(|s| surface::parse_surfaces(&s)).and_then(|v| v.first().copied());
        FetchArgs { name: str_arg(args, "name").unwrap_or_default(), surface: surface.or(default_surface) }
    }
}

/// Finds the one skill `name` means among those the caller may see, or says (for the model) why it cannot: unknown,
/// ambiguous with the candidates to choose from, a plugin with several skills, or a plugin that is not servable.
fn resolve_skill<'a>(view: View<'a>, name: &str) -> Result<(PluginRef<'a>, &'a Skill), String> {
    let name = name.trim();
    if let Some((plugin, skill)) = name.split_once('/') {
        let p = servable(view.find(plugin.trim()).map_err(|e| e.to_string())?)?;
        let skill = skill.trim().trim_end_matches('/');
        // By name, else by folder name (the two differ when the frontmatter renames the skill).
        let found = p
            .skills()
            .find(|s| s.name == skill)
            .or_else(|| p.skills().find(|s| !skill.is_empty() && s.dir.rsplit('/').next() == Some(skill)));
        return found.map(|s| (p, s)).ok_or_else(|| {
            format!("plugin `{}` has no skill `{skill}`; its skills: {}", p.qualified_name(), skill_names(&p))
        });
    }
    if name.contains('@') {
        return only_skill(servable(view.find(name).map_err(|e| e.to_string())?)?);
    }
    // A bare name: a skill first, then a plugin with a single skill.
    let hits: Vec<(PluginRef<'a>, &'a Skill)> = view.skills_named(name).collect();
    match hits.as_slice() {
        [(p, s)] => Ok((servable(*p)?, s)),
        [] => match view.find(name) {
            Ok(p) => only_skill(servable(p)?),
            Err(LookupError::NotFound(_)) => Err(format!(
                "no skill or plugin named `{name}` in the catalogue; call list_plugins (with `query`) to find the \
                 name, then pass `plugin@marketplace/skill`"
            )),
            Err(e) => Err(e.to_string()),
        },
        many => {
            let candidates: Vec<String> = many.iter().map(|(p, s)| p.name().with_skill(&s.name).to_string()).collect();
            Err(format!(
                "`{name}` is ambiguous: several plugins have a skill by that name; pass one of {}",
                candidates.join(", ")
            ))
        }
    }
}

fn servable(p: PluginRef<'_>) -> Result<PluginRef<'_>, String> {
    match p.plugin.status.reason() {
        None => Ok(p),
        Some(why) => Err(format!(
            "`{}` is listed but its files cannot be served by this connector ({why}); it can only be installed from \
             its own source",
            p.qualified_name()
        )),
    }
}

fn skill_names(p: &PluginRef<'_>) -> String {
    let names: Vec<String> = p.skills().map(|s| format!("{}/{}", p.qualified_name(), s.name)).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn only_skill<'a>(p: PluginRef<'a>) -> Result<(PluginRef<'a>, &'a Skill), String> {
    let skills: Vec<&'a Skill> = p.skills().collect();
    match skills.as_slice() {
        [one] => Ok((p, *one)),
        [] => Err(format!(
            "plugin `{}` has no skills (it may offer commands, agents or hooks only); get_plugin describes it",
            p.qualified_name()
        )),
        _ => {
            Err(format!("plugin `{}` has {} skills; name one of {}", p.qualified_name(), skills.len(), skill_names(&p)))
        }
    }
}

/// How to install the skill on `surface` (every surface when unknown), in a sentence or two.
fn install_text(
    ctx: &Context<'_>,
    surface: Option<Surface>,
    p: &PluginRef<'_>,
    skill: &Skill,
    link: Option<&crate::download::Link>,
) -> String {
    let folder = crate::catalogue::package::package_folder(skill).unwrap_or(&skill.name);
    let upload = match link {
        Some(l) => format!(
            "download {} from the download link (valid {} minutes) and upload it in Settings > Capabilities > Skills.",
            l.file_name,
            ctx.config.server.download_ttl_seconds.div_ceil(60)
        ),
        None => format!(
            "save the files into a `{folder}/` folder, zip it as {folder}.skill and upload it in Settings > \
             Capabilities > Skills."
        ),
    };
    let copy = format!("copy the files into `~/.claude/skills/{folder}/`");
    let code = match marketplace_add_source(ctx, p) {
        Some(source) => {
            let market = p.marketplace.loaded.as_ref().map(|l| l.manifest.name.as_str()).unwrap_or(&p.marketplace.id);
            format!(
                "run `/plugin marketplace add {source}` then `/plugin install {}@{market}`, or {copy}.",
                p.plugin.name
            )
        }
        None => format!("{copy}."),
    };
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
    };
    match surface {
        Some(Surface::ClaudeAi) | Some(Surface::ClaudeDesktop) => cap(&upload),
        Some(Surface::ClaudeCode) => cap(&code),
        None => format!("Claude.ai or Claude Desktop: {upload} Claude Code: {code}"),
    }
}

/// What Claude Code's `/plugin marketplace add` takes for this marketplace, when it can reach it itself.
fn marketplace_add_source(ctx: &Context<'_>, p: &PluginRef<'_>) -> Option<String> {
    let m = ctx.config.marketplaces.iter().find(|m| m.id.as_str() == p.marketplace.id)?;
    let host = |default: &str| {
        m.api_base.as_ref().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| default.to_string())
    };
    match m.kind {
        SourceKind::Github if m.api_base.is_none() => Some(m.location.clone()),
        SourceKind::Github => Some(format!("https://{}/{}.git", host("github.com"), m.location)),
        SourceKind::Gitlab if !m.location.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("https://{}/{}.git", host("gitlab.com"), m.location))
        }
        SourceKind::Https => Some(skillport_sources::shown_locations(&m.location).into_owned()),
        SourceKind::Gitlab | SourceKind::Bundled => None,
    }
}

pub(super) fn run(ctx: &Context<'_>, args: &FetchArgs, now: u64) -> Value {
    let access = ctx.access();
    // The access check: only a skill the caller may see resolves, so only such a skill gets a download link below.
    let (p, skill) = match resolve_skill(ctx.catalogue.view(&access), &args.name) {
        Ok(found) => found,
        Err(message) => return tool_error(message),
    };
    let surface = args.surface;
    let qualified = format!("{}/{}", p.qualified_name(), skill.name);
    let uri = |path: &str| crate::mcp::skills::skill_uri(&p.marketplace.id, &p.plugin.name, &skill.name, path);

    let mut files = Vec::with_capacity(skill.files.len());
    for f in &skill.files {
        let full = if skill.dir.is_empty() { f.path.clone() } else { format!("{}/{}", skill.dir, f.path) };
        let Some(bytes) = p.marketplace.files.get(&full) else {
            return tool_error(format!(
                "`{qualified}` lists `{}`, which its marketplace copy does not hold; try again after the catalogue \
                 refreshes",
                f.path
            ));
        };
        let (encoding, mime, text) = match content::classify(bytes) {
            Content::Text(text) => ("utf-8", content::text_mime(&f.path), text.to_string()),
            Content::Binary { mime } => ("base64", mime, content::base64_encode(bytes)),
        };
        files.push(json!({
            "path": f.path, "size": f.size, "sha256": f.sha256, "encoding": encoding, "mimeType": mime, "content": text,
        }));
    }

    let link = crate::download::link(ctx.config, &p, skill, now);
    let mut out = Map::new();
    out.insert("name".into(), json!(qualified));
    out.insert("plugin".into(), json!(p.qualified_name()));
    out.insert("marketplace".into(), json!(p.marketplace.id));
    if let Some((version, _)) = updates::catalogue_version(&p) {
        out.insert("version".into(), json!(version));
    }
    out.insert("digest".into(), json!(skill.digest));
    out.insert("files".into(), Value::Array(files));
    match &link {
        Ok(l) => {
            out.insert(
                "download".into(),
                json!({"url": l.url, "expiresAt": crate::clock::rfc3339(l.expires), "fileName": l.file_name, "sha256": l.sha256}),
            );
        }
        Err(e) => {
            out.insert("downloadError".into(), json!(format!("no download link: {e}")));
        }
    }
    out.insert("install".into(), json!(install_text(ctx, surface, &p, skill, link.as_ref().ok())));
    out.insert("resources".into(), json!(skill.files.iter().map(|f| uri(&f.path)).collect::<Vec<_>>()));
    let mut structured = Value::Object(out);

    // Over the result limit, the largest contents give way (each still readable as a resource) rather than the call
    // failing; the text copy of the result doubles its size.
    while structured.to_string().len() * 2 > MAX_RESULT_CHARS {
        let Some(files) = structured["files"].as_array_mut() else { break };
        let largest = files
            .iter_mut()
            .filter(|f| f.get("content").is_some())
            .max_by_key(|f| f["content"].as_str().map_or(0, str::len));
        let Some(file) = largest else {
            return tool_error(format!(
                "`{qualified}` has too many files to list in one result; read them through its skill:// resources \
                 (skills/get or resources/list), starting at {}",
                uri("SKILL.md")
            ));
        };
        let path = file["path"].as_str().unwrap_or_default().to_string();
        let o = file.as_object_mut().expect("a file is an object");
        o.remove("content");
        o.insert("omitted".into(), json!(format!("too large; read it at {}", uri(&path))));
    }

    let mut result = tool_ok(structured);
    if let Some(content) = result["content"].as_array_mut() {
        content.push(json!({
            "type": "resource_link",
            "uri": uri("SKILL.md"),
            "name": format!("{}/SKILL.md", skill.name),
            "mimeType": "text/markdown",
            "description": skill.description,
        }));
    }
    result
}
