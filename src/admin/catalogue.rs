//! `skillport catalogue`: the merged catalogue as the Worker would build it, fetched from this machine with the same
//! refresh and loading code (`catalogue::refresh::refresh_all` over an in-memory store), printed as a table.

use super::http::{NativeClient, Stats};
use super::layers::{Layers, Options, UsageError};
use crate::catalogue::refresh::{refresh_all, MemoryStore};
use crate::catalogue::{self, surface, Catalogue, Filter, PluginRef};
use crate::config::{self, MarketplaceId, Surface, DEFAULT_TOML};
use serde_json::json;
use skillport_sources::PluginStatus;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the catalogue is shown.
#[derive(Debug, Clone, Default)]
pub struct Show {
    /// Only the plugins meant for this surface.
    pub surface: Option<Surface>,
    pub json: bool,
}

/// What `skillport catalogue` prints and how it ends.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// 0: every marketplace loaded; 1: the configuration is invalid or a marketplace failed.
    pub code: u8,
}

/// `--surface` accepts the configuration's names and the short tag codes marketplaces use (`CC`, `CD`, `CAI`).
pub fn parse_surface(word: &str) -> Result<Surface, String> {
    match surface::parse_surfaces(word).as_deref() {
        Some([one]) => Ok(*one),
        _ => Err(format!("unknown surface `{word}`; expected one of claude-code, claude-desktop, claude-ai")),
    }
}

pub fn run(opts: &Options, show: &Show, process_env: &BTreeMap<String, String>) -> Result<Outcome, UsageError> {
    let (_, catalogue) = match fetch(opts, process_env)? {
        Ok(fetched) => fetched,
        Err(outcome) => return Ok(outcome),
    };
    let failed = catalogue.marketplaces.iter().any(|m| m.loaded.is_err() || m.error.is_some());
    let stdout = if show.json { json_report(&catalogue, show) } else { table(&catalogue, show) };
    Ok(Outcome { stdout, stderr: String::new(), code: u8::from(failed) })
}

/// The configuration and the whole catalogue it gives, fetched from this machine with the Worker's refresh code;
/// `Err` is the outcome to print when the configuration is invalid. Shared with `skillport export`.
pub fn fetch(
    opts: &Options,
    process_env: &BTreeMap<String, String>,
) -> Result<Result<(config::Config, Catalogue), Outcome>, UsageError> {
    let layers = Layers::read(opts, process_env)?;
    let config = match config::load(DEFAULT_TOML, &layers.admin_text, &layers.bindings) {
        Ok(config) => config,
        Err(errors) => {
            let mut stderr =
                String::from("skillport: the configuration is invalid; `skillport config check` says more:\n");
            for e in &errors.0 {
                let f = layers.finding(e);
                let _ = writeln!(stderr, "  error: `{}` (from {}): {}", f.key, f.origin, f.message);
            }
            return Ok(Err(Outcome { stdout: String::new(), stderr, code: 1 }));
        }
    };
    let client = NativeClient::new(config.catalogue.upstream_timeout_ms).map_err(UsageError)?;
    let progress =
        std::io::stderr().is_terminal().then(|| Progress::start(config.marketplaces.len(), client.stats.clone()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    // Run after run, as the Worker's refreshes would, until nothing is left loading: this machine has no
    // per-invocation subrequest limit, but the result should be the whole catalogue the Worker ends up serving.
    let store = MemoryStore::default();
    let now = crate::clock::now_unix();
    let mut catalogue = runtime.block_on(refresh_all(&config, None, &client, &store, now));
    for _ in 0..1000 {
        if !catalogue.marketplaces.iter().any(|m| m.refresh.loading.is_some()) {
            break;
        }
        catalogue = runtime.block_on(refresh_all(&config, Some(&catalogue), &client, &store, now));
    }
    if let Some(progress) = progress {
        progress.stop();
    }
    Ok(Ok((config, catalogue)))
}

/// `skillport catalogue --dir DIR`: the catalogue of the one marketplace in the local folder `dir`, read as the
/// Worker's sources give a tree (symbolic links and `.git` left out) and loaded by the Worker's own code.
pub fn run_dir(dir: &std::path::Path, show: &Show) -> Result<Outcome, UsageError> {
    if !dir.is_dir() {
        return Err(UsageError(format!("{} is not a folder", dir.display())));
    }
    let (files, _) = super::validate::read_folder(dir)?;
    let name = skillport_sources::plugin_entries(&files).ok().and_then(|_| {
        let bytes = files.get(skillport_sources::tree::MARKETPLACE_FILE)?;
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        value.get("name")?.as_str()?.parse::<MarketplaceId>().ok()
    });
    // A name that could not be a marketplace id (Claude Code wants kebab-case too) is listed as `local`, so every
    // qualified name printed stays one that can be typed back.
    let id = name.unwrap_or_else(|| "local".parse().expect("a valid id"));
    let entry = crate::catalogue::refresh::local_entry(id, files);
    let failed = entry.loaded.is_err();
    let catalogue = Catalogue { marketplaces: vec![entry] };
    let stdout =
        if show.json { json_report_with(&catalogue, show, catalogue::detail_json) } else { table(&catalogue, show) };
    Ok(Outcome { stdout, stderr: String::new(), code: u8::from(failed) })
}

fn listed<'a>(catalogue: &'a Catalogue, show: &Show) -> Vec<PluginRef<'a>> {
    catalogue.unfiltered().list(&Filter { surface: show.surface, ..Filter::default() })
}

fn status(p: &PluginRef<'_>) -> String {
    match &p.plugin.status {
        PluginStatus::Servable => "servable".into(),
        PluginStatus::NotServable { reason } => format!("not servable: {reason}"),
        PluginStatus::Invalid { reason } => format!("invalid: {reason}"),
    }
}

fn table(catalogue: &Catalogue, show: &Show) -> String {
    let plugins = listed(catalogue, show);
    let header = ["PLUGIN", "VERSION", "SURFACES", "SKILLS", "STATUS"].map(String::from);
    let mut rows = vec![header];
    for p in &plugins {
        let surfaces: Vec<&str> = p.surfaces().into_iter().map(Surface::as_str).collect();
        rows.push([
            p.qualified_name(),
            p.plugin.version().unwrap_or("-").to_owned(),
            surfaces.join(","),
            p.skills().count().to_string(),
            status(p),
        ]);
    }
    let widths: Vec<usize> = (0..4).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:>w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    if plugins.is_empty() {
        out.push_str("(no plugins)\n");
    }

    let problems: Vec<String> = plugins
        .iter()
        .flat_map(|p| {
            let name = p.qualified_name();
            let own = p.plugin.problems.iter().map(move |m| format!("{name}: {m}"));
            let skills = p.skills().flat_map(move |s| {
                let name = format!("{}: skill {}", p.qualified_name(), s.name);
                s.problems.iter().map(move |m| format!("{name}: {m}"))
            });
            own.chain(skills).collect::<Vec<_>>()
        })
        .collect();
    if !problems.is_empty() {
        out.push_str("\nProblems (served anyway; `skillport validate` on the marketplace's checkout says more):\n");
        for line in problems {
            let _ = writeln!(out, "  {line}");
        }
    }

    out.push_str("\nMarketplaces:\n");
    let id_width = catalogue.marketplaces.iter().map(|m| m.id.len()).max().unwrap_or(0);
    for m in &catalogue.marketplaces {
        let state = match (&m.loaded, &m.error) {
            (Err(e), _) => format!("NOT LOADED: {e}"),
            (Ok(l), Some(e)) => format!("{} plugins from an older copy; the refresh failed: {e}", l.plugins.len()),
            (Ok(l), None) if m.refresh.loading.is_some() => {
                format!("{} plugin(s) so far; {}", l.plugins.len(), m.refresh.loading.unwrap_or_default())
            }
            (Ok(l), None) => {
                let revision = m.revision.as_deref().map(short_revision).unwrap_or_default();
                format!("ok, {} plugin(s), revision {revision}", l.plugins.len())
            }
        };
        let _ = writeln!(out, "  {:id_width$}  {:7}  {}", m.id, m.kind, state);
    }
    let shown = match show.surface {
        Some(s) => format!(" for {s}"),
        None => String::new(),
    };
    let _ = writeln!(out, "\n{} plugin(s){shown} in {} marketplace(s).", plugins.len(), catalogue.marketplaces.len());
    out
}

fn short_revision(revision: &str) -> String {
    if revision.chars().count() > 24 {
        format!("{}…", revision.chars().take(23).collect::<String>())
    } else {
        revision.to_owned()
    }
}

fn json_report(catalogue: &Catalogue, show: &Show) -> String {
    json_report_with(catalogue, show, catalogue::summary_json)
}

/// The JSON report, each plugin shown by `plugin_json` (`--dir` shows each in full, as `get_plugin` does: commands
/// and skill paths included).
fn json_report_with(
    catalogue: &Catalogue,
    show: &Show,
    plugin_json: fn(&PluginRef<'_>) -> serde_json::Value,
) -> String {
    let plugins: Vec<serde_json::Value> = listed(catalogue, show).iter().map(plugin_json).collect();
    let marketplaces: Vec<serde_json::Value> = catalogue
        .marketplaces
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "kind": m.kind,
                "revision": m.revision,
                "loaded": m.loaded.is_ok(),
                "plugins": m.loaded.as_ref().map(|l| l.plugins.len()).unwrap_or(0),
                "error": m.error,
                "loadError": m.loaded.as_ref().err(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({"plugins": plugins, "marketplaces": marketplaces}))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// A spinner on stderr while marketplaces are fetched (only when stderr is a terminal), with what went over the wire.
struct Progress {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Progress {
    fn start(marketplaces: usize, stats: Arc<Stats>) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            use std::io::Write as _;
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                let requests = stats.requests.load(Ordering::Relaxed);
                let kib = stats.bytes.load(Ordering::Relaxed) / 1024;
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[K{} fetching {marketplaces} marketplace(s): {requests} request(s), {kib} KiB",
                    frames[i % frames.len()]
                );
                let _ = err.flush();
                drop(err);
                i += 1;
                std::thread::sleep(Duration::from_millis(120));
            }
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        });
        Progress { done, thread }
    }

    fn stop(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
