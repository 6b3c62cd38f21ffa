//! The audit trail: one JSON line per sign-in, token grant, refusal and catalogue read (`get_plugin`, `fetch_skill`,
//! a skill's prompt (`get_prompt`), zip download, `check_updates`), written to the Worker log, where `wrangler tail`
//! and Workers Logs read it.
//!
//! Code anywhere in a request calls [`record`]; the platform drains the lines with [`drain`] when the request ends
//! and logs each (natively, tests drain them to assert on). The buffer is per thread, and a Worker isolate runs one
//! thread, so requests that interleave at an `await` may see each other's lines in one drain: each line carries
//! everything it needs, so their order is all that could differ.
//!
//! A line never carries a token, code, secret or upstream text: [`Event`] has no field that could hold one, and
//! the `detail` strings are ours (error codes, reasons we wrote).

use serde::Serialize;
use skillport_providers::Identity;
use std::cell::RefCell;

thread_local! {
    static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Most lines kept between drains (a drain that never comes must not grow memory without bound).
const MAX_BUFFERED: usize = 1000;

/// One audited action.
#[derive(Debug, Default, Serialize)]
pub struct Event<'a> {
    /// `sign_in`, `consent`, `token`, `refused`, `get_plugin`, `fetch_skill`, `get_prompt`, `download`,
    /// `check_updates`, `status`.
    pub action: &'a str,
    /// `ok`, `denied`, `refused`, `not_found`, `error`.
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    /// `plugin@marketplace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// Who, as the audit trail names them.
#[derive(Debug, Serialize)]
pub struct User<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

impl<'a> From<&'a Identity> for User<'a> {
    fn from(i: &'a Identity) -> Self {
        User { provider: &i.provider, subject: &i.subject, email: i.email.as_deref() }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    audit: &'static str,
    time: String,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

/// Records `event` at `now` (Unix seconds).
pub fn record(now: u64, event: &Event<'_>) {
    let line = serde_json::to_string(&Line { audit: "skillport", time: crate::clock::rfc3339(now), event })
        .unwrap_or_default();
    LINES.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() < MAX_BUFFERED {
            l.push(line);
        }
    });
}

/// The lines recorded since the last drain.
pub fn drain() -> Vec<String> {
    LINES.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_time_and_action() {
        drain();
        let id = Identity {
            provider: "github".into(),
            subject: "42".into(),
            email: Some("ada@acme.example".into()),
            email_verified: true,
            name: None,
            domain: None,
            groups: vec![],
            orgs: vec![],
            teams: vec![],
        };
        record(
            0,
            &Event {
                action: "fetch_skill",
                outcome: "ok",
                user: Some((&id).into()),
                plugin: Some("brand-kit@example"),
                skill: Some("brand-voice"),
                version: Some("1.2.0"),
                ..Default::default()
            },
        );
        let lines = drain();
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["audit"], "skillport");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
        assert_eq!(v["user"]["email"], "ada@acme.example");
        assert_eq!(v["plugin"], "brand-kit@example");
        assert!(v.get("client").is_none());
        assert!(drain().is_empty());
    }
}
