//! Where a request's store work runs.

use std::panic::AssertUnwindSafe;

use tokio::runtime::{Handle, RuntimeFlavor};

use super::error::ApiError;
use crate::store::{SharedStore, Store};

/// How long a piece of store work may take, as its caller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A few point reads: an account's lookups, an answer from an organization's index kept at
    /// its current version ([`crate::store::Counts::index_is_current`]). Microseconds.
    Short,
    /// Anything else: building an index, reading events, a list of every organization.
    MayBeLong,
}

/// Where store work runs (see [`place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On the request's thread, as it is.
    Here,
    /// On the request's thread, after handing its other tasks to another thread
    /// (`block_in_place`).
    HandedOver,
    /// On the blocking pool.
    Pool,
}

/// Where `work` on `store` runs.
///
/// A store whose reads wait on the network (ClickHouse), or a current-thread runtime (as in
/// tests): on the blocking pool, so that the request timeout can still answer meanwhile.
/// Otherwise (an embedded store on the multi-threaded runtime) on the request's own thread:
/// nothing then has to wake a pool thread before the work starts nor this task after it
/// ends, two wake-ups that cost about 0.3 ms per trip on the 2-vCPU VM, more than a warm
/// one-repository answer's own work (p50 0.50 → 0.18 ms server-side). Work that may take
/// long first hands the thread's other tasks over (`block_in_place`); short work does not,
/// as that costs a wake-up of its own and moves the runtime's worker to another thread,
/// whose caches are cold (p50 of a one-repository answer, server-side, 0.17–0.21 → 0.145–0.16
/// ms). A short read that meets a lock (SQLite's WAL being recovered after a crash) waits on
/// this worker thread, up to the store's busy timeout, with the thread's other tasks: rare,
/// and then only slower.
pub fn place(store: &dyn Store, work: Work) -> Place {
    let multi_threaded =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    match work {
        _ if !store.reads_are_local() || !multi_threaded => Place::Pool,
        Work::Short => Place::Here,
        Work::MayBeLong => Place::HandedOver,
    }
}

/// Runs `f` on `store` where [`place`] says, and returns what it returns; a panic is an error
/// of the request (500), as it is on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    store: &SharedStore,
    work: Work,
    f: impl FnOnce(&dyn Store) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let place = place(store.as_ref(), work);
    if place == Place::Pool {
        let store = store.clone();
        return Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await?);
    }
    let run = || std::panic::catch_unwind(AssertUnwindSafe(|| f(store.as_ref())));
    let ran = match place {
        Place::HandedOver => tokio::task::block_in_place(run),
        _ => run(),
    };
    ran.map_err(|_| ApiError::Internal(anyhow::anyhow!("a blocking task panicked")))
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

    /// Whether the calling thread may block on a future: not a runtime's worker running its
    /// tasks (tokio refuses there), but one whose tasks were handed over, or a pool thread.
    fn may_block() -> bool {
        let handle = Handle::current();
        std::panic::catch_unwind(AssertUnwindSafe(|| handle.block_on(async {}))).is_ok()
    }

    // A local store's work runs on the request's thread (a worker of the runtime, as a
    // request's task is), handed over first unless it is short; a remote one's on the pool,
    // where a timeout can still answer; a panic is an error of the request either way.
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
        let cases = [
            (local.clone(), Work::Short, Place::Here),
            (local.clone(), Work::MayBeLong, Place::HandedOver),
            (remote.clone(), Work::Short, Place::Pool),
            (remote, Work::MayBeLong, Place::Pool),
        ];
        for (store, work, expected) in cases {
            let request = runtime.spawn(async move {
                let placed = place(store.as_ref(), work);
                let caller = std::thread::current().id();
                let ran = blocking(&store, work, move |_| {
                    (std::thread::current().id() == caller, may_block())
                });
                let ran = ran.await.unwrap();
                let failed = blocking(&store, work, |_| -> u8 { panic!("a store bug") }).await;
                (placed, ran, matches!(failed, Err(ApiError::Internal(_))))
            });
            // Where it ran: on the caller's thread or not, and with the worker's tasks
            // handed over (or on the pool) or not.
            let ran = match expected {
                Place::Here => (true, false),
                Place::HandedOver => (true, true),
                Place::Pool => (false, true),
            };
            assert_eq!(runtime.block_on(request).unwrap(), (expected, ran, true));
        }
        // Outside the multi-threaded runtime (tests' current-thread one), always the pool.
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let placed = current.block_on(async { place(local.as_ref(), Work::Short) });
        assert_eq!(placed, Place::Pool);
    }
}
