//! `skillport export`: the catalogue the Worker would serve, written out in the two forms Claude's own plugin
//! marketplaces take, so an organisation can hand Skillport's merged sources (GitLab, HTTPS archives, other owners'
//! private repositories, external plugin sources) to Claude's built-in marketplace as well.
//!
//! - `export claude-org --out DIR`: one ZIP per servable plugin for the organisation upload form (Organization
//!   settings > Plugins > Add plugins > Upload a file): the plugin's own files at the archive root, with
//!   `.claude-plugin/plugin.json` always present (written from the marketplace entry when the plugin has none, or
//!   completed from it), as the upload and the Plugins API read a version's files. The form takes a `.zip` under
//!   50 MB and keys plugins by their manifest `name` (a second upload of a name replaces the first), so a plugin
//!   cannot be uploaded in parts: one whose ZIP is over the limit is refused with its size, never split into
//!   differently named plugins that members would see as other plugins. Names the upload refuses (it takes lowercase
//!   letters, digits and `-`, at most 64 characters) are refused here too, with the rule.
//! - `export git --out DIR`: a self-contained marketplace repository: `.claude-plugin/marketplace.json` with every
//!   plugin's entry as written, its `source` replaced by `./plugins/<name>`, and the plugin's files (fetched from
//!   wherever they were) copied there, versions untouched, for Claude's GitHub sync and `/plugin marketplace add`.
//!   Two things are written the way Claude Code's schema wants rather than as found: `author` as an object (the
//!   connector also reads a bare name; `claude plugin validate` fails the marketplace over it), and a metadata-only
//!   plugin.json for a strict plugin that has none.
//!
//! Both take the plugins of every loaded marketplace, fetched as `skillport catalogue` fetches them; `--marketplace`
//! narrows that, and `--as-user EMAIL` (with `--groups`, `--teams`, `--orgs`) exports what that identity would see
//! under the `[access]` rules: hidden plugins are skipped and hidden skills left out of their plugin. Plugins that
//! are not servable are skipped with the loader's reason. A name used by plugins of several marketplaces becomes
//! `<name>-<marketplace id>` for each of them (with `-2`, `-3`... only if that is taken too), so the result never
//! depends on which marketplace happens to come first. Every outcome is printed and written to
//! `DIR/export-report.json`.
//!
//! Not for: uploading (Claude's upload form, its Plugins API or a git push do that), or access control in the
//! exported copy: Claude's own marketplace settings decide who installs what there.
//!
//! The stages, one file each: `choose` here (which plugins, under which names), `plugin` (what one plugin exports
//! as: its files, its manifest, its name), `write` (the two forms on disk) and `report` (what is printed and written
//! to the report).

use super::catalogue::{self, Outcome};
use super::layers::{Options, UsageError};
use crate::access::Access;
use crate::catalogue::{Catalogue, PluginRef, View};
use crate::config::Surface;
use files::{pretty, write_file};
use report::Line;
use serde_json::{json, Value};
use skillport_providers::Identity;
use skillport_sources::tree::MARKETPLACE_FILE;
use skillport_sources::PluginStatus;
use std::collections::BTreeMap;
use std::path::Path;

mod files;
mod plugin;
mod report;
mod write;

/// The upload form's limit: "a valid .zip under 50 MB" (read as decimal megabytes, the stricter reading).
pub const CLAUDE_ORG_MAX_ZIP_BYTES: u64 = 50_000_000;
/// The report written beside the export.
pub const REPORT_FILE: &str = "export-report.json";

/// Which form to write.
#[derive(Debug, Clone)]
pub enum Target {
    ClaudeOrg { max_zip_bytes: u64 },
    Git { name: String },
}

/// What to export, and as whom.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub marketplaces: Vec<String>,
    pub surface: Option<Surface>,
    pub as_user: Option<String>,
    pub groups: Vec<String>,
    pub teams: Vec<String>,
    pub orgs: Vec<String>,
}

impl Selection {
    /// Whether the marketplace `id` is exported: every one when none is named.
    fn includes(&self, id: &str) -> bool {
        self.marketplaces.is_empty() || self.marketplaces.iter().any(|m| m == id)
    }
}

pub fn run(
    opts: &Options,
    target: &Target,
    selection: &Selection,
    out: &Path,
    process_env: &BTreeMap<String, String>,
) -> Result<Outcome, UsageError> {
    let (config, catalogue) = match catalogue::fetch(opts, process_env)? {
        Ok(fetched) => fetched,
        Err(outcome) => return Ok(outcome),
    };
    for id in &selection.marketplaces {
        if !catalogue.marketplaces.iter().any(|m| &m.id == id) {
            let known: Vec<&str> = catalogue.marketplaces.iter().map(|m| m.id.as_str()).collect();
            return Err(UsageError(format!("no marketplace `{id}` is configured (configured: {})", known.join(", "))));
        }
    }
    let identity = selection.as_user.as_deref().map(|email| identity(email, selection));
    let access = identity.as_ref().map(|i| Access::new(&config.access, i));
    let owner = config.server.name.clone();
    export(&catalogue, access.as_ref(), target, selection, out, &owner)
}

/// The identity `--as-user` describes: a verified email (its domain counts for `domains` rules) and the groups,
/// GitHub teams and organisations given, as a provider would have vouched for them.
fn identity(email: &str, selection: &Selection) -> Identity {
    Identity {
        provider: "export".into(),
        subject: email.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        name: None,
        domain: email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()),
        groups: selection.groups.clone(),
        orgs: selection.orgs.clone(),
        teams: selection.teams.clone(),
    }
}

/// A plugin chosen for export, with the name it is exported under.
struct Chosen<'a> {
    plugin: PluginRef<'a>,
    /// Its entry in the marketplace file, as written (the catalogue keeps only the parsed form).
    raw: Option<Value>,
    name: String,
}

/// What [`choose`] found: the plugins to export, and a line for each plugin skipped.
struct Choice<'a> {
    skipped: Vec<Line>,
    chosen: Vec<Chosen<'a>>,
    /// Some selected marketplace did not load, or is served from an older copy.
    failed_marketplaces: bool,
}

fn export(
    catalogue: &Catalogue,
    access: Option<&Access<'_>>,
    target: &Target,
    selection: &Selection,
    out: &Path,
    owner: &str,
) -> Result<Outcome, UsageError> {
    let view = match access {
        Some(a) => catalogue.view(a),
        None => catalogue.unfiltered(),
    };
    let Choice { skipped: mut lines, chosen, failed_marketplaces } = choose(catalogue, view, selection);

    write::prepare_out(out, target)?;
    let mut entries: Vec<Value> = Vec::new();
    for c in &chosen {
        lines.push(write::plugin(c, target, out, &mut entries)?);
    }
    if let Target::Git { name } = target {
        let manifest = json!({
            "name": name,
            "owner": {"name": owner},
            "metadata": {"description": format!("Exported by Skillport from: {}", exported_ids(&chosen).join(", "))},
            "plugins": entries,
        });
        write_file(&out.join(MARKETPLACE_FILE), &pretty(&manifest))?;
    }

    report::write(catalogue, target, selection, &lines, out)?;
    Ok(report::outcome(catalogue, selection, &lines, out, failed_marketplaces))
}

/// The servable plugins of the selected marketplaces that the user sees, each with its exported name; a line for
/// every other plugin, saying why it is skipped.
fn choose<'a>(catalogue: &'a Catalogue, view: View<'a>, selection: &Selection) -> Choice<'a> {
    let mut lines: Vec<Line> = Vec::new();
    let mut chosen: Vec<Chosen<'a>> = Vec::new();
    let mut failed_marketplaces = false;
    for m in catalogue.marketplaces.iter().filter(|m| selection.includes(&m.id)) {
        let loaded = match &m.loaded {
            Ok(loaded) => loaded,
            Err(_) => {
                failed_marketplaces = true;
                continue;
            }
        };
        failed_marketplaces |= m.error.is_some();
        let raws = plugin::raw_entries(m);
        for (index, plugin) in loaded.plugins.iter().enumerate() {
            let everything = PluginRef { marketplace: m, plugin, access: None };
            if let Some(s) = selection.surface {
                if !everything.surfaces().contains(&s) {
                    continue;
                }
            }
            let Some(visible) = view.plugin_ref(m, plugin) else {
                let who = selection.as_user.as_deref().unwrap_or_default();
                lines.push(Line::new(&everything, "skipped", format!("hidden from {who} by the access rules")));
                continue;
            };
            match &plugin.status {
                PluginStatus::Servable => {}
                PluginStatus::NotServable { reason } => {
                    lines.push(Line::new(&visible, "skipped", format!("not servable: {reason}")));
                    continue;
                }
                PluginStatus::Invalid { reason } => {
                    lines.push(Line::new(&visible, "skipped", format!("invalid: {reason}")));
                    continue;
                }
            }
            chosen.push(Chosen { plugin: visible, raw: raws.get(index).cloned(), name: String::new() });
        }
    }
    let names = plugin::unique_names(
        &chosen.iter().map(|c| (c.plugin.plugin.name.as_str(), c.plugin.marketplace.id.as_str())).collect::<Vec<_>>(),
    );
    for (c, name) in chosen.iter_mut().zip(names) {
        c.name = name;
    }
    Choice { skipped: lines, chosen, failed_marketplaces }
}

fn exported_ids(chosen: &[Chosen<'_>]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for c in chosen {
        if !ids.iter().any(|id| *id == c.plugin.marketplace.id) {
            ids.push(c.plugin.marketplace.id.to_string());
        }
    }
    ids
}
