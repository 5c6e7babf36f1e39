//! The guardian: a small process that outlives shard-exec only to kill what it left running.
//!
//! Each test runs in a process group of its own, so a shard-exec killed hard (SIGKILL) would
//! leave every running test and whatever they started behind. The direct children die with
//! shard-exec by their parent-death signal (see [`super::process`]); their own children do
//! not. So shard-exec starts one guardian (itself again, in a hidden mode that calls [`main`];
//! an exec, never a bare fork of the threaded process), in a process group of its own, its
//! stdin a pipe. Each test process group is registered on that pipe when it starts (`+PGID`)
//! and unregistered (`-PGID`) before shard-exec reaps its leader, so that a number the system
//! may hand out again is never in the registry. When the pipe reaches its end, because
//! shard-exec closed it at the end of the run or because shard-exec died (however), the
//! guardian sends SIGKILL to every group still registered, removes the run's scratch
//! directories named on its command line (the batches' reports, a preset's files: what a run
//! killed hard would leave behind in the temporary directory), and exits.
//!
//! The guardian reads its pipe at most every [`PAUSE`]: a write to a pipe wakes a reader
//! waiting on it, and a run of quick tests would wake the guardian twice a test, on a machine
//! whose cores the tests keep busy. What is written meanwhile waits in the pipe, in order, so
//! nothing is lost: a group unregistered before shard-exec died is never killed. The end of
//! the pipe cuts a pause short (the pipe's hang-up wakes the paused guardian, where its data
//! does not), so shard-exec, which waits for the guardian at the end of a run, does not wait
//! a pause for it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};

use super::process::kill_group;
use super::{Config, Observer};

/// How long the guardian lets its pipe fill before it reads again.
pub const PAUSE: Duration = Duration::from_millis(50);

/// What a scratch directory's name starts with: the guardian removes no other.
pub const SCRATCH_PREFIX: &str = "shard-exec-";

/// The guardian's whole life: signals that stop a run (SIGINT, SIGTERM, SIGHUP) blocked, so
/// that only the end of `input` ends it; then [`serve`], reading `input` at most every
/// [`PAUSE`]; then the run's `scratch` directories removed (see [`remove_scratch`]). Call it
/// only in the guardian's own process (the blocked signals stay blocked in the caller).
pub fn main(input: impl Read + AsFd, scratch: &[PathBuf]) -> io::Result<()> {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(signal);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)?;
    let served = serve(BufReader::with_capacity(64 * 1024, Paced(input, PAUSE)));
    for dir in scratch {
        remove_scratch(dir);
    }
    served.map(drop)
}

/// Removes the scratch directory `dir` with what it holds, once shard-exec is done with it
/// (it ended, or died). Only a directory named as shard-exec names its scratch directories
/// ([`SCRATCH_PREFIX`]) is touched; one already gone (shard-exec removed it) is no error.
pub fn remove_scratch(dir: &Path) -> bool {
    let ours = dir
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(SCRATCH_PREFIX));
    ours && std::fs::remove_dir_all(dir).is_ok()
}

/// A reader of a pipe that pauses after each read that brought something, so that what is
/// written meanwhile comes in one read, without waking the reader for each write; the pause
/// ends early when the pipe's last writer closes it.
struct Paced<R>(R, Duration);

impl<R: Read + AsFd> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        if n > 0 {
            pause(self.0.as_fd(), self.1);
        }
        Ok(n)
    }
}

/// Waits `pause`, or until every writer of the pipe `fd` has closed it: poll(2) asked for no
/// event at all still reports a hang-up, and data alone does not wake it.
fn pause(fd: BorrowedFd<'_>, pause: Duration) {
    let timeout = PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX);
    // An interrupted or failed poll only shortens the pause.
    let _ = poll(&mut [PollFd::new(fd, PollFlags::empty())], timeout);
}

/// Reads `+PGID` and `-PGID` lines until the end of `input`, then sends SIGKILL to every
/// group registered and not unregistered. Returns the groups it killed, in order.
pub fn serve(input: impl BufRead) -> io::Result<Vec<i32>> {
    let mut groups = BTreeSet::new();
    for line in input.lines() {
        let line = match line {
            Ok(line) => line,
            // A read that fails ends the watch as its end would: the kill is what matters.
            Err(_) => break,
        };
        let (sign, number) = line.split_at(line.len().min(1));
        match (sign, number.parse::<i32>()) {
            ("+", Ok(pgid)) if pgid > 1 => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for &pgid in &groups {
        kill_group(pgid, Signal::SIGKILL);
    }
    Ok(groups.into_iter().collect())
}

/// The write end of a guardian's pipe, shared by the processes it watches.
#[derive(Debug)]
pub struct Link {
    pipe: Mutex<Option<ChildStdin>>,
}

impl Link {
    /// From now on, a death of this process kills group `pgid`.
    pub fn register(&self, pgid: i32) {
        self.send(&format!("+{pgid}\n"));
    }

    /// Group `pgid` is no longer watched: call it before its leader is reaped.
    pub fn unregister(&self, pgid: i32) {
        self.send(&format!("-{pgid}\n"));
    }

    /// One write of a few bytes: a pipe takes it whole.
    fn send(&self, line: &str) {
        let mut pipe = self.pipe.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pipe.as_mut()
            && p.write_all(line.as_bytes()).is_err()
        {
            // The guardian is gone: nothing more to tell it.
            *pipe = None;
        }
    }

    fn close(&self) {
        self.pipe.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A running guardian.
#[derive(Debug)]
pub struct Guardian {
    child: Option<Child>,
    link: Arc<Link>,
}

impl Guardian {
    /// Starts the guardian `argv` (a program that calls [`main`] on its stdin) in a process
    /// group of its own, with nothing of the run's output: it holds no pipe anyone waits on.
    pub fn start(argv: &[OsString]) -> io::Result<Self> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no guardian command"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        let pipe = child.stdin.take();
        Ok(Guardian {
            child: Some(child),
            link: Arc::new(Link {
                pipe: Mutex::new(pipe),
            }),
        })
    }

    /// The run's guardian, when `config` names one, told to remove the config's scratch
    /// directories and the run's own (`scratch`) at its end; a warning when it cannot start.
    pub fn start_for(
        config: &Config,
        scratch: Option<&Path>,
        observer: &mut dyn Observer,
    ) -> Option<Self> {
        let mut argv = config.guardian.clone()?;
        let dirs = config.scratch.iter().map(PathBuf::as_path).chain(scratch);
        argv.extend(dirs.map(|dir| dir.as_os_str().to_owned()));
        Guardian::start(&argv)
            .map_err(|e| {
                observer.warning(&format!(
                    "cannot start the guardian of the test processes ({e}): if shard-exec is killed, what the tests started may go on running"
                ));
            })
            .ok()
    }

    /// [`finish`](Guardian::finish), with a warning when the guardian did not end well.
    pub fn finish_for(guardian: Option<Self>, observer: &mut dyn Observer) {
        if let Some(Err(e)) = guardian.map(Guardian::finish) {
            observer.warning(&e.to_string());
        }
    }

    pub fn link(&self) -> Arc<Link> {
        Arc::clone(&self.link)
    }

    /// Closes the pipe and waits for the guardian to end: after every group is unregistered,
    /// it kills nothing. An error when it did not end well (it was killed: the run went
    /// unguarded for a while).
    pub fn finish(mut self) -> io::Result<()> {
        self.end()
    }

    fn end(&mut self) -> io::Result<()> {
        self.link.close();
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the guardian of the test processes ended with {}",
                super::process::describe(&status)
            )))
        }
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::process::Command;

    /// A `sleep` in a process group of its own.
    fn sleeper() -> Child {
        let mut command = Command::new("sleep");
        command.arg("300");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.spawn().unwrap()
    }

    /// A reader that says the size of each read it gives.
    struct Told<R>(R, std::sync::mpsc::Sender<usize>);

    impl<R: Read> Read for Told<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            let _ = self.1.send(n);
            Ok(n)
        }
    }

    impl<R: AsFd> AsFd for Told<R> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.as_fd()
        }
    }

    #[test]
    fn what_is_written_while_the_guardian_pauses_comes_in_one_read() {
        let (reader, mut writer) = io::pipe().unwrap();
        let (told, reads) = std::sync::mpsc::channel();
        // A long pause, so that the ten writes below surely fall within it.
        let paced = Paced(Told(reader, told), Duration::from_secs(2));
        let serving = std::thread::spawn(move || serve(BufReader::new(paced)));
        writer.write_all(b"-7\n").unwrap();
        assert_eq!(reads.recv().unwrap(), 3);
        for _ in 0..10 {
            writer.write_all(b"-7\n").unwrap();
        }
        drop(writer);
        assert_eq!(reads.recv().unwrap(), 30);
        assert_eq!(reads.recv().unwrap(), 0);
        assert_eq!(serving.join().unwrap().unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn the_end_of_its_input_cuts_a_pause_short() {
        let (reader, mut writer) = io::pipe().unwrap();
        let (told, reads) = std::sync::mpsc::channel();
        // A pause far longer than the wait below: only the end of the pipe can end it in time.
        let paced = Paced(Told(reader, told), Duration::from_secs(3600));
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(serve(BufReader::new(paced)).unwrap()));
        writer.write_all(b"+7\n-7\n").unwrap();
        assert_eq!(reads.recv().unwrap(), 6);
        drop(writer);
        let served = ended.recv_timeout(Duration::from_secs(60));
        assert_eq!(
            served,
            Ok(Vec::<i32>::new()),
            "the pause outlasted the pipe's end"
        );
    }

    #[test]
    fn at_the_end_of_its_input_it_kills_the_groups_still_registered() {
        let mut killed = sleeper();
        let mut left = sleeper();
        let (k, l) = (killed.id() as i32, left.id() as i32);
        let input = format!("+{k}\n+{l}\n-{l}\nnonsense\n+1\n");
        let groups = serve(input.as_bytes()).unwrap();
        assert_eq!(groups, vec![k]);
        let status = killed.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // The unregistered one still runs.
        assert!(left.try_wait().unwrap().is_none());
        left.kill().unwrap();
        left.wait().unwrap();
    }

    #[test]
    fn it_removes_only_scratch_directories() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join(format!("{SCRATCH_PREFIX}a1b2"));
        fs::create_dir_all(scratch.join("inner")).unwrap();
        fs::write(scratch.join("inner/batch-1.xml"), "<testsuite").unwrap();
        let other = dir.path().join("keep");
        fs::create_dir(&other).unwrap();
        assert!(remove_scratch(&scratch));
        assert!(!scratch.exists());
        assert!(!remove_scratch(&other), "not a scratch directory");
        assert!(other.exists());
        assert!(!remove_scratch(&scratch), "already gone");
    }

    #[test]
    fn a_guardian_that_cannot_start_says_so() {
        let err = Guardian::start(&["/no/such/guardian".into()]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
