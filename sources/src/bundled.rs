//! A marketplace compiled into the binary: the default Skillport serves with no configuration, and the stand-in tests
//! use where a network source would be.

use crate::files::{FileSet, PathError};
use crate::{Fetched, MarketplaceSource, SourceError};

/// A fixed tree. Its revision is the digest of its content, so it changes exactly when a new build bundles other
/// files, and caches keyed on it stay valid across restarts of the same build.
#[derive(Debug, Clone)]
pub struct BundledSource {
    files: FileSet,
    revision: String,
}

impl BundledSource {
    pub fn new(files: FileSet) -> Self {
        let revision = files.digest();
        Self { files, revision }
    }

    /// From `(path, bytes)` pairs, typically `include_bytes!` of each file.
    pub fn from_static(entries: &[(&str, &[u8])]) -> Result<Self, PathError> {
        let mut files = FileSet::new();
        for (path, bytes) in entries {
            files.insert(path, bytes.to_vec())?;
        }
        Ok(Self::new(files))
    }

    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub fn files(&self) -> &FileSet {
        &self.files
    }
}

#[async_trait::async_trait(?Send)]
impl MarketplaceSource for BundledSource {
    fn kind(&self) -> &'static str {
        "bundled"
    }

    async fn fetch(&self, since: Option<&str>) -> Result<Fetched, SourceError> {
        if since == Some(self.revision.as_str()) {
            return Ok(Fetched::NotModified);
        }
        Ok(Fetched::Tree { revision: self.revision.clone(), files: self.files.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, Setup};
    use skillport_http::CannedClient;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// The bundled source never awaits anything, so one poll completes it; no executor needed.
    fn ready<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("bundled fetch should complete immediately"),
        }
    }

    fn source(content: &[u8]) -> BundledSource {
        BundledSource::from_static(&[(".claude-plugin/marketplace.json", b"{}"), ("p/SKILL.md", content)]).unwrap()
    }

    #[test]
    fn fetch_returns_tree_then_not_modified() {
        let bundled = source(b"a");
        assert_eq!(bundled.kind(), "bundled");
        let Fetched::Tree { revision, files } = ready(bundled.fetch(None)).unwrap() else { panic!("expected a tree") };
        assert!(revision.starts_with("sha256:"));
        assert_eq!(files.get("p/SKILL.md"), Some(&b"a"[..]));
        assert_eq!(ready(bundled.fetch(Some(&revision))).unwrap(), Fetched::NotModified);
        assert!(matches!(ready(bundled.fetch(Some("sha256:old"))).unwrap(), Fetched::Tree { .. }));
    }

    #[test]
    fn revision_follows_content() {
        assert_eq!(source(b"a").revision(), source(b"a").revision());
        assert_ne!(source(b"a").revision(), source(b"b").revision());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        assert!(BundledSource::from_static(&[("../x", b"")]).is_err());
    }

    #[test]
    fn behaves_as_every_source_must() {
        // Makes no requests and takes no credential: the request-by-request behaviours hold vacuously.
        let folder = crate::testutil::example_files();
        let files = folder.clone();
        let setup = Setup::new(CannedClient::new(), folder, None, move |_| Box::new(BundledSource::new(files.clone())));
        conformance::run_all(&setup, 0);
    }
}
