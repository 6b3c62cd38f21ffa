//! `GET /callback`: the identity provider sends the browser back; the started sign-in is taken (once) and checked
//! against this browser, the provider produces the identity, and the user either goes straight back to the client
//! (consent given before, or not needed) or is shown the consent page.

use skillport_providers::{CallbackParams, Identity, ProviderError, Secret, SignInStart};

use super::{
    once_key, provider_page, restart_page, signin_cookie, storage_page, AwaitingConsent, SignIn, Started, Upstream,
    CONSENT_PATH, SIGNIN_COOKIE, SIGNIN_TTL_SECONDS,
};
use crate::audit::{Action, Outcome};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::authorize::PendingAuthorization;
use crate::oauth::consent::{consent_page, cookie_value, ConsentCookie};
use crate::oauth::crypto::random_token;
use crate::oauth::TokenHash;

impl SignIn<'_> {
    /// `GET /callback`: the identity provider sends the browser back.
    pub async fn callback(&self, req: &HttpRequest) -> HttpResponse {
        let Upstream::Provider(provider) = self.upstream else {
            return restart_page(404, "This deployment does not sign in through an identity provider.");
        };
        let params = CallbackParams::from_query(&req.query);
        let Some(state) = params.state.clone().filter(|s| !s.is_empty() && s.len() <= 256) else {
            return provider_page(&ProviderError::BadState);
        };
        let started: Started = match self.oauth.store.take_once(&once_key("signin", &state), self.now).await {
            Err(_) => return storage_page(),
            Ok(None) => {
                return restart_page(
                    400,
                    "This sign-in has expired or was already used. Please start connecting again from your client.",
                )
            }
            Ok(Some(sealed)) => match self.open("signin", &state, &sealed) {
                Some(s) => s,
                None => return provider_page(&ProviderError::BadState),
            },
        };
        if !Self::same_browser(req, &started.browser) {
            return restart_page(
                400,
                "This sign-in was started in another browser (or its cookie was blocked). Please start connecting \
                 again from this browser.",
            );
        }
        let kept = SignInStart {
            authorize_url: String::new(),
            state,
            pkce_verifier: Secret::new(started.verifier),
            nonce: started.nonce.map(Secret::new),
        };
        match provider.finish(self.http, &params, &kept, &self.callback_url(), self.now).await {
            Ok(identity) => {
                self.audit(
                    Action::SignIn,
                    Outcome::Ok,
                    Some(&identity),
                    &started.pending.client_id,
                    Some(provider.kind()),
                );
                let browser = req.header("cookie").and_then(|h| cookie_value(h, SIGNIN_COOKIE)).unwrap_or_default();
                self.signed_in(req, started.pending, identity, browser).await
            }
            Err(e) => {
                let outcome = if matches!(e, ProviderError::Denied | ProviderError::Rejected(_)) {
                    Outcome::Denied
                } else {
                    Outcome::Error
                };
                self.audit(Action::SignIn, outcome, None, &started.pending.client_id, Some(&e.to_string()));
                provider_page(&e)
            }
        }
    }

    /// The user is known: complete at once when consent was given before (or is not needed), else ask.
    pub(super) async fn signed_in(
        &self,
        req: &HttpRequest,
        pending: PendingAuthorization,
        identity: Identity,
        browser: &str,
    ) -> HttpResponse {
        let remembered = ConsentCookie::from_request(self.oauth.keys, req, self.now);
        // The status page's own client needs no consent: its redirect URI is ours (matched exactly at /authorize).
        let own_client = pending.client_id.as_str() == crate::status::STATUS_CLIENT_ID;
        if own_client
            || remembered.has_approved(&identity, &pending.client_id, &pending.redirect_uri)
            || self.upstream.may_auto_approve(&pending.redirect_uri)
        {
            return self.complete(&pending, &identity, None).await;
        }
        let handle = random_token(self.oauth.rng);
        let record = AwaitingConsent { pending, identity, browser: TokenHash::of(browser) };
        let sealed = self.seal("consent", &handle, &record);
        let expires = self.now.saturating_add(SIGNIN_TTL_SECONDS);
        if self.oauth.store.put_once(&once_key("consent", &handle), &sealed, expires).await.is_err() {
            return storage_page();
        }
        consent_page(self.oauth.keys, self.server_name, &record.pending, &record.identity, CONSENT_PATH, &handle)
            .header("set-cookie", &signin_cookie(browser))
    }
}
