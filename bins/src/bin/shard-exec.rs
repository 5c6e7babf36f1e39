//! shard-exec: one node's tests in parallel processes, one complete JUnit report.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(shardkit_cli::guardian::GUARDIAN_ARG))
        && args.next().is_none()
    {
        return shardkit_cli::guardian::main();
    }
    let cli = shardkit_cli::exec::Cli::parse();
    shardkit_cli::main_with("shard-exec", || shardkit_cli::exec::run(cli))
}
