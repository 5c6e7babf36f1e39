//! Child processes: each in a process group of its own, stdin from /dev/null, stdout and
//! stderr captured within a bound, and watched by the [`Watcher`] of the thread that started
//! them, which tells how each ended as notes (see [`Note`]).
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

mod watcher;

pub use self::watcher::Watcher;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[cfg(target_os = "linux")]
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::capture::Capture;
use super::guardian::Link;

/// What the watcher tells of a process.
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
    /// Set when the scheduler gives up on the pipes: the watcher then drops them.
    abandon: Arc<AtomicBool>,
    /// The guardian its group is registered with.
    guard: Option<Arc<Link>>,
}

impl Child {
    /// Tells the watcher to stop reading the pipes (held by something that left the group).
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

/// Starts `argv` with `env` added, in a new process group, watched by `watcher`: it reads
/// the pipes and tells when the process ended, by notes tagged with `job`: `Done`, or
/// `Exited` then `Closed`. Its group is registered with `guard`, until [`Child::reap`].
pub fn spawn(
    job: u64,
    argv: &[OsString],
    env: &[(&str, String)],
    output: Output,
    guard: Option<&Arc<Link>>,
    watcher: &mut Watcher,
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
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| (File::from(OwnedFd::from(p)), Arc::clone(&stdout))),
        child
            .stderr
            .take()
            .map(|p| (File::from(OwnedFd::from(p)), Arc::clone(&stderr))),
    ];
    let abandon = Arc::new(AtomicBool::new(false));
    watcher.add(job, pgid, pipes, Arc::clone(&abandon));
    // `child` (std's handle) is dropped without waiting: the watcher and `Child::reap` do.
    Ok(Child {
        pgid,
        stdout,
        stderr,
        abandon,
        guard: guard.cloned(),
    })
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
    fn a_program_found_once_is_found_again_where_it_was() {
        let first = found_on_path(OsStr::new("sh"));
        assert!(first.is_some());
        assert_eq!(found_on_path(OsStr::new("sh")), first);
        // A path, or nothing, is not looked up.
        assert_eq!(found_on_path(OsStr::new("/bin/sh")), None);
        assert_eq!(found_on_path(OsStr::new("")), None);
    }
}
