//! Child processes: each in a process group of its own, stdin from /dev/null, stdout and
//! stderr captured within a bound by reader threads, its exit awaited by a thread of its own,
//! everything reported to one channel so that the scheduler waits on one thing only.

use std::ffi::OsString;
use std::io::{self, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::capture::Capture;

/// Stack size of the helper threads: they only copy bytes or wait.
const HELPER_STACK: usize = 64 * 1024;

/// A child's stdout or stderr.
type Pipe = Box<dyn Read + Send>;

/// What the helper threads of a process report.
#[derive(Debug)]
pub enum Note {
    /// The process ended (reaped).
    Exited {
        job: u64,
        status: io::Result<ExitStatus>,
    },
    /// One of its pipes reached end of file: every process holding it has closed it.
    Closed { job: u64 },
    /// A signal reached the runner (see [`super::Interrupter`]).
    Signal(i32),
}

/// A started process.
#[derive(Debug)]
pub struct Child {
    /// Its pid, which is also its process group's id.
    pub pgid: i32,
    pub stdout: Arc<Mutex<Capture>>,
    pub stderr: Arc<Mutex<Capture>>,
}

/// Starts `argv` with `env` added, in a new process group, its output captured within
/// `limit` bytes per stream. Notes go to `notes`, tagged with `job`: one `Exited`, and one
/// `Closed` per pipe.
pub fn spawn(
    job: u64,
    argv: &[OsString],
    env: &[(&str, String)],
    limit: usize,
    notes: &Sender<Note>,
) -> io::Result<Child> {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn()?;
    let pgid = child.id() as i32;
    let stdout = Arc::new(Mutex::new(Capture::new(limit)));
    let stderr = Arc::new(Mutex::new(Capture::new(limit)));
    let pipes: [(Option<Pipe>, &Arc<Mutex<Capture>>); 2] = [
        (child.stdout.take().map(|p| Box::new(p) as _), &stdout),
        (child.stderr.take().map(|p| Box::new(p) as _), &stderr),
    ];
    for (pipe, capture) in pipes {
        let Some(mut pipe) = pipe else {
            let _ = notes.send(Note::Closed { job });
            continue;
        };
        let capture = Arc::clone(capture);
        let notes = notes.clone();
        let started = thread::Builder::new()
            .name(format!("job-{job}-pipe"))
            .stack_size(HELPER_STACK)
            .spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => capture
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = notes.send(Note::Closed { job });
            });
        if let Err(e) = started {
            kill_group(pgid, Signal::SIGKILL);
            let _ = child.wait();
            return Err(e);
        }
    }
    let waiter_notes = notes.clone();
    let started = thread::Builder::new()
        .name(format!("job-{job}-wait"))
        .stack_size(HELPER_STACK)
        .spawn(move || {
            let status = child.wait();
            let _ = waiter_notes.send(Note::Exited { job, status });
        });
    if let Err(e) = started {
        // The child cannot be awaited: stop it; its pipes close and it stays a zombie.
        kill_group(pgid, Signal::SIGKILL);
        return Err(e);
    }
    Ok(Child {
        pgid,
        stdout,
        stderr,
    })
}

/// Sends `signal` to every process of group `pgid`. A group that is gone already is fine.
pub fn kill_group(pgid: i32, signal: Signal) {
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// Whether any process of group `pgid` is still alive (zombies awaiting their parent
/// count as alive).
pub fn group_alive(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Describes how a process ended: `exit status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(name) => format!("killed by signal {sig} ({})", name.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        None => "ended in an unknown way".to_string(),
    }
}
