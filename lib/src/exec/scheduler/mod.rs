//! The run: units started on free slots, watched until they end, their ids given results,
//! failures retried, and every id accounted for however the run ends.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Instant, SystemTime};

use nix::sys::signal::Signal;

use super::command::Fill;
use super::duration;
use super::guardian::{Guardian, Link};
use super::process::{self, Note};
use super::results::{self, ChildCase};
use super::units::{self, Unit};
use super::{
    Attempt, Config, Finished, Interrupter, Observer, Outcome, Output, RunResult, TestResult,
};

/// Where a run's notes arrive: made before the run so that a signal handler can hold the
/// [`Interrupter`] from the start.
#[derive(Debug)]
pub struct Inbox {
    sender: Sender<Note>,
    receiver: Receiver<Note>,
}

/// A new inbox and the interrupter that writes to it.
pub fn inbox() -> (Inbox, Interrupter) {
    let (sender, receiver) = mpsc::channel();
    (
        Inbox {
            sender: sender.clone(),
            receiver,
        },
        Interrupter(sender),
    )
}

/// Work waiting for a slot.
#[derive(Debug)]
struct Work {
    ids: Vec<usize>,
    attempt: u32,
    /// The slot a retry keeps.
    slot: Option<usize>,
    /// How far a crashed batch's ids without results have been narrowed down.
    isolation: Isolation,
}

/// Finding the test that crashed (or hung) a batch, when its report does not say: the ids
/// without a result run again together once; if that crashes too, each alone. A process of
/// one id that crashes blames that id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// A batch as packed.
    Batch,
    /// The ids without a result of a batch that crashed, run again together.
    Again,
    /// One id of a batch that crashed twice.
    Alone,
}

/// A process being watched.
#[derive(Debug)]
struct Job {
    id: u64,
    work: Work,
    slot: usize,
    child: process::Child,
    started: Instant,
    /// When SIGTERM goes to its group (its timeout).
    term_at: Option<Instant>,
    /// When SIGKILL goes to its group.
    kill_at: Option<Instant>,
    timed_out: bool,
    interrupted: bool,
    status: Option<io::Result<ExitStatus>>,
    exited_at: Option<Instant>,
    pipes_open: bool,
    leaked: bool,
    junit: Option<PathBuf>,
}

/// The job numbers of the fixtures (tests count from 1).
const SETUP_JOB: u64 = u64::MAX;
const TEARDOWN_JOB: u64 = u64::MAX - 1;

/// Why no new work starts.
#[derive(Debug, Clone)]
enum Stop {
    MaxFail(usize),
    Signal(i32),
}

/// Runs `ids` (this node's, in order) as `config` says, telling `observer` as it goes.
/// Every id comes back with a result: passed, failed, errored, skipped or not run.
/// No ids (a node with nothing to do) run nothing: no process, not even `--setup`.
///
/// Call it from a thread that lives as long as the run (the main thread): the processes it
/// starts die when that thread ends (see [`process`]).
pub fn run(
    config: &Config,
    ids: &[String],
    inbox: Inbox,
    observer: &mut dyn Observer,
) -> io::Result<RunResult> {
    let started_at = SystemTime::now();
    if ids.is_empty() {
        return Ok(RunResult {
            results: Vec::new(),
            unmatched: Vec::new(),
            started: started_at,
            seconds: 0.0,
            interrupted: None,
            setup_failed: None,
            teardown_failed: None,
        });
    }
    let clock = Instant::now();
    let mut state = State {
        config,
        ids,
        results: ids
            .iter()
            .map(|id| TestResult {
                id: id.clone(),
                attempts: Vec::new(),
                not_run: None,
            })
            .collect(),
        unmatched: Vec::new(),
        stop: None,
        failed: 0,
        second_signal: false,
        junit_dir: None,
        guard: None,
    };
    let guardian = Guardian::start_for(config, observer);
    state.guard = guardian.as_ref().map(Guardian::link);
    if config.template.uses_junit() {
        state.junit_dir = Some(tempfile::Builder::new().prefix("shard-exec-").tempdir()?);
    }

    let setup_failed = match &config.setup {
        Some(setup) => state
            .fixture("--setup", SETUP_JOB, setup, &inbox, observer)
            .err(),
        None => None,
    };
    let interrupted = matches!(state.stop, Some(Stop::Signal(_)));
    if let Some(why) = setup_failed.as_ref().filter(|_| !interrupted) {
        for result in &mut state.results {
            result.attempts.push(Attempt {
                number: 1,
                outcome: Outcome::Errored,
                message: Some(format!("--setup failed: {why}")),
                seconds: 0.0,
                output: Arc::new(Output::default()),
                case: None,
            });
        }
    } else if state.stop.is_none() {
        let units = units::pack(ids, &config.packing);
        state.drive(units, &inbox, observer)?;
    }
    let reason = match &state.stop {
        Some(Stop::Signal(sig)) => format!("interrupted by {}", signal_name(*sig)),
        Some(Stop::MaxFail(n)) => format!(
            "the run stopped after {n} failed test{}",
            if *n == 1 { "" } else { "s" }
        ),
        None => "the run ended before it started".to_string(),
    };
    for result in &mut state.results {
        if result.attempts.is_empty() && result.not_run.is_none() {
            result.not_run = Some(reason.clone());
        }
    }
    let teardown_failed = match &config.teardown {
        Some(teardown) => state
            .fixture("--teardown", TEARDOWN_JOB, teardown, &inbox, observer)
            .err(),
        None => None,
    };
    state.guard = None;
    Guardian::finish_for(guardian, observer);
    Ok(RunResult {
        results: state.results,
        unmatched: state.unmatched,
        started: started_at,
        seconds: clock.elapsed().as_secs_f64(),
        interrupted: match state.stop {
            Some(Stop::Signal(sig)) => Some(sig),
            _ => None,
        },
        setup_failed,
        teardown_failed,
    })
}

struct State<'a> {
    config: &'a Config,
    ids: &'a [String],
    results: Vec<TestResult>,
    unmatched: Vec<Arc<ChildCase>>,
    stop: Option<Stop>,
    /// Ids that failed for good.
    failed: usize,
    second_signal: bool,
    junit_dir: Option<tempfile::TempDir>,
    /// The guardian's pipe, when there is one: every process's group is registered there.
    guard: Option<Arc<Link>>,
}

impl State<'_> {
    /// Runs a `--setup` or `--teardown` command to its end, in its own process group, its
    /// output passed through to stderr as it comes (a server it starts may go on writing
    /// there). `--timeout` applies; a signal stops it as it stops tests (and stops the run);
    /// one that comes while a stop is under way kills it at once. Whatever it leaves running
    /// (a server for the tests) is left alone. Errors say how it ended.
    fn fixture(
        &mut self,
        what: &str,
        job: u64,
        argv: &[String],
        inbox: &Inbox,
        observer: &mut dyn Observer,
    ) -> Result<(), String> {
        let config = self.config;
        let shown = argv.join(" ");
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let env = [
            ("SHARD_NODE", config.node.to_string()),
            ("SHARD_NODES", config.nodes.to_string()),
        ];
        let child = process::spawn(
            job,
            &argv,
            &env,
            process::Output::Stderr,
            &inbox.sender,
            self.guard.as_ref(),
        )
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
        let started = Instant::now();
        let mut term_at = config.timeout.map(|t| started + t);
        let mut kill_at = None;
        let mut timed_out = false;
        let mut status = None;
        if matches!(self.stop, Some(Stop::Signal(_))) {
            // The run was interrupted: the teardown runs, but a signal now kills it.
            self.second_signal = true;
        }
        while status.is_none() {
            let now = Instant::now();
            let wake = [term_at, kill_at].into_iter().flatten().min();
            let note = match wake {
                Some(at) if at <= now => None,
                Some(at) => inbox.receiver.recv_timeout(at - now).ok(),
                None => inbox.receiver.recv().ok(),
            };
            match note {
                Some(Note::Done { job: j, status: s } | Note::Exited { job: j, status: s })
                    if j == job =>
                {
                    status = Some(s);
                }
                Some(Note::Signal(sig)) => {
                    if self.second_signal || matches!(self.stop, Some(Stop::Signal(_))) {
                        process::kill_group(child.pgid, Signal::SIGKILL);
                    } else {
                        observer.warning(&format!(
                            "{}: stopping {what} and the run (SIGKILL after {}; again to kill now)",
                            signal_name(sig),
                            duration::display(config.grace)
                        ));
                        self.stop = Some(Stop::Signal(sig));
                        let signal = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
                        process::kill_group(child.pgid, signal);
                        kill_at = Some(Instant::now() + config.grace);
                    }
                    self.second_signal = true;
                }
                _ => {}
            }
            let now = Instant::now();
            if status.is_none() && term_at.is_some_and(|t| t <= now) {
                term_at = None;
                timed_out = true;
                process::kill_group(child.pgid, Signal::SIGTERM);
                kill_at = Some(now + config.grace);
            }
            if status.is_none() && kill_at.is_some_and(|t| t <= now) {
                kill_at = None;
                process::kill_group(child.pgid, Signal::SIGKILL);
            }
        }
        let ended = match &status {
            Some(Ok(s)) if s.success() && !timed_out => {
                child.reap();
                return Ok(());
            }
            Some(Ok(s)) => process::describe(s),
            Some(Err(e)) => format!("could not be awaited: {e}"),
            None => "ended in an unknown way".to_string(),
        };
        if timed_out || self.stop.is_some() {
            // What is left of a fixture that was stopped goes too.
            process::kill_group(child.pgid, Signal::SIGKILL);
        }
        child.reap();
        Err(match (timed_out, config.timeout) {
            (true, Some(t)) => format!(
                "`{shown}`: timed out after {} ({ended})",
                duration::display(t)
            ),
            _ => format!("`{shown}`: {ended}"),
        })
    }

    fn drive(
        &mut self,
        units: Vec<Unit>,
        inbox: &Inbox,
        observer: &mut dyn Observer,
    ) -> io::Result<()> {
        let jobs = self.config.jobs.max(1);
        let mut queue: VecDeque<Work> = units
            .into_iter()
            .map(|u| Work {
                ids: u.ids,
                attempt: 1,
                slot: None,
                isolation: Isolation::Batch,
            })
            .collect();
        let mut slots = vec![false; jobs];
        let mut running: Vec<Job> = Vec::new();
        let mut next_job = 0u64;
        loop {
            while self.stop.is_none() && running.len() < jobs {
                let Some(work) = queue.pop_front() else { break };
                let slot = match work.slot {
                    Some(s) if !slots[s] => s,
                    // A free slot that no waiting retry keeps, if there is one.
                    _ => {
                        let kept: Vec<usize> = queue.iter().filter_map(|w| w.slot).collect();
                        (0..jobs)
                            .find(|&s| !slots[s] && !kept.contains(&s))
                            .or_else(|| slots.iter().position(|busy| !busy))
                            .unwrap_or(0)
                    }
                };
                next_job += 1;
                match self.start(next_job, work, slot, &inbox.sender, observer) {
                    Ok(job) => {
                        slots[slot] = true;
                        running.push(job);
                    }
                    Err((work, why)) => {
                        // It cannot even start: every id errors, with no retry.
                        let output = Output::default();
                        self.settle(
                            &work,
                            slot,
                            0.0,
                            &why,
                            &output,
                            |_| (Outcome::Errored, Some(why.clone()), None),
                            &mut queue,
                            true,
                            observer,
                        );
                    }
                }
            }
            if running.is_empty() && (queue.is_empty() || self.stop.is_some()) {
                return Ok(());
            }
            let now = Instant::now();
            let wake = running
                .iter()
                .flat_map(|j| {
                    [
                        j.term_at,
                        j.kill_at,
                        j.exited_at
                            .filter(|_| j.pipes_open)
                            .map(|t| t + self.config.leak_timeout),
                    ]
                })
                .flatten()
                .min();
            let note = match wake {
                Some(at) if at <= now => None,
                Some(at) => match inbox.receiver.recv_timeout(at - now) {
                    Ok(note) => Some(note),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => unreachable_channel()?,
                },
                None => match inbox.receiver.recv() {
                    Ok(note) => Some(note),
                    Err(_) => unreachable_channel()?,
                },
            };
            match note {
                Some(Note::Done { job, status }) => {
                    if let Some(j) = running.iter_mut().find(|j| j.id == job) {
                        j.status = Some(status);
                        j.exited_at = Some(Instant::now());
                        j.pipes_open = false;
                    }
                }
                Some(Note::Exited { job, status }) => {
                    if let Some(j) = running.iter_mut().find(|j| j.id == job) {
                        j.status = Some(status);
                        j.exited_at = Some(Instant::now());
                    }
                }
                Some(Note::Closed { job }) => {
                    if let Some(j) = running.iter_mut().find(|j| j.id == job) {
                        j.pipes_open = false;
                    }
                }
                Some(Note::Signal(sig)) => self.on_signal(sig, &mut running, observer),
                None => {}
            }
            let now = Instant::now();
            for job in &mut running {
                self.check_deadlines(job, now, observer);
            }
            let mut i = 0;
            while i < running.len() {
                let job = &running[i];
                if job.status.is_some() && (!job.pipes_open || job.leaked) {
                    let job = running.swap_remove(i);
                    slots[job.slot] = false;
                    self.finish(job, &mut queue, observer);
                } else {
                    i += 1;
                }
            }
        }
    }

    fn start(
        &mut self,
        job_id: u64,
        work: Work,
        slot: usize,
        sender: &Sender<Note>,
        observer: &mut dyn Observer,
    ) -> Result<Job, (Work, String)> {
        let config = self.config;
        let ids: Vec<&str> = work.ids.iter().map(|&i| self.ids[i].as_str()).collect();
        let junit = match &config.junit_at {
            Some(pattern) => {
                // One process a slot at a time writes there: clear what the last one left.
                let path = PathBuf::from(pattern.replace("{slot}", &(slot + 1).to_string()));
                let _ = std::fs::remove_file(&path);
                Some(path)
            }
            None => self
                .junit_dir
                .as_ref()
                .map(|dir| dir.path().join(format!("job-{job_id}.xml"))),
        };
        let argv: Vec<OsString> = config.template.expand(&Fill {
            ids: &ids,
            junit: junit.as_deref(),
            slot: slot + 1,
            node: config.node,
        });
        let env = [
            ("SHARD_SLOT", (slot + 1).to_string()),
            ("SHARD_ATTEMPT", work.attempt.to_string()),
            ("SHARD_NODE", config.node.to_string()),
            ("SHARD_NODES", config.nodes.to_string()),
        ];
        let output = process::Output::Capture(config.capture_limit);
        let child = match process::spawn(job_id, &argv, &env, output, sender, self.guard.as_ref()) {
            Ok(child) => child,
            Err(e) => {
                let why = format!("cannot start `{}`: {e}", argv[0].to_string_lossy());
                return Err((work, why));
            }
        };
        observer.started(&ids, slot + 1, work.attempt);
        let now = Instant::now();
        let mut job = Job {
            id: job_id,
            work,
            slot,
            child,
            started: now,
            term_at: config.timeout.map(|t| now + t),
            kill_at: None,
            timed_out: false,
            interrupted: false,
            status: None,
            exited_at: None,
            pipes_open: true,
            leaked: false,
            junit,
        };
        if let Some(Stop::Signal(_)) = self.stop {
            // Started just as a signal came: it is stopped at once too.
            job.interrupted = true;
            job.term_at = Some(now);
        }
        Ok(job)
    }

    fn on_signal(&mut self, sig: i32, running: &mut [Job], observer: &mut dyn Observer) {
        let now = Instant::now();
        let name = signal_name(sig);
        if matches!(self.stop, Some(Stop::Signal(_))) {
            if !self.second_signal {
                observer.warning(&format!("{name} again: killing every test process now"));
            }
            self.second_signal = true;
            for job in running.iter_mut() {
                process::kill_group(job.child.pgid, Signal::SIGKILL);
                job.kill_at = None;
                job.term_at = None;
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
            job.term_at = None;
            job.kill_at = Some(now + self.config.grace);
        }
    }

    fn check_deadlines(&self, job: &mut Job, now: Instant, observer: &mut dyn Observer) {
        if job.term_at.is_some_and(|t| t <= now) {
            job.term_at = None;
            if job.status.is_none() {
                if !job.interrupted {
                    job.timed_out = true;
                }
                process::kill_group(job.child.pgid, Signal::SIGTERM);
                job.kill_at = Some(now + self.config.grace);
            }
        }
        if job.kill_at.is_some_and(|t| t <= now) {
            job.kill_at = None;
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

    /// A process ended and its pipes closed (or were given up on): its ids get results.
    fn finish(&mut self, job: Job, queue: &mut VecDeque<Work>, observer: &mut dyn Observer) {
        if job.timed_out || job.interrupted {
            // Whatever of its group outlived the signal (a grandchild that ignores SIGTERM)
            // goes now: nothing of a stopped test survives it.
            process::kill_group(job.child.pgid, Signal::SIGKILL);
        }
        if job.leaked {
            // What holds the pipes may have left the group: stop reading them.
            job.child.abandon();
        }
        // No signal goes to this group after this: its id may be freed.
        job.child.reap();
        let seconds = job.started.elapsed().as_secs_f64();
        let take = |c: &std::sync::Mutex<super::capture::Capture>| {
            c.lock().unwrap_or_else(|p| p.into_inner()).text()
        };
        let mut output = Output {
            stdout: take(&job.child.stdout),
            stderr: take(&job.child.stderr),
        };
        let exit = match job.status.as_ref() {
            Some(Ok(status)) => process::describe(status),
            Some(Err(e)) => format!("could not be awaited: {e}"),
            None => "still running".to_string(),
        };
        let success = matches!(job.status, Some(Ok(s)) if s.success());
        let crashed = matches!(job.status, Some(Ok(s)) if s.code().is_none());
        // The runner's "nothing ran" status (pytest's 5, every id deselected): skipped, not lost.
        let nothing_ran = self.config.nothing_ran_status.is_some()
            && matches!(job.status, Some(Ok(s)) if s.code() == self.config.nothing_ran_status);
        let mut status = exit.clone();
        if job.leaked {
            status.push_str("; a process it left behind kept its output open and was killed");
            output
                .stderr
                .push_str("\n[shard-exec: a process left behind kept this output open; its group was killed]\n");
        }
        let timeout_message = self
            .config
            .timeout
            .map(|t| format!("timed out after {} ({exit})", duration::display(t)));

        // Without {junit}, the process's end is every id's result.
        let Some(path) = job.junit.clone() else {
            let (outcome, message) = if job.timed_out {
                (Outcome::Errored, timeout_message)
            } else if job.interrupted && !success {
                (
                    Outcome::NotRun,
                    Some(format!("interrupted while running ({exit})")),
                )
            } else if success {
                (Outcome::Passed, None)
            } else if crashed {
                (Outcome::Errored, Some(exit.clone()))
            } else {
                (Outcome::Failed, Some(exit.clone()))
            };
            self.settle(
                &job.work,
                job.slot,
                seconds,
                &status,
                &output,
                |_| (outcome, message.clone(), None),
                queue,
                false,
                observer,
            );
            return;
        };

        let ids: Vec<&str> = job.work.ids.iter().map(|&i| self.ids[i].as_str()).collect();
        let (batch, report_error) = match self.config.report {
            super::ReportFormat::Junit => results::read(&path, &ids),
            super::ReportFormat::GoTestJson => results::read_go_json(&path, &ids),
        };
        let _ = std::fs::remove_file(&path);
        let abnormal = job.timed_out || crashed || job.interrupted;
        let why_missing = {
            let mut why = format!("no result reported ({exit}");
            if let Some(e) = &report_error {
                why.push_str("; ");
                why.push_str(e);
            }
            why.push(')');
            why
        };
        let missing: Vec<usize> = (0..ids.len())
            .filter(|&k| batch.cases[k].is_none())
            .collect();
        // Which test was running when the process died: the only one without a result, if
        // there is one; otherwise it is found by running the others again (see Isolation).
        let blamed = match missing.as_slice() {
            [only] if abnormal => Some(*only),
            _ => None,
        };
        let mut rerun: Vec<usize> = Vec::new();
        let mut decided: Vec<(Outcome, Option<String>, Option<Arc<ChildCase>>)> =
            Vec::with_capacity(ids.len());
        for (k, case) in batch.cases.iter().enumerate() {
            let decision = if let Some(case) = case {
                (case.outcome, case_message(case), Some(Arc::clone(case)))
            } else if job.interrupted {
                (
                    Outcome::NotRun,
                    Some(format!("interrupted before it reported a result ({exit})")),
                    None,
                )
            } else if Some(k) == blamed {
                if job.timed_out {
                    (Outcome::Errored, timeout_message.clone(), None)
                } else {
                    (
                        Outcome::Errored,
                        Some(format!("the process crashed while running it ({exit})")),
                        None,
                    )
                }
            } else if abnormal {
                rerun.push(job.work.ids[k]);
                continue;
            } else if nothing_ran {
                (
                    Outcome::Skipped,
                    Some(format!(
                        "not selected: the command ran none of its ids ({exit})"
                    )),
                    None,
                )
            } else {
                (Outcome::Errored, Some(why_missing.clone()), None)
            };
            decided.push(decision);
        }
        for case in batch.unmatched {
            observer.warning(&format!(
                "the report of {} holds a case that names none of its ids: {}; kept in the report, flagged",
                shown_ids(&ids),
                crate::junit::matching::fallback_id(case.classname.as_deref(), &case.name)
            ));
            observer.unmatched(&case);
            self.unmatched.push(case);
        }
        if !rerun.is_empty() {
            let how = if job.timed_out {
                "timed out"
            } else {
                "crashed"
            };
            let again = match job.work.isolation {
                Isolation::Batch => {
                    observer.warning(&format!(
                        "the process of {} {how} ({exit}) with {} of its ids not reported; running those again together",
                        shown_ids(&ids),
                        rerun.len()
                    ));
                    vec![rerun.clone()]
                }
                Isolation::Again | Isolation::Alone => {
                    observer.warning(&format!(
                        "the process of {} {how} again ({exit}); running each of its {} unreported ids alone",
                        shown_ids(&ids),
                        rerun.len()
                    ));
                    rerun.iter().map(|&i| vec![i]).collect()
                }
            };
            let isolation = match job.work.isolation {
                Isolation::Batch => Isolation::Again,
                _ => Isolation::Alone,
            };
            for ids in again.into_iter().rev() {
                queue.push_front(Work {
                    ids,
                    attempt: job.work.attempt,
                    slot: None,
                    isolation,
                });
            }
        }
        let settled = Work {
            ids: job
                .work
                .ids
                .iter()
                .copied()
                .filter(|i| !rerun.contains(i))
                .collect(),
            attempt: job.work.attempt,
            slot: job.work.slot,
            isolation: job.work.isolation,
        };
        let mut decisions = decided.into_iter();
        self.settle(
            &settled,
            job.slot,
            seconds,
            &status,
            &output,
            |_| decisions.next().unwrap_or((Outcome::Errored, None, None)),
            queue,
            false,
            observer,
        );
    }

    /// Records the attempt of every id of `work` (`decide` gives each its outcome, message
    /// and child case, in order), queues retries, counts failures for `--max-fail`.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        work: &Work,
        slot: usize,
        seconds: f64,
        status: &str,
        output: &Output,
        mut decide: impl FnMut(usize) -> (Outcome, Option<String>, Option<Arc<ChildCase>>),
        queue: &mut VecDeque<Work>,
        no_retry: bool,
        observer: &mut dyn Observer,
    ) {
        // Output is kept for the attempts whose report shows it (those that did not pass), so
        // that a long run of passing, chatty processes does not pile up in memory.
        let kept = Arc::new(output.clone());
        let none = Arc::new(Output::default());
        let mut retry = Vec::new();
        for (k, &i) in work.ids.iter().enumerate() {
            let (outcome, message, case) = decide(k);
            let time = case.as_ref().and_then(|c| c.time).unwrap_or(seconds);
            self.results[i].attempts.push(Attempt {
                number: work.attempt,
                outcome,
                message,
                seconds: time,
                output: if matches!(outcome, Outcome::Passed | Outcome::Skipped) {
                    Arc::clone(&none)
                } else {
                    Arc::clone(&kept)
                },
                case,
            });
            if outcome.is_failure() {
                if !no_retry && work.attempt <= self.config.retries && self.stop.is_none() {
                    retry.push(i);
                } else {
                    self.failed += 1;
                }
            }
        }
        let finished = Finished {
            slot: slot + 1,
            attempt: work.attempt,
            ids: work
                .ids
                .iter()
                .map(|&i| {
                    let last = self.results[i].attempts.last();
                    (
                        self.ids[i].as_str(),
                        last.map_or(Outcome::NotRun, |a| a.outcome),
                        last.and_then(|a| a.message.as_deref()),
                    )
                })
                .collect(),
            retrying: retry.iter().map(|&i| self.ids[i].as_str()).collect(),
            seconds,
            status,
            output,
        };
        observer.finished(&finished);
        for &i in work.ids.iter().filter(|i| !retry.contains(i)) {
            observer.settled(&self.results[i]);
        }
        if !retry.is_empty() {
            queue.push_front(Work {
                ids: retry,
                attempt: work.attempt + 1,
                slot: Some(slot),
                isolation: Isolation::Batch,
            });
        }
        if let Some(max) = self.config.max_fail
            && self.failed >= max
            && self.stop.is_none()
        {
            self.stop = Some(Stop::MaxFail(self.failed));
        }
    }
}

/// The one-line reason a child case gives for not passing.
fn case_message(case: &ChildCase) -> Option<String> {
    match case.outcome {
        Outcome::Passed => None,
        _ => Some(
            case.message
                .clone()
                .unwrap_or_else(|| case.outcome.as_str().to_string()),
        ),
    }
}

/// Ids for a message: the first, and how many more.
pub fn shown_ids(ids: &[&str]) -> String {
    match ids {
        [] => "(no ids)".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    }
}

/// `SIGTERM`, or `signal N`.
pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

fn unreachable_channel<T>() -> io::Result<T> {
    Err(io::Error::other("the run's note channel closed"))
}
