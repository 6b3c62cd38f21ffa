//! Which Claude surfaces a plugin is meant for: the `surfaces` field, else `surface:*` tags, else all.

use crate::config::Surface;
use skillport_sources::model::PluginEntry;

pub const ALL: [Surface; 3] = Surface::ALL;

/// Surfaces named by one word as marketplaces write them: the short tag codes of the original connector
/// (`CC`, `CD`, `CAI`, `CDAI`, `CALL`) and the long names (`claude-code`, ...).
pub fn parse_surfaces(word: &str) -> Option<Vec<Surface>> {
    let w = word.trim().to_ascii_lowercase();
    Some(match w.as_str() {
        "cc" | "claude-code" | "code" => vec![Surface::ClaudeCode],
        "cd" | "claude-desktop" | "desktop" => vec![Surface::ClaudeDesktop],
        "cai" | "claude-ai" | "claude.ai" | "web" => vec![Surface::ClaudeAi],
        "cdai" => vec![Surface::ClaudeDesktop, Surface::ClaudeAi],
        "call" | "all" => ALL.to_vec(),
        _ => return None,
    })
}

/// The surfaces of a marketplace entry. The explicit `surfaces` field wins over tags; unknown words are ignored;
/// nothing at all means every surface.
pub fn of_entry(entry: &PluginEntry) -> Vec<Surface> {
    let mut out = Vec::new();
    let mut push = |list: Vec<Surface>| {
        for s in list {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    };
    if let Some(list) = &entry.surfaces {
        for w in list {
            if let Some(s) = parse_surfaces(w) {
                push(s);
            }
        }
    } else {
        for tag in &entry.tags {
            if let Some(rest) = tag.strip_prefix("surface:") {
                if let Some(s) = parse_surfaces(rest) {
                    push(s);
                }
            }
        }
    }
    if out.is_empty() {
        return ALL.to_vec();
    }
    out.sort_by_key(|s| ALL.iter().position(|a| a == s));
    out
}

pub fn name(s: Surface) -> &'static str {
    s.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> PluginEntry {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn tags_and_field() {
        let e = entry(serde_json::json!({"name":"a","source":"./a","tags":["surface:CDAI","x"]}));
        assert_eq!(of_entry(&e), vec![Surface::ClaudeDesktop, Surface::ClaudeAi]);
        let e = entry(serde_json::json!({"name":"a","source":"./a","tags":["surface:CC"]}));
        assert_eq!(of_entry(&e), vec![Surface::ClaudeCode]);
        let e = entry(serde_json::json!({"name":"a","source":"./a","tags":["surface:CALL"]}));
        assert_eq!(of_entry(&e), ALL.to_vec());
        let e = entry(serde_json::json!({"name":"a","source":"./a"}));
        assert_eq!(of_entry(&e), ALL.to_vec());
        // The field wins over tags.
        let e = entry(serde_json::json!({"name":"a","source":"./a","surfaces":["claude-ai"],"tags":["surface:CC"]}));
        assert_eq!(of_entry(&e), vec![Surface::ClaudeAi]);
        // Unknown words alone mean "all", never "none".
        let e = entry(serde_json::json!({"name":"a","source":"./a","tags":["surface:XYZ"]}));
        assert_eq!(of_entry(&e), ALL.to_vec());
    }
}
