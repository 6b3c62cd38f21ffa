//! An in-memory file tree and the path rules that keep it safe.
//!
//! Every path that enters a [`FileSet`] or comes out of [`join`] is relative, `/`-separated and free of `.`, `..` and
//! empty segments. Marketplace JSON and upstream archives are untrusted, so this module is the one place where a path
//! like `../../etc/passwd` or `C:\x` is refused; nothing downstream has to re-check.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("path `{0}` is absolute; only paths relative to the marketplace are allowed")]
    Absolute(String),
    #[error("path `{0}` contains `..`")]
    ParentDir(String),
    #[error("path `{0}` points outside the marketplace")]
    Escapes(String),
    #[error("path `{0}` contains a backslash")]
    Backslash(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path `{0}` has an empty segment")]
    EmptySegment(String),
}

/// A whole marketplace tree held in memory, keyed by normalised relative path (`plugins/a/SKILL.md`).
///
/// Marketplaces are small (kilobytes to a few megabytes) and are read whole from every source, so a sorted map is
/// simpler than any lazy abstraction, and sorting makes digests and listings deterministic.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, Vec<u8>>,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file. `./` segments are dropped; `..`, absolute paths, backslashes, NUL and empty segments
    /// are refused.
    pub fn insert(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), PathError> {
        let path = normalise(path)?;
        self.files.insert(path, bytes);
        Ok(())
    }

    /// Keeps only the files whose path `keep` accepts (in place: nothing is copied).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.files.retain(|path, _| keep(path));
    }

    /// The bytes of the file at `path` (already normalised, as stored).
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// True when some file lives below `path/`. The root `""` is a directory as soon as the set is not empty.
    pub fn is_dir(&self, path: &str) -> bool {
        self.files_under(path).next().is_some()
    }

    /// Every file below `dir/` (recursively), with its full path, in path order. `""` means the whole set.
    pub fn files_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let prefix = if dir.is_empty() { String::new() } else { format!("{}/", dir.trim_end_matches('/')) };
        self.files
            .range(prefix.clone()..)
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }

    /// Names of the immediate subfolders of `dir`, in order.
    pub fn subdirs(&self, dir: &str) -> Vec<&str> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        let mut out: Vec<&str> = Vec::new();
        for (path, _) in self.files_under(dir) {
            if let Some((name, _)) = path[skip..].split_once('/') {
                if out.last() != Some(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `sha256:` digest of every path and content; equal trees give equal digests, any change gives a new one.
    pub fn digest(&self) -> String {
        digest_of_entries(self.iter().map(|(path, bytes)| (path, sha256_digest(bytes))))
    }
}

// Contents can be megabytes; a listing of paths and sizes is what a reader of a Debug line wants.
impl fmt::Debug for FileSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.files.iter().map(|(path, bytes)| (path, bytes.len()))).finish()
    }
}

fn check_chars(path: &str) -> Result<(), PathError> {
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash(path.to_string()));
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute(path.to_string()));
    }
    Ok(())
}

fn normalise(path: &str) -> Result<String, PathError> {
    check_chars(path)?;
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "." => {}
            ".." => return Err(PathError::ParentDir(path.to_string())),
            "" => {
                return Err(if path.is_empty() { PathError::Empty } else { PathError::EmptySegment(path.to_string()) })
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(segments.join("/"))
}

/// Resolves `rel` against the folder `base` (`""` is the root): `./x` and `x/./y` are tidied, `..` may climb back up
/// but never above the root. A trailing `/` is tolerated (`"./skills/"` is common in real manifests); empty segments
/// elsewhere, absolute paths, backslashes and NUL are refused. The result is `""` when `rel` names the root itself.
pub fn join(base: &str, rel: &str) -> Result<String, PathError> {
    check_chars(base)?;
    check_chars(rel)?;
    let mut stack: Vec<&str> = Vec::new();
    for segment in base.split('/').filter(|s| !s.is_empty()) {
        match segment {
            "." => {}
            ".." => {
                stack.pop().ok_or_else(|| PathError::Escapes(base.to_string()))?;
            }
            s => stack.push(s),
        }
    }
    let rel_trimmed = rel.strip_suffix('/').unwrap_or(rel);
    if rel_trimmed.is_empty() && !rel.is_empty() {
        // `rel` was just "/": already refused as absolute above, so this is unreachable in practice.
        return Err(PathError::Absolute(rel.to_string()));
    }
    if !rel_trimmed.is_empty() {
        for segment in rel_trimmed.split('/') {
            match segment {
                "." => {}
                ".." => {
                    stack.pop().ok_or_else(|| PathError::Escapes(rel.to_string()))?;
                }
                "" => return Err(PathError::EmptySegment(rel.to_string())),
                s => stack.push(s),
            }
        }
    }
    Ok(stack.join("/"))
}

/// `"sha256:<lowercase hex>"` of `bytes`, the form every digest in Skillport takes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    hex_digest(&Sha256::digest(bytes))
}

fn hex_digest(hash: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Bytes first, one string at the end: a `String::push` per digit was a measurable share of a catalogue load.
    let mut out = Vec::with_capacity(7 + hash.len() * 2);
    out.extend_from_slice(b"sha256:");
    for byte in hash {
        out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
    }
    String::from_utf8(out).expect("ASCII hex")
}

/// Digest of a listing: hashes the lines `"<name>\0<digest>\n"` sorted by name, so the result depends only on the
/// set of (name, digest) pairs and any change to either changes it.
pub(crate) fn digest_of_entries<'a, D: AsRef<str> + Ord>(entries: impl IntoIterator<Item = (&'a str, D)>) -> String {
    let mut entries: Vec<(&str, D)> = entries.into_iter().collect();
    entries.sort();
    let mut hasher = Sha256::new();
    for (name, digest) in entries {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(digest.as_ref().as_bytes());
        hasher.update(b"\n");
    }
    hex_digest(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> FileSet {
        let mut files = FileSet::new();
        for path in paths {
            files.insert(path, path.as_bytes().to_vec()).unwrap();
        }
        files
    }

    #[test]
    fn insert_normalises_dot_segments() {
        let mut files = FileSet::new();
        files.insert("./plugins/./a/SKILL.md", b"x".to_vec()).unwrap();
        assert_eq!(files.get("plugins/a/SKILL.md"), Some(&b"x"[..]));
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn insert_refuses_unsafe_paths() {
        let mut files = FileSet::new();
        for (path, expected) in [
            ("../etc/passwd", PathError::ParentDir("../etc/passwd".into())),
            ("a/../../b", PathError::ParentDir("a/../../b".into())),
            ("a/../b", PathError::ParentDir("a/../b".into())),
            ("/etc/passwd", PathError::Absolute("/etc/passwd".into())),
            ("a//b", PathError::EmptySegment("a//b".into())),
            ("a/b/", PathError::EmptySegment("a/b/".into())),
            ("a\\b", PathError::Backslash("a\\b".into())),
            ("..\\x", PathError::Backslash("..\\x".into())),
            ("a/\0b", PathError::Nul),
            ("", PathError::Empty),
            ("./", PathError::EmptySegment("./".into())),
            (".", PathError::Empty),
        ] {
            assert_eq!(files.insert(path, vec![]), Err(expected), "{path:?}");
        }
        assert!(files.is_empty());
    }

    #[test]
    fn dirs_and_listing() {
        let files = set(&["a/b/c.md", "a/b/d.md", "a/bc.md", "ab/x.md", "z.md"]);
        assert!(files.is_dir("a"));
        assert!(files.is_dir("a/b"));
        assert!(files.is_dir(""));
        assert!(!files.is_dir("a/b/c.md"));
        assert!(!files.is_dir("a/bc"));
        // `a/b` must not pick up the sibling `a/bc.md`, nor `a` the sibling folder `ab/`.
        let under: Vec<&str> = files.files_under("a/b").map(|(p, _)| p).collect();
        assert_eq!(under, ["a/b/c.md", "a/b/d.md"]);
        let under: Vec<&str> = files.files_under("a").map(|(p, _)| p).collect();
        assert_eq!(under, ["a/b/c.md", "a/b/d.md", "a/bc.md"]);
        assert_eq!(files.files_under("").count(), 5);
        assert_eq!(files.subdirs(""), ["a", "ab"]);
        assert_eq!(files.subdirs("a"), ["b"]);
        assert!(files.subdirs("a/b").is_empty());
    }

    #[test]
    fn join_resolves_and_refuses_escape() {
        assert_eq!(join("", "./x").unwrap(), "x");
        assert_eq!(join("", "./").unwrap(), "");
        assert_eq!(join("", ".").unwrap(), "");
        assert_eq!(join("plugins", "x/./y").unwrap(), "plugins/x/y");
        assert_eq!(join("plugins/a", "../b").unwrap(), "plugins/b");
        assert_eq!(join("plugins/a", "./skills/").unwrap(), "plugins/a/skills");
        assert_eq!(join("", "../x"), Err(PathError::Escapes("../x".into())));
        assert_eq!(join("a", "../../x"), Err(PathError::Escapes("../../x".into())));
        assert_eq!(join("a", "/etc"), Err(PathError::Absolute("/etc".into())));
        assert_eq!(join("a", "b//c"), Err(PathError::EmptySegment("b//c".into())));
        assert_eq!(join("a", "b\\c"), Err(PathError::Backslash("b\\c".into())));
        assert_eq!(join("a", "b\0"), Err(PathError::Nul));
    }

    #[test]
    fn sha256_digest_is_prefixed_lowercase_hex() {
        assert_eq!(sha256_digest(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn digest_changes_with_content_and_path() {
        let a = set(&["x/a.md", "x/b.md"]);
        let mut b = a.clone();
        assert_eq!(a.digest(), b.digest());
        b.insert("x/b.md", b"changed".to_vec()).unwrap();
        assert_ne!(a.digest(), b.digest());
        let mut c = FileSet::new();
        c.insert("x/c.md", b"x/a.md".to_vec()).unwrap();
        c.insert("x/b.md", b"x/b.md".to_vec()).unwrap();
        assert_ne!(a.digest(), c.digest());
    }
}
