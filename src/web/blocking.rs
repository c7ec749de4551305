//! Where a request's store work runs.

use std::panic::AssertUnwindSafe;

use tokio::runtime::{Handle, RuntimeFlavor};

use super::error::ApiError;
use crate::store::{SharedStore, Store};

/// Runs `f` on `store`, a request's store work (the accounts' lookups, an analytics query),
/// and returns what it returns; a panic is an error of the request (500), as it was on the
/// blocking pool.
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
    store: &SharedStore,
    f: impl FnOnce(&dyn Store) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let here = store.reads_are_local()
        && Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if !here {
        let store = store.clone();
        return Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await?);
    }
    tokio::task::block_in_place(|| std::panic::catch_unwind(AssertUnwindSafe(|| f(store.as_ref()))))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a blocking task panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::store::reference::MemCounts;
    use crate::store::Stores;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    // A local store's work runs on the request's thread (a worker of the runtime, as a
    // request's task is); a remote one's on the pool, where a timeout can still answer; a
    // panic is an error of the request either way.
    #[test]
    fn local_work_runs_here_remote_work_on_the_pool_and_panics_are_errors() {
        let local: SharedStore = Arc::new(Stores::memory().unwrap());
        assert!(local.reads_are_local());
        let mut remote = Stores::memory().unwrap();
        // The reference store keeps the default: reads that may wait on the network.
        remote.counts = Arc::new(MemCounts::default());
        let remote: SharedStore = Arc::new(remote);
        assert!(!remote.reads_are_local());
        let runtime = runtime();
        for (store, here) in [(local, true), (remote, false)] {
            let request = runtime.spawn(async move {
                let caller = std::thread::current().id();
                let ran = blocking(&store, move |_| std::thread::current().id() == caller);
                let ran = ran.await.unwrap();
                let failed = blocking(&store, |_| -> u8 { panic!("a store bug") }).await;
                (ran, matches!(failed, Err(ApiError::Internal(_))))
            });
            assert_eq!(runtime.block_on(request).unwrap(), (here, true));
        }
    }
}
