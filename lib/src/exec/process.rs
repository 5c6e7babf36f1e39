//! Child processes: each in a process group of its own, stdin from /dev/null, stdout and
//! stderr captured within a bound by one helper thread per process that also reaps it,
//! everything reported to one channel so that the scheduler waits on one thing only.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::capture::Capture;

/// Stack size of the helper threads: they only copy bytes or wait (the read buffer is on
/// the heap).
const HELPER_STACK: usize = 64 * 1024;

/// What the helper thread of a process reports.
#[derive(Debug)]
pub enum Note {
    /// The process ended (reaped) and its pipes are closed: the usual end.
    Done {
        job: u64,
        status: io::Result<ExitStatus>,
    },
    /// The process ended, but its pipes are still open (something it started holds them).
    Exited {
        job: u64,
        status: io::Result<ExitStatus>,
    },
    /// After `Exited`: the pipes closed at last.
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

/// How often the helper looks whether a process that still has its pipes open has ended.
const EXIT_CHECK: u16 = 50;

/// Starts `argv` with `env` added, in a new process group, its output captured within
/// `limit` bytes per stream. One helper thread reads both pipes and reaps the process; its
/// notes go to `notes`, tagged with `job`: `Done`, or `Exited` then `Closed`.
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
    let pipes: [Option<Pipe>; 2] = [
        child
            .stdout
            .take()
            .map(|p| (Box::new(p) as Box<dyn ReadFd>, Arc::clone(&stdout))),
        child
            .stderr
            .take()
            .map(|p| (Box::new(p) as Box<dyn ReadFd>, Arc::clone(&stderr))),
    ];
    let notes = notes.clone();
    let started = thread::Builder::new()
        .name(format!("job-{job}"))
        .stack_size(HELPER_STACK)
        .spawn(move || watch(job, child, pipes, &notes));
    if let Err(e) = started {
        // The child cannot be watched: stop it.
        kill_group(pgid, Signal::SIGKILL);
        return Err(e);
    }
    Ok(Child {
        pgid,
        stdout,
        stderr,
    })
}

/// A child's pipe and where its bytes go.
type Pipe = (Box<dyn ReadFd>, Arc<Mutex<Capture>>);

/// A pipe that can be polled and read.
trait ReadFd: Read + AsFd + Send {}
impl<T: Read + AsFd + Send> ReadFd for T {}

/// The helper: reads both pipes until they close, noticing meanwhile when the process ends.
fn watch(
    job: u64,
    mut child: std::process::Child,
    mut pipes: [Option<Pipe>; 2],
    notes: &Sender<Note>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut exited = false;
    while pipes.iter().any(Option::is_some) {
        let mut ready = [false; 2];
        {
            let mut fds = Vec::with_capacity(2);
            let mut which = Vec::with_capacity(2);
            for (i, pipe) in pipes.iter().enumerate() {
                if let Some((p, _)) = pipe {
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                    which.push(i);
                }
            }
            // Once the process has ended, only the pipes matter: wait for them as long as
            // it takes (the scheduler kills what holds them).
            let timeout = if exited {
                PollTimeout::NONE
            } else {
                PollTimeout::from(EXIT_CHECK)
            };
            match poll(&mut fds, timeout) {
                Ok(_) => {
                    for (fd, &i) in fds.iter().zip(&which) {
                        ready[i] = fd.revents().is_some_and(|r| !r.is_empty());
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => ready = [true; 2],
            }
        }
        for (i, pipe) in pipes.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            let Some((p, capture)) = pipe else { continue };
            match p.read(&mut buf) {
                Ok(0) => *pipe = None,
                Ok(n) => capture
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => *pipe = None,
            }
        }
        if !exited && pipes.iter().any(Option::is_some) {
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    exited = true;
                    let _ = notes.send(Note::Exited {
                        job,
                        status: Ok(status),
                    });
                }
                Err(e) => {
                    exited = true;
                    let _ = notes.send(Note::Exited {
                        job,
                        status: Err(e),
                    });
                }
            }
        }
    }
    if exited {
        let _ = notes.send(Note::Closed { job });
    } else {
        let status = child.wait();
        let _ = notes.send(Note::Done { job, status });
    }
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
