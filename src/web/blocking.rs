//! Where a request's store work runs.

use std::panic::AssertUnwindSafe;

use tokio::runtime::{Handle, RuntimeFlavor};

use super::error::ApiError;
use crate::store::Store;

/// Runs `f`, a request's store work (the accounts' lookups, an analytics query), and returns
/// what it returns; a panic is an error of the request (500), as it was on the blocking pool.
///
/// On a store whose reads are local ([`crate::store::Counts::reads_are_local`]) and the
/// multi-threaded runtime, `f` runs on this worker thread (`block_in_place`: the worker's
/// other tasks move to another thread meanwhile). Nothing then has to wake a blocking-pool
/// thread before the work starts nor this task after it ends: two wake-ups that cost about
/// 0.3 ms per trip on the 2-vCPU VM, more than a warm one-repository answer's own work
/// (p50 0.50 → 0.18 ms server-side with that trip on the request's thread). Otherwise (a
/// ClickHouse store: a read may wait for the network, and the request timeout must still be
/// able to answer meanwhile; a current-thread runtime, as in tests) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    store: &dyn Store,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let here = store.reads_are_local()
        && Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if !here {
        return Ok(tokio::task::spawn_blocking(f).await?);
    }
    tokio::task::block_in_place(|| std::panic::catch_unwind(AssertUnwindSafe(f)))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a blocking task panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reference::MemCounts;
    use crate::store::{Counts, Stores};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    // A local store's work runs on the request's thread; a remote one's on the pool, where a
    // timeout can still answer; a panic is an error of the request either way.
    #[test]
    fn local_work_runs_here_remote_work_on_the_pool_and_panics_are_errors() {
        let local = Stores::memory().unwrap();
        assert!(local.reads_are_local());
        let mut remote = Stores::memory().unwrap();
        // The reference store keeps the default: reads that may wait on the network.
        remote.counts = std::sync::Arc::new(MemCounts::default());
        assert!(!remote.reads_are_local());
        runtime().block_on(async {
            for (store, here) in [(&local, true), (&remote, false)] {
                let caller = std::thread::current().id();
                let ran = blocking(store, move || std::thread::current().id() == caller);
                assert_eq!(ran.await.unwrap(), here);
                let failed = blocking(store, || -> u8 { panic!("a store bug") }).await;
                assert!(matches!(failed, Err(ApiError::Internal(_))));
            }
        });
    }
}
