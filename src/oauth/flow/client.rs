//! Which client an authorization request names: one registered here, or one described by its Client ID Metadata
//! Document, fetched (within the limits on new clients, never redirected, capped in size and time), validated and
//! cached in the grant store like an unused registration.

use skillport_http::HttpRequest as Outbound;

use super::{restart_page, storage_page, SignIn, CIMD_CACHE_SECONDS, CIMD_TIMEOUT_MS};
use crate::http::HttpResponse;
use crate::oauth::registration::{cimd_fetch_allowed, is_cimd_client_id, validate_cimd, MAX_CIMD_BYTES};
use crate::oauth::store::ClientRecord;
use crate::oauth::ClientId;

impl SignIn<'_> {
    /// Whether Client ID Metadata Documents may only come from public addresses (anything but a loopback deployment).
    fn production(&self) -> bool {
        !self.oauth.public_url.host_str().is_some_and(skillport_providers::local::is_loopback_host)
    }

    /// The client an authorization request names: registered here, or described by its metadata document. A document
    /// is fetched only within the limits on new clients (`super::limits`, charged to `ip`), and what it describes is
    /// stored as a cache entry that expires like an unused registration (unless a grant keeps it).
    pub(super) async fn client(&self, id: &ClientId, ip: Option<&str>) -> Result<Option<ClientRecord>, HttpResponse> {
        let stored = self.oauth.store.get_client(id).await.map_err(|_| storage_page())?;
        if !is_cimd_client_id(id.as_str()) {
            return Ok(stored);
        }
        if let Some(c) = stored.filter(|c| self.now < c.issued_at.saturating_add(CIMD_CACHE_SECONDS)) {
            return Ok(Some(c));
        }
        let refuse =
            |why: String| restart_page(400, &format!("The application's metadata document cannot be used: {why}."));
        cimd_fetch_allowed(id.as_str(), self.production()).map_err(refuse)?;
        let limits = &self.oauth.settings.clients;
        if let Err(refusal) = crate::oauth::limits::admit(self.oauth.store, limits, ip, self.now).await {
            let page = restart_page(
                refusal.status(),
                &format!("The application cannot be set up now: {}.", refusal.message()),
            );
            return Err(page.header("retry-after", &refusal.retry_after().to_string()));
        }
        // Capped at the document's size limit and read within its own deadline; never redirected (only the URL
        // itself was checked above, and it is the client's identity).
        let request = Outbound::get(id.as_str())
            .header("accept", "application/json")
            .limit(MAX_CIMD_BYTES as u64)
            .no_redirects()
            .timeout(CIMD_TIMEOUT_MS);
        let resp = self.http.send(request).await.map_err(|e| refuse(format!("it could not be fetched ({e})")))?;
        if (300..400).contains(&resp.status) {
            return Err(refuse(format!(
                "fetching it answered a redirect (HTTP {}), which is not followed",
                resp.status
            )));
        }
        if !resp.is_success() {
            return Err(refuse(format!("fetching it answered HTTP {}", resp.status)));
        }
        let record = validate_cimd(id.as_str(), &resp.body, self.now).map_err(|e| refuse(e.to_string()))?;
        let added = self.oauth.store.add_client(&record, limits.max_clients, limits.unused_seconds).await;
        if !added.map_err(|_| storage_page())? {
            let full = crate::oauth::limits::Refusal::Full;
            return Err(restart_page(
                full.status(),
                &format!("The application cannot be set up now: {}.", full.message()),
            ));
        }
        Ok(Some(record))
    }
}
