//! shard-exec's hidden mode as the guardian of a run's test processes (see
//! `shardkit::exec::guardian`): started by shard-exec itself, it reads the tests' process
//! groups on stdin and kills those still running when shard-exec dies.

use std::io;

use crate::exit::Exit;
use crate::warn;

/// The hidden first argument that makes shard-exec the guardian of a run's test processes
/// (see `shardkit::exec::guardian`): it reads their process groups on stdin.
pub const GUARDIAN_ARG: &str = "--internal-guardian";

/// shard-exec as the guardian: quiet (its stderr is /dev/null), ended by the end of stdin.
pub fn main() -> std::process::ExitCode {
    match shardkit::exec::guardian::main(io::stdin().lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => Exit::Usage.into(),
    }
}

/// This binary again, as the guardian; none (with a warning) when it cannot be found.
pub fn command() -> Option<Vec<std::ffi::OsString>> {
    match std::env::current_exe() {
        Ok(exe) => Some(vec![exe.into_os_string(), GUARDIAN_ARG.into()]),
        Err(e) => {
            warn(&format!(
                "cannot find this program to start the guardian of the test processes ({e}): if shard-exec is killed, what the tests started may go on running"
            ));
            None
        }
    }
}
