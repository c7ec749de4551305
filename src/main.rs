/// jemalloc instead of the system allocator: glibc's malloc gives each thread that allocates
/// its own arena (up to eight per core) and keeps their freed pages, so the server's memory
/// after a burst of concurrent requests stayed at three times what it was before. jemalloc's
/// background thread hands pages freed and unused for a few seconds back to the system.
/// `scripts/load` shows the difference (RSS before and after its runs).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("warning: memory freed will be returned to the system late: {e}");
    }
    hubstats::cli::main()
}
