//! Claim paths: where in an ID token or userinfo answer the groups are (`groups`, `https://example.com/roles`,
//! `realm_access.roles`).

use serde_json::{Map, Value};

/// The string values at claim `path`: the exact key first (namespaced claims such as `https://example.com/roles`
/// contain dots), else a dotted path into nested objects, trying the longest key at each level. A string gives one
/// value, an array its string elements; anything else none.
pub fn claim_strings(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    match claim_at(claims, path) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    // Longest prefix key first, so `a.b.c` prefers key `a.b` over key `a`.
    for (dot, _) in path.match_indices('.').collect::<Vec<_>>().into_iter().rev() {
        if let Some(Value::Object(inner)) = claims.get(&path[..dot]) {
            if let Some(value) = claim_at(inner, &path[dot + 1..]) {
                return Some(value);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths() {
        let claims = json!({
            "groups": ["a", "b", 3],
            "https://example.com/roles": ["admin"],
            "https://example.com/app": {"teams": "red"},
            "realm_access": {"roles": ["dev"]},
            "a.b": {"c": "longest"},
            "a": {"b": {"c": "shortest"}},
        });
        let claims = claims.as_object().unwrap();
        assert_eq!(claim_strings(claims, "groups"), ["a", "b"]);
        assert_eq!(claim_strings(claims, "https://example.com/roles"), ["admin"]);
        assert_eq!(claim_strings(claims, "https://example.com/app.teams"), ["red"]);
        assert_eq!(claim_strings(claims, "realm_access.roles"), ["dev"]);
        assert_eq!(claim_strings(claims, "a.b.c"), ["longest"]);
        assert!(claim_strings(claims, "missing.path").is_empty());
        assert!(claim_strings(claims, "realm_access").is_empty());
    }
}
