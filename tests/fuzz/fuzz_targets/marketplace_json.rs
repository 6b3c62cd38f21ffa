//! `.claude-plugin/marketplace.json` through the real loader (`skillport_sources::load_marketplace`): the fuzzed bytes
//! are the manifest of a small marketplace tree (common::plugin_tree) whose plugins, skills, commands and one
//! external plugin the entries can point at, so paths, `pluginRoot`, `strict`, `skills` lists and every source kind
//! are exercised against real files.
//!
//! Invariants: no panic; a manifest that loads keeps every loader promise (common::check_loaded); it survives a
//! write and re-read unchanged (model.rs: "reading and re-writing a manifest loses nothing"); a JSON error only for
//! bytes that are not JSON, a manifest error only for bytes that are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillport_sources::{load_marketplace, FileSet, LoadError};
use std::sync::OnceLock;

mod common;

const MARKETPLACE_FILE: &str = ".claude-plugin/marketplace.json";

fn tree() -> &'static FileSet {
    static TREE: OnceLock<FileSet> = OnceLock::new();
    TREE.get_or_init(common::plugin_tree)
}

fn load(manifest: &[u8]) -> (FileSet, Result<skillport_sources::LoadedMarketplace, LoadError>) {
    let mut files = tree().clone();
    files.insert(MARKETPLACE_FILE, manifest.to_vec()).expect("fixed path");
    let loaded = load_marketplace(&files);
    (files, loaded)
}

fuzz_target!(|data: &[u8]| {
    let (files, loaded) = load(data);
    match loaded {
        Ok(loaded) => {
            common::check_loaded(&files, &loaded);
            // Round trip: what the manifest serialises to loads back to the same manifest.
            let written = serde_json::to_vec(&loaded.manifest).expect("manifest serialises");
            let (_, again) = load(&written);
            let again = again.unwrap_or_else(|e| panic!("a re-written manifest fails to load: {e}"));
            assert_eq!(again.manifest, loaded.manifest, "manifest changed in a write and re-read");
        }
        Err(LoadError::MissingManifest) => panic!("the manifest is in the tree"),
        Err(LoadError::Json(_)) => assert!(serde_json::from_slice::<serde_json::Value>(data).is_err()),
        Err(LoadError::Manifest(_)) => {
            serde_json::from_slice::<serde_json::Value>(data).expect("Manifest errors are for valid JSON");
        }
    }
});
