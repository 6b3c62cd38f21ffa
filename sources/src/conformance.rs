//! The behaviours every [`MarketplaceSource`] must have, as functions a test runs against one source and the
//! upstream it reads (object_store's `integration.rs`). Each kind's unit tests run them over canned answers, and
//! `tests/forge.rs` runs them against the forge stand-in, so a new kind proves the same things in the same words.
//!
//! The suite drives the upstream through client wrappers (pass the first requests, then answer every later one
//! with a given status), so it needs no help from the upstream to show how a source meets a rate limit, a 304
//! nobody asked for or a failing server at any step of its load. Every function panics with what broke.
//!
//! Compiled into the library (not behind `cfg(test)`) so integration tests can reach it; nothing calls it outside
//! tests, and a release build drops it.

use std::cell::RefCell;

use crate::files::FileSet;
use crate::load::{load_marketplace, LoadedPlugin};
use crate::remote::Revision;
use crate::{Fetched, MarketplaceSource, Previous, SourceError};
use skillport_http::{block_on_ready, BudgetClient, HttpClient, HttpError, HttpRequest, HttpResponse};

/// A source under test and the upstream it reads.
pub trait Subject {
    /// The source, configured with [`token`](Self::token), reading through `client`.
    fn source<'c>(&self, client: &'c dyn HttpClient) -> Box<dyn MarketplaceSource + 'c>;
    /// The upstream as it is: canned answers or a stand-in server.
    fn upstream(&self) -> &dyn HttpClient;
    /// The marketplace folder the upstream serves.
    fn folder(&self) -> FileSet;
    /// The credential the source is configured with; `None` for a kind that takes none.
    fn token(&self) -> Option<&str>;
}

/// A [`Subject`] from its parts: the upstream, the folder it serves, the credential, and how to build the source.
pub struct Setup<'u> {
    upstream: Box<dyn HttpClient + 'u>,
    folder: FileSet,
    token: Option<String>,
    make: Box<Make<'u>>,
}

type Make<'u> = dyn for<'c> Fn(&'c dyn HttpClient) -> Box<dyn MarketplaceSource + 'c> + 'u;

impl<'u> Setup<'u> {
    pub fn new<F>(upstream: impl HttpClient + 'u, folder: FileSet, token: Option<&str>, make: F) -> Self
    where
        F: for<'c> Fn(&'c dyn HttpClient) -> Box<dyn MarketplaceSource + 'c> + 'u,
    {
        Self { upstream: Box::new(upstream), folder, token: token.map(str::to_string), make: Box::new(make) }
    }
}

impl Subject for Setup<'_> {
    fn source<'c>(&self, client: &'c dyn HttpClient) -> Box<dyn MarketplaceSource + 'c> {
        (self.make)(client)
    }
    fn upstream(&self) -> &dyn HttpClient {
        &*self.upstream
    }
    fn folder(&self) -> FileSet {
        self.folder.clone()
    }
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// What a cold load found, and the requests it took.
pub struct Cold {
    pub revision: String,
    pub files: FileSet,
    pub requests: Vec<HttpRequest>,
}

/// A cold load gives the whole tree, and it loads to the same plugins, skills and digests as the folder.
pub fn cold_load_equals_the_folder(s: &dyn Subject) -> Cold {
    let client = Scripted::passing(s.upstream());
    let fetched = block_on_ready(s.source(&client).fetch(None));
    let Ok(Fetched::Tree { revision, files }) = fetched else { panic!("a cold load gave {fetched:?}") };
    same_marketplace(&files, &s.folder());
    let requests = client.requests();
    for req in &requests {
        assert!(!is_conditional(req), "a cold load has no copy to revalidate: {req:?}");
    }
    Cold { revision, files, requests }
}

/// Asked again with the revision it gave, an unchanged source answers `NotModified` with ONE conditional request
/// (none for a source that makes no requests), through `fetch` and `fetch_from` alike; with the validators gone
/// from the revision it still answers `NotModified` in one request, by comparing the tree's id.
pub fn unchanged_refresh_is_one_conditional_request(s: &dyn Subject) {
    let cold = cold_load_equals_the_folder(s);
    let network = !cold.requests.is_empty();
    let validated = Revision::parse(&cold.revision).is_some_and(|r| r.etag.is_some() || r.last_modified.is_some());
    let previous = Previous { revision: &cold.revision, files: &cold.files, complete: true };
    for how in ["fetch", "fetch_from"] {
        let client = Scripted::passing(s.upstream());
        let source = s.source(&client);
        let answer = match how {
            "fetch" => block_on_ready(source.fetch(Some(&cold.revision))),
            _ => block_on_ready(source.fetch_from(Some(previous))),
        };
        assert_eq!(answer.ok(), Some(Fetched::NotModified), "{how}");
        let requests = client.requests();
        assert_eq!(requests.len(), usize::from(network), "{how}: {requests:?}");
        if let Some(req) = requests.first() {
            assert_eq!(is_conditional(req), validated, "{how}: {req:?}");
        }
    }
    if let Some(mut bare) = Revision::parse(&cold.revision).filter(|_| validated) {
        (bare.etag, bare.last_modified) = (None, None);
        let client = Scripted::passing(s.upstream());
        let answer = block_on_ready(s.source(&client).fetch(Some(&bare.to_string())));
        assert_eq!(answer.ok(), Some(Fetched::NotModified), "without validators");
        assert_eq!(client.requests().len(), 1, "without validators");
    }
}

/// A 304 to a request that named no validator is malformed, whichever request of a cold load it answers, and so is
/// one answering a refresh whose revision carries no validator: there is no copy it could confirm.
pub fn an_unasked_304_is_refused(s: &dyn Subject) {
    let cold = cold_load_equals_the_folder(s);
    for step in 0..cold.requests.len() {
        let client = Scripted::failing_from(s.upstream(), step, |_| Ok(HttpResponse::new(304)));
        let err = block_on_ready(s.source(&client).fetch(None)).expect_err("a 304 nobody asked for");
        assert!(matches!(err, SourceError::Upstream { status: 304, .. }), "request {step}: {err:?}");
    }
    if let Some(mut bare) = Revision::parse(&cold.revision).filter(|_| !cold.requests.is_empty()) {
        (bare.etag, bare.last_modified) = (None, None);
        let client = Scripted::failing_from(s.upstream(), 0, |_| Ok(HttpResponse::new(304)));
        let err = block_on_ready(s.source(&client).fetch(Some(&bare.to_string()))).expect_err("unasked 304");
        assert!(matches!(err, SourceError::Upstream { status: 304, .. }), "without validators: {err:?}");
    }
}

/// The source's credential is sent, and never shown: whatever request fails, however (401, 403, 404, 500 with a
/// body, a rate limit, a timeout), the error's text and `Debug` hold no trace of it.
pub fn credentials_never_appear_in_errors(s: &dyn Subject) {
    let Some(token) = s.token() else { return };
    let cold = cold_load_equals_the_folder(s);
    assert!(
        cold.requests.iter().any(|r| r.headers.iter().any(|(_, v)| v.contains(token))),
        "the configured credential is never sent"
    );
    let failures: [Answer; 6] = [
        |_| Ok(HttpResponse::new(401).with_body(r#"{"message":"Bad credentials"}"#)),
        |_| Ok(HttpResponse::new(403).with_body(r#"{"message":"Forbidden"}"#)),
        |_| Ok(HttpResponse::new(404).with_body(r#"{"message":"Not Found"}"#)),
        |_| Ok(HttpResponse::new(500).with_body("upstream busy")),
        |_| Ok(HttpResponse::new(429).with_header("retry-after", "5")),
        |_| Err(HttpError::Timeout),
    ];
    for step in 0..cold.requests.len() {
        for answer in failures {
            let client = Scripted::failing_from(s.upstream(), step, answer);
            let result = block_on_ready(s.source(&client).fetch(None));
            if let Err(err) = result {
                let shown = format!("{err} {err:?}");
                assert!(!shown.contains(token), "request {step}: the credential shows in {shown}");
            }
        }
    }
}

/// A spent rate limit, at any request of a load, is [`SourceError::RateLimited`] carrying the upstream's
/// `Retry-After` in seconds: GitLab's and most servers' 429, and GitHub's 403 with `x-ratelimit-remaining: 0`.
pub fn rate_limits_map_to_retry_after(s: &dyn Subject) {
    let cold = cold_load_equals_the_folder(s);
    let limits: [(Answer, u64); 2] = [
        (|_| Ok(HttpResponse::new(429).with_header("retry-after", "120")), 120),
        (|_| Ok(HttpResponse::new(403).with_header("x-ratelimit-remaining", "0").with_header("retry-after", "42")), 42),
    ];
    for step in 0..cold.requests.len() {
        for (answer, seconds) in limits {
            let client = Scripted::failing_from(s.upstream(), step, answer);
            let err = block_on_ready(s.source(&client).fetch(None)).expect_err("rate limited");
            assert!(
                matches!(err, SourceError::RateLimited { retry_after_seconds: Some(got) } if got == seconds),
                "request {step}: {err:?}"
            );
        }
    }
}

/// With `per_run` requests a run, a load that runs out carries on where it stopped: each run is a
/// [`Fetched::Partial`] holding more than the last, until one is the whole tree (equal to the folder's). Returns
/// the number of runs. A source that reads a whole tree at once must finish in one run given what a cold load takes.
pub fn a_partial_load_carries_on(s: &dyn Subject, per_run: usize) -> usize {
    let folder = s.folder();
    let mut last: Option<(String, FileSet, usize)> = None;
    for run in 1..=200 {
        let budget = BudgetClient::new(s.upstream(), per_run);
        let source = s.source(&budget);
        let previous = last.as_ref().map(|(revision, files, _)| Previous { revision, files, complete: false });
        match block_on_ready(source.fetch_from(previous)) {
            Ok(Fetched::Tree { files, .. }) => {
                same_marketplace(&files, &folder);
                return run;
            }
            Ok(Fetched::Partial { revision, files, pending }) => {
                assert!(pending > 0, "run {run}: partial with nothing pending");
                // Progress: more files, or fewer to go (a file found absent is progress too).
                if let Some((before, old, was_pending)) = &last {
                    let progress = files.len() > old.len() || pending < *was_pending;
                    assert!(*before != revision || progress, "run {run}: no progress");
                }
                last = Some((revision, files, pending));
            }
            other => panic!("run {run} with {per_run} requests: {other:?}"),
        }
    }
    panic!("200 runs of {per_run} requests did not load the marketplace")
}

/// Runs every behaviour above; `per_run` as in [`a_partial_load_carries_on`].
pub fn run_all(s: &dyn Subject, per_run: usize) {
    cold_load_equals_the_folder(s);
    unchanged_refresh_is_one_conditional_request(s);
    an_unasked_304_is_refused(s);
    credentials_never_appear_in_errors(s);
    rate_limits_map_to_retry_after(s);
    a_partial_load_carries_on(s, per_run);
}

/// Both trees load to the same plugins, skills and digests.
pub fn same_marketplace(got: &FileSet, expected: &FileSet) {
    let got = load_marketplace(got).expect("the fetched tree loads");
    let expected = load_marketplace(expected).unwrap();
    assert_eq!(got.plugins.len(), expected.plugins.len());
    for (a, b) in got.plugins.iter().zip(&expected.plugins) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.status, b.status, "{}", a.name);
        assert_eq!(a.digest(), b.digest(), "{}", a.name);
        let skills = |p: &LoadedPlugin| p.skills.iter().map(|s| (s.name.clone(), s.digest.clone())).collect::<Vec<_>>();
        assert_eq!(skills(a), skills(b), "{}", a.name);
        assert_eq!(a.commands, b.commands);
    }
    assert!(expected.plugins.iter().any(|p| !p.skills.is_empty()));
}

fn is_conditional(req: &HttpRequest) -> bool {
    req.header_value("if-none-match").is_some() || req.header_value("if-modified-since").is_some()
}

type Answer = fn(&HttpRequest) -> Result<HttpResponse, HttpError>;

/// Passes requests to the upstream until the `from`-th (counting from 0), then answers each with `answer`; records
/// every request.
struct Scripted<'a> {
    inner: &'a dyn HttpClient,
    from: usize,
    answer: Option<Answer>,
    seen: RefCell<Vec<HttpRequest>>,
}

impl<'a> Scripted<'a> {
    fn passing(inner: &'a dyn HttpClient) -> Self {
        Self { inner, from: usize::MAX, answer: None, seen: RefCell::default() }
    }

    fn failing_from(inner: &'a dyn HttpClient, from: usize, answer: Answer) -> Self {
        Self { inner, from, answer: Some(answer), seen: RefCell::default() }
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.seen.borrow().clone()
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for Scripted<'_> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let index = {
            let mut seen = self.seen.borrow_mut();
            seen.push(req.clone());
            seen.len() - 1
        };
        match self.answer {
            Some(answer) if index >= self.from => answer(&req),
            _ => self.inner.send(req).await,
        }
    }
}
