//! Embeds every example marketplace under `examples/` (a folder holding `.claude-plugin/marketplace.json`) into the
//! binary, so the `bundled` marketplace kind works with no network, no GitHub account and no asset upload.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("examples");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from("/// (bundle name, [(path inside the marketplace, bytes)])\npub static BUNDLES: &[(&str, &[(&str, &[u8])])] = &[\n");
    let mut bundles: Vec<PathBuf> =
        std::fs::read_dir(&root).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    bundles.sort();
    for dir in bundles {
        if !dir.join(".claude-plugin/marketplace.json").is_file() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        walk(&dir, &dir, &mut files);
        files.sort();
        writeln!(out, "    ({name:?}, &[").unwrap();
        for (rel, abs) in files {
            println!("cargo:rerun-if-changed={}", abs.display());
            writeln!(out, "        ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).unwrap();
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(dest, out).unwrap();
}

fn walk(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let path = entry.path();
        // Symlinks are not followed: a bundle holds only the files really in its folder.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            walk(base, &path, files);
        } else if meta.is_file() {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            files.push((rel, path));
        }
    }
}
