//! The command-line front ends of shardkit: parse what was typed, call the library, talk to
//! people on stderr and put data on stdout.

pub mod args;
mod common;
pub mod exec;
pub mod exit;
pub mod guardian;
pub mod merge;
pub mod plan;

use std::io::{self, Write};

/// The name of the running binary, for messages.
fn program() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map_or_else(
            || "shardkit".to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
}

/// Tells people something on stderr, as `PROGRAM: message`. A closed stderr is ignored:
/// messages are never worth failing for.
pub fn say(message: &str) {
    say_raw(&format!("{}: {message}", program()));
}

/// A warning on stderr, as `PROGRAM: warning: message`.
pub fn warn(message: &str) {
    say(&format!("warning: {message}"));
}

/// Writes `text` and a newline to stderr, ignoring errors.
pub fn say_raw(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

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
            say_raw(&message);
            exit::Exit::Usage.into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
