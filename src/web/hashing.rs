//! A bounded pool for password hashing. Every sign-in runs argon2id (19 MiB of memory and
//! tens of milliseconds of CPU); unbounded, a flood of sign-ins takes gigabytes and starves
//! every other request. The pool has its own [`HashingPool::workers`] threads (one per core)
//! and a queue of [`HashingPool::queue`] jobs; anything beyond is refused at once ([`Busy`],
//! answered 503 with `Retry-After`).
//!
//! Dedicated threads rather than tokio's blocking pool: each keeps one reusable argon2 buffer
//! (see `accounts::verify_password`), so memory stays at one buffer per worker (measured on a
//! debug build, 250 parallel sign-ins: 394 MiB peak on the blocking pool with a fresh buffer
//! per check, 51 MiB with two dedicated threads reusing theirs).
//!
//! A worker idle for a second frees that buffer, so the memory of a burst of sign-ins is
//! given back once it is over.
//!
//! The threads run at the lowest scheduling priority ([`super::priority`]): while sign-ins
//! queue, dashboard and API requests still get the CPU first, so a flood of sign-ins slows
//! sign-ins, not the pages. An idle machine runs a hash at full speed all the same.

use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::priority::spawn_low_priority;
use crate::accounts::release_password_memory;

/// A worker with nothing to do for this long frees its argon2 memory (19 MiB): kept across a
/// burst of sign-ins, given back after it.
const IDLE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send>;

pub struct HashingPool {
    jobs: Mutex<Option<SyncSender<Job>>>,
    workers: usize,
    queue: usize,
}

/// Every slot is taken: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Default for HashingPool {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashingPool::new(cores, 4 * cores)
    }
}

impl HashingPool {
    /// Starts `workers` threads (at least one) that take jobs from a queue of `queue`.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let spawned = spawn_low_priority(format!("hubstats-hash-{i}"), move || {
                loop {
                    let job = rx
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv_timeout(IDLE);
                    match job {
                        // A panicking job loses its answer (the caller sees `Busy`), not
                        // the worker.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(RecvTimeoutError::Timeout) => release_password_memory(),
                        Err(RecvTimeoutError::Disconnected) => break, // the pool was dropped
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "starting a password-hashing thread"),
            }
        }
        HashingPool {
            // Without a single worker, every sign-in is refused rather than queued forever.
            jobs: Mutex::new((started > 0).then_some(tx)),
            workers: started,
            queue,
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Runs `f` (a blocking password check) on a hashing thread, or refuses at once when the
    /// queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = match &*self.jobs.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(jobs) => jobs.try_send(job),
            None => return Err(Busy),
        };
        match sent {
            Ok(()) => rx.await.map_err(|_| Busy),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_os = "linux")]
    use crate::web::priority::own_niceness;

    /// Sign-ins must not compete with pages for the CPU: hashing threads run at nice 19.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority() {
        let pool = HashingPool::new(1, 1);
        let caller = own_niceness();
        let worker = pool.run(own_niceness).await.expect("a free slot");
        assert_eq!(worker, 19, "the caller runs at {caller}");
    }

    /// A worker keeps its argon2 memory across a burst of checks and frees it once idle.
    #[tokio::test]
    async fn an_idle_worker_frees_its_argon2_memory() {
        use crate::accounts::{hash_password, password_memory_held, verify_password};
        let phc = hash_password("correct horse battery").expect("a hash");
        let pool = HashingPool::new(1, 1);
        let held = pool
            .run(move || {
                assert!(verify_password(&phc, "correct horse battery"));
                password_memory_held()
            })
            .await
            .expect("a free slot");
        assert!(
            held >= 19 << 20,
            "a check holds argon2's 19 MiB, held {held}"
        );
        let again = pool.run(password_memory_held).await.expect("a free slot");
        assert_eq!(again, held, "kept between checks of one burst");
        tokio::time::sleep(IDLE * 2).await;
        let idle = pool.run(password_memory_held).await.expect("a free slot");
        assert_eq!(idle, 0, "freed after {IDLE:?} without work");
    }
}
