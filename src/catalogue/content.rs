//! Is a skill file text or binary, and what is its MIME type?
//!
//! Decided by the bytes, not the name: a skill folder can hold a `logo.png` that is really a JPEG, a `.txt` that is
//! UTF-16, or an extension-less script. Text is served as text (with a MIME type from the extension, since text has no
//! magic number); anything else is served as a base64 blob with the type its magic number says. Not for: deciding
//! whether a file may be served at all (that is the catalogue's filters) or parsing any format.

use base64::Engine as _;

/// What a file's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// Valid UTF-8 with no NUL and few control characters. Lossless: a leading byte-order mark is kept.
    Text(&'a str),
    /// Anything else, with the MIME type sniffed from its first bytes (`application/octet-stream` when unknown).
    Binary { mime: &'static str },
}

/// Control characters (other than tab, newline, carriage return, form feed) tolerated in text: at most one per this
/// many characters. A stray escape sequence in a log excerpt stays text; a binary format that happens to be UTF-8 does
/// not.
const CHARS_PER_CONTROL: usize = 100;

/// Text or binary, judged by content alone.
pub fn classify(bytes: &[u8]) -> Content<'_> {
    match std::str::from_utf8(bytes) {
        Ok(text) if looks_like_text(text) => Content::Text(text),
        _ => Content::Binary { mime: sniff_mime(bytes).unwrap_or(OCTET_STREAM) },
    }
}

/// The MIME type to serve a file as: from the bytes for binary, from the path's extension for text.
pub fn mime_of(path: &str, bytes: &[u8]) -> &'static str {
    match classify(bytes) {
        Content::Text(_) => text_mime(path),
        Content::Binary { mime } => mime,
    }
}

pub const OCTET_STREAM: &str = "application/octet-stream";

fn looks_like_text(text: &str) -> bool {
    let mut chars = 0usize;
    let mut controls = 0usize;
    for c in text.chars() {
        chars += 1;
        match c {
            '\0' => return false,
            '\t' | '\n' | '\r' | '\x0c' => {}
            c if c.is_control() => controls += 1,
            _ => {}
        }
    }
    // Rounded up, so a short file may hold one.
    controls <= chars.div_ceil(CHARS_PER_CONTROL)
}

/// The MIME type a binary file's magic number announces, when it is one of the formats a skill plausibly ships.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let riff = |form: &[u8]| bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == form;
    let mime = if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if riff(b"WEBP") {
        "image/webp"
    } else if riff(b"WAVE") {
        "audio/wav"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        // Also .docx, .xlsx, .pptx, .jar: all ZIP containers; telling them apart needs the central directory.
        "application/zip"
    } else if starts(b"\x1f\x8b") {
        "application/gzip"
    } else if starts(b"\0asm") {
        "application/wasm"
    } else if starts(b"wOFF") {
        "font/woff"
    } else if starts(b"wOF2") {
        "font/woff2"
    } else if starts(b"\0\x01\0\0\0") {
        "font/ttf"
    } else if starts(b"OTTO") {
        "font/otf"
    } else if starts(b"\0\0\x01\0") && bytes.len() >= 6 && bytes[4..6] != [0, 0] {
        // ICONDIR: reserved 0, type 1 (icon), a non-zero image count.
        "image/x-icon"
    } else if starts(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xff && matches!(bytes[1], 0xfb | 0xf3 | 0xf2)) {
        "audio/mpeg"
    } else if starts(b"OggS") {
        "audio/ogg"
    } else if starts(b"SQLite format 3\0") {
        "application/vnd.sqlite3"
    } else {
        return None;
    };
    Some(mime)
}

/// MIME type of a text file, by the extension of its path (`text/plain` when the extension says nothing).
pub fn text_mime(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return "text/plain";
    };
    if stem.is_empty() {
        // A dotfile (`.gitignore`): the part after the dot is its name, not an extension.
        return "text/plain";
    }
    match ext.to_ascii_lowercase().as_str() {
        "md" | "markdown" | "mdx" => "text/markdown",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/jsonl",
        "ipynb" => "application/x-ipynb+json",
        "py" | "pyi" => "text/x-python",
        "sh" | "bash" | "zsh" => "text/x-shellscript",
        "js" | "mjs" | "cjs" => "text/javascript",
        "ts" | "mts" | "cts" | "tsx" => "text/x-typescript",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "xml" | "xsd" | "xsl" => "application/xml",
        "svg" => "image/svg+xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "sql" => "application/sql",
        "rs" => "text/x-rust",
        "go" => "text/x-go",
        "rb" => "text/x-ruby",
        "java" => "text/x-java",
        "c" | "h" => "text/x-c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "text/x-c++",
        "ps1" => "text/x-powershell",
        "tex" => "text/x-tex",
        _ => "text/plain",
    }
}

/// Standard base64 with padding, the encoding of an MCP resource's `blob`.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_file(path: &str) -> Vec<u8> {
        let files = crate::bundle::bundled_files("marketplace").expect("the example marketplace is embedded");
        files.get(path).unwrap_or_else(|| panic!("{path} is in the example")).to_vec()
    }

    #[test]
    fn utf8_text_is_text() {
        let md = example_file("plugins/brand-kit/skills/brand-voice/SKILL.md");
        let Content::Text(text) = classify(&md) else { panic!("SKILL.md should be text") };
        assert!(text.starts_with("---"));
        assert_eq!(
            classify("tabs\tand\r\nform\x0cfeeds, ünïcödé ✓".as_bytes()),
            Content::Text("tabs\tand\r\nform\x0cfeeds, ünïcödé ✓")
        );
        assert_eq!(classify(b""), Content::Text(""));
    }

    #[test]
    fn png_from_the_example_is_binary_png() {
        let png = example_file("plugins/brand-kit/skills/brand-voice/assets/logo.png");
        assert_eq!(classify(&png), Content::Binary { mime: "image/png" });
        assert_eq!(mime_of("assets/logo.png", &png), "image/png");
        // The name does not decide: the same bytes under a misleading name are still a PNG.
        assert_eq!(mime_of("notes.md", &png), "image/png");
    }

    #[test]
    fn random_bytes_are_octet_stream() {
        // A fixed xorshift stream: reproducible "random" bytes, not valid UTF-8 and no known magic.
        let mut x: u32 = 0x9e37_79b9;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(sniff_mime(&bytes), None);
        assert_eq!(classify(&bytes), Content::Binary { mime: OCTET_STREAM });
    }

    #[test]
    fn utf8_with_nul_is_binary() {
        assert_eq!(classify(b"name: x\n\0more text\n"), Content::Binary { mime: OCTET_STREAM });
        // A WebAssembly module starts with NUL too, and is recognised.
        assert_eq!(classify(b"\0asm\x01\0\0\0"), Content::Binary { mime: "application/wasm" });
    }

    #[test]
    fn bom_is_text_and_kept() {
        let bytes = b"\xef\xbb\xbf# Title\n";
        assert_eq!(classify(bytes), Content::Text("\u{feff}# Title\n"));
    }

    #[test]
    fn control_characters_are_tolerated_only_when_few() {
        let mut log = "x".repeat(300);
        log.push_str("\x1b[1mbold\x1b[0m");
        assert!(matches!(classify(log.as_bytes()), Content::Text(_)));
        assert!(matches!(classify(b"\x01\x02\x03\x04 abc"), Content::Binary { .. }));
        // C1 controls (valid UTF-8, U+0080..U+009F) count as controls too.
        assert!(matches!(classify("\u{85}\u{86}\u{87}".as_bytes()), Content::Binary { .. }));
    }

    #[test]
    fn magic_numbers() {
        for (bytes, mime) in [
            (&b"\xff\xd8\xff\xe0\0\x10JFIF"[..], "image/jpeg"),
            (b"GIF89a\x01\0\x01\0", "image/gif"),
            (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
            (b"RIFF\x24\0\0\0WAVEfmt ", "audio/wav"),
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
            (b"PK\x03\x04\x14\0\0\0", "application/zip"),
            (b"\x1f\x8b\x08\0", "application/gzip"),
            (b"wOFF\0\x01\0\0", "font/woff"),
            (b"wOF2\0\x01\0\0", "font/woff2"),
            (b"\0\0\x01\0\x01\0\x10\x10", "image/x-icon"),
            (b"ID3\x04\0\0\0\0", "audio/mpeg"),
            (b"\xff\xfb\x90\x64", "audio/mpeg"),
            (b"OggS\0\x02\0\0", "audio/ogg"),
        ] {
            assert_eq!(classify(bytes), Content::Binary { mime }, "{mime}");
        }
        // Too short to be what it starts like.
        assert_eq!(sniff_mime(b"RIFF"), None);
    }

    #[test]
    fn text_mime_by_extension() {
        for (path, mime) in [
            ("SKILL.md", "text/markdown"),
            ("references/API.MD", "text/markdown"),
            ("data/x.json", "application/json"),
            ("scripts/fill.py", "text/x-python"),
            ("scripts/run.sh", "text/x-shellscript"),
            ("config.yaml", "application/yaml"),
            ("notes.txt", "text/plain"),
            ("Makefile", "text/plain"),
            (".gitignore", "text/plain"),
            ("archive.tar.unknown", "text/plain"),
        ] {
            assert_eq!(text_mime(path), mime, "{path}");
        }
    }

    #[test]
    fn base64_is_standard_padded() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"\xfb\xff"), "+/8=");
        assert_eq!(base64_encode(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
    }
}
