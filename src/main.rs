//! `kubectl logbackup`: the kubectl plugin.

fn main() -> std::process::ExitCode {
    logbackup::cli::main()
}
