fn main() -> std::process::ExitCode {
    hubstats::cli::main()
}
