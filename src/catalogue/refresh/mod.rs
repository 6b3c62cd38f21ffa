//! Keeping the catalogue current without ever being down because an upstream is.
//!
//! Each marketplace is a snapshot (revision, fetch time, files). A refresh asks the source with the previous
//! revision, so an unchanged marketplace costs one conditional request; a changed one replaces the snapshot and is
//! saved to the store (KV on Workers) as the last good copy; a failure keeps serving the previous snapshot and says
//! how old it is. Tool calls never wait for this: the platform runs refreshes off the request path.

use super::{Catalogue, Loading, MarketplaceEntry, RefreshState};
use crate::config::{Config, MarketplaceConfig, SourceKind};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use skillport_sources::archive::Limits;
use skillport_sources::bundled::BundledSource;
use skillport_sources::external::{self, Hosts};
use skillport_sources::github::{GithubConfig, GithubRepo, GithubSource};
use skillport_sources::gitlab::{GitlabAuth, GitlabConfig, GitlabProject, GitlabSource};
use skillport_sources::http::{BudgetClient, HttpClient, Secret};
use skillport_sources::https::{HttpsConfig, HttpsSource};
use skillport_sources::layout::{self, Layout};
use skillport_sources::load::{
    external_error_file, external_folder, load_marketplace_lean, plugin_entries, LoadError, LoadedMarketplace,
    EXTERNAL_ROOT,
};
use skillport_sources::remote::GitRef;
use skillport_sources::{Fetched, FileSet, MarketplaceSource, Previous, SourceError};
use std::cell::RefCell;
use std::collections::HashMap;

/// Where last good copies live between isolates: KV on Workers, memory in tests and the admin CLI.
#[async_trait(?Send)]
pub trait SnapshotStore {
    async fn load(&self, key: &str) -> Option<Vec<u8>>;
    async fn save(&self, key: &str, bytes: Vec<u8>);
}

/// The in-memory store: a real store, used natively.
#[derive(Default)]
pub struct MemoryStore {
    map: RefCell<HashMap<String, Vec<u8>>>,
}

#[async_trait(?Send)]
impl SnapshotStore for MemoryStore {
    async fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.map.borrow().get(key).cloned()
    }
    async fn save(&self, key: &str, bytes: Vec<u8>) {
        self.map.borrow_mut().insert(key.to_string(), bytes);
    }
}

/// One marketplace as last fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub revision: String,
    pub fetched_at: u64,
    pub files: FileSet,
    /// False for what a load that ran out of request budget gave ([`Fetched::Partial`]): the next refresh carries on.
    pub complete: bool,
}

const MAGIC_V1: &[u8; 4] = b"SPS1";
const MAGIC: &[u8; 4] = b"SPS2";

impl Snapshot {
    /// A compact length-prefixed encoding: KV values are bytes, and JSON with base64 would cost a third more.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.files.iter().map(|(p, b)| p.len() + b.len() + 8).sum::<usize>());
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(self.complete as u8);
        out.extend_from_slice(&self.fetched_at.to_le_bytes());
        put(out, self.revision.as_bytes());
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for (path, bytes) in self.files.iter() {
            put(out, path.as_bytes());
            put(out, bytes);
        }
    }

    /// `None` for anything that is not a whole, well-formed snapshot; a damaged copy is ignored, never trusted.
    pub fn decode(bytes: &[u8]) -> Option<Snapshot> {
        let mut r = Reader { bytes, pos: 0 };
        let s = Snapshot::decode_from(&mut r)?;
        (r.pos == bytes.len()).then_some(s)
    }

    fn decode_from(r: &mut Reader<'_>) -> Option<Snapshot> {
        let complete = match r.take(4)? {
            m if m == MAGIC => match r.take(1)?[0] {
                0 => false,
                1 => true,
                _ => return None,
            },
            // Written before partial loads existed: always whole.
            m if m == MAGIC_V1 => true,
            _ => return None,
        };
        let fetched_at = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let revision = String::from_utf8(r.chunk()?.to_vec()).ok()?;
        let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let mut files = FileSet::new();
        for _ in 0..count {
            let path = std::str::from_utf8(r.chunk()?).ok()?.to_string();
            let data = r.chunk()?.to_vec();
            files.insert(&path, data).ok()?;
        }
        Some(Snapshot { revision, fetched_at, files, complete })
    }
}

/// What the store keeps for one marketplace: the copy served, and a newer revision whose load is still under way
/// (served only once whole, so a big change never shows half-loaded over a good copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub served: Snapshot,
    pub next: Option<Snapshot>,
}

impl Stored {
    pub fn encode(&self) -> Vec<u8> {
        Stored::encode_of(&self.served, self.next.as_ref())
    }

    /// The encoding of `Stored { served, next }`, from borrowed snapshots (a copy of their files just to encode
    /// them would double a large marketplace in memory for the moment).
    pub fn encode_of(served: &Snapshot, next: Option<&Snapshot>) -> Vec<u8> {
        let mut out = served.encode();
        if let Some(next) = next {
            next.encode_into(&mut out);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Stored> {
        let mut r = Reader { bytes, pos: 0 };
        let served = Snapshot::decode_from(&mut r)?;
        let next = if r.pos < bytes.len() { Some(Snapshot::decode_from(&mut r)?) } else { None };
        (r.pos == bytes.len()).then_some(Stored { served, next })
    }
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn chunk(&mut self) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(n)
    }
}

/// The store key of a marketplace: its id plus everything that says where it is read from, so a configuration
/// change never serves the old location's copy.
pub fn store_key(m: &MarketplaceConfig) -> String {
    let mut h = Sha256::new();
    for part in [
        m.kind.as_str(),
        &m.location,
        m.git_ref.as_deref().unwrap_or(""),
        m.api_base.as_ref().map(|u| u.as_str()).unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Only a layout other than the default counts, so the keys of copies stored before layouts existed still hold.
    if m.layout != Layout::Auto {
        h.update(m.layout.as_str().as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("marketplace:{}:{hex}", m.id)
}

/// The source for one configured marketplace; bundled ones come from the files embedded at build time.
pub fn source_for<'c>(
    m: &MarketplaceConfig,
    client: &'c dyn HttpClient,
    max_file_bytes: u64,
) -> Result<Box<dyn MarketplaceSource + 'c>, String> {
    let limits = Limits { max_file_bytes, ..Limits::default() };
    let git_ref =
        |r: &Option<String>| r.as_ref().map(|r| GitRef::new(r.clone())).transpose().map_err(|e| e.to_string());
    let token = m.token.as_ref().map(|t| Secret::new(t.expose()));
    Ok(match m.kind {
        SourceKind::Bundled => {
            let files = crate::app::bundled_files(&m.location)
                .ok_or_else(|| format!("no bundled marketplace `{}` is embedded in this build", m.location))?;
            Box::new(BundledSource::new(files))
        }
        SourceKind::Github => {
            let mut c =
                GithubConfig::new(GithubRepo::parse(&m.location).map_err(|e| e.to_string())?).with_limits(limits);
            if let Some(base) = &m.api_base {
                c = c.with_api_base(base.as_str());
            }
            if let Some(r) = git_ref(&m.git_ref)? {
                c = c.with_ref(r);
            }
            if let Some(t) = token {
                c = c.with_token(t);
            }
            Box::new(GithubSource::new(c, client))
        }
        SourceKind::Gitlab => {
            let mut c =
                GitlabConfig::new(GitlabProject::parse(&m.location).map_err(|e| e.to_string())?).with_limits(limits);
            if let Some(base) = &m.api_base {
                c = c.with_api_base(base.as_str());
            }
            if let Some(r) = git_ref(&m.git_ref)? {
                c = c.with_ref(r);
            }
            if let Some(t) = token {
                c = c.with_auth(GitlabAuth::PrivateToken(t));
            }
            Box::new(GitlabSource::new(c, client))
        }
        SourceKind::Https => {
            let mut c = HttpsConfig::new(m.location.clone()).map_err(|e| e.to_string())?.with_limits(limits);
            if let Some(t) = token {
                c = c.with_header("authorization", Secret::new(format!("Bearer {}", t.expose())));
            }
            Box::new(HttpsSource::new(c, client))
        }
    })
}

/// Writes the marketplace manifest of a tree that is a single plugin or a collection of skills (see
/// [`layout::as_marketplace`]): the marketplace is named by its id, a plugin without a usable name by its repository.
pub fn read_layout(m: &MarketplaceConfig, files: &mut FileSet) -> Result<Layout, layout::LayoutError> {
    let repository = match m.kind {
        SourceKind::Github | SourceKind::Gitlab => {
            m.location.rsplit('/').next().filter(|r| !r.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => None,
    };
    layout::as_marketplace(files, m.layout, m.id.as_ref(), repository.unwrap_or(m.id.as_ref()))
}

/// The forges external plugins of this marketplace may be read from: github.com and gitlab.com, plus the
/// marketplace's own GitHub Enterprise / self-managed GitLab host.
pub fn hosts_for(m: &MarketplaceConfig) -> Hosts {
    let mut hosts = Hosts::default();
    if let Some(base) = &m.api_base {
        let web = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => String::new(),
        };
        let api = base.as_str().trim_end_matches('/');
        let _ = match m.kind {
            SourceKind::Github => hosts.add_github(&web, api).map(|_| ()),
            SourceKind::Gitlab => hosts.add_gitlab(&web, api).map(|_| ()),
            _ => Ok(()),
        };
    }
    hosts
}

/// Fetches (or takes from the store) the plugins of this marketplace whose source is another repository or an
/// archive, and places them where the loader finds them. `fresh` is a tree straight from upstream: anything it
/// carries under the reserved folder is dropped, so a marketplace cannot pose as a fetched plugin. `client` carries
/// this refresh's request budget: once it is spent the rest wait for the next refresh, whose count is returned.
async fn attach_externals(
    m: &MarketplaceConfig,
    files: FileSet,
    fresh: bool,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    max_file_bytes: u64,
) -> (FileSet, usize) {
    let reserved = format!("{EXTERNAL_ROOT}/");
    let mut out = files;
    if fresh {
        out.retain(|p| !p.starts_with(&reserved));
    }
    let hosts = hosts_for(m);
    // The entries alone say which plugins come from elsewhere: no need to load (and hash) the whole tree here.
    let Ok(entries) = plugin_entries(&out) else { return (out, 0) };
    let limits = Limits { max_file_bytes, ..Limits::default() };
    let token = m.token.clone();
    let own_base = m.api_base.as_ref().map(|u| u.as_str().trim_end_matches('/').to_string());
    let token_for = |api: &str| if own_base.as_deref() == Some(api) { token.clone() } else { None };
    let mut spent = false;
    let mut pending = 0;
    for (name, entry) in &entries {
        let Some(entry) = entry else { continue };
        let Ok(r) = external::resolve(&entry.source, &hosts) else { continue };
        let Some(folder) = external_folder(name) else { continue };
        if out.is_dir(&folder) {
            continue;
        }
        let key = format!("external:{}", r.key());
        let cached = if r.is_immutable() { store.load(&key).await.and_then(|b| Snapshot::decode(&b)) } else { None };
        let files = match cached {
            Some(s) => s.files,
            None if spent => {
                pending += 1;
                continue;
            }
            None => match external::fetch(&r, client, &token_for, &limits).await {
                Ok(f) => {
                    if r.is_immutable() {
                        let snap = Snapshot { revision: r.key(), fetched_at: 0, files: f.clone(), complete: true };
                        store.save(&key, snap.encode()).await;
                    }
                    f
                }
                Err(e) if e.is_budget() => {
                    spent = true;
                    pending += 1;
                    continue;
                }
                Err(e) => {
                    log_line(&format!("skillport: external plugin {}@{} ({r}) could not be fetched: {e}", name, m.id));
                    // The plugin's status says why (the next refresh tries again).
                    if let Some(marker) = external_error_file(name) {
                        let _ = out.insert(&marker, e.to_string().into_bytes());
                    }
                    continue;
                }
            },
        };
        if let Err(e) = external::place(&mut out, name, &files) {
            log_line(&format!("skillport: external plugin {}@{} could not be placed: {e}", name, m.id));
        }
    }
    (out, pending)
}

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
    let loaded = load_marketplace_lean(&snap.files, &hosts_for(m));
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
        id: m.id.to_string(),
        kind: m.kind.as_str(),
        revision: Some(snap.revision),
        loaded: loaded.map_err(|e| skillport_sources::shown_locations(&e.to_string()).into_owned()),
        files: snap.files,
        fetched_at: Some(snap.fetched_at),
        error: error.map(|e| skillport_sources::shown_locations(&e).into_owned()),
        refresh: RefreshState { partial: !snap.complete, ..refresh },
        cache: Default::default(),
    }
}

/// The entry serving a marketplace read from a local folder (the admin CLI's `catalogue --dir`, and the differential
/// test against Claude Code): the same lean load and entry as a fetched copy, judged against no configured forge.
pub fn local_entry(id: &str, files: FileSet) -> MarketplaceEntry {
    let loaded = load_marketplace_lean(&files, &Hosts::default());
    MarketplaceEntry {
        id: id.to_string(),
        kind: "directory",
        revision: Some(files.digest()),
        loaded: loaded.map_err(|e| e.to_string()),
        files,
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
/// [`due_one`]); without it the store's last good copy is used, and when that is whole and younger than `max_age`
/// no upstream request is made at all. `client` carries this marketplace's share of the refresh's request budget.
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
            if settled && now.saturating_sub(stored.served.fetched_at) < max_age {
                return entry(m, stored.served, None, RefreshState { attempted_at: Some(now), ..Default::default() });
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
                let before = s.files.len();
                let (files, pending) = attach_externals(m, s.files, false, client, store, max_file_bytes).await;
                s.files = files;
                // Plugins fetched since the last save make the stored copy worth rewriting.
                if s.files.len() != before && m.kind != SourceKind::Bundled {
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
            let (files, pending) = attach_externals(m, files, true, client, store, max_file_bytes).await;
            let snap = Snapshot { revision, fetched_at: now, files, complete: true };
            // Only a tree whose marketplace.json loads becomes the last good copy. Loaded once: the load that checks
            // it is the one served.
            let loaded = match load_marketplace_lean(&snap.files, &hosts_for(m)) {
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
            let part = Snapshot { revision, fetched_at: now, files, complete: false };
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
                    id: m.id.to_string(),
                    kind: m.kind.as_str(),
                    revision: None,
                    loaded: Err(format!("not loaded yet: {waiting}")),
                    files: FileSet::new(),
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
            id: m.id.to_string(),
            kind: m.kind.as_str(),
            revision: None,
            loaded: Err(error.clone()),
            files: FileSet::new(),
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
        c.marketplaces.iter().filter(|m| m.refresh.loading.is_some()).map(|m| m.id.clone()).collect::<Vec<_>>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::block_on;
    use skillport_sources::http::{CannedClient, CountingClient, HttpError, HttpRequest, HttpResponse};
    use std::cell::Cell;
    use std::collections::BTreeMap;

    #[test]
    fn snapshots_round_trip_and_reject_damage() {
        let mut files = FileSet::new();
        files.insert("a/b.md", b"hello".to_vec()).unwrap();
        files.insert("c.bin", vec![0, 1, 2, 255]).unwrap();
        let s = Snapshot { revision: "abc;e=\"x\"".into(), fetched_at: 42, files, complete: true };
        let bytes = s.encode();
        assert_eq!(Snapshot::decode(&bytes), Some(s));
        for cut in [0, 3, 4, 12, bytes.len() - 1] {
            assert_eq!(Snapshot::decode(&bytes[..cut]), None, "{cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Snapshot::decode(&extra), None);
    }

    /// A real HTTP client would need a server; this one answers like a GitHub that is down, and counts.
    struct Down(Cell<usize>);
    #[async_trait::async_trait(?Send)]
    impl HttpClient for Down {
        async fn send(&self, _req: HttpRequest) -> Result<HttpResponse, HttpError> {
            self.0.set(self.0.get() + 1);
            Ok(HttpResponse::new(503))
        }
    }

    fn cfg(env: &[(&str, &str)]) -> Config {
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        crate::config::load_embedded(&env).unwrap()
    }

    #[test]
    fn stale_if_error_serves_the_stored_copy_and_says_so() {
        let cfg = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
        let m = &cfg.marketplaces[0];
        let store = MemoryStore::default();
        // A copy saved an hour ago by another isolate (the example marketplace's files stand in for the repo).
        let files = crate::app::bundled_files("marketplace").unwrap();
        let snap = Snapshot { revision: "sha1".into(), fetched_at: 1000, files, complete: true };
        block_on(store.save(&store_key(m), snap.encode()));
        let client = Down(Cell::new(0));
        let now = 1000 + 3600;
        let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
        let e = block_on(refresh_one(m, None, &client, &store, now, &t));
        assert_eq!(client.0.get(), 1, "one request to learn the upstream is down");
        assert_eq!(e.loaded.as_ref().unwrap().plugins.len(), 3);
        assert_eq!(e.fetched_at, Some(1000));
        assert!(e.error.as_deref().unwrap().contains("503"), "{:?}", e.error);
        // A fresh stored copy is used with no upstream request at all.
        let client = Down(Cell::new(0));
        let e = block_on(refresh_one(m, None, &client, &store, 1100, &t));
        assert_eq!((client.0.get(), e.error.is_none()), (0, true));
        // Past stale_seconds the old copy is dropped and the failure reported instead.
        let short = Timing { stale_for: 60, ..t };
        let e = block_on(refresh_one(m, None, &Down(Cell::new(0)), &store, now, &short));
        assert!(e.loaded.is_err());
        // Nothing stored and upstream down: the marketplace is reported, not fatal.
        let empty = MemoryStore::default();
        let e = block_on(refresh_one(m, None, &Down(Cell::new(0)), &empty, now, &t));
        assert!(e.loaded.is_err());
    }

    /// An upstream that fails every request with `status` (and `retry-after`, when given), counting them.
    struct Failing(Cell<usize>, u16, Option<&'static str>);
    #[async_trait::async_trait(?Send)]
    impl HttpClient for Failing {
        async fn send(&self, _req: HttpRequest) -> Result<HttpResponse, HttpError> {
            self.0.set(self.0.get() + 1);
            let r = HttpResponse::new(self.1);
            Ok(match self.2 {
                Some(s) => r.with_header("retry-after", s),
                None => r,
            })
        }
    }

    /// Refreshes as the platform does (only when [`due`]) once a second from `from` to `to`; upstream requests made.
    fn refresh_every_second(
        cfg: &Config,
        cat: &mut Catalogue,
        client: &dyn HttpClient,
        store: &MemoryStore,
        from: u64,
        to: u64,
    ) {
        for now in from..to {
            if due(cat, cfg, now) {
                *cat = block_on(refresh_all(cfg, Some(cat), client, store, now));
            }
        }
    }

    fn github_with_a_stored_copy(refresh_seconds: u64) -> (Config, MemoryStore) {
        let cfg = cfg(&[
            ("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#),
            ("SKILLPORT_CATALOGUE__REFRESH_SECONDS", &refresh_seconds.to_string()),
        ]);
        let store = MemoryStore::default();
        let files = crate::app::bundled_files("marketplace").unwrap();
        // With an ETag, so that a refresh asks conditionally and a 304 is an answer to it.
        let snap = Snapshot { revision: "sha1;e=\"e1\"".into(), fetched_at: 0, files, complete: true };
        block_on(store.save(&store_key(&cfg.marketplaces[0]), snap.encode()));
        (cfg, store)
    }

    #[test]
    fn a_failing_upstream_is_retried_after_refresh_seconds_then_less_and_less_often() {
        let (cfg, store) = github_with_a_stored_copy(10);
        let client = Failing(Cell::new(0), 500, None);
        let mut cat = block_on(refresh_all(&cfg, None, &client, &store, 100));
        assert_eq!(client.0.get(), 1);
        assert!(cat.marketplaces[0].error.is_some() && cat.marketplaces[0].loaded.is_ok(), "the stored copy is served");
        assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(110));
        // Tries at 110, 130 (20 s later), then every 40 s: not once per request.
        refresh_every_second(&cfg, &mut cat, &client, &store, 101, 251);
        assert_eq!(client.0.get(), 6);
        assert_eq!(cat.marketplaces[0].refresh.failures, 6);
        assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(250 + 40));
        assert!(cat.marketplaces[0].loaded.is_ok());
        // The wait stops growing at four refresh periods, and at an hour unless the period is longer.
        assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 10), 40);
        assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 1800), 3600);
        assert_eq!(retry_delay(&SourceError::Invalid(String::new()), 30, 7200), 7200);
        // One success (GitHub's 304 to the conditional request) resets it.
        let back = block_on(refresh_all(&cfg, Some(&cat), &Failing(Cell::new(0), 304, None), &store, 290));
        assert_eq!(back.marketplaces[0].refresh.failures, 0, "{:?}", back.marketplaces[0].error);
        assert!(back.marketplaces[0].error.is_none() && back.marketplaces[0].refresh.retry_at.is_none());
    }

    #[test]
    fn retry_after_is_waited_for() {
        let (cfg, store) = github_with_a_stored_copy(2);
        let client = Failing(Cell::new(0), 429, Some("60"));
        let mut cat = block_on(refresh_all(&cfg, None, &client, &store, 1000));
        assert_eq!(client.0.get(), 1);
        assert_eq!(cat.marketplaces[0].refresh.retry_at, Some(1060));
        refresh_every_second(&cfg, &mut cat, &client, &store, 1001, 1060);
        assert_eq!(client.0.get(), 1, "nothing before the upstream's time");
        refresh_every_second(&cfg, &mut cat, &client, &store, 1060, 1061);
        assert_eq!(client.0.get(), 2);
        // A Retry-After beyond a day is taken as a day.
        let absurd = SourceError::RateLimited { retry_after_seconds: Some(10_000_000) };
        assert_eq!(retry_delay(&absurd, 1, 300), 86_400);
    }

    /// A webhook's forced refresh asks upstream at once, whatever the copy's age, but not before a `Retry-After`; the
    /// flag does not outlive the refresh it asked for.
    #[test]
    fn a_forced_refresh_ignores_the_age_but_not_retry_after() {
        let (cfg, store) = github_with_a_stored_copy(3600);
        let client = Failing(Cell::new(0), 304, None);
        let mut cat = block_on(refresh_all(&cfg, None, &client, &store, 10_000));
        assert_eq!(client.0.get(), 1);
        assert!(!due(&cat, &cfg, 10_010), "an hour-old copy is not due after 10 s");
        cat.marketplaces[0].refresh.forced = true;
        assert!(due(&cat, &cfg, 10_010));
        let cat = block_on(refresh_all(&cfg, Some(&cat), &client, &store, 10_010));
        assert_eq!(client.0.get(), 2, "one conditional request");
        assert!(!cat.marketplaces[0].refresh.forced && !due(&cat, &cfg, 10_011));
        // Told to wait by the upstream: forced or not, nothing before its time.
        let limited = Failing(Cell::new(0), 429, Some("60"));
        let mut cat = block_on(refresh_all(&cfg, None, &limited, &MemoryStore::default(), 2000));
        cat.marketplaces[0].refresh.forced = true;
        assert!(!due(&cat, &cfg, 2030));
        let kept = block_on(refresh_all(&cfg, Some(&cat), &limited, &store, 2030));
        assert_eq!(limited.0.get(), 1);
        assert!(kept.marketplaces[0].refresh.forced, "still wanted once the wait is over");
        let until = kept.marketplaces[0].refresh.retry_at.unwrap();
        assert!(!due(&kept, &cfg, until - 1) && due(&kept, &cfg, until));
    }

    /// Serves `files` at `root` like a static HTTPS server with ETags, counting requests.
    fn static_server(client: &CannedClient, root: &str, files: &FileSet) {
        for (path, content) in files.iter() {
            let etag = format!("\"{}\"", &skillport_sources::sha256_digest(content)[7..19]);
            let content = content.to_vec();
            client.route("GET", &format!("{root}{path}"), move |req| {
                if req.header_value("if-none-match") == Some(etag.as_str()) {
                    return Ok(HttpResponse::new(304));
                }
                Ok(HttpResponse::new(200).with_header("etag", etag.clone()).with_body(content.clone()))
            });
        }
    }

    /// `n` in-tree plugins, one skill each, and the index `skillport validate --write-index` writes.
    fn indexed_marketplace(n: usize, body: &str) -> FileSet {
        let mut files = FileSet::new();
        let entries: Vec<serde_json::Value> = (0..n)
            .map(|i| serde_json::json!({"name": format!("p{i:03}"), "source": format!("./plugins/p{i:03}")}))
            .collect();
        let manifest = serde_json::json!({"name": "big", "plugins": entries});
        files.insert(".claude-plugin/marketplace.json", manifest.to_string().into_bytes()).unwrap();
        for i in 0..n {
            let skill = format!("---\nname: s{i:03}\ndescription: Skill {i}.\n---\n{body}\n");
            files.insert(&format!("plugins/p{i:03}/skills/s{i:03}/SKILL.md"), skill.into_bytes()).unwrap();
        }
        let index = skillport_sources::index_for(&files);
        files.insert(skillport_sources::INDEX_FILE, index).unwrap();
        files
    }

    #[test]
    fn a_large_https_marketplace_loads_over_several_refreshes_each_within_the_budget() {
        const ROOT: &str = "https://cdn.example/big/";
        let cfg = cfg(&[
            (
                "SKILLPORT_MARKETPLACES",
                r#"[{id="big",kind="https",location="https://cdn.example/big/.claude-plugin/marketplace.json"},
                    {id="example",kind="bundled",location="marketplace"}]"#,
            ),
            ("SKILLPORT_CATALOGUE__SUBREQUESTS_PER_REFRESH", "40"),
        ]);
        let client = CannedClient::new();
        static_server(&client, ROOT, &indexed_marketplace(286, "v1"));
        let counting = CountingClient::new(&client);
        let store = MemoryStore::default();
        let mut cat = block_on(refresh_all(&cfg, None, &counting, &store, 0));
        let mut runs = vec![counting.reset()];
        let big = |c: &Catalogue| c.marketplaces.iter().find(|m| m.id == "big").unwrap().clone();
        assert!(big(&cat).refresh.partial);
        let loading = big(&cat).refresh.loading.unwrap();
        assert!(loading.files_pending > 0 && !loading.newer, "{loading:?}");
        assert!(
            big(&cat).loaded.as_ref().unwrap().plugins.len() == 286,
            "the manifest came first: every plugin listed"
        );
        let notes = super::super::marketplace_notes(cat.unfiltered(), 0);
        assert!(
            notes.iter().any(
                |n| n["marketplace"] == "big" && n["loading"].as_str().is_some_and(|t| t.contains("still loading"))
            ),
            "{notes:?}"
        );
        // Each refresh (due at once while loading) carries on, within 40 requests.
        for now in 1..100 {
            if !due(&cat, &cfg, now) {
                break;
            }
            cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, now));
            runs.push(counting.reset());
        }
        assert!(runs.iter().all(|&n| n <= 40), "{runs:?}");
        // 288 files (index, manifest, 286 SKILL.md), each continuation spending one on the index's 304.
        assert_eq!(runs.len(), 288usize.div_ceil(39), "{runs:?}");
        let whole = big(&cat);
        assert!(!whole.refresh.partial && whole.refresh.loading.is_none());
        let plugins = &whole.loaded.as_ref().unwrap().plugins;
        assert!(plugins.iter().all(|p| p.skills.len() == 1));
        assert!(!whole.files.contains(skillport_sources::https::PARTIAL_FILE));
        // Unchanged and due: one conditional request.
        cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, 1000));
        assert_eq!(counting.reset(), 1);

        // A change to every skill: too much for one refresh, so the whole old copy stays served meanwhile.
        let client2 = CannedClient::new();
        static_server(&client2, ROOT, &indexed_marketplace(286, "v2"));
        let counting = CountingClient::new(&client2);
        let old_revision = big(&cat).revision.clone();
        cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, 2000));
        assert!(counting.reset() <= 40);
        let during = big(&cat);
        assert_eq!(during.revision, old_revision, "the old revision is still served");
        assert!(during.refresh.loading.unwrap().newer && during.refresh.next.is_some());
        // A new isolate picks the load up from the store.
        let mut cold = block_on(refresh_all(&cfg, None, &counting, &store, 2001));
        assert!(counting.reset() <= 40);
        assert_eq!(big(&cold).revision, old_revision);
        assert!(big(&cold).refresh.next.is_some());
        let mut now = 2002;
        while due(&cold, &cfg, now) && now < 2100 {
            cold = block_on(refresh_all(&cfg, Some(&cold), &counting, &store, now));
            assert!(counting.reset() <= 40);
            now += 1;
        }
        let done = big(&cold);
        assert_ne!(done.revision, old_revision);
        assert!(done.refresh.next.is_none() && done.refresh.loading.is_none());
        let skill = done.files.get("plugins/p123/skills/s123/SKILL.md").unwrap();
        assert!(String::from_utf8_lossy(skill).contains("v2"));
    }

    #[test]
    fn external_plugins_beyond_one_refresh_arrive_over_the_next_ones() {
        use std::io::Write;
        const ROOT: &str = "https://cdn.example/ext/";
        let cfg = cfg(&[(
            "SKILLPORT_MARKETPLACES",
            r#"[{id="ext",kind="https",location="https://cdn.example/ext/.claude-plugin/marketplace.json"}]"#,
        )]);
        let client = CannedClient::new();
        let mut plugins = Vec::new();
        for i in 0..100 {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            zip.start_file(format!("skills/e{i:03}/SKILL.md"), zip::write::SimpleFileOptions::default()).unwrap();
            write!(zip, "---\nname: e{i:03}\ndescription: External {i}.\n---\n").unwrap();
            let bytes = zip.finish().unwrap().into_inner();
            let sha = skillport_sources::sha256_digest(&bytes);
            client.on_get(&format!("{ROOT}plugins/p{i:03}.zip"), HttpResponse::new(200).with_body(bytes));
            plugins.push(serde_json::json!({"name": format!("p{i:03}"),
                "source": {"source": "archive", "url": format!("{ROOT}plugins/p{i:03}.zip"), "sha256": &sha[7..]}}));
        }
        let mut files = FileSet::new();
        let manifest = serde_json::json!({"name": "ext", "plugins": plugins}).to_string().into_bytes();
        files.insert(".claude-plugin/marketplace.json", manifest).unwrap();
        let index = skillport_sources::index_for(&files);
        files.insert(skillport_sources::INDEX_FILE, index).unwrap();
        static_server(&client, ROOT, &files);
        let counting = CountingClient::new(&client);
        let store = MemoryStore::default();
        let mut cat = block_on(refresh_all(&cfg, None, &counting, &store, 0));
        let mut runs = vec![counting.reset()];
        let pending = cat.marketplaces[0].refresh.loading.unwrap().externals_pending;
        assert_eq!(pending, 62, "index, manifest and 38 plugins in the first 40 requests");
        let servable = |c: &Catalogue| {
            c.marketplaces[0].loaded.as_ref().unwrap().plugins.iter().filter(|p| p.status.is_servable()).count()
        };
        assert_eq!(servable(&cat), 38);
        for now in 1..20 {
            if !due(&cat, &cfg, now) {
                break;
            }
            cat = block_on(refresh_all(&cfg, Some(&cat), &counting, &store, now));
            runs.push(counting.reset());
        }
        // Then a 304 on the index and up to 39 plugins a refresh.
        assert_eq!(runs, [40, 40, 24]);
        assert_eq!(servable(&cat), 100);
        assert!(cat.marketplaces[0].refresh.loading.is_none());
        // Pinned by sha256, they come from the store after that: a new isolate makes one request.
        let cold = block_on(refresh_all(&cfg, None, &counting, &store, 10_000));
        assert_eq!((counting.reset(), servable(&cold)), (1, 100));
    }

    #[test]
    fn snapshots_written_before_partial_loads_still_decode() {
        let mut files = FileSet::new();
        files.insert("a.md", b"x".to_vec()).unwrap();
        let s = Snapshot { revision: "r".into(), fetched_at: 7, files, complete: true };
        let mut v1 = s.encode();
        v1.remove(4);
        v1[..4].copy_from_slice(b"SPS1");
        assert_eq!(Stored::decode(&v1), Some(Stored { served: s.clone(), next: None }));
        let partial = Snapshot { complete: false, ..s.clone() };
        let both = Stored { served: s, next: Some(partial) };
        assert_eq!(Stored::decode(&both.encode()), Some(both.clone()));
        let bytes = both.encode();
        assert_eq!(Stored::decode(&bytes[..bytes.len() - 1]), None);
    }

    /// An HTTPS archive of `entries`, configured with `layout`, refreshed once.
    fn archive_marketplace(entries: &[(&str, &str)], layout: &str) -> MarketplaceEntry {
        use std::io::Write;
        let cfg = cfg(&[(
            "SKILLPORT_MARKETPLACES",
            &format!(r#"[{{id="repo",kind="https",location="https://cdn.example/repo.zip",layout="{layout}"}}]"#),
        )]);
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (path, text) in entries {
            zip.start_file(*path, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        let client = CannedClient::new();
        client.on_get(
            "https://cdn.example/repo.zip",
            HttpResponse::new(200).with_body(zip.finish().unwrap().into_inner()),
        );
        let store = MemoryStore::default();
        let t = Timing { max_age: 300, stale_for: 86400, max_file_bytes: 1 << 20 };
        let e = block_on(refresh_one(&cfg.marketplaces[0], None, &client, &store, 0, &t));
        // What was served is what was stored: a new isolate serves the same plugins from the store alone.
        let again = block_on(refresh_one(&cfg.marketplaces[0], None, &Down(Cell::new(0)), &store, 1, &t));
        assert_eq!(
            again.loaded.as_ref().map(|l| l.plugins.len()).ok(),
            e.loaded.as_ref().map(|l| l.plugins.len()).ok()
        );
        e
    }

    #[test]
    fn a_plugin_or_a_skills_only_archive_is_served_as_a_marketplace() {
        let skill = |n: &str| format!("---\nname: {n}\ndescription: Skill {n}.\n---\n");
        let plugin = [
            (".claude-plugin/plugin.json", r#"{"name":"solo","version":"1.2.0"}"#),
            ("skills/a/SKILL.md", &skill("a")),
        ];
        let e = archive_marketplace(&plugin, "auto");
        let loaded = e.loaded.as_ref().unwrap();
        assert_eq!(
            loaded.plugins.iter().map(|p| (p.name.as_str(), p.version())).collect::<Vec<_>>(),
            [("solo", Some("1.2.0"))]
        );
        assert!(e.error.is_none());

        let skills = [("pdf/SKILL.md", skill("pdf")), ("docx/SKILL.md", skill("docx")), ("README.md", "# x".into())];
        let skills: Vec<(&str, &str)> = skills.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let e = archive_marketplace(&skills, "skills");
        let names: Vec<&str> = e.loaded.as_ref().unwrap().plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["docx", "pdf"]);

        // Nothing recognisable: the marketplace says what was looked for.
        let e = archive_marketplace(&[("README.md", "# nothing"), ("docs/a.md", "x")], "auto");
        let error = e.loaded.unwrap_err();
        assert!(error.contains("looked for `.claude-plugin/marketplace.json`"), "{error}");
        // A layout asked for that the tree does not have is refused the same way.
        let e = archive_marketplace(&skills, "plugin");
        assert!(e.loaded.unwrap_err().contains("layout `plugin`"));
    }

    #[test]
    fn store_keys_change_with_layout_but_not_for_auto() {
        let at = |layout: &str| {
            let extra = if layout.is_empty() { String::new() } else { format!(r#",layout="{layout}""#) };
            let c = cfg(&[(
                "SKILLPORT_MARKETPLACES",
                &format!(r#"[{{id="gh",kind="github",location="acme/plugins"{extra}}}]"#),
            )]);
            store_key(&c.marketplaces[0])
        };
        assert_eq!(at(""), at("auto"));
        assert_ne!(at("auto"), at("skills"));
        assert_ne!(at("plugin"), at("skills"));
    }

    #[test]
    fn store_keys_change_with_location() {
        let a = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
        let b = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/other"}]"#)]);
        assert_ne!(store_key(&a.marketplaces[0]), store_key(&b.marketplaces[0]));
        assert!(store_key(&a.marketplaces[0]).starts_with("marketplace:gh:"));
    }
}
