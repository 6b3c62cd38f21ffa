//! What native tests and tools need to run the connector without the Workers runtime: an executor for futures that
//! never wait on I/O, and the development identity.

/// Drives a future that never waits on I/O (the bundled source, the in-memory grant store) to completion, for native
/// tests and tools.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The `local` provider's default user, for tests.
#[cfg(test)]
pub(crate) fn dev_identity() -> skillport_providers::Identity {
    skillport_providers::local::LocalProvider::new(Default::default()).sign_in("localhost").expect("loopback")
}
