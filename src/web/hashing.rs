//! A bounded pool for password hashing. Every sign-in runs argon2id (19 MiB of memory and
//! tens of milliseconds of CPU); unbounded, a flood of sign-ins takes gigabytes and starves
//! every other request. At most [`HashingPool::workers`] hashes run at once (one per core),
//! at most [`HashingPool::queue`] more wait, and anything beyond is refused at once
//! ([`Busy`], answered 503 with `Retry-After`).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct HashingPool {
    /// Permits to run a hash.
    running: Arc<Semaphore>,
    /// Permits to be admitted at all (running or waiting).
    admitted: Arc<Semaphore>,
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
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        HashingPool {
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + queue)),
            workers,
            queue,
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Runs `f` (a blocking password check) on the blocking pool once a worker is free, or
    /// refuses at once when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Result<T, tokio::task::JoinError>, Busy> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running: OwnedSemaphorePermit = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        // The permits move into the task: a client that gives up does not free a worker that
        // is still hashing.
        Ok(tokio::task::spawn_blocking(move || {
            let result = f();
            drop((running, admitted));
            result
        })
        .await)
    }
}
