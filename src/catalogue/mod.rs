//! The merged catalogue: every configured marketplace, loaded, named `plugin@marketplace`, filterable by surface,
//! marketplace, category, tag and free text. Pure data: fetching belongs to the sources, caching to the platform.
//!
//! Users see the catalogue through a [`View`]: [`Catalogue::view`] applies one user's access rules (`crate::access`),
//! so a plugin or skill they may not see is absent from every listing, search, count and name resolution of the view,
//! and the [`PluginRef`]s it hands out show only the skills the user may see. [`Catalogue::unfiltered`] sees everything,
//! for what serves no user (the start-up log, download links already checked when issued, tests).
//!
//! When some access rule carries an install policy, a [`PluginRef`] of a user's view also says that user's policy for
//! the plugin ([`PluginRef::policy`]): summaries and details show it, and [`Filter::policy`] selects by it.

pub mod content;
pub mod package;
pub mod refresh;
pub mod surface;
pub mod updates;

use crate::access::Access;
use crate::config::{InstallPolicy, Surface};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use skillport_sources::load::{LoadedMarketplace, LoadedPlugin, PluginStatus, Skill};
use skillport_sources::FileSet;
use std::borrow::Cow;

/// One configured marketplace and what loading it gave.
#[derive(Debug, Clone)]
pub struct MarketplaceEntry {
    pub id: String,
    pub kind: &'static str,
    pub revision: Option<String>,
    /// The loaded marketplace, or why it could not be loaded at all (the rest of the catalogue is still served).
    pub loaded: Result<LoadedMarketplace, String>,
    pub files: FileSet,
    /// When this copy was fetched (unix seconds), if it ever was.
    pub fetched_at: Option<u64>,
    /// The last refresh's failure while this (older) copy is still served.
    pub error: Option<String>,
    /// When to refresh next, and what is still loading.
    pub refresh: RefreshState,
    /// What is worked out from `loaded` and `files` the first time it is asked for. An entry is never changed once
    /// it is served (a refresh builds a new one), so this never goes stale; whoever edits `loaded` of an entry
    /// (tests) does so before serving it, or sets a fresh `EntryCache::default()`.
    pub cache: EntryCache,
}

/// What requests read of a marketplace copy, worked out once per copy rather than on every call.
#[derive(Debug, Default)]
pub struct EntryCache {
    /// What a listing needs of each plugin: a `list_plugins` call filters these rows and copies their serialized
    /// summaries.
    listing: std::sync::OnceLock<Vec<ListingRow>>,
    /// The SHA-256 of each skill's `.skill` package (by skill folder and size cap), as its download link carries it:
    /// building the package to learn it was over half of a `fetch_skill` call. Only packages that could be built.
    packages: std::sync::Mutex<std::collections::HashMap<(String, u64), String>>,
}

impl Clone for EntryCache {
    fn clone(&self) -> Self {
        let packages = self.packages.lock().map(|p| p.clone()).unwrap_or_default();
        EntryCache { listing: self.listing.clone(), packages: std::sync::Mutex::new(packages) }
    }
}

/// One plugin of a marketplace's listing, as everyone who sees all of its skills sees it.
#[derive(Debug, Clone)]
pub struct ListingRow {
    /// [`PluginRef::surfaces`] as a set: bit `i` for `surface::ALL[i]`.
    surfaces: u8,
    /// The lower-cased text [`Filter::query`] searches, one piece per line: name, description, keywords, and each
    /// skill's name and description. A query word holds no whitespace, so it is found here exactly when it is found
    /// in one of the pieces.
    haystack: Box<str>,
    /// [`summary_json`] of the plugin with every skill shown, serialized.
    summary: Box<str>,
    /// `summary` escaped as the inside of a JSON string: what the text copy of a listing holds of it.
    summary_escaped: Box<str>,
}

fn surface_bit(s: Surface) -> u8 {
    1 << surface::ALL.iter().position(|a| *a == s).unwrap_or(0)
}

impl MarketplaceEntry {
    /// One row per plugin of the loaded marketplace, in the same order; `None` when it did not load.
    pub fn listing(&self) -> Option<&[ListingRow]> {
        let loaded = self.loaded.as_ref().ok()?;
        Some(self.cache.listing.get_or_init(|| {
            loaded
                .plugins
                .iter()
                .map(|plugin| {
                    let p = PluginRef { marketplace: self, plugin, access: None };
                    let hay: Vec<String> = query_haystack(&p).iter().map(|h| h.to_lowercase()).collect();
                    let summary = summary_json(&p).to_string();
                    ListingRow {
                        surfaces: p.surfaces().into_iter().fold(0, |bits, s| bits | surface_bit(s)),
                        haystack: hay.join("\n").into(),
                        summary_escaped: escaped(&summary).into(),
                        summary: summary.into(),
                    }
                })
                .collect()
        }))
    }

    /// The `sha256:` digest of the `.skill` package of `skill` (of this marketplace), built at most once per copy.
    pub fn package_digest(&self, skill: &Skill, max_bytes: u64) -> Result<String, package::PackageError> {
        let key = (skill.dir.clone(), max_bytes);
        if let Some(digest) = self.cache.packages.lock().ok().and_then(|p| p.get(&key).cloned()) {
            return Ok(digest);
        }
        let digest = skillport_sources::sha256_digest(&package::build_skill_zip(&self.files, skill, max_bytes)?);
        if let Ok(mut packages) = self.cache.packages.lock() {
            packages.insert(key, digest.clone());
        }
        Ok(digest)
    }
}

/// The refresh bookkeeping of one marketplace, kept by the isolate between refreshes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshState {
    /// The files served are what a load that ran out of request budget gave; the next refresh carries on.
    pub partial: bool,
    /// A newer revision whose load is under way beside the copy served (served once whole).
    pub next: Option<refresh::Snapshot>,
    /// What is still to fetch; while set the marketplace is due at once.
    pub loading: Option<Loading>,
    /// When a refresh was last tried (unix seconds), whatever came of it.
    pub attempted_at: Option<u64>,
    /// No refresh before this (unix seconds): the upstream said when to come back (`Retry-After`), or it keeps
    /// failing and the refreshes back off.
    pub retry_at: Option<u64>,
    /// Refreshes that failed in a row.
    pub failures: u32,
    /// A signed webhook said the upstream changed: due now, whatever the copy's age (still not before `retry_at`).
    pub forced: bool,
}

/// What a marketplace still has to fetch over the next refreshes, each within `catalogue.subrequests_per_refresh`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loading {
    /// Files of the marketplace still to fetch (at least this many: a plugin.json not read yet may name more).
    pub files_pending: usize,
    /// External plugins (other repositories, archives) still to fetch.
    pub externals_pending: usize,
    /// The files pending belong to a newer revision than the one served.
    pub newer: bool,
    /// This refresh ran out of requests before this marketplace's turn.
    pub waiting: bool,
}

impl std::fmt::Display for Loading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.waiting {
            return f.write_str("waiting for the next refresh: the last one spent its upstream requests first");
        }
        let mut parts = Vec::new();
        if self.files_pending > 0 {
            let of =
                if self.newer { " of a newer revision (the previous one is served until it is whole)" } else { "" };
            parts.push(format!("at least {} more file(s){of}", self.files_pending));
        }
        if self.externals_pending > 0 {
            parts.push(format!("{} external plugin(s)", self.externals_pending));
        }
        write!(f, "still loading {}: each refresh makes a bounded number of upstream requests", parts.join(" and "))
    }
}

#[derive(Debug, Default)]
pub struct Catalogue {
    pub marketplaces: Vec<MarketplaceEntry>,
}

/// A plugin of the catalogue, with the marketplace it belongs to, as one user sees it.
#[derive(Debug, Clone, Copy)]
pub struct PluginRef<'a> {
    pub marketplace: &'a MarketplaceEntry,
    pub plugin: &'a LoadedPlugin,
    /// The access rules of the user this plugin is shown to, which decide which of its skills [`PluginRef::skills`]
    /// gives; `None` gives them all (an unfiltered view).
    pub access: Option<&'a Access<'a>>,
}

impl<'a> PluginRef<'a> {
    pub fn qualified_name(&self) -> String {
        format!("{}@{}", self.plugin.name, self.marketplace.id)
    }

    /// Whether the user this plugin is shown to may see `skill` of it.
    pub fn shows(&self, skill: &Skill) -> bool {
        self.access.is_none_or(|a| a.sees_skill(&self.marketplace.id, &self.plugin.name, &skill.name))
    }

    /// The skills the user may see. Everything shown about a plugin's skills comes from here, never from
    /// `plugin.skills` directly.
    pub fn skills(&self) -> impl Iterator<Item = &'a Skill> + 'a {
        let this = *self;
        self.plugin.skills.iter().filter(move |s| this.shows(s))
    }

    /// The plugin's content digest over the skills the user may see: the loader's `LoadedPlugin::digest` when they
    /// see them all, else the same construction over the visible ones, so a hidden skill neither shows in nor moves
    /// the digest this user is given.
    pub fn digest(&self) -> String {
        if self.plugin.skills.iter().all(|s| self.shows(s)) {
            return self.plugin.digest();
        }
        digest_of_skills(self.skills())
    }

    /// The user's install policy for this plugin, when policies are in use (some access rule carries one) and this
    /// is a user's view; `None` otherwise, and then nothing about policies is shown.
    pub fn policy(&self) -> Option<InstallPolicy> {
        let access = self.access.filter(|a| a.has_policies())?;
        access.policy(&self.marketplace.id, &self.plugin.name)
    }

    /// [`PluginRef::policy`], or `available` (what every plugin is when no policy is in use).
    pub fn policy_or_available(&self) -> InstallPolicy {
        self.policy().unwrap_or(InstallPolicy::Available)
    }

    pub fn surfaces(&self) -> Vec<Surface> {
        match &self.plugin.entry {
            Some(e) => surface::of_entry(e),
            None => surface::ALL.to_vec(),
        }
    }

    fn description(&self) -> Option<&'a str> {
        let plugin: &'a LoadedPlugin = self.plugin;
        plugin
            .entry
            .as_ref()
            .and_then(|e| e.description.as_deref())
            .or_else(|| self.plugin.manifest.as_ref().and_then(|m| m.description.as_deref()))
    }
}

/// Filters of `list_plugins`; every one that is set must match.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub surface: Option<Surface>,
    pub marketplace: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub query: Option<String>,
    /// Only plugins with this install policy for the user (`available` when no policy is in use).
    pub policy: Option<InstallPolicy>,
}

impl Filter {
    pub fn matches(&self, p: &PluginRef<'_>) -> bool {
        if let Some(s) = self.surface {
            if !p.surfaces().contains(&s) {
                return false;
            }
        }
        if !self.matches_fields(p) {
            return false;
        }
        if let Some(q) = &self.query {
            let q = q.to_lowercase();
            let hay: Vec<String> = query_haystack(p).iter().map(|h| h.to_lowercase()).collect();
            if !q.split_whitespace().all(|w| hay.iter().any(|h| h.contains(w))) {
                return false;
            }
        }
        true
    }

    /// The marketplace, category, tag and policy filters.
    fn matches_fields(&self, p: &PluginRef<'_>) -> bool {
        if self.policy.is_some_and(|want| p.policy_or_available() != want) {
            return false;
        }
        if let Some(m) = &self.marketplace {
            if !p.marketplace.id.eq_ignore_ascii_case(m) {
                return false;
            }
        }
        let entry = p.plugin.entry.as_ref();
        if let Some(c) = &self.category {
            if !entry.and_then(|e| e.category.as_deref()).is_some_and(|x| x.eq_ignore_ascii_case(c)) {
                return false;
            }
        }
        if let Some(t) = &self.tag {
            let hit = entry.is_some_and(|e| e.tags.iter().chain(e.keywords.iter()).any(|x| x.eq_ignore_ascii_case(t)));
            if !hit {
                return false;
            }
        }
        true
    }

    /// The query's words, lower-cased, as [`Filter::matches`] looks for them.
    fn query_words(&self) -> Vec<String> {
        self.query
            .as_deref()
            .map(|q| q.to_lowercase().split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// [`Filter::matches`] over a plugin's [`ListingRow`] (`words`: [`Filter::query_words`], worked out once per
    /// listing): the same answer, without working out the plugin's surfaces or search text again.
    fn matches_row(&self, p: &PluginRef<'_>, row: &ListingRow, words: &[String]) -> bool {
        if let Some(s) = self.surface {
            if row.surfaces & surface_bit(s) == 0 {
                return false;
            }
        }
        if !self.matches_fields(p) {
            return false;
        }
        if self.query.is_none() {
            return true;
        }
        if shows_every_skill(p) {
            words.iter().all(|w| row.haystack.contains(w.as_str()))
        } else {
            // Some skill is hidden from this user: search only the pieces they may see, as `matches` does.
            let hay: Vec<String> = query_haystack(p).iter().map(|h| h.to_lowercase()).collect();
            words.iter().all(|w| hay.iter().any(|h| h.contains(w.as_str())))
        }
    }
}

/// The text a query searches: the name, description and keywords, and the name and description of each skill the
/// user may see (a hidden skill's name must not make its plugin match).
fn query_haystack<'a>(p: &PluginRef<'a>) -> Vec<&'a str> {
    let mut hay = vec![p.plugin.name.as_str()];
    hay.extend(p.description());
    if let Some(e) = p.plugin.entry.as_ref() {
        hay.extend(e.keywords.iter().map(String::as_str));
    }
    for s in p.skills() {
        hay.push(&s.name);
        hay.extend(s.description.as_deref());
    }
    hay
}

/// Whether the user `p` is shown to sees every skill of it (then its [`ListingRow`] is what they see).
fn shows_every_skill(p: &PluginRef<'_>) -> bool {
    p.access.is_none_or(|a| a.is_unrestricted()) || p.plugin.skills.iter().all(|s| p.shows(s))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("no plugin named `{0}` in the catalogue; call list_plugins to see the names")]
    NotFound(String),
    #[error("`{name}` is ambiguous: it exists in several marketplaces ({}); use one of {}", .candidates.iter().map(|c| c.rsplit_once('@').map(|x| x.1).unwrap_or("")).collect::<Vec<_>>().join(", "), .candidates.join(", "))]
    Ambiguous { name: String, candidates: Vec<String> },
}

impl Catalogue {
    /// The catalogue as the user `access` describes sees it.
    pub fn view<'a>(&'a self, access: &'a Access<'a>) -> View<'a> {
        View { catalogue: self, access: Some(access) }
    }

    /// Everything, whatever the access rules: only for what serves no particular user.
    pub fn unfiltered(&self) -> View<'_> {
        View { catalogue: self, access: None }
    }
}

/// The catalogue as one user sees it: plugins the access rules hide are in none of its answers.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub catalogue: &'a Catalogue,
    access: Option<&'a Access<'a>>,
}

impl<'a> View<'a> {
    pub fn access(&self) -> Option<&'a Access<'a>> {
        self.access
    }

    /// Every plugin of every loaded marketplace the user may see, in catalogue order.
    pub fn plugins(self) -> impl Iterator<Item = PluginRef<'a>> + 'a {
        self.catalogue.marketplaces.iter().flat_map(move |m| {
            m.loaded.iter().flat_map(move |l| l.plugins.iter().filter_map(move |p| self.plugin_ref(m, p)))
        })
    }

    /// `plugin` of `marketplace`, when the user may see it.
    pub fn plugin_ref(self, marketplace: &'a MarketplaceEntry, plugin: &'a LoadedPlugin) -> Option<PluginRef<'a>> {
        let visible = self.access.is_none_or(|a| a.sees_plugin(&marketplace.id, &plugin.name));
        visible.then_some(PluginRef { marketplace, plugin, access: self.access })
    }

    /// The configured marketplaces whose id the user may be shown (see `crate::access`).
    pub fn marketplaces(self) -> impl Iterator<Item = &'a MarketplaceEntry> + 'a {
        self.catalogue.marketplaces.iter().filter(move |m| self.access.is_none_or(|a| a.sees_marketplace(&m.id)))
    }

    /// The marketplace `id`, unless it is not configured or the user may not be shown it (the same `None`).
    pub fn marketplace(self, id: &str) -> Option<&'a MarketplaceEntry> {
        self.marketplaces().find(|m| m.id == id)
    }

    pub fn list(self, filter: &Filter) -> Vec<PluginRef<'a>> {
        self.plugins().filter(|p| filter.matches(p)).collect()
    }

    /// What [`View::list`] gives, in the same order, each plugin with its [`ListingRow`]: filtered over the rows, so
    /// a listing neither works out each plugin's surfaces and search text nor serializes its summary again.
    pub fn listed(self, filter: &'a Filter) -> impl Iterator<Item = Listed<'a>> + 'a {
        let words = filter.query_words();
        self.catalogue.marketplaces.iter().flat_map(move |m| {
            let words = words.clone();
            let plugins = m.loaded.as_ref().map(|l| l.plugins.as_slice()).unwrap_or_default();
            let rows = m.listing().unwrap_or_default();
            plugins.iter().zip(rows).filter_map(move |(p, row)| {
                let plugin = self.plugin_ref(m, p)?;
                filter.matches_row(&plugin, row, &words).then_some(Listed { plugin, row })
            })
        })
    }

    /// Finds a plugin by `plugin@marketplace`, or by bare name when exactly one marketplace has it, among the plugins
    /// the user may see: a hidden plugin is answered as one that does not exist, and never makes a name ambiguous.
    /// A plugin renamed through its marketplace's `renames` map is found under its old name too, as Claude Code
    /// resolves it.
    pub fn find(self, name: &str) -> Result<PluginRef<'a>, LookupError> {
        let name = name.trim();
        match self.find_exact(name) {
            Err(LookupError::NotFound(_)) => {
                let (old, market) = match name.rsplit_once('@') {
                    Some((p, m)) => (p, Some(m)),
                    None => (name, None),
                };
                let renamed: Vec<String> = self
                    .marketplaces()
                    .filter(|m| market.is_none_or(|x| x == m.id))
                    .filter_map(|m| {
                        let new = m.loaded.as_ref().ok()?.manifest.renames.get(old)?;
                        Some(format!("{new}@{}", m.id))
                    })
                    .collect();
                match renamed.as_slice() {
                    [one] => self.find_exact(one).map_err(|_| LookupError::NotFound(name.to_string())),
                    _ => self.find_exact(name),
                }
            }
            other => other,
        }
    }

    fn find_exact(self, name: &str) -> Result<PluginRef<'a>, LookupError> {
        if let Some((plugin, market)) = name.rsplit_once('@') {
            return self
                .plugins()
                .find(|p| p.plugin.name == plugin && p.marketplace.id == market)
                .ok_or_else(|| LookupError::NotFound(name.to_string()));
        }
        let hits: Vec<_> = self.plugins().filter(|p| p.plugin.name == name).collect();
        match hits.len() {
            0 => Err(LookupError::NotFound(name.to_string())),
            1 => Ok(hits[0]),
            _ => Err(LookupError::Ambiguous {
                name: name.to_string(),
                candidates: hits.iter().map(|p| p.qualified_name()).collect(),
            }),
        }
    }
}

/// A plugin a listing shows, and its [`ListingRow`].
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub plugin: PluginRef<'a>,
    row: &'a ListingRow,
}

impl<'a> Listed<'a> {
    /// [`summary_json`] of the plugin as this user sees it, serialized, and that escaped as the inside of a JSON
    /// string: the row's, unless a skill of it is hidden from them.
    pub fn summary(&self) -> (Cow<'a, str>, Cow<'a, str>) {
        // The row is serialized without a user, so without a policy.
        if shows_every_skill(&self.plugin) && self.plugin.policy().is_none() {
            (Cow::Borrowed(&self.row.summary), Cow::Borrowed(&self.row.summary_escaped))
        } else {
            let summary = summary_json(&self.plugin).to_string();
            let escaped = escaped(&summary);
            (Cow::Owned(summary), Cow::Owned(escaped))
        }
    }
}

/// `text` as the inside of a JSON string (without the quotes), exactly as serde_json escapes it: `"` and `\`, and
/// the control characters (`\n`, `\t`, ..., else `\u00xx`); everything else as it is. Escaping works character by
/// character, so escaping parts and joining them gives what escaping the whole gives.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

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

/// `sha256:` over the sorted lines `"<skill folder>\0<skill digest>\n"`: how `LoadedPlugin::digest` is built.
fn digest_of_skills<'s>(skills: impl Iterator<Item = &'s Skill>) -> String {
    let mut entries: Vec<(&str, &str)> = skills.map(|s| (s.dir.as_str(), s.digest.as_str())).collect();
    entries.sort();
    let mut hasher = Sha256::new();
    for (dir, digest) in entries {
        hasher.update(dir.as_bytes());
        hasher.update(b"\0");
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    format!("sha256:{:x}", hasher.finalize())
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

/// Opaque pagination cursors: the offset, hex-encoded behind a tag, so a client cannot mistake it for a number
/// and a tampered cursor is refused rather than silently restarting.
pub mod cursor {
    const TAG: &str = "sp1.";

    pub fn encode(offset: usize) -> String {
        format!("{TAG}{:x}", offset ^ 0x5eed)
    }

    pub fn decode(cursor: &str) -> Option<usize> {
        let hex = cursor.strip_prefix(TAG)?;
        if hex.is_empty() || hex.len() > 16 {
            return None;
        }
        usize::from_str_radix(hex, 16).ok().map(|v| v ^ 0x5eed)
    }

    #[cfg(test)]
    #[test]
    fn round_trip_and_rejects_garbage() {
        for n in [0usize, 1, 50, 123456] {
            assert_eq!(decode(&encode(n)), Some(n));
        }
        for bad in ["", "50", "sp1.", "sp1.zz", "xx.10"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_is_serde_jsons() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("Ünïcode \u{2028} \u{1F600} \\\" end");
        for text in [all.as_str(), "", "plain", "\"", "a\u{1}b", "\u{7f}"] {
            let quoted = serde_json::to_string(text).unwrap();
            assert_eq!(super::escaped(text), quoted[1..quoted.len() - 1], "{text:?}");
        }
    }
}
