//! shard-exec's hidden mode as the guardian of a run's test processes (see
//! `shardkit::exec::guardian`): started by shard-exec itself, it reads the tests' process
//! groups on stdin and kills those still running when shard-exec dies.

use std::io;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::warn;

/// The hidden first argument that makes shard-exec the guardian of a run's test processes
/// (see `shardkit::exec::guardian`): it reads their process groups on stdin.
pub const GUARDIAN_ARG: &str = "--internal-guardian";

/// shard-exec as the guardian: quiet (its stderr is /dev/null), ended by the end of stdin;
/// the arguments after [`GUARDIAN_ARG`] are the run's scratch directories, removed at the end.
pub fn main() -> std::process::ExitCode {
    let scratch: Vec<PathBuf> = std::env::args_os().skip(2).map(PathBuf::from).collect();
    match shardkit::exec::guardian::main(io::stdin().lock(), &scratch) {
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
