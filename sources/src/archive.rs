//! Unpacking a marketplace from an archive (`.tar.gz` from GitHub and GitLab, `.zip` or `.tar.gz` from an HTTPS
//! URL), entirely in memory and within [`Limits`].
//!
//! Archives are untrusted. An entry whose path is absolute or climbs with `..` refuses the whole archive (git never
//! produces one, so it is an attack, not a quirk); symbolic and hard links are skipped (they could point anywhere and
//! a [`FileSet`] has no links); the uncompressed stream, the file count and each file are capped so a small
//! download cannot expand into gigabytes. A single file over its cap is skipped and listed, not fatal: a repository
//! tarball holds more than the marketplace, and one large unrelated file must not take the marketplace down.
//!
//! Inflate is `miniz_oxide` (pure Rust, through `flate2`), tar and zip parsing the `tar` and `zip` crates: all build
//! for `wasm32-unknown-unknown`.

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use crate::files::{FileSet, PathError};
use crate::tree::{MANIFEST_DIR, MARKETPLACE_FILE, SKILLS_DIR, SKILL_FILE};
use crate::SourceError;

/// Caps on what an archive (or a file-by-file download) may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum of all file contents kept, and (with room for headers) of the whole uncompressed stream.
    pub max_total_bytes: u64,
    /// Files kept (directories and skipped entries do not count).
    pub max_files: usize,
    /// One file; larger files are skipped.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_total_bytes: 50 * 1024 * 1024, max_files: 20_000, max_file_bytes: 10 * 1024 * 1024 }
    }
}

/// How an archive is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    /// From the end of a URL's path: `.zip`, `.tar.gz` or `.tgz`.
    pub fn from_url(url: &str) -> Option<Self> {
        let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
        if path.ends_with(".zip") {
            Some(Self::Zip)
        } else if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
            Some(Self::TarGz)
        } else {
            None
        }
    }
}

/// What to do with a top-level folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopFolder {
    /// Every entry is under one folder (`owner-repo-sha/` from GitHub, `project-ref-sha/` from GitLab): remove it.
    Strip,
    /// Remove it when the marketplace is not at the root and every entry shares one folder (a zip of a folder).
    StripIfSingle,
    Keep,
}

/// An unpacked archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub files: FileSet,
    /// Entries left out, by their path in the archive (top folder included), with the reason (`path: symbolic link`).
    pub skipped: Vec<String>,
}

/// Unpacks `bytes`. See the module doc for what is refused and what is skipped.
pub fn extract(bytes: &[u8], format: ArchiveFormat, top: TopFolder, limits: &Limits) -> Result<Extracted, SourceError> {
    let mut collector = Collector { limits: *limits, entries: Vec::new(), skipped: Vec::new(), total: 0 };
    match format {
        ArchiveFormat::TarGz => read_tar_gz(bytes, &mut collector)?,
        ArchiveFormat::Zip => read_zip(bytes, &mut collector)?,
    }
    let Collector { entries, skipped, .. } = collector;
    let entries = strip_top(entries, top)?;
    let mut files = FileSet::new();
    for (path, content) in entries {
        files.insert(&path, content)?;
    }
    Ok(Extracted { files, skipped })
}

struct Collector {
    limits: Limits,
    entries: Vec<(String, Vec<u8>)>,
    skipped: Vec<String>,
    total: u64,
}

impl Collector {
    /// Checks a file entry's declared size before it is read. `Ok(false)`: skip it.
    fn admit(&mut self, path: &str, size: u64) -> Result<bool, SourceError> {
        if size > self.limits.max_file_bytes {
            self.skipped.push(format!("{path}: {size} bytes, over the {} cap", self.limits.max_file_bytes));
            return Ok(false);
        }
        if self.entries.len() >= self.limits.max_files {
            return Err(SourceError::TooLarge(format!("more than {} files", self.limits.max_files)));
        }
        self.add_bytes(size)?;
        Ok(true)
    }

    fn add_bytes(&mut self, size: u64) -> Result<(), SourceError> {
        self.total += size;
        if self.total > self.limits.max_total_bytes {
            return Err(SourceError::TooLarge(format!("more than {} bytes uncompressed", self.limits.max_total_bytes)));
        }
        Ok(())
    }

    /// Reads at most the declared size (a lying header cannot make us read more than the cap).
    fn read(&mut self, path: String, declared: u64, reader: impl Read) -> Result<(), SourceError> {
        let mut content = Vec::with_capacity(declared.min(self.limits.max_file_bytes) as usize);
        reader.take(self.limits.max_file_bytes + 1).read_to_end(&mut content).map_err(|e| invalid(&path, e))?;
        let actual = content.len() as u64;
        if actual > declared {
            if actual > self.limits.max_file_bytes {
                return Err(SourceError::TooLarge(format!("`{path}` expands past its declared size and the file cap")));
            }
            self.add_bytes(actual - declared)?;
        }
        self.entries.push((path, content));
        Ok(())
    }
}

fn invalid(path: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid(format!("archive entry `{path}` cannot be read: {e}"))
}

/// Refuses absolute paths, backslashes and `..` before any folder is stripped, so `top/../../x` and `../x` cannot
/// slip through by having their first segment removed.
fn check_path(raw: &str) -> Result<String, SourceError> {
    if raw.starts_with('/') {
        return Err(PathError::Absolute(raw.to_string()).into());
    }
    if raw.contains('\\') {
        return Err(PathError::Backslash(raw.to_string()).into());
    }
    if raw.contains('\0') {
        return Err(PathError::Nul.into());
    }
    if raw.split('/').any(|s| s == "..") {
        return Err(PathError::ParentDir(raw.to_string()).into());
    }
    let mut path = raw;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    Ok(path.trim_end_matches('/').to_string())
}

/// Marks that the uncompressed stream went past its cap, so the tar error it causes can be told apart.
struct CappedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // One more byte available means the stream is over the cap.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.exceeded.set(true);
                return Err(io::Error::other("uncompressed stream over the cap"));
            }
            return Ok(0);
        }
        let len = buf.len().min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..len])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn read_tar_gz(bytes: &[u8], out: &mut Collector) -> Result<(), SourceError> {
    let exceeded = Rc::new(Cell::new(false));
    // Room for a header, a PAX header and padding per entry beside the contents.
    let stream_cap = out.limits.max_total_bytes.saturating_add((out.limits.max_files as u64 + 64).saturating_mul(2048));
    let reader = CappedReader {
        inner: flate2::read::GzDecoder::new(bytes),
        remaining: stream_cap,
        exceeded: Rc::clone(&exceeded),
    };
    let too_large = || SourceError::TooLarge(format!("the archive expands past {stream_cap} bytes"));
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| invalid("(start)", e))?;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(_) if exceeded.get() => return Err(too_large()),
            Err(e) => return Err(SourceError::Invalid(format!("not a valid tar.gz archive: {e}"))),
        };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| SourceError::Invalid("archive entry with a non-UTF-8 path".to_string()))?;
        let path = check_path(&raw)?;
        if kind.is_dir() || path.is_empty() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            out.skipped.push(format!("{path}: {} link", if kind.is_symlink() { "symbolic" } else { "hard" }));
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            out.skipped.push(format!("{path}: not a regular file"));
            continue;
        }
        let size = entry.size();
        if !out.admit(&path, size)? {
            continue;
        }
        let result = out.read(path, size, entry);
        if exceeded.get() {
            return Err(too_large());
        }
        result?;
    }
    if exceeded.get() {
        return Err(too_large());
    }
    Ok(())
}

fn read_zip(bytes: &[u8], out: &mut Collector) -> Result<(), SourceError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| SourceError::Invalid(format!("not a valid zip archive: {e}")))?;
    // Directories are entries too; beyond twice the file cap the archive cannot be within it.
    if archive.len() > out.limits.max_files.saturating_mul(2) {
        return Err(SourceError::TooLarge(format!("more than {} files", out.limits.max_files)));
    }
    for index in 0..archive.len() {
        let file = archive.by_index(index).map_err(|e| invalid(&format!("#{index}"), e))?;
        let path = check_path(file.name())?;
        if file.is_dir() || path.is_empty() {
            continue;
        }
        if file.is_symlink() {
            out.skipped.push(format!("{path}: symbolic link"));
            continue;
        }
        let size = file.size();
        if !out.admit(&path, size)? {
            continue;
        }
        out.read(path, size, file)?;
    }
    Ok(())
}

fn strip_top(entries: Vec<(String, Vec<u8>)>, top: TopFolder) -> Result<Vec<(String, Vec<u8>)>, SourceError> {
    let first = |path: &str| path.split_once('/').map(|(head, _)| head.to_string());
    let single = match entries.first() {
        Some((path, _)) => first(path).filter(|head| entries.iter().all(|(p, _)| first(p).as_deref() == Some(head))),
        None => None,
    };
    let strip = match top {
        TopFolder::Keep => false,
        TopFolder::Strip => {
            if single.is_none() && !entries.is_empty() {
                return Err(SourceError::Invalid(
                    "the archive's entries are not all under one top-level folder".into(),
                ));
            }
            true
        }
        // A lone `.claude-plugin/` or `skills/` folder, or one folder holding a SKILL.md, is the tree itself (a
        // plugin, a skill) rather than a folder it was zipped in.
        TopFolder::StripIfSingle => match single.as_deref() {
            None | Some(MANIFEST_DIR | SKILLS_DIR) => false,
            Some(top) => !entries.iter().any(|(p, _)| p == MARKETPLACE_FILE || *p == format!("{top}/{SKILL_FILE}")),
        },
    };
    if !strip {
        return Ok(entries);
    }
    Ok(entries
        .into_iter()
        .map(|(path, content)| (path.split_once('/').map_or(path.clone(), |(_, rest)| rest.to_string()), content))
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A tar.gz built entry by entry; raw headers so malicious paths and links can be written.
    pub(crate) fn tar_gz(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(if kind.is_file() { content.len() as u64 } else { 0 });
            header.set_mode(0o644);
            // `set_path` refuses `..`: write the name bytes directly, as an attacker would.
            let name = &mut header.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_link_name("/etc/passwd").unwrap();
            }
            header.set_cksum();
            builder.append(&header, if kind.is_file() { *content } else { &[][..] }).unwrap();
        }
        gzip(&builder.into_inner().unwrap())
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (path, content) in entries {
            writer.start_file(*path, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    use tar::EntryType as T;

    #[test]
    fn tar_gz_strips_the_top_folder_and_skips_links() {
        let bytes = tar_gz(&[
            ("o-r-abc/", T::Directory, b""),
            ("o-r-abc/.claude-plugin/marketplace.json", T::Regular, b"{}"),
            ("o-r-abc/p/SKILL.md", T::Regular, b"skill"),
            ("o-r-abc/p/link", T::Symlink, b""),
            ("o-r-abc/p/hard", T::Link, b""),
        ]);
        let out = extract(&bytes, ArchiveFormat::TarGz, TopFolder::Strip, &Limits::default()).unwrap();
        assert_eq!(out.files.get("p/SKILL.md"), Some(&b"skill"[..]));
        assert_eq!(out.files.len(), 2);
        assert_eq!(out.skipped, ["o-r-abc/p/link: symbolic link", "o-r-abc/p/hard: hard link"]);
    }

    #[test]
    fn traversal_and_absolute_paths_refuse_the_archive() {
        for path in ["o-r-abc/../../etc/passwd", "../x", "/etc/passwd", "o-r-abc/a/../b"] {
            let bytes = tar_gz(&[("o-r-abc/ok", T::Regular, b"x"), (path, T::Regular, b"evil")]);
            let err = extract(&bytes, ArchiveFormat::TarGz, TopFolder::Strip, &Limits::default()).unwrap_err();
            assert!(matches!(err, SourceError::Path(_)), "{path}: {err}");
        }
        let bytes = zip_of(&[("ok", b"x"), ("../../evil", b"evil")]);
        let err = extract(&bytes, ArchiveFormat::Zip, TopFolder::Keep, &Limits::default()).unwrap_err();
        assert!(matches!(err, SourceError::Path(PathError::ParentDir(_))), "{err}");
    }

    #[test]
    fn gzip_bomb_is_stopped_by_the_stream_cap() {
        // 64 MiB of zeros in one entry compresses to ~64 KiB.
        let mut tar = tar::Builder::new(Vec::new());
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let mut header = tar::Header::new_gnu();
        header.set_path("top/zeros").unwrap();
        header.set_size(zeros.len() as u64);
        header.set_cksum();
        tar.append(&header, &zeros[..]).unwrap();
        let bytes = gzip(&tar.into_inner().unwrap());
        assert!(bytes.len() < 1024 * 1024);
        let limits = Limits { max_total_bytes: 1024 * 1024, max_files: 10, max_file_bytes: 128 * 1024 * 1024 };
        let err = extract(&bytes, ArchiveFormat::TarGz, TopFolder::Strip, &limits).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(_)), "{err}");
        // Within a small per-file cap the entry is skipped, but the stream still may not exceed the total.
        let limits = Limits { max_file_bytes: 1024, ..limits };
        let err = extract(&bytes, ArchiveFormat::TarGz, TopFolder::Strip, &limits).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(_)), "{err}");
    }

    #[test]
    fn zip_bomb_and_file_count_caps() {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let bytes = zip_of(&[("a", &zeros), ("b", &zeros)]);
        let limits = Limits { max_total_bytes: 5 * 1024 * 1024, max_files: 10, max_file_bytes: 8 * 1024 * 1024 };
        let err = extract(&bytes, ArchiveFormat::Zip, TopFolder::Keep, &limits).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(ref m) if m.contains("bytes")), "{err}");
        let limits = Limits { max_file_bytes: 1024, ..limits };
        let out = extract(&bytes, ArchiveFormat::Zip, TopFolder::Keep, &limits).unwrap();
        assert!(out.files.is_empty());
        assert_eq!(out.skipped.len(), 2);
        let many: Vec<(String, &[u8])> = (0..5).map(|i| (format!("f{i}"), &b"x"[..])).collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let limits = Limits { max_files: 4, ..Limits::default() };
        let err = extract(&zip_of(&refs), ArchiveFormat::Zip, TopFolder::Keep, &limits).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(ref m) if m.contains("files")), "{err}");
    }

    #[test]
    fn zip_top_folder_only_when_single_and_needed() {
        let nested = zip_of(&[("mk/.claude-plugin/marketplace.json", b"{}"), ("mk/p/SKILL.md", b"s")]);
        let out = extract(&nested, ArchiveFormat::Zip, TopFolder::StripIfSingle, &Limits::default()).unwrap();
        assert!(out.files.contains(MARKETPLACE_FILE));
        let flat = zip_of(&[(".claude-plugin/marketplace.json", b"{}"), ("p/SKILL.md", b"s")]);
        let out = extract(&flat, ArchiveFormat::Zip, TopFolder::StripIfSingle, &Limits::default()).unwrap();
        assert!(out.files.contains("p/SKILL.md"));
        let err = extract(&flat, ArchiveFormat::TarGz, TopFolder::Strip, &Limits::default()).unwrap_err();
        assert!(matches!(err, SourceError::Invalid(_)));
        // A plugin of a skills folder alone, a plugin manifest alone, a single skill: kept as they are.
        for kept in ["skills/a/SKILL.md", ".claude-plugin/plugin.json", "one-skill/SKILL.md"] {
            let out =
                extract(&zip_of(&[(kept, b"x")]), ArchiveFormat::Zip, TopFolder::StripIfSingle, &Limits::default());
            assert!(out.unwrap().files.contains(kept), "{kept}");
        }
        let zipped_folder = zip_of(&[("repo/skills/a/SKILL.md", b"x")]);
        let out = extract(&zipped_folder, ArchiveFormat::Zip, TopFolder::StripIfSingle, &Limits::default()).unwrap();
        assert!(out.files.contains("skills/a/SKILL.md"));
    }

    #[test]
    fn formats_from_urls() {
        assert_eq!(ArchiveFormat::from_url("https://x/m.zip?token=1"), Some(ArchiveFormat::Zip));
        assert_eq!(ArchiveFormat::from_url("https://x/m.TAR.GZ"), Some(ArchiveFormat::TarGz));
        assert_eq!(ArchiveFormat::from_url("https://x/m.tgz#x"), Some(ArchiveFormat::TarGz));
        assert_eq!(ArchiveFormat::from_url("https://x/.claude-plugin/marketplace.json"), None);
    }
}
