//! Where a plugin entry's files are, judged from the entry alone: a folder of this tree, somewhere else, or a path
//! that cannot be a plugin folder. Shared by the loader and by the sources that fetch a marketplace file by file
//! (they must know which folders to read), so neither depends on the other.

use crate::files::{join, PathError};
use crate::model::{MarketplaceMetadata, PluginSource};

/// Where a plugin's files are, as far as this crate is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A folder of this marketplace tree (`""` is the root).
    InTree(String),
    /// Somewhere this tree does not contain.
    Elsewhere { reason: String },
    /// A path that cannot be a plugin folder (escapes the root, absolute, ...).
    Invalid { reason: String },
}

/// Decides where a plugin's files are, from the entry alone. Remote kinds (github, url, git-subdir, archive) are
/// `Elsewhere` here; the loader then looks for them under [`EXTERNAL_ROOT`], where the caller puts what
/// [`external::fetch`] read.
pub fn place_source(source: &PluginSource, metadata: Option<&MarketplaceMetadata>) -> Placement {
    match source {
        PluginSource::Relative(path) => {
            let plugin_root = metadata.and_then(|m| m.plugin_root.as_deref());
            match relative_plugin_root(path, plugin_root) {
                Ok(root) => Placement::InTree(root),
                Err(reason) => Placement::Invalid { reason },
            }
        }
        PluginSource::Npm { .. } | PluginSource::Pip { .. } => Placement::Elsewhere {
            reason: format!(
                "plugin source {} is a package; {} packages cannot be fetched or run on Cloudflare Workers",
                source.describe(),
                source.kind()
            ),
        },
        PluginSource::Other { kind, .. } => {
            Placement::Elsewhere { reason: format!("plugin source kind `{kind}` is not supported") }
        }
        PluginSource::Github { .. }
        | PluginSource::Url { .. }
        | PluginSource::GitSubdir { .. }
        | PluginSource::Archive { .. } => Placement::Elsewhere {
            reason: format!(
                "plugin source {} is outside this marketplace; no source for that host is configured",
                source.describe()
            ),
        },
    }
}

/// `./x` is relative to the marketplace root; a bare `x` is relative to `metadata.pluginRoot` when that is set.
fn relative_plugin_root(path: &str, plugin_root: Option<&str>) -> Result<String, String> {
    if path.is_empty() {
        return Err("plugin source is an empty path".to_string());
    }
    let explicit = path == "." || path == ".." || path.starts_with("./") || path.starts_with("../");
    let describe = |e: PathError| match e {
        PathError::Escapes(_) => format!("plugin source `{path}` points outside the marketplace"),
        other => format!("plugin source `{path}` is not a usable path: {other}"),
    };
    let base = match plugin_root {
        Some(plugin_root) if !explicit => {
            join("", plugin_root).map_err(|e| format!("`metadata.pluginRoot` `{plugin_root}` is not usable: {e}"))?
        }
        _ => String::new(),
    };
    join(&base, path).map_err(describe)
}
