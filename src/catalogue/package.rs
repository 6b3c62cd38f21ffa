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
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use std::collections::BTreeMap;
    use std::io::{Cursor, Read};

    fn with_example<T>(f: impl FnOnce(&FileSet, &Skill) -> T) -> T {
        let app = crate::testing::block_on(crate::App::from_env(&BTreeMap::new()));
        let catalogue: &Catalogue = &app.catalogue;
        let plugin = catalogue.unfiltered().find("brand-kit@example").expect("brand-kit is in the example");
        let skill = plugin.plugin.skills.iter().find(|s| s.name == "brand-voice").expect("brand-voice skill");
        f(&plugin.marketplace.files, skill)
    }

    fn read_back(bytes: &[u8]) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a valid zip");
        let mut out = BTreeMap::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().to_string();
            if entry.is_dir() {
                out.insert(name, None);
            } else {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                out.insert(name, Some(data));
            }
        }
        out
    }

    #[test]
    fn brand_voice_zip_has_the_skill_folder_at_its_root() {
        with_example(|files, skill| {
            let zip = build_skill_zip(files, skill, 10 << 20).unwrap();
            let entries = read_back(&zip);
            let names: Vec<&str> = entries.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                ["brand-voice/", "brand-voice/SKILL.md", "brand-voice/assets/", "brand-voice/assets/logo.png"]
            );
            for file in &skill.files {
                let source = files.get(&format!("{}/{}", skill.dir, file.path)).unwrap();
                let packed = entries[&format!("brand-voice/{}", file.path)].as_deref().unwrap();
                assert_eq!(packed, source, "{}", file.path);
            }
            let png = entries["brand-voice/assets/logo.png"].as_deref().unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert_eq!(png, files.get("plugins/brand-kit/skills/brand-voice/assets/logo.png").unwrap());
            assert_eq!(package_file_name(skill).as_deref(), Some("brand-voice.skill"));
        });
    }

    #[test]
    fn zip_is_deterministic() {
        with_example(|files, skill| {
            let a = build_skill_zip(files, skill, 10 << 20).unwrap();
            let b = build_skill_zip(files, skill, 10 << 20).unwrap();
            assert_eq!(a, b);
            assert_eq!(skillport_sources::sha256_digest(&a), skillport_sources::sha256_digest(&b));
        });
    }

    #[test]
    fn zip_deflates_text_and_keeps_crc_and_modes() {
        let mut files = FileSet::new();
        let md = "---\nname: big\ndescription: d\n---\n".to_string() + &"All work and no play. ".repeat(500);
        files.insert("s/big/SKILL.md", md.clone().into_bytes()).unwrap();
        files.insert("s/big/scripts/run.sh", b"#!/bin/sh\necho hi\n".to_vec()).unwrap();
        let skill = skill_of(&files, "big", "s/big");
        let zip = build_skill_zip(&files, &skill, 1 << 20).unwrap();
        assert!(zip.len() < md.len() / 4, "text should be deflated: {} bytes", zip.len());
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip[..])).unwrap();
        {
            let entry = archive.by_name("big/SKILL.md").unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            assert_eq!(entry.crc32(), crc32fast::hash(md.as_bytes()));
        }
        assert_eq!(archive.by_name("big/scripts/run.sh").unwrap().unix_mode(), Some(0o100_755));
        assert_eq!(archive.by_name("big/SKILL.md").unwrap().unix_mode(), Some(0o100_644));
        // `read_back` decompresses and checks every CRC.
        assert_eq!(read_back(&zip)["big/SKILL.md"].as_deref(), Some(md.as_bytes()));
    }

    /// A skill over `files` whose list is every file under `dir`, like the loader makes.
    fn skill_of(files: &FileSet, name: &str, dir: &str) -> Skill {
        let files: Vec<skillport_sources::SkillFile> = files
            .files_under(dir)
            .map(|(path, bytes)| skillport_sources::SkillFile {
                path: path[dir.len() + 1..].to_string(),
                size: bytes.len() as u64,
                sha256: skillport_sources::sha256_digest(bytes),
            })
            .collect();
        Skill {
            name: name.into(),
            description: None,
            dir: dir.into(),
            frontmatter_raw: None,
            frontmatter: Default::default(),
            files,
            digest: String::new(),
            problems: vec![],
        }
    }

    #[test]
    fn size_limit_is_enforced() {
        with_example(|files, skill| {
            let total: u64 = skill.files.iter().map(|f| f.size).sum();
            assert!(build_skill_zip(files, skill, total).is_ok());
            assert_eq!(
                build_skill_zip(files, skill, total - 1),
                Err(PackageError::TooLarge { skill: "brand-voice".into(), total, limit: total - 1 })
            );
        });
    }

    #[test]
    fn missing_file_and_unusable_name_are_refused() {
        let mut files = FileSet::new();
        files.insert("s/x/SKILL.md", b"x".to_vec()).unwrap();
        let mut skill = skill_of(&files, "x", "s/x");
        skill.files.push(skillport_sources::SkillFile { path: "gone.md".into(), size: 1, sha256: String::new() });
        assert_eq!(
            build_skill_zip(&files, &skill, 1000),
            Err(PackageError::MissingFile { skill: "x".into(), path: "s/x/gone.md".into() })
        );
        // An untrusted frontmatter name never becomes a path: the folder name is used instead.
        let mut skill = skill_of(&files, "../../evil", "s/x");
        assert_eq!(package_folder(&skill), Some("x"));
        let names: Vec<String> = read_back(&build_skill_zip(&files, &skill, 1000).unwrap()).into_keys().collect();
        assert_eq!(names, ["x/", "x/SKILL.md"]);
        skill.dir = String::new();
        assert_eq!(build_skill_zip(&files, &skill, 1000), Err(PackageError::NoFolderName("../../evil".into())));
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const DIGEST: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn token_round_trips_and_is_url_safe() {
        let token = sign_download(KEY, "brand-kit@example", "brand-voice", DIGEST, 2_000);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'), "{token}");
        let claim = verify_download(KEY, &token, 1_999).unwrap();
        assert_eq!(
            claim,
            DownloadClaim {
                plugin: "brand-kit@example".into(),
                skill: "brand-voice".into(),
                digest: DIGEST.into(),
                expires: 2_000
            }
        );
        assert_eq!(sign_download(KEY, "brand-kit@example", "brand-voice", DIGEST, 2_000), token, "deterministic");
    }

    #[test]
    fn token_expires() {
        let token = sign_download(KEY, "p@m", "s", DIGEST, 2_000);
        assert_eq!(verify_download(KEY, &token, 2_000), Err(DownloadError::Expired));
        assert_eq!(verify_download(KEY, &token, u64::MAX), Err(DownloadError::Expired));
        assert!(verify_download(KEY, &token, 0).is_ok());
    }

    #[test]
    fn wrong_key_is_refused() {
        let token = sign_download(KEY, "p@m", "s", DIGEST, 2_000);
        assert_eq!(verify_download(b"another key entirely, 32 bytes!!", &token, 0), Err(DownloadError::BadSignature));
        assert_eq!(verify_download(b"", &token, 0), Err(DownloadError::BadSignature));
        assert_eq!(
            verify_download(b"", &sign_download(b"", "p@m", "s", DIGEST, 9), 0),
            Err(DownloadError::BadSignature)
        );
    }

    #[test]
    fn every_tampered_field_is_refused() {
        let token = sign_download(KEY, "p@m", "s", DIGEST, 2_000);
        let mac_part = token.split_once('.').unwrap().1;
        // A payload re-encoded with one field changed (or the expiry extended) keeps the old MAC, and fails.
        for payload in [
            encode_claim("q@m", "s", DIGEST, 2_000),
            encode_claim("p@m", "t", DIGEST, 2_000),
            encode_claim("p@m", "s", "sha256:00", 2_000),
            encode_claim("p@m", "s", DIGEST, 2_001),
            encode_claim("p@m", "s", DIGEST, u64::MAX),
            // Moving bytes between fields gives the same concatenation but another encoding.
            encode_claim("p@ms", "", DIGEST, 2_000),
        ] {
            let forged = format!("{}.{mac_part}", URL_SAFE_NO_PAD.encode(&payload));
            assert_eq!(verify_download(KEY, &forged, 0), Err(DownloadError::BadSignature));
        }
        // Appending to the payload (length extension) fails too.
        let mut longer = encode_claim("p@m", "s", DIGEST, 2_000);
        longer.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        let forged = format!("{}.{mac_part}", URL_SAFE_NO_PAD.encode(&longer));
        assert_eq!(verify_download(KEY, &forged, 0), Err(DownloadError::BadSignature));
        // Every single-character change anywhere in the token is refused, one way or another.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for i in 0..token.len() {
            for &c in alphabet.iter().step_by(7) {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(verify_download(KEY, &changed, 0).is_err(), "accepted {changed}");
            }
        }
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let token = sign_download(KEY, "p@m", "s", DIGEST, 2_000);
        let (payload, mac_part) = token.split_once('.').unwrap();
        let garbage = [
            String::new(),
            ".".into(),
            "..".into(),
            "abc".into(),
            "not base64!.x".into(),
            payload.to_string(),
            format!("{payload}."),
            format!(".{mac_part}"),
            format!("{payload}.{mac_part}.extra"),
            format!("{payload}.{}", &mac_part[..mac_part.len() - 2]),
            format!("{payload}={mac_part}"),
            "é.ü".into(),
            "A".repeat(MAX_TOKEN_LEN + 1),
            format!("{}.{mac_part}", "A".repeat(MAX_TOKEN_LEN)),
        ];
        for g in &garbage {
            assert_eq!(verify_download(KEY, g, 0), Err(DownloadError::Malformed), "{g:?}");
        }
        // A correctly signed payload that does not decode is malformed, not accepted.
        for payload in [
            &b""[..],
            b"\0\x05ab",
            b"\0\x01a\0\x01b\0\x01c\0\0\0\0\0\0\0\0\0",
            b"\0\x01\xff\0\x01b\0\x01c\0\0\0\0\0\0\0\0",
            b"\0\x09a\0\x01b\0\x01c\0\0\0\0\0\0\0\0",
        ] {
            let tag = mac(KEY, payload).finalize().into_bytes();
            let t = format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag));
            assert_eq!(verify_download(KEY, &t, 0), Err(DownloadError::Malformed));
        }
        // Arbitrary bytes as a token (lossy to a string): refused, no panic.
        let mut x: u32 = 7;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            assert!(verify_download(KEY, &String::from_utf8_lossy(&bytes), 0).is_err());
        }
    }
}
