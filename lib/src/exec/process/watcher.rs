//! The watcher: every running process's pipes and end, waited on together by the one thread
//! that runs the scheduler, as `xargs` waits on its children.
//!
//! Each process brings its two pipes and, where the system has them (Linux 5.3 on), a pidfd
//! that becomes readable when it ends. One `poll` waits on all of them, and on whatever else
//! the caller wakes for (the signal forwarder's pipe). Reading a pipe, or seeing an end, takes
//! no other thread: a process that ends is told of, and its slot started again, without a
//! hand-over between threads (each hand-over wakes a sleeping thread, a cost that a run of one
//! quick process per id pays per process).
//!
//! The end is learnt without reaping (`waitid` with `WNOWAIT`): the zombie keeps its pid, and
//! so its group id, reserved until the scheduler reaps it (see [`super::Child::reap`]).
//! Without a pidfd, a process's end is looked for every [`CHECK`], and every [`SOON`] once its
//! pipes closed (a process closes them as it exits, a moment before its end is seen).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use super::Note;
use crate::exec::capture::Capture;

/// Without a pidfd: how often a process whose pipes are open is looked at for its end.
const CHECK: Duration = Duration::from_millis(50);
/// Without a pidfd: how often once its pipes closed.
const SOON: Duration = Duration::from_millis(1);
/// After an end, how many rounds of reading what the pipes hold already, before the end is
/// told with the pipes still open (something the process started may write on and on).
const DRAIN_ROUNDS: usize = 64;

/// A process's pipe and where its bytes go.
pub(super) type Pipe = (File, Arc<Mutex<Capture>>);

/// The processes being watched, and the notes about them not yet taken.
#[derive(Debug)]
pub struct Watcher {
    watched: Vec<Watched>,
    notes: VecDeque<Note>,
    buf: Vec<u8>,
    /// Whether ends are waited on by pidfds where the system has them (tests turn it off).
    pidfds: bool,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            watched: Vec::new(),
            notes: VecDeque::new(),
            buf: vec![0; 16 * 1024],
            pidfds: true,
        }
    }
}

/// One process: tagged `job`, group leader `pid`.
#[derive(Debug)]
struct Watched {
    job: u64,
    pid: i32,
    pipes: [Option<Pipe>; 2],
    /// Readable once it ended; none without pidfds, and once the end is known.
    pidfd: Option<OwnedFd>,
    exited: bool,
    /// Set by the scheduler when it gives up on pipes held after the end: they are dropped.
    abandon: Arc<AtomicBool>,
}

/// What one `poll` found ready, by the index of the process.
struct Ready {
    pipes: Vec<[bool; 2]>,
    ends: Vec<bool>,
}

impl Watcher {
    /// Watches process `pid` (tagged `job`) from now on: its `pipes` are read until they
    /// close, and its end told by `Done`, or `Exited` then `Closed`.
    pub(super) fn add(
        &mut self,
        job: u64,
        pid: i32,
        pipes: [Option<Pipe>; 2],
        abandon: Arc<AtomicBool>,
    ) {
        self.watched.push(Watched {
            job,
            pid,
            pipes,
            pidfd: if self.pidfds { pidfd(pid) } else { None },
            exited: false,
            abandon,
        });
    }

    /// The oldest note not yet taken.
    pub fn take(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// How many processes are watched.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Waits once, until something is ready or `until` comes (for ever without one and
    /// without anything to look at): reads what the pipes hold, notes the ends. True when
    /// `also` is readable.
    pub fn wait(
        &mut self,
        also: Option<BorrowedFd<'_>>,
        until: Option<Instant>,
    ) -> io::Result<bool> {
        self.watched
            .retain(|w| !(w.exited && w.abandon.load(Ordering::Relaxed)));
        let (ready, also_ready) = self.poll(also, until)?;
        let done: Vec<bool> = (0..self.watched.len())
            .map(|i| self.step(i, ready.pipes[i], ready.ends[i]))
            .collect();
        let mut gone = done.into_iter();
        self.watched.retain(|_| !gone.next().unwrap_or(false));
        Ok(also_ready)
    }

    /// One `poll` on every open pipe, every pidfd and `also`, until `until` or the next look
    /// a process without a pidfd needs.
    fn poll(
        &self,
        also: Option<BorrowedFd<'_>>,
        until: Option<Instant>,
    ) -> io::Result<(Ready, bool)> {
        let mut fds = Vec::with_capacity(self.watched.len() * 3 + 1);
        // Per fd: the process's index, and which pipe (None: the pidfd).
        let mut whose = Vec::with_capacity(fds.capacity());
        let mut ready = Ready {
            pipes: vec![[false; 2]; self.watched.len()],
            ends: vec![false; self.watched.len()],
        };
        let mut look = None;
        for (i, w) in self.watched.iter().enumerate() {
            for (k, pipe) in w.pipes.iter().enumerate() {
                if let Some((file, _)) = pipe {
                    fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
                    whose.push((i, Some(k)));
                }
            }
            if w.exited {
                continue;
            }
            match &w.pidfd {
                Some(fd) => {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    whose.push((i, None));
                }
                None => {
                    // Without a pidfd, the end is looked for in each round.
                    ready.ends[i] = true;
                    let every = if w.pipes.iter().any(Option::is_some) {
                        CHECK
                    } else {
                        SOON
                    };
                    look = Some(look.map_or(every, |l: Duration| l.min(every)));
                }
            }
        }
        if let Some(fd) = also {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let now = Instant::now();
        let until = [until, look.map(|l| now + l)].into_iter().flatten().min();
        let timeout = match until {
            // Rounded up: a poll that ends early would only poll again.
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_micros().div_ceil(1000);
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok((ready, false)),
            Err(e) => return Err(io::Error::from(e)),
        }
        let is_ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        for (fd, &(i, which)) in fds.iter().zip(&whose) {
            if is_ready(fd) {
                match which {
                    Some(k) => ready.pipes[i][k] = true,
                    None => ready.ends[i] = true,
                }
            }
        }
        let also_ready = also.is_some() && fds.last().is_some_and(is_ready);
        Ok((ready, also_ready))
    }

    /// Reads the ready pipes of process `i` and looks at its end when `end` may have come;
    /// true once nothing is left to watch (its notes are made).
    fn step(&mut self, i: usize, pipes: [bool; 2], end: bool) -> bool {
        let w = &mut self.watched[i];
        for (k, _) in pipes.iter().enumerate().filter(|(_, r)| **r) {
            read_once(&mut w.pipes[k], &mut self.buf);
        }
        let open = |w: &Watched| w.pipes.iter().any(Option::is_some);
        if w.exited {
            if !open(w) {
                self.notes.push_back(Note::Closed { job: w.job });
                return true;
            }
            return false;
        }
        if !end {
            return false;
        }
        let Some(status) = ended(w.pid) else {
            // A pidfd readable before the end can be seen: look again from now on as
            // without one, rather than poll it ready again and again.
            w.pidfd = None;
            return false;
        };
        w.exited = true;
        w.pidfd = None;
        drain(w, &mut self.buf);
        if open(w) {
            self.notes.push_back(Note::Exited { job: w.job, status });
            false
        } else {
            self.notes.push_back(Note::Done { job: w.job, status });
            true
        }
    }
}

/// One read of `pipe` into its capture; the pipe goes at its end, or when it fails.
fn read_once(pipe: &mut Option<Pipe>, buf: &mut [u8]) {
    let Some((file, capture)) = pipe else { return };
    match file.read(buf) {
        Ok(0) => *pipe = None,
        Ok(n) => capture
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(_) => *pipe = None,
    }
}

/// Reads what `w`'s pipes hold already, without waiting for more: after its end, so that
/// an end whose pipes close with it is told as one.
fn drain(w: &mut Watched, buf: &mut [u8]) {
    for _ in 0..DRAIN_ROUNDS {
        let mut ready = [false; 2];
        {
            let mut fds = Vec::with_capacity(2);
            let mut which = Vec::with_capacity(2);
            for (k, pipe) in w.pipes.iter().enumerate() {
                if let Some((file, _)) = pipe {
                    fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
                    which.push(k);
                }
            }
            if fds.is_empty() || !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
                return;
            }
            for (fd, &k) in fds.iter().zip(&which) {
                ready[k] = fd.revents().is_some_and(|r| !r.is_empty());
            }
        }
        for (k, _) in ready.iter().enumerate().filter(|(_, r)| **r) {
            read_once(&mut w.pipes[k], buf);
        }
    }
}

/// The exit status of process `pid` once it has ended, without reaping it; `None` while it
/// runs.
fn ended(pid: i32) -> Option<io::Result<ExitStatus>> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    loop {
        return match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::Exited(_, code)) => Some(Ok(ExitStatus::from_raw((code & 0xff) << 8))),
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                let raw = signal as i32 | if core { 0x80 } else { 0 };
                Some(Ok(ExitStatus::from_raw(raw)))
            }
            Err(Errno::EINTR) => continue,
            Err(e) => Some(Err(io::Error::from(e))),
            Ok(_) => None,
        };
    }
}

/// A descriptor that becomes readable when process `pid` ends; `None` where the system has
/// none (before Linux 5.3, or a sandbox that refuses the call): its end is then looked for.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn pidfd(pid: i32) -> Option<OwnedFd> {
    use std::os::fd::{FromRawFd, RawFd};
    // SAFETY: pidfd_open(2) takes a pid and flags, and returns a new descriptor (close-on-exec)
    // or -1; the descriptor returned is owned by nothing else.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd(_pid: i32) -> Option<OwnedFd> {
    None
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::super::{Child, Output, spawn};
    use super::*;

    fn start(watcher: &mut Watcher, job: u64, script: &str) -> Child {
        let argv = ["sh", "-c", script].map(OsString::from);
        spawn(job, &argv, &[], Output::Capture(1024), None, watcher).unwrap()
    }

    /// Every note until no process is left to watch.
    fn notes_until_done(watcher: &mut Watcher) -> Vec<Note> {
        let mut notes = Vec::new();
        while !watcher.is_empty() {
            assert!(!watcher.wait(None, None).unwrap());
            notes.extend(std::iter::from_fn(|| watcher.take()));
        }
        notes
    }

    fn code(status: &io::Result<ExitStatus>) -> Option<i32> {
        status.as_ref().unwrap().code()
    }

    /// The status of `job`'s end from its notes: `Done`, or `Exited` then `Closed` (a process
    /// whose pipes something else holds a moment longer: its own child, killed with it).
    fn ended_as(notes: &[Note], job: u64) -> &io::Result<ExitStatus> {
        match notes {
            [Note::Done { job: j, status }] if *j == job => status,
            [Note::Exited { job: j, status }, Note::Closed { job: c }]
                if *j == job && *c == job =>
            {
                status
            }
            other => panic!("{other:?}"),
        }
    }

    fn processes_are_told_of_once_each_with_their_output(mut watcher: Watcher) {
        let children = [
            start(&mut watcher, 1, "echo one; echo err >&2"),
            start(&mut watcher, 2, "exit 3"),
            start(&mut watcher, 3, "kill -9 $$"),
        ];
        let mut notes = notes_until_done(&mut watcher);
        notes.sort_by_key(|n| match n {
            Note::Done { job, .. } => *job,
            other => panic!("{other:?}"),
        });
        let statuses: Vec<_> = notes
            .iter()
            .map(|n| match n {
                Note::Done { status, .. } => status.as_ref().unwrap().into_raw(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(statuses, [0, 3 << 8, 9]);
        let text = |c: &Arc<Mutex<Capture>>| c.lock().unwrap().text();
        assert_eq!(text(&children[0].stdout), "one\n");
        assert_eq!(text(&children[0].stderr), "err\n");
        assert_eq!(text(&children[1].stdout), "");
        for child in &children {
            child.reap();
        }
    }

    #[test]
    fn processes_are_told_of_once_each_with_their_output_by_pidfds() {
        processes_are_told_of_once_each_with_their_output(Watcher::default());
    }

    #[test]
    fn processes_are_told_of_once_each_with_their_output_without_pidfds() {
        processes_are_told_of_once_each_with_their_output(Watcher {
            pidfds: false,
            ..Watcher::default()
        });
    }

    #[test]
    fn pipes_held_after_the_end_are_read_until_they_close() {
        let mut watcher = Watcher::default();
        // A grandchild holds the pipes a moment after its parent ended, and writes there.
        let child = start(&mut watcher, 7, "(sleep 1; echo late) & exit 5");
        let notes = notes_until_done(&mut watcher);
        // (Done would mean the end was seen only after the grandchild's, a second later.)
        assert!(matches!(notes[0], Note::Exited { .. }), "{notes:?}");
        assert_eq!(code(ended_as(&notes, 7)), Some(5));
        assert_eq!(child.stdout.lock().unwrap().text(), "late\n");
        child.reap();
    }

    #[test]
    fn pipes_given_up_on_are_dropped_without_a_note() {
        let mut watcher = Watcher::default();
        let child = start(&mut watcher, 8, "sleep 30 & exit 0");
        while watcher.take().is_none() {
            watcher.wait(None, None).unwrap();
        }
        assert_eq!(watcher.len(), 1);
        child.abandon();
        watcher.wait(None, Some(Instant::now())).unwrap();
        assert!(watcher.is_empty());
        assert!(watcher.take().is_none());
        super::super::kill_group(child.pgid, nix::sys::signal::Signal::SIGKILL);
        child.reap();
    }

    #[test]
    fn a_wait_ends_when_what_else_it_watches_is_readable_or_at_its_time() {
        let mut watcher = Watcher::default();
        let child = start(&mut watcher, 9, "sleep 30");
        let (reader, mut writer) = io::pipe().unwrap();
        let at = Instant::now() + Duration::from_millis(20);
        assert!(!watcher.wait(Some(reader.as_fd()), Some(at)).unwrap());
        assert!(Instant::now() >= at);
        std::io::Write::write_all(&mut writer, b"x").unwrap();
        assert!(watcher.wait(Some(reader.as_fd()), None).unwrap());
        assert!(watcher.take().is_none());
        super::super::kill_group(child.pgid, nix::sys::signal::Signal::SIGKILL);
        let notes = notes_until_done(&mut watcher);
        assert_eq!(ended_as(&notes, 9).as_ref().unwrap().signal(), Some(9));
        child.reap();
    }
}
