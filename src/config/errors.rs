//! What a failed load reports: one [`ConfigError`] per problem (key, layer, message), all of them together in
//! [`ConfigErrors`], and figment's own error kinds reworded for an admin.

use std::fmt;

use figment::error::{Actual, Kind};

/// One configuration problem: the key (`marketplaces[2].kind`), the layer its value came from, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` (from {layer}): {message}")]
pub struct ConfigError {
    pub key: String,
    pub layer: String,
    pub message: String,
}

/// Every problem found in one load, so an admin can fix them all in one pass. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// figment's error text, reworded for an admin and without string values: a string that fails to parse may be a
/// secret set under a `SKILLPORT_` name by mistake, and the key and layer already say where to look.
pub(super) fn describe_kind(kind: &Kind) -> String {
    fn actual(a: &Actual) -> String {
        match a {
            Actual::Str(_) | Actual::Bytes(_) | Actual::Char(_) => "text".into(),
            Actual::Bool(b) => format!("`{b}`"),
            Actual::Unsigned(n) => format!("the number {n}"),
            Actual::Signed(n) => format!("the number {n}"),
            Actual::Float(n) => format!("the number {n}"),
            Actual::Seq => "a list".into(),
            Actual::Map => "a table".into(),
            Actual::Unit | Actual::Option => "nothing".into(),
            other => other.to_string(),
        }
    }
    fn expected(e: &str) -> String {
        match e {
            _ if e.starts_with("struct ") => "a table".into(),
            "a sequence" => "a list".into(),
            "u64" | "u32" | "usize" => "a whole number of 0 or more".into(),
            other => other.into(),
        }
    }
    match kind {
        Kind::InvalidType(a, e) => format!("expected {}, found {}", expected(e), actual(a)),
        Kind::InvalidValue(a, e) => format!("expected {}, found {}", expected(e), actual(a)),
        Kind::UnknownVariant(v, expected) => format!("unknown value `{v}`; expected one of {}", expected.join(", ")),
        Kind::UnknownField(field, expected) => {
            format!("unknown key `{field}`; expected one of {}", expected.join(", "))
        }
        Kind::MissingField(field) => format!("missing key `{field}`"),
        other => other.to_string(),
    }
}
