//! The marketplace folders embedded at build time (`examples/<name>/`, walked by `build.rs`) and the HTTP client of
//! builds that have no network: what the `bundled` source kind and the embedded default configuration serve from.
//!
//! Depends on nothing of the connector's own: the catalogue and the admin checks import it, never the other way.

use skillport_http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use skillport_sources::FileSet;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Files of a marketplace folder embedded at build time from `examples/<name>/`.
pub fn bundled_files(name: &str) -> Option<FileSet> {
    let (_, files) = embedded::BUNDLES.iter().find(|(n, _)| *n == name)?;
    let mut set = FileSet::new();
    for (path, bytes) in files.iter() {
        // Paths come from our own build script walking a real folder; one that does not fit is skipped.
        let _ = set.insert(path, bytes.to_vec());
    }
    Some(set)
}

/// A client for builds that have no network (native tests of the embedded default): every request fails clearly.
pub struct NoNetwork;

#[async_trait::async_trait(?Send)]
impl HttpClient for NoNetwork {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        Err(HttpError::Connect(format!("no network in this build (wanted {})", req.url)))
    }
}
