//! Keeping the catalogue current without ever being down because an upstream is.
//!
//! Each marketplace is a snapshot (revision, fetch time, files, and why any external plugin could not be fetched). A
//! refresh asks the source with the previous revision, so an unchanged marketplace costs one conditional request; a
//! changed one replaces the snapshot and is saved to the store (KV on Workers) as the last good copy; a failure keeps
//! serving the previous snapshot and says how old it is. Tool calls never wait for this: the platform runs refreshes
//! off the request path.

use super::{Catalogue, Loading, MarketplaceEntry, Origin, RefreshState};
use crate::config::{Config, MarketplaceConfig, MarketplaceId, SourceKind};
use skillport_http::{BudgetClient, HttpClient};
use skillport_sources::external::Hosts;
use skillport_sources::load::{load_marketplace_lean, LoadError, LoadedMarketplace};
use skillport_sources::{Fetched, FileSet, Previous, SourceError};
use std::collections::BTreeMap;

mod snapshot;
mod source;
#[cfg(test)]
mod tests;

pub use snapshot::{store_key, MemoryStore, Snapshot, SnapshotStore, Stored};
use source::attach_externals;
pub use source::{hosts_for, read_layout, source_for, spec_of};

/// An informational line (progress of a load), not a failure.
fn log_info(line: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_log!("{line}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

fn log_line(line: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("{line}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// The entry serving `snap`. The loaded form is the lean one: serving never reads the JSON as written.
fn entry(m: &MarketplaceConfig, snap: Snapshot, error: Option<String>, refresh: RefreshState) -> MarketplaceEntry {
    let loaded = load_marketplace_lean(&snap.files, &hosts_for(m), &snap.external_failures);
    entry_loaded(m, snap, loaded, error, refresh)
}

fn entry_loaded(
    m: &MarketplaceConfig,
    snap: Snapshot,
    loaded: Result<LoadedMarketplace, LoadError>,
    error: Option<String>,
    refresh: RefreshState,
) -> MarketplaceEntry {
    MarketplaceEntry {
        id: m.id.clone(),
        kind: m.kind.into(),
        revision: Some(snap.revision),
        loaded: loaded.map_err(|e| skillport_sources::shown_locations(&e.to_string()).into_owned()),
        files: snap.files,
        external_failures: snap.external_failures,
        fetched_at: Some(snap.fetched_at),
        error: error.map(|e| skillport_sources::shown_locations(&e).into_owned()),
        refresh: RefreshState { partial: !snap.complete, ..refresh },
        cache: Default::default(),
    }
}

/// The entry serving a marketplace read from a local folder (the admin CLI's `catalogue --dir`, and the differential
/// test against Claude Code): the same lean load and entry as a fetched copy, judged against no configured forge.
pub fn local_entry(id: MarketplaceId, files: FileSet) -> MarketplaceEntry {
    let loaded = load_marketplace_lean(&files, &Hosts::default(), &BTreeMap::new());
    MarketplaceEntry {
        id,
        kind: Origin::Directory,
        revision: Some(files.digest()),
        loaded: loaded.map_err(|e| e.to_string()),
        files,
        external_failures: BTreeMap::new(),
        fetched_at: None,
        error: None,
        refresh: RefreshState::default(),
        cache: Default::default(),
    }
}

fn snapshot_of(e: &MarketplaceEntry) -> Option<Snapshot> {
    Some(Snapshot {
        revision: e.revision.clone()?,
        fetched_at: e.fetched_at?,
        files: e.files.clone(),
        complete: !e.refresh.partial,
        external_failures: e.external_failures.clone(),
    })
}

/// The clock rules of a refresh.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A stored copy younger than this is used without asking upstream; also the first retry delay after a failure.
    pub max_age: u64,
    /// How long after its fetch a copy may still be served while upstream fails.
    pub stale_for: u64,
    pub max_file_bytes: u64,
}

impl Timing {
    pub fn of(cfg: &Config) -> Timing {
        Timing {
            max_age: cfg.catalogue.refresh_seconds,
            stale_for: cfg.catalogue.stale_seconds,
            max_file_bytes: cfg.catalogue.max_file_bytes,
        }
    }
}

/// The most of an upstream's `Retry-After` that is honoured (a day: a larger one is more likely a broken header than
/// a plan).
const MAX_RETRY_AFTER: u64 = 86_400;

/// When to try again after the `failures`-th failure in a row: `refresh_seconds`, doubling with each further failure
/// up to four times `refresh_seconds` (and no more than an hour unless `refresh_seconds` is longer), so an outage
/// costs the upstream little while the catalogue still catches up soon after it ends; never sooner than the
/// upstream's `Retry-After`.
fn retry_delay(error: &SourceError, failures: u32, refresh_seconds: u64) -> u64 {
    let refresh = refresh_seconds.max(1);
    let doubled = refresh.saturating_mul(1 << failures.saturating_sub(1).min(2));
    let backoff = doubled.min(refresh.max(3600));
    match error {
        SourceError::RateLimited { retry_after_seconds: Some(s) } => backoff.max((*s).min(MAX_RETRY_AFTER)),
        _ => backoff,
    }
}

/// Whether this marketplace should be refreshed now: never while the upstream asked us to wait or a failure backs
/// off; at once while a load is under way or a webhook asked for it; else once its copy is `refresh_seconds` old.
pub fn due_one(m: &MarketplaceEntry, now: u64, refresh_seconds: u64) -> bool {
    if m.refresh.retry_at.is_some_and(|t| now < t) {
        return false;
    }
    if m.refresh.loading.is_some() || m.refresh.forced {
        return true;
    }
    match m.fetched_at {
        Some(t) => now.saturating_sub(t) >= refresh_seconds,
        None => true,
    }
}

/// Brings one marketplace up to date. `previous` is what this isolate serves now (returned as it is when not
/// [`due_one`]); without it the store's last good copy is used, and when that is whole and within `stale_for` no
/// upstream request is made at all (a copy older than `max_age` is left due, for the next refresh to revalidate).
/// `client` carries this marketplace's share of the refresh's request budget.
pub async fn refresh_one(
    m: &MarketplaceConfig,
    previous: Option<&MarketplaceEntry>,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    now: u64,
    limits: &Timing,
) -> MarketplaceEntry {
    let (max_age, max_file_bytes) = (limits.max_age, limits.max_file_bytes);
    if let Some(p) = previous.filter(|p| !due_one(p, now, max_age)) {
        return p.clone();
    }
    let key = store_key(m);
    let mut last = previous.and_then(snapshot_of);
    let mut next = previous.and_then(|p| p.refresh.next.clone());
    let failures = previous.map_or(0, |p| p.refresh.failures);
    if last.is_none() {
        if let Some(stored) = store.load(&key).await.and_then(|b| Stored::decode(&b)) {
            let settled = stored.served.complete && stored.next.is_none();
            let age = now.saturating_sub(stored.served.fetched_at);
            if settled && age < max_age {
                return entry(m, stored.served, None, RefreshState { attempted_at: Some(now), ..Default::default() });
            }
            // Without a copy of its own (a fresh isolate), an older whole copy that may still be served is served at
            // once, not revalidated first: it stays due, so the refresh after the response asks the upstream. Only a
            // load under way carries on here, and only a missing or too old copy is loaded before answering.
            if settled && previous.is_none() && age <= limits.stale_for {
                return entry(m, stored.served, None, RefreshState::default());
            }
            last = Some(stored.served);
            next = stored.next;
        }
    }
    let ok = |loading: Option<Loading>, next: Option<Snapshot>| RefreshState {
        attempted_at: Some(now),
        loading,
        next,
        ..Default::default()
    };
    let loading = |files_pending: usize, externals_pending: usize, newer: bool| {
        (files_pending + externals_pending > 0).then_some(Loading {
            files_pending,
            externals_pending,
            newer,
            waiting: false,
        })
    };
    let source = match source_for(m, client, max_file_bytes) {
        Ok(s) => s,
        Err(e) => return failed(m, last, next, e, failures, None, now, limits),
    };
    // A newer revision's load under way carries on; else the source revalidates the copy served.
    let base = next.as_ref().or(last.as_ref());
    let asked = base.map(|s| Previous { revision: &s.revision, files: &s.files, complete: s.complete });
    match source.fetch_from(asked).await {
        // Not saved again: KV writes are metered, and a stored copy that looks old costs one conditional request.
        Ok(Fetched::NotModified) => match last {
            Some(mut s) if s.complete => {
                s.fetched_at = now;
                let before = (s.files.len(), s.external_failures.keys().cloned().collect::<Vec<_>>());
                let pending = attach_externals(m, &mut s, false, client, store, max_file_bytes).await;
                // Plugins fetched, or failing for the first time, since the last save make the stored copy worth
                // rewriting.
                let changed = s.files.len() != before.0 || !s.external_failures.keys().eq(before.1.iter());
                if changed && m.kind != SourceKind::Bundled {
                    store.save(&key, Stored::encode_of(&s, None)).await;
                }
                entry(m, s, None, ok(loading(0, pending, false), None))
            }
            last => failed(
                m,
                last,
                next,
                "the source answered not-modified, but no whole copy is at hand".into(),
                failures,
                None,
                now,
                limits,
            ),
        },
        Ok(Fetched::Tree { revision, mut files }) => {
            if let Err(e) = read_layout(m, &mut files) {
                let error = format!("the new revision {revision} is not a valid marketplace: {e}");
                return failed(m, last, None, error, failures, None, now, limits);
            }
            let mut snap =
                Snapshot { revision, fetched_at: now, files, complete: true, external_failures: BTreeMap::new() };
            let pending = attach_externals(m, &mut snap, true, client, store, max_file_bytes).await;
            // Only a tree whose marketplace.json loads becomes the last good copy. Loaded once: the load that checks
            // it is the one served.
            let loaded = match load_marketplace_lean(&snap.files, &hosts_for(m), &snap.external_failures) {
                Ok(loaded) => loaded,
                Err(e) => {
                    let error = format!("the new revision {} is not a valid marketplace: {e}", snap.revision);
                    return failed(m, last, None, error, failures, None, now, limits);
                }
            };
            // Bundled marketplaces are in the binary already.
            if m.kind != SourceKind::Bundled {
                store.save(&key, Stored::encode_of(&snap, None)).await;
            }
            entry_loaded(m, snap, Ok(loaded), None, ok(loading(0, pending, false), None))
        }
        Ok(Fetched::Partial { revision, files, pending }) => {
            let part =
                Snapshot { revision, fetched_at: now, files, complete: false, external_failures: BTreeMap::new() };
            log_info(&format!(
                "skillport: marketplace {} loaded in part ({} files, at least {pending} to go); the next refresh carries on",
                m.id,
                part.files.len()
            ));
            match last.filter(|s| s.complete) {
                // A whole copy stays served while the newer revision loads beside it.
                Some(served) => {
                    store.save(&key, Stored::encode_of(&served, Some(&part))).await;
                    entry(m, served, None, ok(loading(pending, 0, true), Some(part)))
                }
                None => {
                    store.save(&key, Stored::encode_of(&part, None)).await;
                    entry(m, part, None, ok(loading(pending, 0, false), None))
                }
            }
        }
        // This refresh's requests ran out before this marketplace's turn: not a failure of its upstream, and it
        // stays due, so the next refresh starts with it.
        Err(e) if e.is_budget() => {
            let waiting = Loading { waiting: true, ..Loading::default() };
            let state = RefreshState { loading: Some(waiting), next, failures, ..Default::default() };
            match last {
                Some(s) => entry(m, s, previous.and_then(|p| p.error.clone()), state),
                None => MarketplaceEntry {
                    id: m.id.clone(),
                    kind: m.kind.into(),
                    revision: None,
                    loaded: Err(format!("not loaded yet: {waiting}")),
                    files: FileSet::new(),
                    external_failures: BTreeMap::new(),
                    fetched_at: None,
                    error: None,
                    refresh: state,
                    cache: Default::default(),
                },
            }
        }
        Err(e) => {
            let delay = retry_delay(&e, failures + 1, max_age);
            failed(m, last, next, e.to_string(), failures, Some(delay), now, limits)
        }
    }
}

/// A refresh that failed: the last good copy (within `stale_seconds`) is served with the error, and the next try
/// waits `delay` (backing off).
#[allow(clippy::too_many_arguments)]
fn failed(
    m: &MarketplaceConfig,
    last: Option<Snapshot>,
    next: Option<Snapshot>,
    error: String,
    failures: u32,
    delay: Option<u64>,
    now: u64,
    timing: &Timing,
) -> MarketplaceEntry {
    // Refresh errors reach users (tool results, /status): never with a URL's query or credentials.
    let error = skillport_sources::shown_locations(&error).into_owned();
    let failures = failures + 1;
    let delay = delay.unwrap_or_else(|| retry_delay(&SourceError::Invalid(String::new()), failures, timing.max_age));
    let refresh = RefreshState {
        attempted_at: Some(now),
        retry_at: Some(now.saturating_add(delay)),
        failures,
        next,
        ..Default::default()
    };
    // Past `stale_seconds` an old copy is no longer served: a marketplace that stays unreachable disappears rather
    // than being served from a copy nobody can vouch for.
    let last = last.filter(|s| now.saturating_sub(s.fetched_at) <= timing.stale_for);
    let serving = if last.is_some() { "serving the last good copy" } else { "no copy to serve" };
    log_line(&format!(
        "skillport: refresh of marketplace {} failed ({failures} in a row), {serving}; next try in {delay}s: {error}",
        m.id
    ));
    match last {
        Some(s) => entry(m, s, Some(error), refresh),
        None => MarketplaceEntry {
            id: m.id.clone(),
            kind: m.kind.into(),
            revision: None,
            loaded: Err(error.clone()),
            files: FileSet::new(),
            external_failures: BTreeMap::new(),
            fetched_at: None,
            error: Some(error),
            refresh,
            cache: Default::default(),
        },
    }
}

/// Brings every configured marketplace up to date, concurrently, within `catalogue.subrequests_per_refresh`
/// upstream requests in all: each marketplace due gets an equal share (at least 3, what a cold GitHub load takes).
pub async fn refresh_all(
    cfg: &Config,
    previous: Option<&Catalogue>,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    now: u64,
) -> Catalogue {
    let timing = Timing::of(cfg);
    let budget = cfg.catalogue.subrequests_per_refresh as usize;
    let total = BudgetClient::new(client, budget);
    let prev = |m: &MarketplaceConfig| previous.and_then(|c| c.marketplaces.iter().find(|e| e.id == m.id.as_str()));
    // Bundled marketplaces make no requests.
    let due = cfg
        .marketplaces
        .iter()
        .filter(|m| m.kind != SourceKind::Bundled && prev(m).is_none_or(|p| due_one(p, now, timing.max_age)))
        .count();
    let share = (budget / due.max(1)).max(3);
    let shares: Vec<BudgetClient<&BudgetClient<&dyn HttpClient>>> =
        cfg.marketplaces.iter().map(|_| BudgetClient::new(&total, share)).collect();
    let futures =
        cfg.marketplaces.iter().zip(&shares).map(|(m, client)| refresh_one(m, prev(m), client, store, now, &timing));
    let catalogue = Catalogue { marketplaces: futures_util::future::join_all(futures).await };
    let loading = |c: &Catalogue| {
        c.marketplaces.iter().filter(|m| m.refresh.loading.is_some()).map(|m| m.id.to_string()).collect::<Vec<_>>()
    };
    let (before, after) = (previous.map(loading).unwrap_or_default(), loading(&catalogue));
    if !before.is_empty() || !after.is_empty() {
        let still = if after.is_empty() {
            "nothing left loading".to_owned()
        } else {
            format!("still loading: {}", after.join(", "))
        };
        log_info(&format!("skillport: refresh made {} upstream request(s) of at most {budget}; {still}", total.used()));
    }
    catalogue
}

/// True when any marketplace is [`due_one`].
pub fn due(catalogue: &Catalogue, cfg: &Config, now: u64) -> bool {
    catalogue.marketplaces.iter().any(|m| due_one(m, now, cfg.catalogue.refresh_seconds))
}
