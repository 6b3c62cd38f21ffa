//! Keeping the catalogue current without ever being down because an upstream is.
//!
//! Each marketplace is a snapshot (revision, fetch time, files). A refresh asks the source with the previous
//! revision, so an unchanged marketplace costs one conditional request; a changed one replaces the snapshot and is
//! saved to the store (KV on Workers) as the last good copy; a failure keeps serving the previous snapshot and says
//! how old it is. Tool calls never wait for this: the platform runs refreshes off the request path.

use super::{Catalogue, MarketplaceEntry};
use crate::config::{Config, MarketplaceConfig, SourceKind};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use skillport_sources::archive::Limits;
use skillport_sources::bundled::BundledSource;
use skillport_sources::external::{self, Hosts};
use skillport_sources::github::{GithubConfig, GithubRepo, GithubSource};
use skillport_sources::gitlab::{GitlabAuth, GitlabConfig, GitlabProject, GitlabSource};
use skillport_sources::http::{HttpClient, Secret};
use skillport_sources::https::{HttpsConfig, HttpsSource};
use skillport_sources::load::{
    external_error_file, external_folder, load_marketplace, load_marketplace_with, EXTERNAL_ROOT,
};
use skillport_sources::remote::GitRef;
use skillport_sources::{Fetched, FileSet, MarketplaceSource};
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
}

const MAGIC: &[u8; 4] = b"SPS1";

impl Snapshot {
    /// A compact length-prefixed encoding: KV values are bytes, and JSON with base64 would cost a third more.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.files.iter().map(|(p, b)| p.len() + b.len() + 8).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.fetched_at.to_le_bytes());
        put(&mut out, self.revision.as_bytes());
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for (path, bytes) in self.files.iter() {
            put(&mut out, path.as_bytes());
            put(&mut out, bytes);
        }
        out
    }

    /// `None` for anything that is not a whole, well-formed snapshot; a damaged copy is ignored, never trusted.
    pub fn decode(bytes: &[u8]) -> Option<Snapshot> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return None;
        }
        let fetched_at = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let revision = String::from_utf8(r.chunk()?.to_vec()).ok()?;
        let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let mut files = FileSet::new();
        for _ in 0..count {
            let path = std::str::from_utf8(r.chunk()?).ok()?.to_string();
            let data = r.chunk()?.to_vec();
            files.insert(&path, data).ok()?;
        }
        (r.pos == bytes.len()).then_some(Snapshot { revision, fetched_at, files })
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

/// External plugin fetches per refresh: two requests each on GitHub, so a refresh stays well inside the 50
/// subrequests a Worker may make; the rest follow on later refreshes, each cached for good once pinned by sha.
pub const EXTERNAL_FETCHES_PER_REFRESH: usize = 15;

/// Fetches (or takes from the store) the plugins of this marketplace whose source is another repository or an
/// archive, and places them where the loader finds them. `fresh` is a tree straight from upstream: anything it
/// carries under the reserved folder is dropped, so a marketplace cannot pose as a fetched plugin.
async fn attach_externals(
    m: &MarketplaceConfig,
    files: FileSet,
    fresh: bool,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    max_file_bytes: u64,
) -> FileSet {
    let reserved = format!("{EXTERNAL_ROOT}/");
    let mut out = if fresh {
        let mut clean = FileSet::new();
        for (p, b) in files.iter().filter(|(p, _)| !p.starts_with(&reserved)) {
            let _ = clean.insert(p, b.to_vec());
        }
        clean
    } else {
        files
    };
    let hosts = hosts_for(m);
    let Ok(loaded) = load_marketplace_with(&out, &hosts) else { return out };
    let limits = Limits { max_file_bytes, ..Limits::default() };
    let token = m.token.clone();
    let own_base = m.api_base.as_ref().map(|u| u.as_str().trim_end_matches('/').to_string());
    let token_for = |api: &str| if own_base.as_deref() == Some(api) { token.clone() } else { None };
    let mut budget = EXTERNAL_FETCHES_PER_REFRESH;
    for plugin in &loaded.plugins {
        let Some(entry) = &plugin.entry else { continue };
        let Ok(r) = external::resolve(&entry.source, &hosts) else { continue };
        let Some(folder) = external_folder(&plugin.name) else { continue };
        if out.is_dir(&folder) {
            continue;
        }
        let key = format!("external:{}", r.key());
        let cached = if r.is_immutable() { store.load(&key).await.and_then(|b| Snapshot::decode(&b)) } else { None };
        let files = match cached {
            Some(s) => s.files,
            None if budget > 0 => {
                budget -= 1;
                match external::fetch(&r, client, &token_for, &limits).await {
                    Ok(f) => {
                        if r.is_immutable() {
                            store
                                .save(&key, Snapshot { revision: r.key(), fetched_at: 0, files: f.clone() }.encode())
                                .await;
                        }
                        f
                    }
                    Err(e) => {
                        log_line(&format!(
                            "skillport: external plugin {}@{} ({r}) could not be fetched: {e}",
                            plugin.name, m.id
                        ));
                        // The plugin's status says why (the next refresh tries again).
                        if let Some(marker) = external_error_file(&plugin.name) {
                            let _ = out.insert(&marker, e.to_string().into_bytes());
                        }
                        continue;
                    }
                }
            }
            None => continue,
        };
        if let Err(e) = external::place(&mut out, &plugin.name, &files) {
            log_line(&format!("skillport: external plugin {}@{} could not be placed: {e}", plugin.name, m.id));
        }
    }
    out
}

fn log_line(line: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("{line}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

fn entry(m: &MarketplaceConfig, snap: Snapshot, error: Option<String>) -> MarketplaceEntry {
    MarketplaceEntry {
        id: m.id.to_string(),
        kind: m.kind.as_str(),
        revision: Some(snap.revision),
        loaded: load_marketplace_with(&snap.files, &hosts_for(m)).map_err(|e| e.to_string()),
        files: snap.files,
        fetched_at: Some(snap.fetched_at),
        error,
    }
}

fn snapshot_of(e: &MarketplaceEntry) -> Option<Snapshot> {
    Some(Snapshot { revision: e.revision.clone()?, fetched_at: e.fetched_at?, files: e.files.clone() })
}

/// The clock rules of a refresh.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A stored copy younger than this is used without asking upstream.
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

/// Brings one marketplace up to date. `previous` is what this isolate serves now; without it the store's last good
/// copy is used, and when that is younger than `max_age` no upstream request is made at all.
pub async fn refresh_one(
    m: &MarketplaceConfig,
    previous: Option<&MarketplaceEntry>,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    now: u64,
    limits: &Timing,
) -> MarketplaceEntry {
    let (max_age, max_file_bytes) = (limits.max_age, limits.max_file_bytes);
    let failed = |m: &MarketplaceConfig, last: Option<Snapshot>, error: String| {
        // Past `stale_seconds` an old copy is no longer served: a marketplace that stays unreachable disappears
        // rather than being served from a copy nobody can vouch for.
        let last = last.filter(|s| now.saturating_sub(s.fetched_at) <= limits.stale_for);
        failed(m, last, error)
    };
    let key = store_key(m);
    let mut last = previous.and_then(snapshot_of);
    if last.is_none() {
        last = store.load(&key).await.and_then(|b| Snapshot::decode(&b));
        if let Some(s) = &last {
            if now.saturating_sub(s.fetched_at) < max_age {
                return entry(m, s.clone(), None);
            }
        }
    }
    let source = match source_for(m, client, max_file_bytes) {
        Ok(s) => s,
        Err(e) => return failed(m, last, e),
    };
    match source.fetch(last.as_ref().map(|s| s.revision.as_str())).await {
        // Not saved again: KV writes are metered, and a stored copy that looks old costs one conditional request.
        Ok(Fetched::NotModified) => match last {
            Some(mut s) => {
                s.fetched_at = now;
                let before = s.files.len();
                s.files = attach_externals(m, s.files, false, client, store, max_file_bytes).await;
                // Plugins fetched since the last save make the stored copy worth rewriting.
                if s.files.len() != before && m.kind != SourceKind::Bundled {
                    store.save(&key, s.encode()).await;
                }
                entry(m, s, None)
            }
            None => failed(m, None, "the source answered not-modified, but no copy is at hand".into()),
        },
        Ok(Fetched::Tree { revision, files }) => {
            let files = attach_externals(m, files, true, client, store, max_file_bytes).await;
            let snap = Snapshot { revision, fetched_at: now, files };
            // Only a tree whose marketplace.json loads becomes the last good copy.
            if let Err(e) = load_marketplace(&snap.files) {
                return failed(m, last, format!("the new revision {} is not a valid marketplace: {e}", snap.revision));
            }
            // Bundled marketplaces are in the binary already.
            if m.kind != SourceKind::Bundled {
                store.save(&key, snap.encode()).await;
            }
            entry(m, snap, None)
        }
        Err(e) => failed(m, last, e.to_string()),
    }
}

fn failed(m: &MarketplaceConfig, last: Option<Snapshot>, error: String) -> MarketplaceEntry {
    match last {
        Some(s) => entry(m, s, Some(error)),
        None => MarketplaceEntry {
            id: m.id.to_string(),
            kind: m.kind.as_str(),
            revision: None,
            loaded: Err(error.clone()),
            files: FileSet::new(),
            fetched_at: None,
            error: Some(error),
        },
    }
}

/// Brings every configured marketplace up to date, concurrently.
pub async fn refresh_all(
    cfg: &Config,
    previous: Option<&Catalogue>,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    now: u64,
) -> Catalogue {
    let timing = Timing::of(cfg);
    let futures = cfg.marketplaces.iter().map(|m| {
        let prev = previous.and_then(|c| c.marketplaces.iter().find(|e| e.id == m.id.as_str()));
        refresh_one(m, prev, client, store, now, &timing)
    });
    Catalogue { marketplaces: futures_util::future::join_all(futures).await }
}

/// True when any marketplace is older than the refresh interval.
pub fn due(catalogue: &Catalogue, cfg: &Config, now: u64) -> bool {
    catalogue.marketplaces.iter().any(|m| match m.fetched_at {
        Some(t) => now.saturating_sub(t) >= cfg.catalogue.refresh_seconds,
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::block_on;
    use skillport_sources::http::{HttpError, HttpRequest, HttpResponse};
    use std::cell::Cell;
    use std::collections::BTreeMap;

    #[test]
    fn snapshots_round_trip_and_reject_damage() {
        let mut files = FileSet::new();
        files.insert("a/b.md", b"hello".to_vec()).unwrap();
        files.insert("c.bin", vec![0, 1, 2, 255]).unwrap();
        let s = Snapshot { revision: "abc;e=\"x\"".into(), fetched_at: 42, files };
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
        let snap = Snapshot { revision: "sha1".into(), fetched_at: 1000, files };
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

    #[test]
    fn store_keys_change_with_location() {
        let a = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/plugins"}]"#)]);
        let b = cfg(&[("SKILLPORT_MARKETPLACES", r#"[{id="gh",kind="github",location="acme/other"}]"#)]);
        assert_ne!(store_key(&a.marketplaces[0]), store_key(&b.marketplaces[0]));
        assert!(store_key(&a.marketplaces[0]).starts_with("marketplace:gh:"));
    }
}
