//! `GET /authorize`: the request is validated for its client, then the browser goes to the identity provider with a
//! fresh single-use `state` (or, with the `local` provider, straight on as the development user).

use super::{once_key, provider_page, signin_cookie, storage_page, SignIn, Started, Upstream, SIGNIN_TTL_SECONDS};
use crate::audit::{Action, Outcome};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::authorize::{requested_client_id, validate_authorization_request, Rejection};
use crate::oauth::consent::ConsentCookie;
use crate::oauth::crypto::random_token;
use crate::oauth::{ClientId, RedirectUri, TokenHash};

impl SignIn<'_> {
    /// Whether an authorization error may go back to `redirect_uri` by redirect: only when the user already trusts
    /// it there (this browser approved that client with that redirect URI, or it is one that needs no consent).
    /// Anyone can register any https redirect URI, so otherwise an invalid request would make this server's own
    /// domain redirect to a stranger's page, before any sign-in (RFC 9700 4.11.2): the error is shown here instead.
    fn redirect_approved(&self, req: &HttpRequest, client: &ClientId, redirect_uri: &RedirectUri) -> bool {
        client.as_str() == crate::status::STATUS_CLIENT_ID
            || self.upstream.may_auto_approve(redirect_uri)
            || ConsentCookie::from_request(self.oauth.keys, req, self.now).approved_here(client, redirect_uri)
    }

    /// `GET /authorize`.
    pub async fn authorize(&self, req: &HttpRequest) -> HttpResponse {
        let client = match requested_client_id(&req.query) {
            Some(id) => match self.client(&id, req.header("cf-connecting-ip")).await {
                Ok(c) => c,
                Err(page) => return page,
            },
            None => None,
        };
        let pending = match validate_authorization_request(self.oauth.public_url, client.as_ref(), &req.query, self.now)
        {
            Ok(p) => p,
            Err(Rejection::Redirect { redirect_uri, error, .. })
                if !client.as_ref().is_some_and(|c| self.redirect_approved(req, &c.client_id, &redirect_uri)) =>
            {
                return Rejection::Page(error).to_response(self.oauth.public_url)
            }
            Err(rejection) => return rejection.to_response(self.oauth.public_url),
        };
        let browser = random_token(self.oauth.rng);
        match self.upstream {
            Upstream::Local(local) => match local.sign_in(req.host()) {
                Ok(identity) => {
                    self.audit(Action::SignIn, Outcome::Ok, Some(&identity), &pending.client_id, Some("local"));
                    self.signed_in(req, pending, identity, &browser).await
                }
                Err(e) => {
                    self.audit(
                        Action::SignIn,
                        Outcome::Refused,
                        None,
                        &pending.client_id,
                        Some("local provider on a public host"),
                    );
                    provider_page(&e)
                }
            },
            Upstream::Provider(provider) => {
                let state = random_token(self.oauth.rng);
                let start = match provider.start(self.http, &self.callback_url(), &state).await {
                    Ok(s) => s,
                    Err(e) => {
                        self.audit(Action::SignIn, Outcome::Error, None, &pending.client_id, Some(&e.to_string()));
                        return provider_page(&e);
                    }
                };
                let started = Started {
                    pending,
                    verifier: start.pkce_verifier.expose().to_owned(),
                    nonce: start.nonce.as_ref().map(|n| n.expose().to_owned()),
                    browser: TokenHash::of(&browser),
                };
                let sealed = self.seal("signin", &state, &started);
                let expires = self.now.saturating_add(SIGNIN_TTL_SECONDS);
                if self.oauth.store.put_once(&once_key("signin", &state), &sealed, expires).await.is_err() {
                    return storage_page();
                }
                crate::oauth::authorize::redirect(&start.authorize_url)
                    .header("set-cookie", &signin_cookie(&browser))
                    .header("cache-control", "no-store")
            }
        }
    }
}
