//! Background work at the lowest scheduling priority (nice 19 on Linux): password hashing and
//! CSV exports are bulk work that can take seconds of CPU, and on a machine with few cores
//! they would otherwise take it from the page and API requests users are waiting for. An idle
//! machine still runs them at full speed; a busy one serves the pages first.

use std::io;

/// Starts a named thread that runs `f` at the lowest priority of its scheduling policy. Where
/// lowering is not allowed the thread keeps its priority (the work still gets done, only less
/// politely) and a warning is logged.
pub fn spawn_low_priority(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        use thread_priority::{set_current_thread_priority, ThreadPriority};
        if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
            let thread = std::thread::current();
            tracing::warn!(error = ?e, thread = thread.name(), "could not lower the priority of a thread");
        }
        f()
    })
}

/// The niceness of the calling thread, from `/proc` (field 19 of its `stat`).
#[cfg(all(test, target_os = "linux"))]
pub fn own_niceness() -> i64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc is readable");
    // The command name (field 2) is parenthesised and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[16].parse().expect("a niceness") // field 19 overall
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_thread_runs_at_nice_19() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_low_priority("test-low".into(), move || tx.send(own_niceness()).unwrap())
            .expect("a thread")
            .join()
            .unwrap();
        assert_eq!(
            rx.recv().unwrap(),
            19,
            "the caller runs at {}",
            own_niceness()
        );
    }
}
