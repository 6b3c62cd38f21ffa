//! Writing an export's files: JSON as Claude Code's own files are written (pretty, with a final newline), and files
//! with their folders. A leaf of the export module.

use crate::admin::layers::UsageError;
use serde_json::Value;
use std::path::PathBuf;

pub(super) fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), UsageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| UsageError(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, bytes).map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))
}

pub(super) fn pretty(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    text
}
