//! A transport test double for native tests: [`CannedClient`] answers from canned routes and records every request,
//! and [`block_on_ready`] drives a future over it without an executor. It is a real [`HttpClient`] (answers pass
//! through each request's [`BodyCap`] as over a network), so code under test runs exactly as on Workers.

use std::cell::RefCell;
use std::rc::Rc;

use crate::{BodyCap, HttpClient, HttpError, HttpRequest, HttpResponse};

type Handler = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError>>;

/// A transport test double: answers from canned routes and records every request. Never awaits, so a fetch through
/// it completes in one poll.
///
/// Routes match on method and the exact URL (query included); the latest route added for a URL wins. Unrouted
/// requests get GitHub's 404 JSON. Handlers see the request, so they can answer 304 to the right `If-None-Match`.
/// Each answer's body passes through the request's [`BodyCap`], as over a real transport.
#[derive(Default)]
pub struct CannedClient {
    routes: RefCell<Vec<(String, String, Rc<Handler>)>>,
    requests: RefCell<Vec<HttpRequest>>,
}

impl CannedClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// Always answers `response` to `GET url`.
    pub fn on_get(&self, url: &str, response: HttpResponse) -> &Self {
        self.route("GET", url, move |_| Ok(response.clone()))
    }

    /// Answers `GET url` with whatever `handler` returns.
    pub fn route(
        &self,
        method: &str,
        url: &str,
        handler: impl Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) -> &Self {
        self.routes.borrow_mut().push((method.to_string(), url.to_string(), Rc::new(Box::new(handler))));
        self
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    /// The URLs requested, in order.
    pub fn urls(&self) -> Vec<String> {
        self.requests.borrow().iter().map(|r| r.url.clone()).collect()
    }

    pub fn clear_requests(&self) {
        self.requests.borrow_mut().clear();
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for CannedClient {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.requests.borrow_mut().push(req.clone());
        let handler = self
            .routes
            .borrow()
            .iter()
            .rev()
            .find(|(method, url, _)| *method == req.method && *url == req.url)
            .map(|(_, _, handler)| Rc::clone(handler));
        let answer = match handler {
            Some(handler) => handler(&req)?,
            None => HttpResponse::new(404)
                .with_header("content-type", "application/json")
                .with_body(&br#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#[..]),
        };
        let mut cap = BodyCap::new(req.max_body, answer.header("content-length"))?;
        for chunk in answer.body.chunks(1024) {
            cap.push(chunk)?;
        }
        Ok(HttpResponse { body: cap.finish(), ..answer })
    }
}

/// Drives a future that never waits (everything over [`CannedClient`]) to completion without an executor.
pub fn block_on_ready<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("block_on_ready: the future waited on something; use a real executor"),
    }
}
