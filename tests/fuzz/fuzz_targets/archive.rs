//! Safe archive extraction (`skillport_sources::archive::extract`): tar.gz from GitHub/GitLab, zip or tar.gz from an
//! HTTPS marketplace, all untrusted.
//!
//! Input: byte 0 chooses the format (bit 0: tar.gz / zip), the top-folder rule (bits 1-2: strip, strip if single,
//! keep) and the limits (bits 3-4: four small sets, so the caps are actually reached); the rest is the archive.
//!
//! Invariants: no panic, no unbounded allocation (libFuzzer's -malloc_limit_mb/-rss_limit_mb catch those); on success
//! every path is normalised (relative, no `..`, `.`, empty segment, backslash or NUL: nothing can escape the folder
//! it would be written to), the file count and every file are within their caps and the total is within its cap; a
//! path error is only ever a refusal, never a trimmed tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillport_sources::archive::{extract, ArchiveFormat, Limits, TopFolder};

const LIMITS: [Limits; 4] = [
    Limits { max_total_bytes: 64 * 1024, max_files: 16, max_file_bytes: 16 * 1024 },
    Limits { max_total_bytes: 4096, max_files: 4, max_file_bytes: 1024 },
    Limits { max_total_bytes: 1024 * 1024, max_files: 256, max_file_bytes: 256 * 1024 },
    Limits { max_total_bytes: 100, max_files: 2, max_file_bytes: 60 },
];

fn is_safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = if selector & 1 == 0 { ArchiveFormat::TarGz } else { ArchiveFormat::Zip };
    let top = match (selector >> 1) & 3 {
        0 => TopFolder::Strip,
        1 => TopFolder::StripIfSingle,
        _ => TopFolder::Keep,
    };
    let limits = LIMITS[usize::from((selector >> 3) & 3)];
    let Ok(out) = extract(bytes, format, top, &limits) else { return };
    assert!(out.files.len() <= limits.max_files, "{} files over the cap of {}", out.files.len(), limits.max_files);
    let mut total = 0u64;
    for (path, content) in out.files.iter() {
        assert!(is_safe(path), "unsafe path `{path:?}` extracted");
        let size = content.len() as u64;
        assert!(size <= limits.max_file_bytes, "`{path}`: {size} bytes over the file cap");
        total += size;
    }
    assert!(total <= limits.max_total_bytes, "{total} bytes extracted, over the cap of {}", limits.max_total_bytes);
    for skipped in &out.skipped {
        assert!(!skipped.is_empty());
    }
});
