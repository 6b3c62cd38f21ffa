//! The two forms on disk: a ZIP per plugin for Claude's organisation upload, or a marketplace repository with a
//! folder per plugin; and clearing what an earlier export of the same form left.

use super::files::{pretty, write_file};
use super::plugin::{
    metadata_manifest, object_author, org_manifest, plugin_files, renamed_manifest, safe_folder_name, valid_org_name,
};
use super::report::Line;
use super::{Chosen, Target, REPORT_FILE};
use crate::admin::layers::UsageError;
use crate::catalogue::package::zip_tree;
use serde_json::{Map, Value};
use skillport_sources::tree::PLUGIN_FILE;
use std::path::Path;

/// Writes the chosen plugin `c` in the form `target` asks for (a marketplace export's entry for it goes to
/// `entries`), and says how that went: `exported`, or `refused` with why.
pub(super) fn plugin(
    c: &Chosen<'_>,
    target: &Target,
    out: &Path,
    entries: &mut Vec<Value>,
) -> Result<Line, UsageError> {
    let mut line = Line::new(&c.plugin, "exported", "");
    line.reason = None;
    line.name = Some(c.name.clone());
    line.skills = c.plugin.skills().map(|s| s.name.clone()).collect();
    if c.name != c.plugin.plugin.name {
        line.reason =
            Some(format!("renamed from `{}`: plugins of several marketplaces have that name", c.plugin.plugin.name));
    }
    let files = plugin_files(&c.plugin);
    match target {
        Target::ClaudeOrg { max_zip_bytes } => org_zip(c, &files, *max_zip_bytes, out, line),
        Target::Git { .. } => git_folder(c, &files, out, line, entries),
    }
}

/// `<name>.zip`: the plugin's files at the archive root, with its completed plugin.json.
fn org_zip(
    c: &Chosen<'_>,
    files: &[(String, &[u8])],
    max_zip_bytes: u64,
    out: &Path,
    mut line: Line,
) -> Result<Line, UsageError> {
    if !valid_org_name(&c.name) {
        line.outcome = "refused";
        line.reason = Some(format!(
            "`{}` is not a name Claude's upload accepts (lowercase letters, digits and `-`, at most 64 \
             characters); rename the plugin in its marketplace",
            c.name
        ));
        return Ok(line);
    }
    let manifest = org_manifest(&c.plugin, c.raw.as_ref(), &c.name);
    let manifest_bytes = pretty(&manifest);
    let tree = files
        .iter()
        .filter(|(path, _)| path != PLUGIN_FILE)
        .map(|(path, bytes)| (path.clone(), *bytes))
        .chain(std::iter::once((PLUGIN_FILE.to_owned(), manifest_bytes.as_slice())));
    let zip = match zip_tree(tree) {
        Ok(zip) => zip,
        Err(e) => {
            line.outcome = "refused";
            line.reason = Some(format!("cannot be packed: {e}"));
            return Ok(line);
        }
    };
    line.bytes = Some(zip.len() as u64);
    if zip.len() as u64 >= max_zip_bytes {
        line.outcome = "refused";
        line.reason = Some(format!(
            "its ZIP is {} bytes, not under the upload limit of {max_zip_bytes} bytes; the upload keys \
             plugins by name, so it cannot go in parts: move large files out of the plugin, or use \
             `skillport export git` and Claude's GitHub sync",
            zip.len()
        ));
        return Ok(line);
    }
    let file = format!("{}.zip", c.name);
    write_file(&out.join(&file), &zip)?;
    line.path = Some(file);
    Ok(line)
}

/// `plugins/<name>/`: the plugin's files as they are, and its entry for the marketplace file.
fn git_folder(
    c: &Chosen<'_>,
    files: &[(String, &[u8])],
    out: &Path,
    mut line: Line,
    entries: &mut Vec<Value>,
) -> Result<Line, UsageError> {
    if !safe_folder_name(&c.name) {
        line.outcome = "refused";
        line.reason = Some(format!(
            "`{}` cannot be a folder name under plugins/; rename the plugin in its marketplace",
            c.name.escape_debug()
        ));
        return Ok(line);
    }
    let folder = format!("plugins/{}", c.name);
    let mut bytes = 0u64;
    for (path, content) in files {
        let content: Vec<u8> = if path == PLUGIN_FILE && c.name != c.plugin.plugin.name {
            renamed_manifest(content, &c.name)
        } else {
            content.to_vec()
        };
        bytes += content.len() as u64;
        write_file(&out.join(&folder).join(path), &content)?;
    }
    // A strict plugin without a plugin.json of its own gets one with the entry's metadata (no
    // components, so it adds nothing the entry does not say), so that each vendored folder is a plugin
    // on its own as well (`claude plugin validate plugins/<name>` passes). A `strict: false` plugin is
    // left as is: there the entry alone defines the plugin.
    let strict = c.plugin.plugin.entry.as_ref().is_none_or(|e| e.is_strict());
    if strict && !files.iter().any(|(path, _)| path == PLUGIN_FILE) {
        let manifest = metadata_manifest(c.raw.as_ref(), &c.name);
        let content = pretty(&manifest);
        bytes += content.len() as u64;
        write_file(&out.join(&folder).join(PLUGIN_FILE), &content)?;
    }
    let mut entry = match c.raw.clone() {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    entry.insert("name".into(), Value::String(c.name.clone()));
    entry.insert("source".into(), Value::String(format!("./{folder}")));
    object_author(&mut entry);
    entries.push(Value::Object(entry));
    line.path = Some(folder);
    line.bytes = Some(bytes);
    Ok(line)
}

/// Clears what an earlier export of the same kind wrote, so nothing stale is left beside the new one: the ZIPs its
/// report names, or the `plugins/` folder of a marketplace export. Anything else in `out` (a `.git` folder, a README,
/// other ZIPs) stays.
pub(super) fn prepare_out(out: &Path, target: &Target) -> Result<(), UsageError> {
    let fail =
        |what: &str, path: &Path, e: std::io::Error| UsageError(format!("cannot {what} {}: {e}", path.display()));
    std::fs::create_dir_all(out).map_err(|e| fail("create", out, e))?;
    match target {
        Target::ClaudeOrg { .. } => {
            // Only the ZIPs the last report names: other files in `out` are not the export's to remove.
            let report = std::fs::read(out.join(REPORT_FILE)).ok();
            let report: Value = report.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            let written = report.get("plugins").and_then(Value::as_array).into_iter().flatten();
            for file in written.filter_map(|p| p.get("path").and_then(Value::as_str)) {
                let path = out.join(file);
                let plain = file.ends_with(".zip") && !file.contains(['/', '\\']) && !file.starts_with('.');
                if plain && path.is_file() {
                    std::fs::remove_file(&path).map_err(|e| fail("remove", &path, e))?;
                }
            }
        }
        Target::Git { .. } => {
            let plugins = out.join("plugins");
            if plugins.exists() {
                std::fs::remove_dir_all(&plugins).map_err(|e| fail("remove", &plugins, e))?;
            }
        }
    }
    Ok(())
}
