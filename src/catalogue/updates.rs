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

use super::{PluginRef, View};

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
            Target::Skill(p, s) => format!("{}/{}", p.qualified_name(), s.name),
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
    let (plugin_part, skill) = match name.split_once('/') {
        Some((p, s)) if !s.trim().is_empty() => (p.trim(), Some(s.trim())),
        Some((p, _)) => (p.trim(), None),
        None => (name, None),
    };
    if plugin_part.is_empty() {
        return Err(Early::new(Status::Removed, Reason::NotInCatalogue, format!("`{name}` names no plugin")));
    }
    if plugin_part.contains('@') || skill.is_some() {
        let plugin = resolve_plugin(view, plugin_part)?;
        return match skill {
            None => Ok(Target::Plugin(plugin)),
            Some(skill) => find_skill(&plugin, skill).map(|s| Target::Skill(plugin, s)).ok_or_else(|| {
                let mut early = Early::new(
                    Status::Removed,
                    Reason::SkillNotInPlugin,
                    format!("plugin `{}` no longer has a skill `{skill}`", plugin.qualified_name()),
                );
                early.qualified_name = Some(format!("{}/{skill}", plugin.qualified_name()));
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
        many => Err(ambiguous(name, many.iter().map(|(p, s)| format!("{}/{}", p.qualified_name(), s.name)).collect())),
    }
}

fn resolve_plugin<'a>(view: View<'a>, name: &str) -> Result<PluginRef<'a>, Early> {
    let Some((plugin, market)) = name.rsplit_once('@') else {
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
mod tests {
    use super::*;
    use crate::catalogue::{Catalogue, MarketplaceEntry};
    use serde_json::json;
    use skillport_sources::{load_marketplace, FileSet};
    use std::collections::BTreeMap;

    fn example() -> Catalogue {
        crate::app::block_on(crate::App::from_env(&BTreeMap::new())).catalogue
    }

    fn two_marketplaces() -> Catalogue {
        let env = BTreeMap::from([(
            "SKILLPORT_MARKETPLACES".to_string(),
            r#"[{id="a",kind="bundled",location="marketplace"},{id="b",kind="bundled",location="marketplace"}]"#
                .to_string(),
        )]);
        let app = crate::app::block_on(crate::App::from_env(&env));
        assert!(app.config.is_ok(), "{:?}", app.config.err());
        app.catalogue
    }

    /// A one-marketplace catalogue `m` from a manifest and files, plus one marketplace `down` that failed to load.
    fn custom(plugins: serde_json::Value, files: &[(&str, &str)]) -> Catalogue {
        let mut set = FileSet::new();
        set.insert(
            ".claude-plugin/marketplace.json",
            json!({"name": "m", "plugins": plugins}).to_string().into_bytes(),
        )
        .unwrap();
        for (path, text) in files {
            set.insert(path, text.as_bytes().to_vec()).unwrap();
        }
        let loaded = load_marketplace(&set).map_err(|e| e.to_string());
        Catalogue {
            marketplaces: vec![
                MarketplaceEntry {
                    id: "m".into(),
                    kind: "bundled",
                    revision: Some(set.digest()),
                    loaded,
                    files: set,
                    fetched_at: Some(0),
                    error: None,
                    refresh: Default::default(),
                    cache: Default::default(),
                },
                MarketplaceEntry {
                    id: "down".into(),
                    kind: "github",
                    revision: None,
                    loaded: Err("HTTP 503".into()),
                    files: FileSet::new(),
                    fetched_at: None,
                    error: Some("HTTP 503".into()),
                    refresh: Default::default(),
                    cache: Default::default(),
                },
            ],
        }
    }

    fn item(name: &str, version: Option<&str>, digest: Option<&str>) -> Installed {
        Installed { name: name.into(), version: version.map(Into::into), digest: digest.map(Into::into) }
    }

    fn one(catalogue: &Catalogue, name: &str, version: Option<&str>, digest: Option<&str>) -> UpdateResult {
        check(catalogue.unfiltered(), &[item(name, version, digest)]).remove(0)
    }

    #[test]
    fn semver_precedence() {
        assert_eq!(semver_newer("1.0.0-beta.2", "1.0.0"), Some(true));
        assert_eq!(semver_newer("1.0.0", "1.0.0-beta.2"), Some(false));
        assert_eq!(semver_newer("1.9.0", "1.10.0"), Some(true));
        assert_eq!(semver_newer("1.10.0", "1.9.0"), Some(false));
        assert_eq!(semver_newer("1.0.0-beta.2", "1.0.0-beta.11"), Some(true));
        assert_eq!(semver_newer("1.0.0-alpha", "1.0.0-beta"), Some(true));
        assert_eq!(semver_newer("1.2.0", "1.2.0"), Some(false));
        assert_eq!(semver_newer("1.2.0+build.1", "1.2.0+build.2"), Some(false), "build metadata is not precedence");
        assert_eq!(semver_newer("v1.2", "1.2.1"), Some(true));
        assert_eq!(semver_newer("2", "10.0.0"), Some(true));
        assert_eq!(semver_newer("nightly-42", "1.0.0"), None);
        assert_eq!(semver_newer("1.0.0", "2024-01-01"), None);
        assert_eq!(semver_newer("1.0.0.0", "1.0.1"), None);
        assert_eq!(version_change("nightly-42", "nightly-43"), Change::Different);
        assert_eq!(version_change("nightly-42", "nightly-42"), Change::Same);
        assert_eq!(version_change("v1.2.0", "1.2.0"), Change::Same);
        assert_eq!(version_change("abc1234", "abc1234def5678"), Change::Same);
    }

    #[test]
    fn same_version_is_up_to_date_and_newer_is_an_update() {
        let cat = example();
        let r = one(&cat, "writing-tools@example", Some("1.2.0"), None);
        assert_eq!((r.status, r.reason), (Status::UpToDate, None));
        assert_eq!(r.latest_version.as_deref(), Some("1.2.0"));
        assert_eq!(r.qualified_name.as_deref(), Some("writing-tools@example"));

        for old in ["1.1.9", "1.2.0-rc.1", "0.9"] {
            let r = one(&cat, "writing-tools", Some(old), None);
            assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)), "{old}");
            assert_eq!(r.installed_version.as_deref(), Some(old));
            assert_eq!(r.latest_version.as_deref(), Some("1.2.0"));
        }
        // The catalogue went back: still a change the user should hear about.
        let r = one(&cat, "brand-kit@example", Some("0.4.0"), None);
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
        assert!(r.detail.contains("rolled back"), "{}", r.detail);
    }

    #[test]
    fn digest_only_change_is_a_content_update() {
        let cat = example();
        let digest = cat.unfiltered().find("writing-tools@example").unwrap().plugin.digest();
        let r = one(&cat, "writing-tools@example", Some("1.2.0"), Some("sha256:0000"));
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
        assert_eq!(r.latest_digest.as_deref(), Some(digest.as_str()));
        assert_eq!(r.installed_digest.as_deref(), Some("sha256:0000"));
        let r = one(&cat, "writing-tools@example", Some("1.2.0"), Some(&digest));
        assert_eq!(r.status, Status::UpToDate);
        // Digest alone, no version.
        assert_eq!(one(&cat, "writing-tools@example", None, Some(&digest)).status, Status::UpToDate);
        let r = one(&cat, "writing-tools@example", None, Some("sha256:0000"));
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
    }

    #[test]
    fn without_a_declared_version_the_revision_and_digest_decide() {
        let cat = example();
        let p = cat.unfiltered().find("repo-tools@example").unwrap();
        let (revision, source) = catalogue_version(&p).unwrap();
        assert_eq!(source, VersionSource::Revision);
        assert_eq!(Some(revision), p.marketplace.revision.as_deref());
        let digest = p.plugin.digest();

        let r = one(&cat, "repo-tools@example", Some(revision), None);
        assert_eq!(r.status, Status::UpToDate);
        assert_eq!(r.latest_version.as_deref(), Some(revision));
        // Another revision, no digest: Claude Code's own view, the plugin moved with the marketplace.
        let r = one(&cat, "repo-tools@example", Some("0123456789abcdef0123456789abcdef01234567"), None);
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
        // Another revision, same digest: only other plugins changed.
        let r = one(&cat, "repo-tools@example", Some("0123456789abcdef0123456789abcdef01234567"), Some(&digest));
        assert_eq!(r.status, Status::UpToDate);
        // A version the catalogue does not declare: the digest decides, and without one nothing can be said.
        assert_eq!(one(&cat, "repo-tools@example", Some("1.0.0"), Some(&digest)).status, Status::UpToDate);
        let r = one(&cat, "repo-tools@example", Some("1.0.0"), Some("sha256:0000"));
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
        let r = one(&cat, "repo-tools@example", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::NothingToCompare)));
        let r = one(&cat, "repo-tools@example", None, None);
        assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::NothingToCompare)));
    }

    #[test]
    fn non_semver_versions_compare_as_strings() {
        let cat = custom(
            json!([{"name": "p", "source": "./p", "version": "nightly-43"}]),
            &[("p/skills/s/SKILL.md", "---\nname: s\ndescription: d\n---\n")],
        );
        let r = one(&cat, "p@m", Some("nightly-42"), None);
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
        assert_eq!(one(&cat, "p@m", Some("nightly-43"), None).status, Status::UpToDate);
        let r = one(&cat, "p@m", Some("nightly-43"), Some("sha256:0000"));
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
    }

    #[test]
    fn skills_compare_their_own_digest() {
        let cat = example();
        let p = cat.unfiltered().find("brand-kit@example").unwrap();
        let skill_digest = p.plugin.skills[0].digest.clone();
        for name in ["brand-kit@example/brand-voice", "brand-kit/brand-voice", "brand-voice"] {
            let r = one(&cat, name, None, Some(&skill_digest));
            assert_eq!(r.status, Status::UpToDate, "{name}");
            assert_eq!(r.qualified_name.as_deref(), Some("brand-kit@example/brand-voice"));
            assert_eq!(r.latest_digest.as_deref(), Some(skill_digest.as_str()));
            assert_eq!(r.latest_version.as_deref(), Some("0.3.1"));
        }
        let r = one(&cat, "brand-kit@example/brand-voice", Some("0.3.1"), Some("sha256:0000"));
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Content)));
        let r = one(&cat, "brand-kit@example/gone", None, Some(&skill_digest));
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::SkillNotInPlugin)));
        assert_eq!(r.qualified_name.as_deref(), Some("brand-kit@example/gone"));
    }

    #[test]
    fn removed_says_why() {
        let cat = custom(
            json!([
                {"name": "ok", "source": "./ok"},
                {"name": "remote", "source": {"source": "github", "repo": "x/y"}},
            ]),
            &[("ok/skills/s/SKILL.md", "---\nname: s\ndescription: d\n---\n")],
        );
        let r = one(&cat, "gone@m", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
        assert_eq!((r.latest_version, r.latest_digest), (None, None));
        let r = one(&cat, "ok@elsewhere", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::MarketplaceNotConfigured)));
        let r = one(&cat, "remote@m", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotServable)));
        assert!(r.detail.contains("outside this marketplace"), "{}", r.detail);
        // A marketplace that is down says nothing about removal.
        let r = one(&cat, "x@down", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::MarketplaceUnavailable)));
        let r = one(&cat, "gone", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Unknown, Some(Reason::MarketplaceUnavailable)));

        let r = one(&example(), "gone", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
        let r = one(&example(), "gone@example", None, None);
        assert_eq!((r.status, r.reason), (Status::Removed, Some(Reason::NotInCatalogue)));
    }

    #[test]
    fn bare_names_in_two_marketplaces_are_ambiguous() {
        let cat = two_marketplaces();
        let r = one(&cat, "writing-tools", Some("1.0.0"), None);
        assert_eq!(r.status, Status::Ambiguous);
        assert_eq!(r.candidates, ["writing-tools@a", "writing-tools@b"]);
        let r = one(&cat, "brand-voice", None, Some("sha256:0000"));
        assert_eq!(r.status, Status::Ambiguous);
        assert_eq!(r.candidates, ["brand-kit@a/brand-voice", "brand-kit@b/brand-voice"]);
        let r = one(&cat, "brand-kit/brand-voice", None, None);
        assert_eq!(r.candidates, ["brand-kit@a", "brand-kit@b"]);
        // Qualified, the same names resolve.
        let r = one(&cat, "writing-tools@b", Some("1.0.0"), None);
        assert_eq!((r.status, r.reason), (Status::UpdateAvailable, Some(Reason::Version)));
    }

    #[test]
    fn results_serialise_for_structured_content() {
        let cat = example();
        let results = check(
            cat.unfiltered(),
            &[
                item("writing-tools@example", Some("1.1.0"), None),
                item("gone@example", None, None),
                serde_json::from_value(json!({"name": "brand-kit", "version": "0.3.1"})).unwrap(),
            ],
        );
        let v = serde_json::to_value(&results).unwrap();
        assert_eq!(v[0]["name"], "writing-tools@example");
        assert_eq!(v[0]["status"], "update_available");
        assert_eq!(v[0]["reason"], "version");
        assert_eq!(v[0]["installedVersion"], "1.1.0");
        assert_eq!(v[0]["latestVersion"], "1.2.0");
        assert_eq!(v[0]["installedDigest"], serde_json::Value::Null);
        assert!(v[0]["latestDigest"].as_str().unwrap().starts_with("sha256:"));
        assert!(v[0].get("candidates").is_none());
        assert_eq!(v[1]["status"], "removed");
        assert_eq!(v[1]["reason"], "not_in_catalogue");
        assert_eq!(v[2]["status"], "up_to_date");
        assert_eq!(v[2]["qualifiedName"], "brand-kit@example");
        assert!(v[2].get("reason").is_none());
    }
}
