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
//!
//! The code map: this file holds what one marketplace copy is ([`MarketplaceEntry`], its refresh bookkeeping and
//! what is worked out from it once); `view` reads the catalogue as one user; `name` reads and writes
//! `plugin@marketplace[/skill]`; `json` renders plugins and notes as JSON; `cursor` pages listings; `surface`,
//! `content`, `package` and `updates` answer the questions their names say; `refresh` brings copies up to date.

pub mod content;
pub mod cursor;
pub mod json;
pub mod name;
pub mod package;
pub mod refresh;
pub mod surface;
pub mod updates;
mod view;

pub use json::{detail_json, escape_into, escaped, marketplace_notes, summary_json};
pub use name::QualifiedName;
pub use view::{Filter, Listed, LookupError, PluginRef, View};

use crate::config::{MarketplaceId, SourceKind, Surface};
use skillport_sources::load::{LoadedMarketplace, LoadedPlugin, Skill};
use skillport_sources::FileSet;

/// One configured marketplace and what loading it gave.
#[derive(Debug, Clone)]
pub struct MarketplaceEntry {
    pub id: MarketplaceId,
    pub kind: Origin,
    pub revision: Option<String>,
    /// The loaded marketplace, or why it could not be loaded at all (the rest of the catalogue is still served).
    pub loaded: Result<LoadedMarketplace, String>,
    pub files: FileSet,
    /// Why each external plugin (by name) that is not in `files` could not be fetched the last time it was tried.
    pub external_failures: std::collections::BTreeMap<String, String>,
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

/// Where a marketplace copy came from: a configured source, or a folder the admin command line read
/// (`skillport catalogue --dir`). Printed and serialized as the configuration spells the kind, or `directory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Source(SourceKind),
    Directory,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Source(kind) => kind.as_str(),
            Origin::Directory => "directory",
        }
    }
}

impl From<SourceKind> for Origin {
    fn from(kind: SourceKind) -> Self {
        Origin::Source(kind)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so a table's `{:7}` lines the kinds up.
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What requests read of a marketplace copy, worked out once per copy rather than on every call.
#[derive(Debug, Default)]
pub struct EntryCache {
    /// What a listing needs of each plugin: a `list_plugins` call filters these rows and copies their serialized
    /// summaries.
    listing: std::sync::OnceLock<Vec<ListingRow>>,
    /// The row numbers of `listing` on each surface (`surface::ALL`'s order): a listing filtered by surface alone
    /// counts and pages them without visiting every row.
    on_surface: std::sync::OnceLock<[Vec<u32>; surface::ALL.len()]>,
    /// For each three bytes that occur in some row's `haystack`, the rows they occur in, in order: a query word of
    /// three bytes or more is only in rows holding every three bytes of it, so a query visits the rows of its rarest
    /// three rather than every row.
    trigrams: std::sync::OnceLock<std::collections::HashMap<[u8; 3], Vec<u32>>>,
    /// The plugins' positions by name: a name lookup is one hash away, not a walk over every plugin.
    by_name: std::sync::OnceLock<std::collections::HashMap<Box<str>, Vec<u32>>>,
    /// The positions of the plugins having a skill of each name: a bare skill name is found without a walk over
    /// every plugin's skills.
    by_skill: std::sync::OnceLock<std::collections::HashMap<Box<str>, Vec<u32>>>,
    /// The SHA-256 of each skill's `.skill` package (by skill folder and size cap), as its download link carries it:
    /// building the package to learn it was over half of a `fetch_skill` call. Only packages that could be built.
    packages: std::sync::Mutex<std::collections::HashMap<(String, u64), String>>,
}

impl Clone for EntryCache {
    fn clone(&self) -> Self {
        let packages = self.packages.lock().map(|p| p.clone()).unwrap_or_default();
        EntryCache {
            listing: self.listing.clone(),
            on_surface: self.on_surface.clone(),
            trigrams: self.trigrams.clone(),
            by_name: self.by_name.clone(),
            by_skill: self.by_skill.clone(),
            packages: std::sync::Mutex::new(packages),
        }
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
    /// [`json::summary_json`] of the plugin with every skill shown, serialized.
    summary: Box<str>,
    /// `summary` escaped as the inside of a JSON string: what the text copy of a listing holds of it.
    summary_escaped: Box<str>,
}

fn surface_bit(s: Surface) -> u8 {
    1 << surface::ALL.iter().position(|a| *a == s).unwrap_or(0)
}

/// Each key's positions, in order and each once: what a copy's lookup indexes are built from.
fn positions<K: std::hash::Hash + Eq>(pairs: impl Iterator<Item = (u32, K)>) -> std::collections::HashMap<K, Vec<u32>> {
    let mut index: std::collections::HashMap<K, Vec<u32>> = Default::default();
    for (at, key) in pairs {
        let list = index.entry(key).or_default();
        if list.last() != Some(&at) {
            list.push(at);
        }
    }
    index
}

/// The plugins at the positions an index gave (none for a key it does not hold).
fn at<'a>(plugins: &'a [LoadedPlugin], hits: Option<&'a Vec<u32>>) -> impl Iterator<Item = &'a LoadedPlugin> + 'a {
    hits.map(Vec::as_slice).unwrap_or_default().iter().map(move |&i| &plugins[i as usize])
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
                    let hay: Vec<String> = view::query_haystack(&p).iter().map(|h| h.to_lowercase()).collect();
                    let summary = json::summary_json(&p).to_string();
                    ListingRow {
                        surfaces: p.surfaces().into_iter().fold(0, |bits, s| bits | surface_bit(s)),
                        haystack: hay.join("\n").into(),
                        summary_escaped: json::escaped(&summary).into(),
                        summary: summary.into(),
                    }
                })
                .collect()
        }))
    }

    /// The numbers of the [`MarketplaceEntry::listing`] rows (and plugins) shown on `surface`, in order; empty when
    /// the marketplace did not load.
    pub fn rows_on(&self, surface: Surface) -> &[u32] {
        let Some(rows) = self.listing() else { return &[] };
        let index = self.cache.on_surface.get_or_init(|| {
            std::array::from_fn(|i| {
                let bit = surface_bit(surface::ALL[i]);
                (0..rows.len() as u32).filter(|&r| rows[r as usize].surfaces & bit != 0).collect()
            })
        });
        &index[surface::ALL.iter().position(|a| *a == surface).unwrap_or(0)]
    }

    /// The numbers of the rows whose `haystack` may hold every one of `words` (a superset of those that do, in
    /// order), or `None` when no word is three bytes long or more and so every row may.
    pub fn rows_maybe_with(&self, words: &[String]) -> Option<&[u32]> {
        let rows = self.listing()?;
        if words.iter().all(|w| w.len() < 3) {
            return None;
        }
        let index = self.cache.trigrams.get_or_init(|| {
            let mut index =
                positions(rows.iter().enumerate().flat_map(|(r, row)| {
                    row.haystack.as_bytes().windows(3).map(move |t| (r as u32, [t[0], t[1], t[2]]))
                }));
            // Kept for the copy's life: without the room each list grew into (a third of the index at 10,000
            // plugins).
            index.values_mut().for_each(Vec::shrink_to_fit);
            index.shrink_to_fit();
            index
        });
        words
            .iter()
            .flat_map(|w| w.as_bytes().windows(3))
            .map(|t| index.get(t).map(Vec::as_slice).unwrap_or_default())
            .min_by_key(|rows| rows.len())
    }

    /// The plugins of the loaded marketplace named `name`, in marketplace order (a marketplace names each plugin
    /// once, but a lookup must not assume it).
    pub fn plugins_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a LoadedPlugin> + 'a {
        let plugins = self.loaded.as_ref().map(|l| l.plugins.as_slice()).unwrap_or_default();
        let index = self
            .cache
            .by_name
            .get_or_init(|| positions(plugins.iter().enumerate().map(|(i, p)| (i as u32, Box::from(p.name.as_str())))));
        at(plugins, index.get(name))
    }

    /// The plugins of the loaded marketplace with a skill named `name` (hidden or not), in marketplace order.
    pub fn plugins_with_skill<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a LoadedPlugin> + 'a {
        let plugins = self.loaded.as_ref().map(|l| l.plugins.as_slice()).unwrap_or_default();
        let index = self.cache.by_skill.get_or_init(|| {
            positions(
                plugins
                    .iter()
                    .enumerate()
                    .flat_map(|(i, p)| p.skills.iter().map(move |s| (i as u32, Box::from(s.name.as_str())))),
            )
        });
        at(plugins, index.get(name))
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

#[cfg(test)]
mod tests {
    use super::Origin;
    use crate::config::{MarketplaceId, SourceKind};

    #[test]
    fn origins_and_ids_print_as_configured_and_line_up_in_tables() {
        assert_eq!(serde_json::to_value(Origin::from(SourceKind::Gitlab)).unwrap(), "gitlab");
        assert_eq!(serde_json::to_value(Origin::Directory).unwrap(), "directory");
        assert_eq!(format!("[{:7}]", Origin::from(SourceKind::Https)), "[https  ]");
        let id: MarketplaceId = "acme".parse().unwrap();
        assert_eq!(format!("[{id:6}]"), "[acme  ]");
        assert!(id == "acme" && "acme" == id && id == String::from("acme"));
    }
}
