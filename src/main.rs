/// mimalloc rather than the system allocator: a server's memory goes back to the operating
/// system after a burst (glibc kept the per-thread arenas of a load test's peak: RSS grew from
/// 40 to 156 MiB and stayed there).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hubstats::cli::main()
}
