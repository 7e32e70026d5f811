//! `kubectl logbackup`: the kubectl plugin.
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
