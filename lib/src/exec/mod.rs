//! Running one node's share: units of ids in parallel processes, with timeouts that kill
//! whole process trees, retries recorded as flaky, and a result for every id, run or not.
//!
//! A [`Share`] settles which ids the node runs, and a [`ConfigBuilder`] what the run was
//! asked for into a [`Config`] ([`config`] holds the rules: fail-fast, the capture floor,
//! the default batch size); [`scheduler::run`] does the work and reports progress to an
//! [`Observer`]; [`report`] writes the node's JUnit report from what it returns. [`journal`]
//! keeps each final result on disk while the run goes on, and [`guardian`] kills what is
//! left running if shard-exec is killed.

pub mod capture;
pub mod command;
pub mod config;
pub mod duration;
pub mod guardian;
pub mod journal;
pub mod process;
pub mod report;
pub mod results;
pub mod scheduler;
pub mod share;
pub mod units;

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::SystemTime;

pub use command::{Mode, Template};
pub use config::{Config, ConfigBuilder, MaxFail};
pub use scheduler::run;
pub use share::Share;
pub use units::{Packing, SplitPattern, Unit};

use self::process::Note;
use self::results::ChildCase;

/// The format of the per-test results a command writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// JUnit XML.
    #[default]
    Junit,
    /// `go test -json` events, which shardkit turns into test cases.
    GoTestJson,
}

/// How one attempt at an id ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Passed,
    Failed,
    Errored,
    Skipped,
    /// Never started (a stop, an interrupt, a failed setup), or stopped before it ended.
    NotRun,
}

impl Outcome {
    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "error",
            Outcome::Skipped => "skipped",
            Outcome::NotRun => "not run",
        }
    }
}

/// What a process printed.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Where and when the process of an attempt ran: what draws a run as bars on slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSpan {
    /// From 1.
    pub slot: usize,
    /// The process's number among the node's test processes, from 1 in the order they
    /// started: the ids of one batch share it.
    pub process: u64,
    pub started: SystemTime,
    pub ended: SystemTime,
}

/// One attempt at one id.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// 1 for the first run.
    pub number: u32,
    pub outcome: Outcome,
    /// Why, in one line, when it did not pass: `exit status 1`, `timed out after 2s`.
    pub message: Option<String>,
    /// Seconds: the child report's own time for the case, else the process's wall time.
    pub seconds: f64,
    /// The output of the process that ran it (shared by the ids of one batch); empty for an
    /// attempt that passed or was skipped.
    pub output: Arc<Output>,
    /// The case as the command's own report wrote it (`{junit}`).
    pub case: Option<Arc<ChildCase>>,
    /// Its process; `None` when none started (a failed setup, a command that cannot start).
    pub process: Option<ProcessSpan>,
}

/// Everything that happened to one id.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub id: String,
    /// In order; empty when it never ran.
    pub attempts: Vec<Attempt>,
    /// Why it did not run, when it did not.
    pub not_run: Option<String>,
}

impl TestResult {
    /// The outcome that counts: the last attempt's.
    pub fn outcome(&self) -> Outcome {
        self.attempts.last().map_or(Outcome::NotRun, |a| a.outcome)
    }

    /// Passed after failing first.
    pub fn flaky(&self) -> bool {
        self.outcome() == Outcome::Passed && self.attempts.len() > 1
    }
}

/// A whole run.
#[derive(Debug)]
pub struct RunResult {
    /// One per input id, in input order.
    pub results: Vec<TestResult>,
    /// Child cases that matched no id of their batch: kept, flagged.
    pub unmatched: Vec<Arc<ChildCase>>,
    pub started: SystemTime,
    pub seconds: f64,
    /// The first signal that interrupted the run.
    pub interrupted: Option<i32>,
    /// Why `--setup` failed, when it did.
    pub setup_failed: Option<String>,
    /// Why `--teardown` failed, when it did.
    pub teardown_failed: Option<String>,
}

/// What a run tells whoever watches it.
pub trait Observer {
    /// A process started for `ids`.
    fn started(&mut self, ids: &[&str], slot: usize, attempt: u32);
    /// A process ended.
    fn finished(&mut self, finished: &Finished<'_>);
    /// Something worth saying that is not a test result.
    fn warning(&mut self, message: &str);
    /// An id's result is final: no retry is pending, and it will not change.
    fn settled(&mut self, _result: &TestResult) {}
    /// A case of a command's report that named none of its batch's ids, kept.
    fn unmatched(&mut self, _case: &ChildCase) {}
}

/// A process that ended, and what it meant for its ids.
#[derive(Debug)]
pub struct Finished<'a> {
    pub slot: usize,
    pub attempt: u32,
    /// Each id with its outcome and, when it did not pass, why.
    pub ids: Vec<(&'a str, Outcome, Option<&'a str>)>,
    /// Ids that will run again.
    pub retrying: Vec<&'a str>,
    pub seconds: f64,
    /// How the process ended.
    pub status: &'a str,
    pub output: &'a Output,
}

/// Lets a signal handler stop a run: stop starting work, pass the signal on to every running
/// process group, then after the grace period SIGKILL. A second signal kills at once.
#[derive(Debug, Clone)]
pub struct Interrupter {
    notes: Sender<Note>,
    /// A byte written here wakes the scheduler's wait.
    wake: Arc<std::io::PipeWriter>,
}

impl Interrupter {
    pub fn interrupt(&self, signal: i32) {
        if self.notes.send(Note::Signal(signal)).is_ok() {
            let _ = (&*self.wake).write(&[0]);
        }
    }
}
