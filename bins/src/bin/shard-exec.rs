//! shard-exec: one node's tests in parallel processes, one complete JUnit report.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = shardkit_cli::exec::Cli::parse();
    shardkit_cli::main_with("shard-exec", || shardkit_cli::exec::run(cli))
}
