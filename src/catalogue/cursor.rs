//! Opaque pagination cursors: the offset, hex-encoded behind a tag, so a client cannot mistake it for a number
//! and a tampered cursor is refused rather than silently restarting.

const TAG: &str = "sp1.";

pub fn encode(offset: usize) -> String {
    format!("{TAG}{:x}", offset ^ 0x5eed)
}

pub fn decode(cursor: &str) -> Option<usize> {
    let hex = cursor.strip_prefix(TAG)?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    usize::from_str_radix(hex, 16).ok().map(|v| v ^ 0x5eed)
}

#[cfg(test)]
#[test]
fn round_trip_and_rejects_garbage() {
    for n in [0usize, 1, 50, 123456] {
        assert_eq!(decode(&encode(n)), Some(n));
    }
    for bad in ["", "50", "sp1.", "sp1.zz", "xx.10"] {
        assert_eq!(decode(bad), None, "{bad}");
    }
}
