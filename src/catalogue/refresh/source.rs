//! From a configured marketplace to what a refresh reads: its source (chosen in [`skillport_sources::select`]), the
//! layout its tree is read in, the forges its external plugins may come from, and those plugins themselves.

use super::log_line;
use super::snapshot::{Snapshot, SnapshotStore};
use crate::config::{MarketplaceConfig, SourceKind};
use skillport_http::HttpClient;
use skillport_sources::archive::Limits;
use skillport_sources::external::{self, Hosts};
use skillport_sources::layout::{self, Layout};
use skillport_sources::load::plugin_entries;
use skillport_sources::select::{self, SourceSpec};
use skillport_sources::tree::{external_folder, EXTERNAL_ROOT};
use skillport_sources::{FileSet, MarketplaceSource};

/// What `m` says about where it is read from, in the terms of [`skillport_sources::select`].
pub fn spec_of(m: &MarketplaceConfig, max_file_bytes: u64) -> SourceSpec {
    SourceSpec {
        kind: m.kind,
        location: m.location.clone(),
        api_base: m.api_base.as_ref().map(|u| u.as_str().to_string()),
        git_ref: m.git_ref.clone(),
        token: m.token.clone(),
        limits: Limits { max_file_bytes, ..Limits::default() },
    }
}

/// The source for one configured marketplace; bundled ones come from the files embedded at build time.
pub fn source_for<'c>(
    m: &MarketplaceConfig,
    client: &'c dyn HttpClient,
    max_file_bytes: u64,
) -> Result<Box<dyn MarketplaceSource + 'c>, String> {
    select::source_for(&spec_of(m, max_file_bytes), client, &crate::bundle::bundled_files)
}

/// Writes the marketplace manifest of a tree that is a single plugin or a collection of skills (see
/// [`layout::as_marketplace`]): the marketplace is named by its id, a plugin without a usable name by its repository.
pub fn read_layout(m: &MarketplaceConfig, files: &mut FileSet) -> Result<Layout, layout::LayoutError> {
    // A git host's location ends with the repository's name (a numeric GitLab project id names none).
    let repository = if m.kind.is_git_host() {
        m.location.rsplit('/').next().filter(|r| !r.bytes().all(|b| b.is_ascii_digit()))
    } else {
        None
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
            // Neither has an API base; a new kind must say here which forge its external plugins may come from.
            SourceKind::Https | SourceKind::Bundled => Ok(()),
        };
    }
    hosts
}

/// Fetches (or takes from the store) the plugins of this marketplace whose source is another repository or an
/// archive, and places them in `snap` where the loader finds them; one that fails is recorded in the snapshot's
/// `external_failures` (until it is placed), so its status says why. `fresh` is a tree straight from upstream:
/// anything it carries under the reserved folder is dropped, so a marketplace cannot pose as a fetched plugin.
/// `client` carries this refresh's request budget: once it is spent the rest wait for the next refresh, whose count
/// is returned.
pub(super) async fn attach_externals(
    m: &MarketplaceConfig,
    snap: &mut Snapshot,
    fresh: bool,
    client: &dyn HttpClient,
    store: &dyn SnapshotStore,
    max_file_bytes: u64,
) -> usize {
    let reserved = format!("{EXTERNAL_ROOT}/");
    let Snapshot { files: out, external_failures: failures, .. } = snap;
    if fresh {
        out.retain(|p| !p.starts_with(&reserved));
        failures.clear();
    }
    let hosts = hosts_for(m);
    // The entries alone say which plugins come from elsewhere: no need to load (and hash) the whole tree here.
    let Ok(entries) = plugin_entries(out) else { return 0 };
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
                        let snap = Snapshot {
                            revision: r.key(),
                            fetched_at: 0,
                            files: f.clone(),
                            complete: true,
                            external_failures: Default::default(),
                        };
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
                    failures.insert(name.clone(), e.to_string());
                    continue;
                }
            },
        };
        if let Err(e) = external::place(out, name, &files) {
            log_line(&format!("skillport: external plugin {}@{} could not be placed: {e}", name, m.id));
        }
        // Once in the tree, the plugin is served from it: an older failure no longer says anything.
        if out.is_dir(&folder) {
            failures.remove(name);
        }
    }
    pending
}
