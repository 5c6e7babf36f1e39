//! The command-line front ends of shardkit: parse what was typed, call the library, talk to
//! people on stderr and put data on stdout.

pub mod exit;
pub mod plan;

use std::io;

/// Runs a binary's `run` and turns its outcome into an exit code, printing errors as
/// `NAME: error: ...` with their causes. A closed stdout (`| head`) ends quietly.
pub fn main_with(
    name: &str,
    run: impl FnOnce() -> anyhow::Result<exit::Exit>,
) -> std::process::ExitCode {
    match run() {
        Ok(exit) => exit.into(),
        Err(err) if is_broken_pipe(&err) => exit::Exit::Success.into(),
        Err(err) => {
            let mut message = format!("{name}: error: {err}");
            for cause in err.chain().skip(1) {
                message.push_str(&format!(": {cause}"));
            }
            eprintln!("{message}");
            exit::Exit::Usage.into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
