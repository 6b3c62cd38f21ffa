//! `check_updates`: is what a user installed still what the catalogue serves?
//!
//! An installed item names a plugin (`plugin@marketplace` or a bare plugin name) or one skill of it
//! (`plugin@marketplace/skill`, `plugin/skill` or a bare skill name), with the version and/or digest recorded when it
//! was installed. Versions are compared by semver precedence (pre-releases included) when both sides parse, else as
//! opaque strings; equal versions with a different digest mean the content changed without a version bump.
//!
//! A plugin's version is plugin.json's, else its marketplace entry's, else the marketplace revision (a commit sha or
//! content digest), as Claude Code records it. A revision moves with every change to the marketplace, so when the
//! catalogue has only a revision the digest decides whenever one is given.
//!
//! Everything is answered from the caller's [`View`]: a plugin or skill the access rules hide from them answers exactly
//! as one that does not exist (removed, not in the catalogue), a marketplace they may not be shown as one that is not
//! configured, and a bare name is only ever ambiguous between things they can see.
//!
//! When access rules give the user install policies, [`required_missing`] also says which plugins are `required` for
//! them and servable but not in the list: a plugin counts as installed when the list names it or any skill of it.
//!
//! Not for: fetching anything, or installing: this is a pure function of the catalogue view and the list.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use skillport_sources::Skill;

use super::{PluginRef, QualifiedName, View};

/// One item the user has installed, as the client reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Installed {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    UpToDate,
    UpdateAvailable,
    /// No longer served: gone from the catalogue, or still listed but not servable (`reason` says which).
    Removed,
    /// A bare name found in several marketplaces (or plugins): `candidates` lists the qualified names to use.
    Ambiguous,
    /// Cannot tell: nothing to compare, or the marketplace is temporarily unavailable.
    Unknown,
}

/// Why a status was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `update_available`: the version differs.
    Version,
    /// `update_available`: same version (or none to compare), different content.
    Content,
    /// `removed`: the marketplace no longer lists it.
    NotInCatalogue,
    /// `removed`: its marketplace is not configured on this connector any more.
    MarketplaceNotConfigured,
    /// `removed`: still listed, but its files cannot be served (remote source, invalid entry).
    NotServable,
    /// `removed`: the plugin is there, the skill is not.
    SkillNotInPlugin,
    /// `unknown`: the marketplace could not be loaded just now.
    MarketplaceUnavailable,
    /// `unknown`: neither a version nor a digest that the catalogue can be compared with.
    NothingToCompare,
}

/// The answer for one installed item: the shape of one element of the tool's `structuredContent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateResult {
    /// As given.
    pub name: String,
    /// `plugin@marketplace` or `plugin@marketplace/skill`, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualified_name: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub installed_version: Option<String>,
    pub latest_version: Option<String>,
    pub installed_digest: Option<String>,
    pub latest_digest: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// One sentence for the model to relay.
    pub detail: String,
}

/// Where the catalogue's version of a plugin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// plugin.json or the marketplace entry.
    Declared,
    /// The marketplace revision: no version is declared.
    Revision,
}

/// The version the catalogue serves a plugin at, with where it comes from.
pub fn catalogue_version<'a>(p: &PluginRef<'a>) -> Option<(&'a str, VersionSource)> {
    if let Some(v) = p.plugin.version() {
        return Some((v, VersionSource::Declared));
    }
    p.marketplace.revision.as_deref().map(|r| (r, VersionSource::Revision))
}

/// Answers every item, in order, as the user of `view` sees the catalogue.
pub fn check(view: View<'_>, items: &[Installed]) -> Vec<UpdateResult> {
    items.iter().map(|item| check_one(view, item)).collect()
}

/// The plugins whose install policy for the user of `view` is `required`, servable, and not named by `items` (the
/// plugin itself or one of its skills, resolved as [`check`] resolves them), in catalogue order.
pub fn required_missing<'a>(view: View<'a>, items: &[Installed]) -> Vec<PluginRef<'a>> {
    if !view.access().is_some_and(|a| a.has_policies()) {
        return Vec::new();
    }
    let installed: Vec<(&str, &str)> = items
        .iter()
        .filter_map(|item| resolve(view, item.name.trim()).ok())
        .map(|t| match t {
            Target::Plugin(p) | Target::Skill(p, _) => (p.marketplace.id.as_str(), p.plugin.name.as_str()),
        })
        .collect();
    view.plugins()
        .filter(|p| p.plugin.status.is_servable() && p.policy() == Some(crate::config::InstallPolicy::Required))
        .filter(|p| !installed.contains(&(p.marketplace.id.as_str(), p.plugin.name.as_str())))
        .collect()
}

/// `Some(true)` when `latest` is a newer semver than `installed` (by precedence: `1.0.0-beta.2 < 1.0.0`,
/// `1.10.0 > 1.9.0`, build metadata ignored), `Some(false)` when it is not, `None` when either is not semver.
/// A leading `v` and a missing minor or patch (`v1.2`) are tolerated.
pub fn semver_newer(installed: &str, latest: &str) -> Option<bool> {
    let (i, l) = (parse_semver(installed)?, parse_semver(latest)?);
    Some(l.cmp_precedence(&i) == Ordering::Greater)
}

fn parse_semver(s: &str) -> Option<semver::Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    let parts: Vec<&str> = s.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() < 3 && parts.iter().all(numeric) {
        let padded = format!("{s}{}", ".0".repeat(3 - parts.len()));
        return semver::Version::parse(&padded).ok();
    }
    None
}

enum Target<'a> {
    Plugin(PluginRef<'a>),
    Skill(PluginRef<'a>, &'a Skill),
}

impl Target<'_> {
    fn plugin(&self) -> &PluginRef<'_> {
        match self {
            Target::Plugin(p) | Target::Skill(p, _) => p,
        }
    }

    fn qualified_name(&self) -> String {
        match self {
            Target::Plugin(p) => p.qualified_name(),
            Target::Skill(p, s) => p.name().with_skill(&s.name).to_string(),
        }
    }

    fn digest(&self) -> String {
        match self {
            Target::Plugin(p) => p.digest(),
            Target::Skill(_, s) => s.digest.clone(),
        }
    }
}

/// An answer reached before any comparison: the name did not resolve to one servable thing.
struct Early {
    status: Status,
    reason: Option<Reason>,
    qualified_name: Option<String>,
    candidates: Vec<String>,
    detail: String,
}

impl Early {
    fn new(status: Status, reason: Reason, detail: String) -> Self {
        Early { status, reason: Some(reason), qualified_name: None, candidates: Vec::new(), detail }
    }
}

fn check_one(view: View<'_>, item: &Installed) -> UpdateResult {
    let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut result = UpdateResult {
        name: item.name.clone(),
        qualified_name: None,
        status: Status::Unknown,
        reason: None,
        installed_version: clean(&item.version),
        latest_version: None,
        installed_digest: clean(&item.digest),
        latest_digest: None,
        candidates: Vec::new(),
        detail: String::new(),
    };
    let target = match resolve(view, item.name.trim()) {
        Ok(target) => target,
        Err(early) => {
            result.status = early.status;
            result.reason = early.reason;
            result.qualified_name = early.qualified_name;
            result.candidates = early.candidates;
            result.detail = early.detail;
            return result;
        }
    };
    let qualified = target.qualified_name();
    let plugin = target.plugin();
    result.qualified_name = Some(qualified.clone());
    if let Some(why) = plugin.plugin.status.reason() {
        result.status = Status::Removed;
        result.reason = Some(Reason::NotServable);
        result.detail = format!("`{qualified}` is still listed but can no longer be served: {why}");
        return result;
    }
    let latest = catalogue_version(plugin);
    let latest_digest = target.digest();
    result.latest_version = latest.map(|(v, _)| v.to_string());
    let (status, reason, detail) =
        compare(result.installed_version.as_deref(), result.installed_digest.as_deref(), latest, &latest_digest);
    result.latest_digest = Some(latest_digest);
    result.status = status;
    result.reason = reason;
    result.detail = format!("`{qualified}`: {detail}");
    result
}

fn resolve<'a>(view: View<'a>, name: &str) -> Result<Target<'a>, Early> {
    let parsed = QualifiedName::parse(name);
    if parsed.plugin.is_empty() && parsed.marketplace.is_none() {
        return Err(Early::new(Status::Removed, Reason::NotInCatalogue, format!("`{name}` names no plugin")));
    }
    if parsed.marketplace.is_some() || parsed.skill.is_some() {
        let plugin = resolve_plugin(view, parsed.plugin_name())?;
        return match parsed.skill {
            None => Ok(Target::Plugin(plugin)),
            Some(skill) => find_skill(&plugin, skill).map(|s| Target::Skill(plugin, s)).ok_or_else(|| {
                let mut early = Early::new(
                    Status::Removed,
                    Reason::SkillNotInPlugin,
                    format!("plugin `{}` no longer has a skill `{skill}`", plugin.qualified_name()),
                );
                early.qualified_name = Some(plugin.name().with_skill(skill).to_string());
                early
            }),
        };
    }
    // A bare name: a plugin first, as Claude Code's own names are; else a skill of any plugin.
    let plugins: Vec<PluginRef<'a>> = view.plugins().filter(|p| p.plugin.name == name).collect();
    if plugins.len() == 1 {
        return Ok(Target::Plugin(plugins[0]));
    }
    if plugins.len() > 1 {
        return Err(ambiguous(name, plugins.iter().map(PluginRef::qualified_name).collect()));
    }
    let skills: Vec<(PluginRef<'a>, &'a Skill)> =
        view.plugins().flat_map(|p| p.skills().filter(|s| s.name == name).map(move |s| (p, s))).collect();
    match skills.as_slice() {
        [(p, s)] => Ok(Target::Skill(*p, s)),
        [] => Err(not_found(view, name)),
        many => Err(ambiguous(name, many.iter().map(|(p, s)| p.name().with_skill(&s.name).to_string()).collect())),
    }
}

fn resolve_plugin<'a>(view: View<'a>, name: QualifiedName<'_>) -> Result<PluginRef<'a>, Early> {
    let QualifiedName { plugin, marketplace: Some(market), .. } = name else {
        let name = name.plugin;
        let hits: Vec<PluginRef<'a>> = view.plugins().filter(|p| p.plugin.name == name).collect();
        return match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(not_found(view, name)),
            many => Err(ambiguous(name, many.iter().map(PluginRef::qualified_name).collect())),
        };
    };
    // A marketplace the user may not be shown answers as one that is not configured.
    let Some(entry) = view.marketplace(market) else {
        return Err(Early::new(
            Status::Removed,
            Reason::MarketplaceNotConfigured,
            format!("marketplace `{market}` is no longer configured on this connector"),
        ));
    };
    let loaded = match &entry.loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            return Err(Early::new(
                Status::Unknown,
                Reason::MarketplaceUnavailable,
                format!("marketplace `{market}` could not be loaded just now ({e}); try again later"),
            ))
        }
    };
    // A plugin the user may not see answers as one the marketplace does not list.
    match loaded.plugin(plugin).and_then(|p| view.plugin_ref(entry, p)) {
        Some(p) => Ok(p),
        None => Err(Early::new(
            Status::Removed,
            Reason::NotInCatalogue,
            format!("marketplace `{market}` no longer lists a plugin `{plugin}`"),
        )),
    }
}

/// By name, else by folder name (an install may have recorded either when they differ), among the skills the user
/// may see.
fn find_skill<'a>(plugin: &PluginRef<'a>, skill: &str) -> Option<&'a Skill> {
    plugin
        .skills()
        .find(|s| s.name == skill)
        .or_else(|| plugin.skills().find(|s| s.dir.rsplit('/').next() == Some(skill)))
}

fn ambiguous(name: &str, candidates: Vec<String>) -> Early {
    Early {
        status: Status::Ambiguous,
        reason: None,
        qualified_name: None,
        detail: format!("`{name}` is in several places; ask again with one of {}", candidates.join(", ")),
        candidates,
    }
}

/// Not found anywhere: removed, unless a marketplace that could not be loaded (and that the user may be shown) might
/// still hold it.
fn not_found(view: View<'_>, name: &str) -> Early {
    let down: Vec<&str> = view.marketplaces().filter(|m| m.loaded.is_err()).map(|m| m.id.as_str()).collect();
    if down.is_empty() {
        Early::new(Status::Removed, Reason::NotInCatalogue, format!("no marketplace lists `{name}` any more"))
    } else {
        Early::new(
            Status::Unknown,
            Reason::MarketplaceUnavailable,
            format!("`{name}` is not in the loaded marketplaces, and {} could not be loaded just now", down.join(", ")),
        )
    }
}

/// How two version strings relate.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Same,
    Newer,
    Older,
    /// Not both semver, and not equal.
    Different,
}

fn version_change(installed: &str, latest: &str) -> Change {
    match (parse_semver(installed), parse_semver(latest)) {
        (Some(i), Some(l)) => match l.cmp_precedence(&i) {
            Ordering::Equal => Change::Same,
            Ordering::Greater => Change::Newer,
            Ordering::Less => Change::Older,
        },
        _ if installed == latest || is_revision_prefix(installed, latest) => Change::Same,
        _ => Change::Different,
    }
}

/// A short commit sha (at least 7 hex digits) recorded for a full one.
fn is_revision_prefix(short: &str, full: &str) -> bool {
    short.len() >= 7 && short.bytes().all(|b| b.is_ascii_hexdigit()) && full.starts_with(short)
}

/// Looks like a revision rather than a release: a content digest or a commit sha.
fn looks_like_revision(v: &str) -> bool {
    v.starts_with("sha256:") || ((7..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn compare(
    installed_version: Option<&str>,
    installed_digest: Option<&str>,
    latest: Option<(&str, VersionSource)>,
    latest_digest: &str,
) -> (Status, Option<Reason>, String) {
    let content_changed = installed_digest.map(|d| !d.eq_ignore_ascii_case(latest_digest));
    let by_digest = |changed: bool, context: &str| {
        if changed {
            (Status::UpdateAvailable, Some(Reason::Content), format!("the content changed{context}"))
        } else {
            (Status::UpToDate, None, format!("the content is unchanged{context}"))
        }
    };
    match (installed_version, latest) {
        (Some(iv), Some((lv, source))) => match version_change(iv, lv) {
            Change::Same => match content_changed {
                Some(true) => (
                    Status::UpdateAvailable,
                    Some(Reason::Content),
                    format!("the content changed without a version bump (still {lv})"),
                ),
                _ => (Status::UpToDate, None, format!("up to date at {lv}")),
            },
            // A declared version that moved is an update. A revision moves with every change anywhere in the
            // marketplace, so there the digest, when given, says whether this item changed.
            _ if source == VersionSource::Revision && content_changed.is_some() => {
                by_digest(content_changed == Some(true), " (no version is declared; compared by digest)")
            }
            Change::Newer => {
                (Status::UpdateAvailable, Some(Reason::Version), format!("version {lv} is available (installed {iv})"))
            }
            Change::Older => (
                Status::UpdateAvailable,
                Some(Reason::Version),
                format!("the catalogue now serves {lv}, older than the installed {iv} (rolled back)"),
            ),
            Change::Different if source == VersionSource::Declared || looks_like_revision(iv) => (
                Status::UpdateAvailable,
                Some(Reason::Version),
                format!("the catalogue now serves version {lv} (installed {iv})"),
            ),
            Change::Different => (
                Status::Unknown,
                Some(Reason::NothingToCompare),
                format!(
                    "the catalogue declares no version (only the marketplace revision {lv}), so {iv} cannot be \
                     compared; give the installed digest"
                ),
            ),
        },
        (_, _) => match content_changed {
            Some(changed) => by_digest(changed, ""),
            None if installed_version.is_some() => (
                Status::Unknown,
                Some(Reason::NothingToCompare),
                "the catalogue has no version to compare with; give the installed digest".to_string(),
            ),
            None => (
                Status::Unknown,
                Some(Reason::NothingToCompare),
                "give the installed version or digest to compare with".to_string(),
            ),
        },
    }
}

#[cfg(test)]
mod tests;
