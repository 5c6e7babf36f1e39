//! shard-exec: one node's tests in parallel processes, one complete JUnit report.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // The guardian's hidden mode: its other arguments are the run's scratch directories.
    let first = std::env::args_os().nth(1);
    if first.as_deref() == Some(std::ffi::OsStr::new(shardkit_cli::guardian::GUARDIAN_ARG)) {
        return shardkit_cli::guardian::main();
    }
    let cli = shardkit_cli::exec::Cli::parse();
    shardkit_cli::main_with("shard-exec", || shardkit_cli::exec::run(cli))
}
