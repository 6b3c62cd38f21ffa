//! Clients that wrap another [`HttpClient`] and add one rule to every request: [`CountingClient`] counts them (how
//! the product proves "one conditional request per unchanged refresh"), [`BudgetClient`] caps how many are sent.

use std::cell::Cell;

use crate::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// Counts the requests sent through it (answered or not). A redirect followed by the inner client counts once: it
/// is one call of ours, though the upstream sees two.
#[derive(Debug, Default)]
pub struct CountingClient<C> {
    inner: C,
    count: Cell<usize>,
}

impl<C> CountingClient<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, count: Cell::new(0) }
    }

    /// Requests sent since creation or the last [`reset`](Self::reset).
    pub fn count(&self) -> usize {
        self.count.get()
    }

    /// Returns the count and sets it back to zero.
    pub fn reset(&self) -> usize {
        self.count.replace(0)
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> HttpClient for CountingClient<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.count.set(self.count.get() + 1);
        self.inner.send(req).await
    }
}

/// Caps how many requests go through it; past the cap every request fails with [`HttpError::Budget`] without being
/// sent. A Worker may make only so many subrequests per invocation (50 on the free plan, each followed redirect
/// counted), so a refresh runs through one of these: whatever a cold load cannot fetch within it is fetched on later
/// runs. Nest them to give each of several users of one budget a share: a request needs room in every layer.
pub struct BudgetClient<C> {
    inner: C,
    limit: usize,
    used: Cell<usize>,
}

impl<C> BudgetClient<C> {
    pub fn new(inner: C, limit: usize) -> Self {
        Self { inner, limit, used: Cell::new(0) }
    }

    /// Requests sent through this layer so far.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.used.get())
    }
}

#[async_trait::async_trait(?Send)]
impl<C: HttpClient> HttpClient for BudgetClient<C> {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        if self.used.get() >= self.limit {
            return Err(HttpError::Budget(self.limit));
        }
        self.used.set(self.used.get() + 1);
        let answer = self.inner.send(req).await;
        // An inner layer that refused did not send it: the request is not this layer's either.
        if matches!(answer, Err(HttpError::Budget(_))) {
            self.used.set(self.used.get() - 1);
        }
        answer
    }
}
