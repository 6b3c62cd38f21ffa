//! Reading the catalogue as one user: a [`View`] of it, the [`PluginRef`]s it hands out, the [`Filter`]s of a
//! listing and name lookups. Access rules are applied here and nowhere else: what a view leaves out is absent from
//! every answer built from it.
//!
//! Not for: rendering (`json`), or what a marketplace copy caches (`MarketplaceEntry`).

use super::name::QualifiedName;
use super::{json, surface, surface_bit, Catalogue, ListingRow, MarketplaceEntry};
use crate::access::Access;
use crate::config::{InstallPolicy, Surface};
use sha2::{Digest, Sha256};
use skillport_sources::load::{LoadedPlugin, Skill};
use std::borrow::Cow;

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
    /// `plugin@marketplace`.
    pub fn name(&self) -> QualifiedName<'a> {
        let (plugin, marketplace): (&'a str, &'a str) = (&self.plugin.name, &self.marketplace.id);
        QualifiedName::of_plugin(plugin, marketplace)
    }

    /// [`PluginRef::name`], written out.
    pub fn qualified_name(&self) -> String {
        self.name().to_string()
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

    pub(super) fn description(&self) -> Option<&'a str> {
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
pub(super) fn query_haystack<'a>(p: &PluginRef<'a>) -> Vec<&'a str> {
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
pub(super) fn shows_every_skill(p: &PluginRef<'_>) -> bool {
    p.access.is_none_or(|a| a.is_unrestricted()) || p.plugin.skills.iter().all(|s| p.shows(s))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("no plugin named `{0}` in the catalogue; call list_plugins to see the names")]
    NotFound(String),
    #[error("`{name}` is ambiguous: it exists in several marketplaces ({}); use one of {}", .candidates.iter().map(|c| QualifiedName::parse_plugin(c).marketplace.unwrap_or("")).collect::<Vec<_>>().join(", "), .candidates.join(", "))]
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
            // A query looks only at the rows that may hold its words; they are checked as every row would be.
            let picked = filter.query.as_ref().and_then(|_| m.rows_maybe_with(&words));
            let count = picked.map_or(plugins.len().min(rows.len()), <[u32]>::len);
            (0..count).filter_map(move |k| {
                let i = picked.map_or(k, |p| p[k] as usize);
                let (p, row) = (&plugins[i], &rows[i]);
                let plugin = self.plugin_ref(m, p)?;
                filter.matches_row(&plugin, row, &words).then_some(Listed { plugin, row })
            })
        })
    }

    /// What [`View::listed`] gives from its `offset`-th plugin on, and how many it gives in all, without visiting
    /// each row: when the user sees everything and the filter is by surface and marketplace at most (a marketplace
    /// is in or out as a whole, a surface has its rows numbered once per copy, [`MarketplaceEntry::rows_on`]).
    /// `None` for any other view or filter, which [`View::listed`] answers.
    pub fn listed_from(self, filter: &Filter, offset: usize) -> Option<(usize, impl Iterator<Item = Listed<'a>> + 'a)> {
        let Filter { surface, marketplace, category: None, tag: None, query: None, policy: None } = filter else {
            return None;
        };
        if !self.access.is_none_or(|a| a.is_unrestricted()) {
            return None;
        }
        let mut parts = Vec::new();
        let mut total = 0;
        for m in &self.catalogue.marketplaces {
            if marketplace.as_ref().is_some_and(|x| !m.id.eq_ignore_ascii_case(x)) {
                continue;
            }
            let (Some(rows), Ok(loaded)) = (m.listing(), m.loaded.as_ref()) else { continue };
            let picked: Option<&'a [u32]> = surface.map(|s| m.rows_on(s));
            let count = picked.map_or(rows.len(), <[u32]>::len);
            parts.push((m, loaded.plugins.as_slice(), rows, picked, total, count));
            total += count;
        }
        let access = self.access;
        let listed = parts.into_iter().flat_map(move |(m, plugins, rows, picked, first, count)| {
            (offset.saturating_sub(first).min(count)..count).map(move |k| {
                let i = picked.map_or(k, |p| p[k] as usize);
                Listed { plugin: PluginRef { marketplace: m, plugin: &plugins[i], access }, row: &rows[i] }
            })
        });
        Some((total, listed))
    }

    /// The skills named `name` the user may see, with their plugins, in catalogue order.
    pub fn skills_named<'n>(self, name: &'n str) -> impl Iterator<Item = (PluginRef<'a>, &'a Skill)> + 'n
    where
        'a: 'n,
    {
        self.catalogue.marketplaces.iter().flat_map(move |m| {
            m.plugins_with_skill(name)
                .filter_map(move |p| self.plugin_ref(m, p))
                .flat_map(move |p| p.skills().filter(move |s| s.name == name).map(move |s| (p, s)))
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
                let QualifiedName { plugin: old, marketplace: market, .. } = QualifiedName::parse_plugin(name);
                let renamed: Vec<String> = self
                    .marketplaces()
                    .filter(|m| market.is_none_or(|x| x == m.id))
                    .filter_map(|m| {
                        let new = m.loaded.as_ref().ok()?.manifest.renames.get(old)?;
                        Some(QualifiedName::of_plugin(new, &m.id).to_string())
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

    /// The plugins named `name` the user may see, in catalogue order, in the marketplaces `market` allows.
    fn named<'n>(
        self,
        name: &'n str,
        market: impl Fn(&MarketplaceEntry) -> bool + 'n,
    ) -> impl Iterator<Item = PluginRef<'a>> + 'n
    where
        'a: 'n,
    {
        self.catalogue
            .marketplaces
            .iter()
            .filter(move |m| market(m))
            .flat_map(move |m| m.plugins_named(name).filter_map(move |p| self.plugin_ref(m, p)))
    }

    fn find_exact(self, name: &str) -> Result<PluginRef<'a>, LookupError> {
        if let QualifiedName { plugin, marketplace: Some(market), .. } = QualifiedName::parse_plugin(name) {
            return self
                .named(plugin, move |m| m.id == market)
                .next()
                .ok_or_else(|| LookupError::NotFound(name.to_string()));
        }
        let hits: Vec<_> = self.named(name, |_| true).collect();
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
    /// [`json::summary_json`] of the plugin as this user sees it, serialized, and that escaped as the inside of a JSON
    /// string: the row's, unless a skill of it is hidden from them.
    pub fn summary(&self) -> (Cow<'a, str>, Cow<'a, str>) {
        // The row is serialized without a user, so without a policy.
        if shows_every_skill(&self.plugin) && self.plugin.policy().is_none() {
            (Cow::Borrowed(&self.row.summary), Cow::Borrowed(&self.row.summary_escaped))
        } else {
            let summary = json::summary_json(&self.plugin).to_string();
            let escaped = json::escaped(&summary);
            (Cow::Owned(summary), Cow::Owned(escaped))
        }
    }
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
