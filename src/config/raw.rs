//! Raw input: the merged layers before validation. A [`KeyPath`] names a place in them as errors print it
//! (`marketplaces[2].kind`); [`Text`] and the `Raw*` section shapes are what serde reads each section into, every field
//! optional so that `validate` reports a missing one by its key.

use std::fmt;

use figment::value::Value;
use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};
use skillport_providers::local::LocalUser;

use super::model::{AccessDecision, InstallPolicy};
use super::names::Surface;

/// A place in the configuration, printed as `marketplaces[2].kind`.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyPath(pub(super) Vec<Segment>);

#[derive(Debug, Clone)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub(super) fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    pub(super) fn index(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The child of `value` at `segment`, if there is one.
pub(super) fn child<'v>(value: &'v Value, segment: &Segment) -> Option<&'v Value> {
    match (segment, value) {
        (Segment::Key(key), Value::Dict(_, dict)) => dict.get(key),
        (Segment::Index(index), Value::Array(_, items)) => items.get(*index),
        _ => None,
    }
}

/// Text in a raw layer. Numbers and booleans are accepted as their text because a Worker var such as
/// `SKILLPORT_AUTH__CLIENT_ID=12345` is parsed into a number before anything knows a string was wanted (and a GitLab
/// project id is naturally written as one). Fractions are not accepted: `1.10` would come back as `1.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text(pub(super) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

// The raw shapes of each section: every field optional, so that a missing one is reported by its key rather than
// as serde's "missing field", and unknown keys refused, so that a typo is an error rather than a silent default.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) public_url: Option<Text>,
    pub(super) name: Option<Text>,
    pub(super) max_body_bytes: Option<u64>,
    pub(super) download_key_secret: Option<Text>,
    pub(super) download_ttl_seconds: Option<u64>,
    pub(super) sse_backlog_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalogue {
    pub(super) surfaces: Option<Vec<Surface>>,
    pub(super) refresh_seconds: Option<u64>,
    pub(super) stale_seconds: Option<u64>,
    pub(super) max_file_bytes: Option<u64>,
    pub(super) upstream_timeout_ms: Option<u64>,
    pub(super) subrequests_per_refresh: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrompts {
    pub(super) enabled: Option<bool>,
    pub(super) marketplaces: Option<Vec<Text>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    pub(super) default: Option<AccessDecision>,
    /// Read element by element later, so one bad rule does not hide the problems of the others.
    #[allow(dead_code)]
    pub(super) rules: Option<IgnoredAny>,
    /// Read on its own, like the rules.
    #[allow(dead_code)]
    pub(super) admins: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmins {
    pub(super) emails: Option<Vec<Text>>,
    pub(super) domains: Option<Vec<Text>>,
    pub(super) orgs: Option<Vec<Text>>,
    pub(super) teams: Option<Vec<Text>>,
    pub(super) groups: Option<Vec<Text>>,
}

/// The union of every provider's settings: the layers may leave another provider's settings in `[auth]` (the defaults
/// set `auth.user` for `local`), and those are ignored rather than refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) provider: Option<Text>,
    pub(super) user: Option<LocalUser>,
    pub(super) client_id: Option<Text>,
    pub(super) client_secret_secret: Option<Text>,
    pub(super) api_base: Option<Text>,
    pub(super) org: Option<Text>,
    pub(super) teams: Option<Vec<Text>>,
    pub(super) issuer: Option<Text>,
    pub(super) scopes: Option<Vec<Text>>,
    pub(super) groups_claim: Option<Text>,
    pub(super) allowed_domains: Option<Vec<Text>>,
    pub(super) domain: Option<Text>,
    pub(super) roles_claim: Option<Text>,
    pub(super) web_base: Option<Text>,
    pub(super) open: Option<bool>,
    pub(super) master_key_secret: Option<Text>,
    pub(super) code_ttl_seconds: Option<u64>,
    pub(super) access_ttl_seconds: Option<u64>,
    pub(super) refresh_ttl_seconds: Option<u64>,
    pub(super) sweep_seconds: Option<u64>,
    pub(super) max_clients: Option<u64>,
    pub(super) new_clients_per_address_per_hour: Option<u64>,
    pub(super) new_clients_per_hour: Option<u64>,
    pub(super) unused_client_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMarketplace {
    pub(super) id: Option<Text>,
    pub(super) kind: Option<Text>,
    pub(super) location: Option<Text>,
    #[serde(rename = "ref")]
    pub(super) git_ref: Option<Text>,
    pub(super) token_secret: Option<Text>,
    pub(super) api_base: Option<Text>,
    pub(super) webhook_secret: Option<Text>,
    pub(super) layout: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) effect: Option<AccessDecision>,
    pub(super) marketplace: Option<Text>,
    pub(super) plugin: Option<Text>,
    pub(super) skill: Option<Text>,
    pub(super) emails: Option<Vec<Text>>,
    pub(super) domains: Option<Vec<Text>>,
    pub(super) orgs: Option<Vec<Text>>,
    pub(super) teams: Option<Vec<Text>>,
    pub(super) groups: Option<Vec<Text>>,
    pub(super) policy: Option<InstallPolicy>,
}
