//! One skill as a `.skill` file (a ZIP), built by the server, and the signed links it is downloaded through.
//!
//! Claude.ai's skill upload wants the skill folder itself at the root of the archive (`brand-voice/SKILL.md`, not
//! `SKILL.md` nor `plugins/brand-kit/skills/brand-voice/SKILL.md`). The archive is deterministic (fixed timestamps,
//! entries in path order, fixed compression level) so the same skill content always gives the same bytes, and its
//! digest can be cached and compared.
//!
//! The writer is hand-written (local headers, central directory, CRC-32; stored or raw deflate per entry): a skill is
//! a handful of small files, so it needs none of ZIP64, encryption, streaming or reading, and the `zip` crate's writer
//! would cost the Worker far more wasm than these hundred lines. [`zip_tree`] is that writer over any file list; the
//! admin command line's `skillport export` packs whole plugins with it.
//!
//! Not for: deciding who may download what (the MCP tools and the OAuth layer do), or serving the bytes.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use skillport_sources::load::is_valid_skill_name;
use skillport_sources::{FileSet, Skill};

/// Why a skill could not be packaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("skill `{skill}` is {total} bytes, over the {limit}-byte limit for a download")]
    TooLarge { skill: String, total: u64, limit: u64 },
    #[error("skill `{skill}` has {count} files, more than a ZIP without ZIP64 can hold")]
    TooManyFiles { skill: String, count: usize },
    #[error("skill `{skill}` lists `{path}`, which is not in the marketplace")]
    MissingFile { skill: String, path: String },
    #[error("skill `{0}` has neither a usable name nor a folder name to package it under")]
    NoFolderName(String),
}

/// The folder a skill is packaged under: its `name` when that is a valid skill name (Claude.ai checks that the two
/// match), else its folder's own name. Frontmatter is untrusted, so an invalid name never becomes a path.
pub fn package_folder(skill: &Skill) -> Option<&str> {
    if is_valid_skill_name(&skill.name) {
        return Some(&skill.name);
    }
    skill.dir.rsplit('/').next().filter(|s| !s.is_empty())
}

/// `<name>.skill`, the file name to offer the download under.
pub fn package_file_name(skill: &Skill) -> Option<String> {
    package_folder(skill).map(|f| format!("{f}.skill"))
}

/// The `.skill` ZIP of one skill: every file of `skill.files`, read from `files` at `<skill.dir>/<path>`, under
/// `<folder>/` at the archive root, with a directory entry for each folder. Refused when the files add up to more
/// than `max_bytes`.
pub fn build_skill_zip(files: &FileSet, skill: &Skill, max_bytes: u64) -> Result<Vec<u8>, PackageError> {
    let folder = package_folder(skill).ok_or_else(|| PackageError::NoFolderName(skill.name.clone()))?;
    let mut sources: Vec<(&str, &[u8])> = Vec::with_capacity(skill.files.len());
    let mut total: u64 = 0;
    for file in &skill.files {
        let full = if skill.dir.is_empty() { file.path.clone() } else { format!("{}/{}", skill.dir, file.path) };
        let bytes = files
            .get(&full)
            .ok_or_else(|| PackageError::MissingFile { skill: skill.name.clone(), path: full.clone() })?;
        total = total.saturating_add(bytes.len() as u64);
        if total > max_bytes {
            return Err(PackageError::TooLarge { skill: skill.name.clone(), total, limit: max_bytes });
        }
        sources.push((file.path.as_str(), bytes));
    }
    let entries = sources.iter().map(|(path, bytes)| (format!("{folder}/{path}"), *bytes));
    zip_tree(entries).map_err(|e| match e {
        ZipError::TooLarge(total) => {
            PackageError::TooLarge { skill: skill.name.clone(), total, limit: u64::from(u32::MAX) / 2 }
        }
        ZipError::TooManyEntries(count) => PackageError::TooManyFiles { skill: skill.name.clone(), count },
    })
}

/// Why [`zip_tree`] refused: the writer has no ZIP64, so sizes, offsets and the entry count are bounded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("{0} bytes are more than a ZIP without ZIP64 can hold")]
    TooLarge(u64),
    #[error("{0} entries are more than a ZIP without ZIP64 can hold")]
    TooManyEntries(usize),
}

/// A deterministic ZIP of `files` (`/`-separated paths relative to the archive root), with a directory entry for
/// every folder on the way, entries in path order: the writer behind `.skill` files, also used by the admin command
/// line's exports (one plugin per ZIP).
pub fn zip_tree<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> Result<Vec<u8>, ZipError> {
    let mut entries: Vec<(String, Option<&[u8]>)> = Vec::new();
    let mut total: u64 = 0;
    for (path, bytes) in files {
        total = total.saturating_add(bytes.len() as u64);
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash + 1;
            entries.push((path[..end].to_owned(), None));
        }
        entries.push((path, Some(bytes)));
    }
    // Sizes and offsets are 32-bit without ZIP64; keep well clear of that.
    if total >= u64::from(u32::MAX) / 2 {
        return Err(ZipError::TooLarge(total));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    if entries.len() > usize::from(u16::MAX) {
        return Err(ZipError::TooManyEntries(entries.len()));
    }

    let mut zip = ZipWriter::default();
    for (name, bytes) in &entries {
        match bytes {
            None => zip.directory(name),
            Some(bytes) => zip.file(name, bytes),
        }
    }
    Ok(zip.finish())
}

/// 1980-01-01 00:00:00, the earliest MS-DOS date: every entry gets it, so the bytes depend on content alone.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// "Made by" Unix, spec 2.0, so the external attributes carry Unix modes.
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
/// General purpose bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// miniz level 6, zlib's default: stable across runs, so part of the determinism.
const DEFLATE_LEVEL: u8 = 6;

/// The least ZIP writer that a skill needs. Callers keep every size under `u32::MAX` and the count under `u16::MAX`.
#[derive(Default)]
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    count: u16,
}

impl ZipWriter {
    fn directory(&mut self, name: &str) {
        // drwxr-xr-x, plus the MS-DOS directory bit.
        self.entry(name, STORED, 0, 0, &[], (0o040_755 << 16) | 0x10);
    }

    fn file(&mut self, name: &str, bytes: &[u8]) {
        // No modes are kept in a marketplace tree; a script with a shebang is what is meant to be run.
        let mode: u32 = if bytes.starts_with(b"#!") { 0o100_755 } else { 0o100_644 };
        let crc = crc32fast::hash(bytes);
        let deflated = miniz_oxide::deflate::compress_to_vec(bytes, DEFLATE_LEVEL);
        let (method, data) = if deflated.len() < bytes.len() { (DEFLATED, &deflated[..]) } else { (STORED, bytes) };
        self.entry(name, method, crc, bytes.len() as u32, data, mode << 16);
    }

    fn entry(&mut self, name: &str, method: u16, crc: u32, size: u32, data: &[u8], external: u32) {
        let offset = self.out.len() as u32;
        let name_len = name.len() as u16;
        let csize = data.len() as u32;

        let out = &mut self.out;
        put32(out, 0x0403_4b50);
        for v in [NEEDED, FLAG_UTF8, method, DOS_TIME, DOS_DATE] {
            put16(out, v);
        }
        for v in [crc, csize, size] {
            put32(out, v);
        }
        put16(out, name_len);
        put16(out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        let cd = &mut self.central;
        put32(cd, 0x0201_4b50);
        for v in [MADE_BY, NEEDED, FLAG_UTF8, method, DOS_TIME, DOS_DATE] {
            put16(cd, v);
        }
        for v in [crc, csize, size] {
            put32(cd, v);
        }
        // name length, extra length, comment length, disk number, internal attributes
        for v in [name_len, 0, 0, 0, 0] {
            put16(cd, v);
        }
        put32(cd, external);
        put32(cd, offset);
        cd.extend_from_slice(name.as_bytes());
        self.count += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let cd_offset = self.out.len() as u32;
        let cd_size = self.central.len() as u32;
        self.out.append(&mut self.central);
        let out = &mut self.out;
        put32(out, 0x0605_4b50);
        // this disk, the disk with the central directory, entries here, entries in all
        for v in [0, 0, self.count, self.count] {
            put16(out, v);
        }
        put32(out, cd_size);
        put32(out, cd_offset);
        put16(out, 0);
        self.out
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------------------------
// Signed download links

type HmacSha256 = Hmac<Sha256>;

/// Separates these MACs from any other use of the same key: a download token can never pass for another signed value.
const TOKEN_DOMAIN: &[u8] = b"skillport download v1\0";
/// Longer than any honest token (names and a digest); checked first so garbage costs nothing to refuse.
const MAX_TOKEN_LEN: usize = 2048;
const MAC_LEN: usize = 32;
/// Three empty fields and the expiry.
const MIN_PAYLOAD_LEN: usize = 3 * 2 + 8;

/// What a valid download token grants: one skill of one plugin, at one content digest, until `expires` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadClaim {
    /// Qualified: `plugin@marketplace`.
    pub plugin: String,
    pub skill: String,
    pub digest: String,
    pub expires: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error("the download link is malformed")]
    Malformed,
    #[error("the download link's signature does not match")]
    BadSignature,
    #[error("the download link has expired")]
    Expired,
}

/// An opaque, URL-safe token (`<payload>.<mac>`, base64url without padding) for downloading `skill` of `plugin` at
/// `digest` until `expires_unix`. The MAC (HMAC-SHA256 under `key`, which should be at least 32 random bytes) covers
/// every field, each length-prefixed, so no field can be changed, moved into another or extended.
pub fn sign_download(key: &[u8], plugin: &str, skill: &str, digest: &str, expires_unix: u64) -> String {
    let payload = encode_claim(plugin, skill, digest, expires_unix);
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
}

/// Checks a token from [`sign_download`]: the signature first (in constant time), then the expiry (a token is good
/// while `now_unix < expires`). Never panics, whatever the input.
pub fn verify_download(key: &[u8], token: &str, now_unix: u64) -> Result<DownloadClaim, DownloadError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(DownloadError::Malformed);
    }
    let (payload, tag) = token.split_once('.').ok_or(DownloadError::Malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| DownloadError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| DownloadError::Malformed)?;
    if tag.len() != MAC_LEN || payload.len() < MIN_PAYLOAD_LEN {
        return Err(DownloadError::Malformed);
    }
    // An empty key signs nothing: a misconfigured deployment refuses every link rather than accepting forgeries.
    if key.is_empty() {
        return Err(DownloadError::BadSignature);
    }
    mac(key, &payload).verify_slice(&tag).map_err(|_| DownloadError::BadSignature)?;
    let claim = decode_claim(&payload).ok_or(DownloadError::Malformed)?;
    if now_unix >= claim.expires {
        return Err(DownloadError::Expired);
    }
    Ok(claim)
}

fn mac(key: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(TOKEN_DOMAIN);
    mac.update(payload);
    mac
}

/// `u16 length, bytes` for each of plugin, skill, digest, then the expiry as a big-endian `u64`.
fn encode_claim(plugin: &str, skill: &str, digest: &str, expires: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(plugin.len() + skill.len() + digest.len() + 14);
    for field in [plugin, skill, digest] {
        // Names and digests are short. One past the u16 limit is cut rather than mis-encoded; its token is then far
        // over `MAX_TOKEN_LEN`, so it never verifies.
        let bytes = &field.as_bytes()[..field.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&expires.to_be_bytes());
    out
}

fn decode_claim(mut payload: &[u8]) -> Option<DownloadClaim> {
    let mut field = || -> Option<String> {
        let (len, rest) = payload.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let bytes = rest.get(..len)?;
        payload = &rest[len..];
        String::from_utf8(bytes.to_vec()).ok()
    };
    let (plugin, skill, digest) = (field()?, field()?, field()?);
    let expires: [u8; 8] = payload.try_into().ok()?;
    Some(DownloadClaim { plugin, skill, digest, expires: u64::from_be_bytes(expires) })
}

impl fmt::Display for DownloadClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} at {} until {}", self.plugin, self.skill, self.digest, self.expires)
    }
}

#[cfg(test)]
mod tests;
