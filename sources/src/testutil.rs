//! Helpers for the network sources' unit tests: the example marketplace as a folder, a tarball and a zip.

use std::path::Path;

use crate::archive::tests::{gzip, zip_of};
use crate::files::FileSet;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/marketplace");

/// `/work/main/examples/marketplace` read straight from disk.
pub fn example_files() -> FileSet {
    fn walk(files: &mut FileSet, root: &Path, dir: &Path) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(files, root, &path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                files.insert(&rel, std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    let mut files = FileSet::new();
    walk(&mut files, Path::new(EXAMPLE), Path::new(EXAMPLE));
    assert!(files.len() > 5, "the example marketplace is missing");
    files
}

/// The example as a real tar.gz under `prefix/`, built with the `tar` crate the way `git archive` lays it out
/// (a PAX global header first, directory entries, then files).
pub fn example_tarball(prefix: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut pax = tar::Header::new_ustar();
    pax.set_entry_type(tar::EntryType::XGlobalHeader);
    let comment = b"52 comment=0123456789abcdef0123456789abcdef01234567\n";
    pax.set_size(comment.len() as u64);
    pax.set_path("pax_global_header").unwrap();
    pax.set_cksum();
    builder.append(&pax, &comment[..]).unwrap();
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_path(format!("{prefix}/")).unwrap();
    dir.set_size(0);
    dir.set_mode(0o755);
    dir.set_cksum();
    builder.append(&dir, &[][..]).unwrap();
    for (path, content) in example_files().iter() {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, format!("{prefix}/{path}"), content).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

/// The example as a zip, under `prefix/` unless it is empty.
pub fn example_zip(prefix: &str) -> Vec<u8> {
    let files = example_files();
    let named: Vec<(String, &[u8])> = files
        .iter()
        .map(|(path, content)| (if prefix.is_empty() { path.to_string() } else { format!("{prefix}/{path}") }, content))
        .collect();
    let refs: Vec<(&str, &[u8])> = named.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    zip_of(&refs)
}
