//! shard-merge: the nodes' JUnit reports in, one verified report out.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = shardkit_cli::merge::Cli::parse();
    shardkit_cli::main_with("shard-merge", || shardkit_cli::merge::run(cli))
}
