//! What an export says it did: one [`Line`] per plugin, printed as a table with a closing count and written to
//! `export-report.json` with the marketplaces it read.

use super::files::{pretty, write_file};
use super::{Outcome, Selection, Target, REPORT_FILE};
use crate::admin::layers::UsageError;
use crate::catalogue::{Catalogue, PluginRef};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// One plugin's outcome, as printed and as written to the report.
#[derive(Debug, Clone)]
pub(super) struct Line {
    pub(super) plugin: String,
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
    pub(super) skills: Vec<String>,
    pub(super) outcome: &'static str,
    pub(super) reason: Option<String>,
    pub(super) path: Option<String>,
    pub(super) bytes: Option<u64>,
}

impl Line {
    pub(super) fn new(p: &PluginRef<'_>, outcome: &'static str, reason: impl Into<String>) -> Line {
        Line {
            plugin: p.qualified_name(),
            name: None,
            version: p.plugin.version().map(str::to_owned),
            skills: Vec::new(),
            outcome,
            reason: Some(reason.into()),
            path: None,
            bytes: None,
        }
    }

    fn json(&self) -> Value {
        json!({
            "plugin": self.plugin,
            "outcome": self.outcome,
            "name": self.name,
            "version": self.version,
            "skills": self.skills,
            "reason": self.reason,
            "path": self.path,
            "bytes": self.bytes,
        })
    }
}

/// Writes `export-report.json` into `out`.
pub(super) fn write(
    catalogue: &Catalogue,
    target: &Target,
    selection: &Selection,
    lines: &[Line],
    out: &Path,
) -> Result<(), UsageError> {
    let marketplaces: Vec<Value> = catalogue
        .marketplaces
        .iter()
        .filter(|m| selection.includes(&m.id))
        .map(|m| {
            json!({"id": m.id, "kind": m.kind, "revision": m.revision, "loaded": m.loaded.is_ok(),
                        "error": m.loaded.as_ref().err().or(m.error.as_ref())})
        })
        .collect();
    let kind = match target {
        Target::ClaudeOrg { .. } => "claude-org",
        Target::Git { .. } => "git",
    };
    let report = json!({
        "export": kind,
        "as_user": selection.as_user,
        "groups": selection.groups,
        "naming": "a name used by plugins of several marketplaces becomes <name>-<marketplace id> for each of them \
                   (then -2, -3... if that is taken too); every other name is kept",
        "plugins": lines.iter().map(Line::json).collect::<Vec<_>>(),
        "marketplaces": marketplaces,
    });
    write_file(&out.join(REPORT_FILE), &pretty(&report))
}

/// What is printed: a line per plugin, one per marketplace that failed, and the counts; the exit code is 1 when a
/// plugin was refused or a marketplace failed.
pub(super) fn outcome(
    catalogue: &Catalogue,
    selection: &Selection,
    lines: &[Line],
    out: &Path,
    failed_marketplaces: bool,
) -> Outcome {
    let mut stdout = String::new();
    let width = lines.iter().map(|l| l.plugin.chars().count()).max().unwrap_or(0);
    for l in lines {
        let mut detail = String::new();
        if let Some(path) = &l.path {
            let _ = write!(
                detail,
                "-> {path} ({} skill(s), version {}",
                l.skills.len(),
                l.version.as_deref().unwrap_or("-")
            );
            if let Some(b) = l.bytes {
                let _ = write!(detail, ", {b} bytes");
            }
            detail.push(')');
        }
        if let Some(reason) = &l.reason {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(reason);
        }
        let _ = writeln!(stdout, "{:8}  {:width$}  {detail}", l.outcome, l.plugin);
    }
    for m in catalogue.marketplaces.iter().filter(|m| selection.includes(&m.id)) {
        match (&m.loaded, &m.error) {
            (Err(e), _) => {
                let _ = writeln!(stdout, "failed    marketplace {}: not loaded, nothing of it exported: {e}", m.id);
            }
            (Ok(_), Some(e)) => {
                let _ = writeln!(
                    stdout,
                    "failed    marketplace {}: exported from an older copy; the refresh failed: {e}",
                    m.id
                );
            }
            _ => {}
        }
    }
    let count = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
    let (exported, skipped, refused) = (count("exported"), count("skipped"), count("refused"));
    let _ = writeln!(
        stdout,
        "\n{exported} exported, {skipped} skipped, {refused} refused into {}; report in {}",
        out.display(),
        out.join(REPORT_FILE).display()
    );
    let code = u8::from(refused > 0 || failed_marketplaces);
    Outcome { stdout, stderr: String::new(), code }
}
