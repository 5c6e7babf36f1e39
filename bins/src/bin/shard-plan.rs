//! shard-plan: test ids in, each node's share out.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = shardkit_cli::plan::Cli::parse();
    shardkit_cli::main_with("shard-plan", || shardkit_cli::plan::run(cli))
}
