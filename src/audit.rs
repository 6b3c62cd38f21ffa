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

/// What was done, as the line's `action` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    Consent,
    Token,
    /// A request to `/mcp` or `/sse` turned away before it reached the server.
    Refused,
    Register,
    GetPlugin,
    FetchSkill,
    GetPrompt,
    Download,
    CheckUpdates,
    Status,
    Webhook,
}

impl Action {
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::Consent => "consent",
            Action::Token => "token",
            Action::Refused => "refused",
            Action::Register => "register",
            Action::GetPlugin => "get_plugin",
            Action::FetchSkill => "fetch_skill",
            Action::GetPrompt => "get_prompt",
            Action::Download => "download",
            Action::CheckUpdates => "check_updates",
            Action::Status => "status",
            Action::Webhook => "webhook",
        }
    }
}

/// How it ended, as the line's `outcome` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The user said no (consent, or at the identity provider).
    Denied,
    Refused,
    /// Asked for something that does not exist or is hidden from the caller (the two answer alike).
    NotFound,
    Error,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Refused => "refused",
            Outcome::NotFound => "not_found",
            Outcome::Error => "error",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One audited action. Build it with [`Event::new`] and set what else it names:
/// `Event { plugin: Some(..), ..Event::new(Action::Download, Outcome::Ok) }`.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub action: Action,
    pub outcome: Outcome,
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

impl<'a> Event<'a> {
    /// An event that names only what was done and how it ended.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Event { action, outcome, user: None, client: None, plugin: None, skill: None, version: None, detail: None }
    }
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
                user: Some((&id).into()),
                plugin: Some("brand-kit@example"),
                skill: Some("brand-voice"),
                version: Some("1.2.0"),
                ..Event::new(Action::FetchSkill, Outcome::Ok)
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

    #[test]
    fn the_line_is_byte_for_byte_what_it_was_when_actions_were_text() {
        drain();
        let typed = Event { client: Some("c1"), detail: Some("why"), ..Event::new(Action::SignIn, Outcome::Denied) };
        record(86_400, &typed);
        let lines = drain();
        assert_eq!(
            lines[0],
            r#"{"audit":"skillport","time":"1970-01-02T00:00:00Z","action":"sign_in","outcome":"denied","client":"c1","detail":"why"}"#
        );
    }

    #[test]
    fn actions_and_outcomes_keep_their_names() {
        let actions = [
            (Action::SignIn, "sign_in"),
            (Action::Consent, "consent"),
            (Action::Token, "token"),
            (Action::Refused, "refused"),
            (Action::Register, "register"),
            (Action::GetPlugin, "get_plugin"),
            (Action::FetchSkill, "fetch_skill"),
            (Action::GetPrompt, "get_prompt"),
            (Action::Download, "download"),
            (Action::CheckUpdates, "check_updates"),
            (Action::Status, "status"),
            (Action::Webhook, "webhook"),
        ];
        for (a, name) in actions {
            assert_eq!(a.as_str(), name);
            assert_eq!(serde_json::to_value(a).unwrap(), name);
        }
        let outcomes = [
            (Outcome::Ok, "ok"),
            (Outcome::Denied, "denied"),
            (Outcome::Refused, "refused"),
            (Outcome::NotFound, "not_found"),
            (Outcome::Error, "error"),
        ];
        for (o, name) in outcomes {
            assert_eq!(o.as_str(), name);
            assert_eq!(serde_json::to_value(o).unwrap(), name);
        }
    }
}
