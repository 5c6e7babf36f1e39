//! The life of a test process: started on a slot, told of by its notes, signalled at its
//! deadlines or when the run is interrupted, watched for what it leaves holding its output,
//! and let go once it ended and its pipes closed.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::super::capture::Capture;
use super::super::process::{self, Note};
use super::super::{Observer, Output, ProcessSpan, duration};
use super::deadlines::Deadlines;
use super::fixture::Fixture;
use super::wording::{shown_ids, signal_name};
use super::work::Work;
use super::{State, Stop};

/// Which process a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobId {
    /// A test process, numbered from 1 in the order they start.
    Test(u64),
    /// The `--setup` or `--teardown` command.
    Fixture(Fixture),
}

impl JobId {
    /// The number the process's notes carry: tests count up from 1; the fixtures take the
    /// two highest numbers, which no test reaches.
    pub(super) fn tag(self) -> u64 {
        match self {
            JobId::Test(number) => number,
            JobId::Fixture(Fixture::Setup) => u64::MAX,
            JobId::Fixture(Fixture::Teardown) => u64::MAX - 1,
        }
    }
}

/// A process being watched.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) id: JobId,
    pub(super) work: Work,
    pub(super) slot: usize,
    pub(super) child: process::Child,
    pub(super) started: Instant,
    /// When it started, by the clock on the wall.
    pub(super) wall_started: SystemTime,
    pub(super) deadlines: Deadlines,
    pub(super) timed_out: bool,
    pub(super) interrupted: bool,
    pub(super) status: Option<io::Result<ExitStatus>>,
    pub(super) exited_at: Option<Instant>,
    pub(super) pipes_open: bool,
    pub(super) leaked: bool,
    /// Where its command writes its report, when it writes one.
    pub(super) junit: Option<PathBuf>,
}

impl Job {
    /// A process just started at `now` for `work` on `slot`.
    pub(super) fn new(
        id: JobId,
        work: Work,
        slot: usize,
        child: process::Child,
        junit: Option<PathBuf>,
        timeout: Option<Duration>,
    ) -> Self {
        let now = Instant::now();
        Job {
            id,
            work,
            slot,
            child,
            started: now,
            wall_started: SystemTime::now(),
            deadlines: Deadlines::new(now, timeout),
            timed_out: false,
            interrupted: false,
            status: None,
            exited_at: None,
            pipes_open: true,
            leaked: false,
            junit,
        }
    }

    /// Where and when it ran, had it ended at `ended`; `None` for a fixture's process.
    pub(super) fn span(&self, ended: SystemTime) -> Option<ProcessSpan> {
        match self.id {
            JobId::Test(process) => Some(ProcessSpan {
                slot: self.slot + 1,
                process,
                started: self.wall_started,
                ended: ended.max(self.wall_started),
            }),
            JobId::Fixture(_) => None,
        }
    }

    /// Started just as a signal came: it is stopped at once too.
    pub(super) fn stop_at_once(&mut self) {
        self.interrupted = true;
        self.deadlines.term_now(self.started);
    }

    /// The first of its deadlines, the time its pipes may stay open after it ended included.
    pub(super) fn wake(&self, leak_timeout: Duration) -> Option<Instant> {
        let leak = self
            .exited_at
            .filter(|_| self.pipes_open)
            .map(|t| t + leak_timeout);
        [self.deadlines.next(), leak].into_iter().flatten().min()
    }

    /// Takes in a note about this process (`Done`, `Exited` or `Closed`).
    pub(super) fn note(&mut self, note: Note) {
        match note {
            Note::Done { status, .. } => {
                self.status = Some(status);
                self.exited_at = Some(Instant::now());
                self.pipes_open = false;
            }
            Note::Exited { status, .. } => {
                self.status = Some(status);
                self.exited_at = Some(Instant::now());
            }
            Note::Closed { .. } => self.pipes_open = false,
            Note::Signal(_) => {}
        }
    }

    /// It ended and its pipes closed, or were given up on.
    pub(super) fn over(&self) -> bool {
        self.status.is_some() && (!self.pipes_open || self.leaked)
    }

    /// Lets the process go: whatever of its group outlived a stop goes, pipes held by
    /// something that left the group are no longer read, and the process is reaped. No
    /// signal goes to its group after this.
    pub(super) fn release(&self) {
        if self.timed_out || self.interrupted {
            // Whatever of its group outlived the signal (a grandchild that ignores SIGTERM)
            // goes now: nothing of a stopped test survives it.
            process::kill_group(self.child.pgid, Signal::SIGKILL);
        }
        if self.leaked {
            // What holds the pipes may have left the group: stop reading them.
            self.child.abandon();
        }
        // No signal goes to this group after this: its id may be freed.
        self.child.reap();
    }

    /// What it printed, as captured.
    pub(super) fn output(&self) -> Output {
        let take =
            |c: &std::sync::Mutex<Capture>| c.lock().unwrap_or_else(|p| p.into_inner()).text();
        Output {
            stdout: take(&self.child.stdout),
            stderr: take(&self.child.stderr),
        }
    }
}

impl State<'_> {
    /// A signal reached the run: the first stops starting work and passes it on to every
    /// running process, SIGKILL following after the grace period; the next kills at once.
    pub(super) fn on_signal(&mut self, sig: i32, running: &mut [Job], observer: &mut dyn Observer) {
        let now = Instant::now();
        let name = signal_name(sig);
        if matches!(self.stop, Some(Stop::Signal(_))) {
            if !self.second_signal {
                observer.warning(&format!("{name} again: killing every test process now"));
            }
            self.second_signal = true;
            for job in running.iter_mut() {
                process::kill_group(job.child.pgid, Signal::SIGKILL);
                job.deadlines.clear();
            }
            return;
        }
        observer.warning(&format!(
            "{name}: starting no more tests; passing it on to {} running process{} (SIGKILL after {}; again to kill now)",
            running.len(),
            if running.len() == 1 { "" } else { "es" },
            duration::display(self.config.grace),
        ));
        self.stop = Some(Stop::Signal(sig));
        let signal = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
        for job in running.iter_mut() {
            // A process that ended already keeps its result; what it left holding its output
            // gets the signal too, and the grace period.
            if job.status.is_none() {
                job.interrupted = true;
            }
            process::kill_group(job.child.pgid, signal);
            job.deadlines.stop_after(now, self.config.grace);
        }
    }

    /// Sends `job` the signals its deadlines say are due at `now`, and kills its group when
    /// something it left behind holds its output too long after it ended.
    pub(super) fn check_deadlines(&self, job: &mut Job, now: Instant, observer: &mut dyn Observer) {
        let due = job
            .deadlines
            .due(now, job.status.is_none(), self.config.grace);
        if due.term {
            if !job.interrupted {
                job.timed_out = true;
            }
            process::kill_group(job.child.pgid, Signal::SIGTERM);
        }
        if due.kill {
            process::kill_group(job.child.pgid, Signal::SIGKILL);
        }
        if let Some(exited) = job.exited_at
            && job.pipes_open
            && !job.leaked
            && exited + self.config.leak_timeout <= now
        {
            job.leaked = true;
            let ids: Vec<&str> = job.work.ids.iter().map(|&i| self.ids[i].as_str()).collect();
            observer.warning(&format!(
                "{}: the process ended but something it started still holds its output {} later; killed its process group",
                shown_ids(&ids),
                duration::display(self.config.leak_timeout),
            ));
            process::kill_group(job.child.pgid, Signal::SIGKILL);
        }
    }
}
