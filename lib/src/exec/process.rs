//! Child processes: each in a process group of its own, stdin from /dev/null, stdout and
//! stderr captured within a bound by a helper thread (one at a time per process, kept for the
//! next: see [`Helpers`]), everything reported to one channel so that the scheduler waits on
//! one thing only.
//!
//! The helper learns that a process ended without reaping it (`waitid` with `WNOWAIT`): the
//! zombie keeps its pid, and so its process group id, reserved until the scheduler has sent
//! its last signal and calls [`Child::reap`]. A signal to the group can then never reach a
//! group that reused the number.
//!
//! Each process and what it starts die with shard-exec, however shard-exec ends: the
//! [`guardian`](super::guardian) kills every group registered with it. Without a guardian, on
//! Linux, each process at least dies with shard-exec by its parent-death signal, SIGKILL. That
//! signal comes when the *thread* that started the process ends, so [`spawn`] must be called
//! from a thread that lives as long as the run (the scheduler's). Setting it takes code run
//! between fork and exec, which makes the start of a process a full fork (its parent's page
//! tables copied) where otherwise it is a vfork-like `posix_spawn`: with a guardian, processes
//! start that cheaper way (one process per id costs as much as `xargs` then). The one moment
//! left uncovered is between a start and its registration, a few microseconds.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use super::capture::Capture;
use super::guardian::Link;

/// Stack size of the helper threads: they only copy bytes or wait (the read buffer is on
/// the heap).
const HELPER_STACK: usize = 64 * 1024;

/// What the helper thread of a process reports.
#[derive(Debug)]
pub enum Note {
    /// The process ended and its pipes are closed: the usual end.
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

/// Where a process's output goes.
#[derive(Debug, Clone, Copy)]
pub enum Output {
    /// Captured, at most this many bytes of each stream (head and tail).
    Capture(usize),
    /// Both streams to the runner's stderr, as they come (`--setup`: a server it starts may
    /// write there as long as it likes).
    Stderr,
}

/// A started process.
#[derive(Debug)]
pub struct Child {
    /// Its pid, which is also its process group's id.
    pub pgid: i32,
    pub stdout: Arc<Mutex<Capture>>,
    pub stderr: Arc<Mutex<Capture>>,
    /// Set when the scheduler gives up on the pipes: the helper then drops them and ends.
    abandon: Arc<AtomicBool>,
    /// The guardian its group is registered with.
    guard: Option<Arc<Link>>,
}

impl Child {
    /// Tells the helper to stop reading the pipes (held by something that left the group).
    pub fn abandon(&self) {
        self.abandon.store(true, Ordering::Relaxed);
    }

    /// Reaps the ended process, freeing its pid and group id: after the last signal to its
    /// group. A process that did not end is left alone.
    pub fn reap(&self) {
        if let Some(guard) = &self.guard {
            guard.unregister(self.pgid);
        }
        let _ = waitpid(Pid::from_raw(self.pgid), Some(WaitPidFlag::WNOHANG));
    }
}

/// How often the helper looks whether a process that still has its pipes open has ended,
/// and, after that, whether it was told to give up, in milliseconds.
const CHECK: u16 = 50;

/// Starts `argv` with `env` added, in a new process group. One helper thread reads its pipes
/// and learns when it ends; its notes go to `notes`, tagged with `job`: `Done`, or `Exited`
/// then `Closed`. Its group is registered with `guard`, until [`Child::reap`].
pub fn spawn(
    job: u64,
    argv: &[OsString],
    env: &[(&str, String)],
    output: Output,
    notes: &Sender<Note>,
    guard: Option<&Arc<Link>>,
    helpers: &Helpers,
) -> io::Result<Child> {
    let mut command = Command::new(
        found_on_path(&argv[0])
            .as_deref()
            .unwrap_or(argv[0].as_ref()),
    );
    command.args(&argv[1..]).stdin(Stdio::null());
    let limit = match output {
        Output::Capture(limit) => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            limit
        }
        Output::Stderr => {
            let err = io::stderr().as_fd().try_clone_to_owned()?;
            command
                .stdout(Stdio::from(err.try_clone()?))
                .stderr(Stdio::from(err));
            0
        }
    };
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    for (name, value) in env {
        command.env(name, value);
    }
    #[cfg(target_os = "linux")]
    if guard.is_none() {
        die_with_parent(&mut command);
    }
    let mut child = command.spawn()?;
    let pgid = child.id() as i32;
    if let Some(guard) = guard {
        guard.register(pgid);
    }
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
    let abandon = Arc::new(AtomicBool::new(false));
    let started = helpers.hand(Watch {
        job,
        pid: pgid,
        pipes,
        abandon: Arc::clone(&abandon),
        notes: notes.clone(),
    });
    if let Err(e) = started {
        // The child cannot be watched: stop it, and reap it.
        kill_group(pgid, Signal::SIGKILL);
        if let Some(guard) = guard {
            guard.unregister(pgid);
        }
        let _ = child.wait();
        return Err(e);
    }
    // `child` (std's handle) is dropped without waiting: the helper and `Child::reap` do.
    Ok(Child {
        pgid,
        stdout,
        stderr,
        abandon,
        guard: guard.cloned(),
    })
}

/// Helper threads that wait for the next process to watch: handing a waiting thread its work
/// costs less than starting a thread a process. A helper still busy with a process whose pipes
/// something else holds is not waited for: another one starts. When the pool goes, the waiting
/// helpers end, and the busy ones when they are done.
#[derive(Debug, Default)]
pub struct Helpers(Arc<Mutex<Vec<Sender<Task>>>>);

/// One process for a helper to watch (see [`watch`]).
struct Watch {
    job: u64,
    pid: i32,
    pipes: [Option<Pipe>; 2],
    abandon: Arc<AtomicBool>,
    notes: Sender<Note>,
}

/// A helper's work, and how it goes back among the waiting once done.
struct Task {
    watch: Watch,
    back: Sender<Task>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Task(job {})", self.watch.job)
    }
}

impl Helpers {
    /// Hands `process` to a waiting helper, or to a new one.
    fn hand(&self, process: Watch) -> io::Result<()> {
        let waiting = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let process = match waiting {
            Some(helper) => match helper.send(Task {
                watch: process,
                back: helper.clone(),
            }) {
                Ok(()) => return Ok(()),
                // That helper is gone: a new one takes the process.
                Err(mpsc::SendError(task)) => task.watch,
            },
            None => process,
        };
        let (back, work) = mpsc::channel::<Task>();
        let job = process.job;
        let pool = Arc::downgrade(&self.0);
        // The first task is sent before the thread starts: the channel holds it.
        let _ = back.clone().send(Task {
            watch: process,
            back,
        });
        thread::Builder::new()
            .name(format!("helper-{job}"))
            .stack_size(HELPER_STACK)
            .spawn(move || {
                while let Ok(Task { watch: w, back }) = work.recv() {
                    watch(w.job, w.pid, w.pipes, &w.abandon, &w.notes);
                    match pool.upgrade() {
                        Some(pool) => pool.lock().unwrap_or_else(|p| p.into_inner()).push(back),
                        // The pool is gone: dropping `back` ends the loop.
                        None => return,
                    }
                }
            })
            .map(drop)
    }
}

/// The last program found on PATH, with the PATH it was found on: a run starts one program
/// again and again, and each look-up costs a `stat` per folder of PATH.
static LAST_FOUND: Mutex<Option<(OsString, OsString, PathBuf)>> = Mutex::new(None);

/// Where `program` is on PATH, as the child's exec would find it (the first executable
/// regular file), so that the child execs it at once instead of trying each folder in turn;
/// `None` for a path with a `/` or a program not found (the exec then says why). The last
/// program found is remembered for as long as PATH stays the same.
fn found_on_path(program: &OsStr) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if program.as_bytes().contains(&b'/') || program.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    let mut last = LAST_FOUND.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((name, on, found)) = last.as_ref()
        && name == program
        && *on == path
    {
        return Some(found.clone());
    }
    let found = look_up(program, &path)?;
    *last = Some((program.to_owned(), path, found.clone()));
    Some(found)
}

/// The first executable regular file named `program` in the folders of `path`.
fn look_up(program: &OsStr, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
    })
}

/// Makes the process get SIGKILL when the thread that starts it ends (with shard-exec, however
/// it ends), and not start at all when that thread is gone already.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls may be made: prctl(2) and getppid(2) are plain system calls,
    // and the errors are made from error numbers, without allocating.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died before the signal was set: then nothing sends it.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// A child's pipe and where its bytes go.
type Pipe = (Box<dyn ReadFd>, Arc<Mutex<Capture>>);

/// A pipe that can be polled and read.
trait ReadFd: Read + AsFd + Send {}
impl<T: Read + AsFd + Send> ReadFd for T {}

/// The exit status of process `pid` once it has ended, without reaping it; `None` while it
/// runs (`block` false).
fn ended(pid: i32, block: bool) -> Option<io::Result<ExitStatus>> {
    let mut flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    if !block {
        flags |= WaitPidFlag::WNOHANG;
    }
    loop {
        return match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::Exited(_, code)) => Some(Ok(ExitStatus::from_raw((code & 0xff) << 8))),
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                let raw = signal as i32 | if core { 0x80 } else { 0 };
                Some(Ok(ExitStatus::from_raw(raw)))
            }
            Ok(WaitStatus::StillAlive) => None,
            Ok(_) => {
                if block {
                    continue;
                }
                None
            }
            Err(Errno::EINTR) => continue,
            Err(e) => Some(Err(io::Error::from(e))),
        };
    }
}

/// The helper: reads the pipes until they close (or it is told to give up), noticing
/// meanwhile when the process ends.
fn watch(
    job: u64,
    pid: i32,
    mut pipes: [Option<Pipe>; 2],
    abandon: &AtomicBool,
    notes: &Sender<Note>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut exited = false;
    while pipes.iter().any(Option::is_some) {
        if exited && abandon.load(Ordering::Relaxed) {
            // Something outside the group holds them: drop them, and end.
            return;
        }
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
            match poll(&mut fds, PollTimeout::from(CHECK)) {
                Ok(_) => {
                    for (fd, &i) in fds.iter().zip(&which) {
                        ready[i] = fd.revents().is_some_and(|r| !r.is_empty());
                    }
                }
                Err(Errno::EINTR) => {}
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
        if !exited
            && pipes.iter().any(Option::is_some)
            && let Some(status) = ended(pid, false)
        {
            exited = true;
            let _ = notes.send(Note::Exited { job, status });
        }
    }
    if exited {
        let _ = notes.send(Note::Closed { job });
    } else {
        let status = ended(pid, true).unwrap_or_else(|| Err(io::Error::other("no status")));
        let _ = notes.send(Note::Done { job, status });
    }
}

/// Sends `signal` to every process of group `pgid`. A group that is gone already is fine.
pub fn kill_group(pgid: i32, signal: Signal) {
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// Describes how a process ended: `exit status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe(status: &ExitStatus) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_program_is_the_first_executable_file_of_its_name_on_path() {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        // Not executable, a folder, then the program.
        std::fs::write(dirs[0].path().join("prog"), "").unwrap();
        std::fs::create_dir(dirs[1].path().join("prog")).unwrap();
        let prog = dirs[2].path().join("prog");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(dirs.iter().map(|d| d.path())).unwrap();
        assert_eq!(look_up(OsStr::new("prog"), &path), Some(prog));
        assert_eq!(look_up(OsStr::new("other"), &path), None);
    }

    #[test]
    fn a_helper_done_with_one_process_watches_the_next() {
        let helpers = Helpers::default();
        let (notes, inbox) = mpsc::channel();
        let waiting = || helpers.0.lock().unwrap().len();
        for job in 1..=3 {
            let argv = [OsString::from("true")];
            let child = spawn(
                job,
                &argv,
                &[],
                Output::Capture(1024),
                &notes,
                None,
                &helpers,
            );
            let child = child.unwrap();
            // (Whether none waits now is a race: a helper done with `true` already may be
            // back. One helper in all, after every process, is what shows the hand-over.)
            // Done; or, when the end is seen between the two pipes' ends, Exited then Closed.
            match inbox.recv().unwrap() {
                Note::Done { job: done, status } => {
                    assert_eq!(done, job);
                    assert!(status.unwrap().success());
                }
                Note::Exited { job: done, status } => {
                    assert_eq!(done, job);
                    assert!(status.unwrap().success());
                    match inbox.recv().unwrap() {
                        Note::Closed { job: closed } => assert_eq!(closed, job),
                        other => panic!("{other:?}"),
                    }
                }
                other => panic!("{other:?}"),
            }
            child.reap();
            // Back among the waiting once it has told (a moment after the note); had a new
            // helper taken each process, as many would wait as processes ran.
            let mut tries = 0;
            while waiting() == 0 && tries < 1000 {
                std::thread::sleep(std::time::Duration::from_millis(5));
                tries += 1;
            }
            assert_eq!(waiting(), 1);
        }
    }

    #[test]
    fn a_program_found_once_is_found_again_where_it_was() {
        let first = found_on_path(OsStr::new("sh"));
        assert!(first.is_some());
        assert_eq!(found_on_path(OsStr::new("sh")), first);
        // A path, or nothing, is not looked up.
        assert_eq!(found_on_path(OsStr::new("/bin/sh")), None);
        assert_eq!(found_on_path(OsStr::new("")), None);
    }
}
