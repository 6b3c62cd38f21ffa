//! `POST /consent`: the user's answer on the consent page, CSRF-checked; the consent record is taken (once) and
//! checked against this browser, then the client gets a code (and the approval is remembered) or `access_denied`.

use super::{clear_signin_cookie, once_key, restart_page, storage_page, AwaitingConsent, SignIn};
use crate::audit::{Action, Outcome};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::authorize::deny;
use crate::oauth::consent::{read_consent_form, ConsentCookie, ConsentDecision};

impl SignIn<'_> {
    /// `POST /consent`.
    pub async fn consent(&self, req: &HttpRequest) -> HttpResponse {
        let (handle, decision) = match read_consent_form(self.oauth.keys, &req.body) {
            Ok(v) => v,
            Err(e) => return restart_page(400, &e.to_string()),
        };
        let record: AwaitingConsent = match self.oauth.store.take_once(&once_key("consent", &handle), self.now).await {
            Err(_) => return storage_page(),
            Ok(None) => {
                return restart_page(
                    400,
                    "This approval page has expired or was already used. Please start connecting again from your \
                     client.",
                )
            }
            Ok(Some(sealed)) => match self.open("consent", &handle, &sealed) {
                Some(r) => r,
                None => return restart_page(400, "This approval page is not valid. Please start again."),
            },
        };
        if !Self::same_browser(req, &record.browser) {
            return restart_page(400, "This approval was opened in another browser. Please start again from this one.");
        }
        match decision {
            ConsentDecision::Deny => {
                self.audit(Action::Consent, Outcome::Denied, Some(&record.identity), &record.pending.client_id, None);
                deny(self.oauth.public_url, &record.pending).header("set-cookie", &clear_signin_cookie())
            }
            ConsentDecision::Approve => {
                self.audit(Action::Consent, Outcome::Ok, Some(&record.identity), &record.pending.client_id, None);
                let mut remembered = ConsentCookie::from_request(self.oauth.keys, req, self.now);
                remembered.approve(&record.identity, &record.pending.client_id, &record.pending.redirect_uri);
                let cookie = remembered.set_cookie(self.oauth.keys, self.now);
                self.complete(&record.pending, &record.identity, Some(cookie)).await
            }
        }
    }
}
