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
    assert_eq!(verify_download(b"", &sign_download(b"", "p@m", "s", DIGEST, 9), 0), Err(DownloadError::BadSignature));
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
