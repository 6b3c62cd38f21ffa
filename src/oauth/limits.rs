//! How many clients may come to exist, and how fast: one rule for both kinds, a registration at `/register` and the
//! fetch of a Client ID Metadata Document at `/authorize` (each makes a stored client, and a fetch also costs an
//! outbound request).
//!
//! - Per address and hour: [`ClientLimits::per_address_per_hour`]. The address is Cloudflare's `CF-Connecting-IP`
//!   (set by the edge, not by the caller), taken whole for IPv4 and as its /64 for IPv6: one IPv6 host is usually
//!   given a whole /64, so counting exact IPv6 addresses would let it rotate through billions. Without the header
//!   (local runs) every caller shares one budget.
//! - For everyone together and per hour: [`ClientLimits::per_hour`], so that rotating through many addresses or
//!   networks does not help either.
//! - In total: [`ClientLimits::max_clients`] clients stored at once ([`super::store::GrantStore::add_client`]);
//!   past it a new client is refused until the sweep has removed unused ones.
//!
//! The counters are the store's rate-limit counters ([`super::store::GrantStore::bump`]), one window per clock hour.

use std::net::IpAddr;

use super::store::GrantStore;
use super::TokenHash;
use crate::http::HttpResponse;

/// The limits, from `auth.max_clients`, `auth.new_clients_per_address_per_hour`, `auth.new_clients_per_hour` and
/// `auth.unused_client_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    pub max_clients: u64,
    pub per_address_per_hour: u64,
    pub per_hour: u64,
    /// How long a new client that no grant uses is kept.
    pub unused_seconds: u64,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            max_clients: 10_000,
            per_address_per_hour: 300,
            per_hour: 3_000,
            unused_seconds: super::store::UNUSED_CLIENT_SECONDS,
        }
    }
}

/// Which budget a caller draws from: its IPv4 address, the /64 of its IPv6 address (an IPv4-mapped IPv6 address
/// counts as the IPv4 one), or `unknown` when the edge named none or something unreadable.
pub fn address_bucket(ip: Option<&str>) -> String {
    match ip.map(str::trim).and_then(|ip| ip.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

/// Why a new client was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This address (or /64) made its hour's share of clients.
    Address { retry_after: u64 },
    /// Everyone together made the hour's share.
    Everyone { retry_after: u64 },
    /// The store holds `auth.max_clients` clients.
    Full,
    /// The counters could not be read.
    Storage,
}

impl Refusal {
    /// The sentence shown to the caller.
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Address { .. } => "too many new clients from this address this hour; try again later",
            Refusal::Everyone { .. } => "too many new clients this hour; try again later",
            Refusal::Full => {
                "this server holds as many clients as it may; unused ones are removed daily, try again later"
            }
            Refusal::Storage => "the authorization store is unavailable; try again",
        }
    }

    /// The HTTP status: 429 for the rates, 503 for a full or unavailable store.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Address { .. } | Refusal::Everyone { .. } => 429,
            Refusal::Full | Refusal::Storage => 503,
        }
    }

    pub fn retry_after(&self) -> u64 {
        match self {
            Refusal::Address { retry_after } | Refusal::Everyone { retry_after } => *retry_after,
            Refusal::Full => 3600,
            Refusal::Storage => 1,
        }
    }

    /// The JSON answer of `/register`.
    pub fn to_response(&self) -> HttpResponse {
        let code = if self.status() == 429 { "too_many_requests" } else { "temporarily_unavailable" };
        HttpResponse::json(self.status(), &serde_json::json!({"error": code, "error_description": self.message()}))
            .header("retry-after", &self.retry_after().to_string())
    }
}

/// Counts one new client (of either kind) from `ip` at `now`, or says why it may not be made. The address's budget is
/// charged first, so that one caller over its share does not use up everyone's.
pub async fn admit(store: &dyn GrantStore, limits: &ClientLimits, ip: Option<&str>, now: u64) -> Result<(), Refusal> {
    let hour = now / 3600;
    let window_end = (hour + 1) * 3600;
    let retry_after = window_end.saturating_sub(now).max(1);
    let bump = |name: String| async move {
        store
            .bump(&TokenHash::of(&format!("clients:{name}:{hour}")), window_end, now)
            .await
            .map_err(|_| Refusal::Storage)
    };
    if bump(address_bucket(ip)).await? > limits.per_address_per_hour {
        return Err(Refusal::Address { retry_after });
    }
    if bump("*".to_owned()).await? > limits.per_hour {
        return Err(Refusal::Everyone { retry_after });
    }
    Ok(())
}

/// [`admit`] for a registration at `/register`, with the audit line of a refusal.
pub async fn admit_registration(
    store: &dyn GrantStore,
    limits: &ClientLimits,
    ip: Option<&str>,
    now: u64,
) -> Result<(), Refusal> {
    let refused = admit(store, limits, ip, now).await;
    if let Err(refusal) = &refused {
        crate::audit::record(
            now,
            &crate::audit::Event {
                detail: Some(refusal.message()),
                ..crate::audit::Event::new(crate::audit::Action::Register, crate::audit::Outcome::Refused)
            },
        );
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::MemoryGrantStore;
    use crate::testing::block_on;

    #[test]
    fn ipv6_addresses_count_by_their_64_and_ipv4_by_the_address() {
        assert_eq!(address_bucket(Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(address_bucket(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(address_bucket(Some("2001:db8:1:2:ffff:ffff:ffff:fffe")), "2001:db8:1:2::/64");
        assert_ne!(address_bucket(Some("2001:db8:1:3::1")), "2001:db8:1:2::/64");
        assert_eq!(address_bucket(Some("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(address_bucket(Some("not an address")), "unknown");
        assert_eq!(address_bucket(None), "unknown");
    }

    #[test]
    fn rotating_through_one_64_does_not_escape_the_address_limit() {
        let store = MemoryGrantStore::new();
        let limits =
            ClientLimits { max_clients: 100, per_address_per_hour: 3, per_hour: 100, ..ClientLimits::default() };
        let now = 7200 + 100;
        for i in 0..3 {
            let ip = format!("2001:db8:1:2::{i:x}");
            assert_eq!(block_on(admit(&store, &limits, Some(&ip), now)), Ok(()));
        }
        let refused = block_on(admit(&store, &limits, Some("2001:db8:1:2:dead:beef:0:1"), now)).unwrap_err();
        assert_eq!(refused, Refusal::Address { retry_after: 3500 });
        assert_eq!(refused.to_response().status, 429);
        // Another /64, and another IPv4 address, have their own budget; the next hour starts again.
        assert_eq!(block_on(admit(&store, &limits, Some("2001:db8:1:3::1"), now)), Ok(()));
        assert_eq!(block_on(admit(&store, &limits, Some("198.51.100.1"), now)), Ok(()));
        assert_eq!(block_on(admit(&store, &limits, Some("2001:db8:1:2::9"), now + 3600)), Ok(()));
    }

    /// `GET /authorize` naming a metadata document, through the real sign-in flow, with `http` as the network.
    mod metadata_documents {
        use super::*;
        use crate::http::HttpRequest;
        use crate::oauth::flow::{SignIn, Upstream};
        use crate::oauth::testutil::{keys, public_url, CountingRandom};
        use crate::oauth::{ClientId, OAuthServer, TokenSettings};
        use skillport_http::{CannedClient, HttpResponse as Outbound};
        use skillport_providers::local::{LocalProvider, LocalUser};

        const DOC: &str = "https://app.example/oauth/client.json";

        fn document(id: &str) -> Vec<u8> {
            serde_json::to_vec(&serde_json::json!({
                "client_id": id,
                "client_name": "App",
                "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": "none",
            }))
            .unwrap()
        }

        fn authorize(
            store: &MemoryGrantStore,
            http: &CannedClient,
            limits: ClientLimits,
            id: &str,
            ip: &str,
            now: u64,
        ) -> crate::http::HttpResponse {
            let (keys, rng, url) = (keys(), CountingRandom::default(), public_url());
            let settings = TokenSettings { clients: limits, ..Default::default() };
            let oauth = OAuthServer { store, keys: &keys, rng: &rng, public_url: &url, settings };
            let local = LocalProvider::new(LocalUser::default());
            let flow = SignIn { oauth, upstream: Upstream::Local(&local), http, server_name: "Skillport", now };
            let mut req = HttpRequest::new("GET", "/authorize")
                .with_header("host", "skills.example.com")
                .with_header("cf-connecting-ip", ip);
            req.query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("response_type", "code")
                .append_pair("client_id", id)
                .append_pair("redirect_uri", "https://app.example/cb")
                .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
                .append_pair("code_challenge_method", "S256")
                .finish();
            block_on(flow.authorize(&req))
        }

        fn page(resp: &crate::http::HttpResponse) -> String {
            String::from_utf8_lossy(&resp.body).into_owned()
        }

        #[test]
        fn a_document_over_5_kb_is_refused_and_not_stored() {
            let (store, http) = (MemoryGrantStore::new(), CannedClient::new());
            let mut big = document(DOC);
            big.truncate(big.len() - 1);
            big.extend(std::iter::repeat_n(b' ', 6 * 1024));
            big.push(b'}');
            http.on_get(DOC, Outbound::new(200).with_body(big));
            let resp = authorize(&store, &http, ClientLimits::default(), DOC, "203.0.113.9", 100);
            assert_eq!(resp.status, 400);
            assert!(page(&resp).contains("larger than 5120 bytes"), "{}", page(&resp));
            let sent = &http.requests()[0];
            assert_eq!((sent.max_body, sent.follow_redirects), (5120, false));
            assert!(sent.timeout_ms.is_some_and(|t| t <= 5000));
            assert_eq!(block_on(store.get_client(&ClientId::new(DOC))).unwrap(), None);
        }

        #[test]
        fn a_redirect_is_a_refusal() {
            let (store, http) = (MemoryGrantStore::new(), CannedClient::new());
            http.on_get(DOC, Outbound::new(302).with_header("location", "http://169.254.169.254/latest/meta-data"));
            let resp = authorize(&store, &http, ClientLimits::default(), DOC, "203.0.113.9", 100);
            assert_eq!(resp.status, 400);
            assert!(page(&resp).contains("redirect (HTTP 302)"), "{}", page(&resp));
            assert_eq!(http.urls(), [DOC], "the redirect was not followed");
            assert_eq!(block_on(store.get_client(&ClientId::new(DOC))).unwrap(), None);
        }

        #[test]
        fn fetches_are_rate_limited_per_64_and_the_total_is_capped() {
            let (store, http) = (MemoryGrantStore::new(), CannedClient::new());
            let ids: Vec<String> = (0..6).map(|i| format!("https://app.example/c{i}.json")).collect();
            for id in &ids {
                http.on_get(id, Outbound::new(200).with_body(document(id)));
            }
            let limits =
                ClientLimits { max_clients: 100, per_address_per_hour: 3, per_hour: 100, ..ClientLimits::default() };
            for (i, id) in ids.iter().take(3).enumerate() {
                let resp = authorize(&store, &http, limits, id, &format!("2001:db8::{i}"), 100);
                assert_ne!(resp.status, 429, "{}", page(&resp));
            }
            // A fourth distinct document from the same /64 is not even fetched.
            let refused = authorize(&store, &http, limits, &ids[3], "2001:db8::ffff", 100);
            assert_eq!(refused.status, 429);
            assert!(refused.get_header("retry-after").is_some());
            assert_eq!(http.requests().len(), 3);
            // A document already fetched is served from its cache entry without counting again.
            assert_ne!(authorize(&store, &http, limits, &ids[0], "2001:db8::1", 200).status, 429);
            assert_eq!(http.requests().len(), 3);

            // Past the cap on clients, a new document is refused with a clear page; a known one still works.
            let full = ClientLimits { max_clients: 3, ..limits };
            let resp = authorize(&store, &http, full, &ids[4], "198.51.100.7", 100);
            assert_eq!(resp.status, 503);
            assert!(page(&resp).contains("as many clients as it may"), "{}", page(&resp));
            assert_eq!(block_on(store.get_client(&ClientId::new(ids[4].as_str()))).unwrap(), None);
        }

        #[test]
        fn registrations_are_capped_with_a_clear_refusal() {
            let store = MemoryGrantStore::new();
            let body = serde_json::to_vec(
                &serde_json::json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}),
            )
            .unwrap();
            let req = HttpRequest::new("POST", "/register").with_body(body);
            let rng = CountingRandom::default();
            let limits = ClientLimits { max_clients: 2, ..ClientLimits::default() };
            for _ in 0..2 {
                let r = block_on(crate::oauth::registration::handle_register(&store, &rng, &req, 1, limits));
                assert_eq!(r.status, 201);
            }
            let r = block_on(crate::oauth::registration::handle_register(&store, &rng, &req, 1, limits));
            assert_eq!(r.status, 503);
            assert_eq!(r.json_body()["error"], "temporarily_unavailable");
            assert!(r.json_body()["error_description"].as_str().unwrap().contains("as many clients"));
            // Once the sweep has removed the unused ones, registering works again.
            let mut after = None;
            loop {
                let page = block_on(store.sweep(after.as_deref(), 1 + crate::oauth::store::UNUSED_CLIENT_SECONDS, 10))
                    .unwrap();
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
            let r = block_on(crate::oauth::registration::handle_register(&store, &rng, &req, 1, limits));
            assert_eq!(r.status, 201);
        }
    }

    #[test]
    fn many_addresses_together_meet_the_global_limit() {
        let store = MemoryGrantStore::new();
        let limits = ClientLimits { max_clients: 100, per_address_per_hour: 3, per_hour: 5, ..ClientLimits::default() };
        for i in 0..5 {
            assert_eq!(block_on(admit(&store, &limits, Some(&format!("198.51.100.{i}")), 10)), Ok(()));
        }
        let refused = block_on(admit(&store, &limits, Some("198.51.100.200"), 10)).unwrap_err();
        assert_eq!(refused, Refusal::Everyone { retry_after: 3590 });
        let body = refused.to_response().json_body();
        assert_eq!(body["error"], "too_many_requests");
    }
}
