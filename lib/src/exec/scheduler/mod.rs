//! The run: units started on free slots, watched until they end, their ids given results,
//! failures retried, and every id accounted for however the run ends.
//!
//! [`run`] runs the `--setup` fixture, then drives the units: each waits for a slot as
//! `work`, and runs as a `job` whose `deadlines` send its group SIGTERM at its timeout and
//! SIGKILL after the grace period. The notes of every process, and the signals that reach
//! the run, arrive in one [`Inbox`]. A process that ended is judged by `verdict`, a pure
//! function of how it ended, what its report said and the retries left; `finish` applies
//! the verdict: results recorded, failures retried, crashed batches narrowed down,
//! `--max-fail` counted. Ids that never ran are given the reason, and the `--teardown`
//! `fixture` runs last.

mod deadlines;
mod finish;
mod fixture;
mod inbox;
mod job;
mod verdict;
mod wording;
mod work;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

pub use self::inbox::{Inbox, inbox};
pub use self::wording::{shown_ids, signal_name};

use self::finish::Ran;
use self::fixture::Fixture;
use self::job::{Job, JobId};
use self::verdict::{Rules, Verdict};
use self::work::Work;
use super::command::Fill;
use super::guardian::{Guardian, Link, SCRATCH_PREFIX};
use super::process::{self, Note, Watcher};
use super::results::ChildCase;
use super::units::{self, Unit};
use super::{Attempt, Config, Observer, Outcome, Output, RunResult, TestResult};

/// Why no new work starts.
#[derive(Debug, Clone)]
enum Stop {
    MaxFail(usize),
    Signal(i32),
}

impl Stop {
    /// Why an id that never ran did not, when the run stopped as `stop` says.
    fn not_run_reason(stop: Option<&Stop>) -> String {
        match stop {
            Some(Stop::Signal(sig)) => format!("interrupted by {}", signal_name(*sig)),
            Some(Stop::MaxFail(n)) => format!(
                "the run stopped after {n} failed test{}",
                if *n == 1 { "" } else { "s" }
            ),
            None => "the run ended before it started".to_string(),
        }
    }
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
    mut inbox: Inbox,
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
    let mut state = State::new(config, ids);
    if config.template.uses_junit() {
        let dir = tempfile::Builder::new().prefix(SCRATCH_PREFIX).tempdir()?;
        state.junit_dir = Some(dir);
    }
    let scratch = state.junit_dir.as_ref().map(tempfile::TempDir::path);
    let guardian = Guardian::start_for(config, scratch, observer);
    state.guard = guardian.as_ref().map(Guardian::link);

    let setup_failed = match &config.setup {
        Some(setup) => state
            .fixture(Fixture::Setup, setup, &mut inbox, observer)
            .err(),
        None => None,
    };
    let interrupted = matches!(state.stop, Some(Stop::Signal(_)));
    if let Some(why) = setup_failed.as_ref().filter(|_| !interrupted) {
        state.error_every_id(&format!("--setup failed: {why}"));
    } else if state.stop.is_none() {
        let units = units::pack(ids, &config.packing);
        state.drive(units, &mut inbox, observer)?;
    }
    let reason = Stop::not_run_reason(state.stop.as_ref());
    for result in &mut state.results {
        if result.attempts.is_empty() && result.not_run.is_none() {
            result.not_run = Some(reason.clone());
        }
    }
    let teardown_failed = match &config.teardown {
        Some(teardown) => state
            .fixture(Fixture::Teardown, teardown, &mut inbox, observer)
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
    /// What of `config` the verdicts follow.
    rules: Rules,
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

/// The work of a drive: what waits, what runs, and which slots are busy.
struct Pool {
    queue: VecDeque<Work>,
    /// Per slot, whether a process runs there.
    busy: Vec<bool>,
    running: Vec<Job>,
    /// The number of the last test process started.
    last_job: u64,
}

impl Pool {
    /// The slot for `work`: the one a retry keeps if it is free, else a free slot that no
    /// waiting retry keeps, if there is one.
    fn slot_for(&self, work: &Work) -> usize {
        match work.slot {
            Some(s) if !self.busy[s] => s,
            _ => {
                let kept: Vec<usize> = self.queue.iter().filter_map(|w| w.slot).collect();
                (0..self.busy.len())
                    .find(|&s| !self.busy[s] && !kept.contains(&s))
                    .or_else(|| self.busy.iter().position(|busy| !busy))
                    .unwrap_or(0)
            }
        }
    }
}

/// A process that could not be started, and why.
struct StartFailure {
    work: Work,
    why: String,
}

impl<'a> State<'a> {
    fn new(config: &'a Config, ids: &'a [String]) -> Self {
        State {
            config,
            rules: Rules::of(config),
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
        }
    }
}

impl State<'_> {
    /// Every id errors, as its first attempt, with `message` (a failed `--setup`).
    fn error_every_id(&mut self, message: &str) {
        for result in &mut self.results {
            result.attempts.push(Attempt {
                number: 1,
                outcome: Outcome::Errored,
                message: Some(message.to_string()),
                seconds: 0.0,
                output: Arc::new(Output::default()),
                case: None,
                process: None,
            });
        }
    }

    /// Runs `units` on the slots until every one has ended, or a stop lets the running end.
    fn drive(
        &mut self,
        units: Vec<Unit>,
        inbox: &mut Inbox,
        observer: &mut dyn Observer,
    ) -> io::Result<()> {
        let jobs = self.config.jobs.max(1);
        let mut pool = Pool {
            queue: units.into_iter().map(|u| Work::first(u.ids)).collect(),
            busy: vec![false; jobs],
            running: Vec::new(),
            last_job: 0,
        };
        loop {
            self.fill(&mut pool, inbox.watcher(), observer);
            if pool.running.is_empty() && (pool.queue.is_empty() || self.stop.is_some()) {
                return Ok(());
            }
            let leak_timeout = self.config.leak_timeout;
            let wake = pool
                .running
                .iter()
                .filter_map(|j| j.wake(leak_timeout))
                .min();
            match inbox.next(wake)? {
                Some(Note::Signal(sig)) => self.on_signal(sig, &mut pool.running, observer),
                Some(
                    note @ (Note::Done { job, .. }
                    | Note::Exited { job, .. }
                    | Note::Closed { job }),
                ) => {
                    if let Some(j) = pool.running.iter_mut().find(|j| j.id.tag() == job) {
                        j.note(note);
                    }
                }
                None => {}
            }
            let now = Instant::now();
            for job in &mut pool.running {
                self.check_deadlines(job, now, observer);
            }
            let mut i = 0;
            while i < pool.running.len() {
                if pool.running[i].over() {
                    let job = pool.running.swap_remove(i);
                    pool.busy[job.slot] = false;
                    self.finish(job, &mut pool.queue, observer);
                } else {
                    i += 1;
                }
            }
        }
    }

    /// Starts waiting work on free slots while the run goes on.
    fn fill(&mut self, pool: &mut Pool, watcher: &mut Watcher, observer: &mut dyn Observer) {
        while self.stop.is_none() && pool.running.len() < pool.busy.len() {
            let Some(work) = pool.queue.pop_front() else {
                break;
            };
            let slot = pool.slot_for(&work);
            pool.last_job += 1;
            match self.start(pool.last_job, work, slot, watcher, observer) {
                Ok(job) => {
                    pool.busy[slot] = true;
                    pool.running.push(job);
                }
                Err(StartFailure { work, why }) => {
                    // It cannot even start: every id errors, with no retry.
                    let output = Output::default();
                    let ran = Ran {
                        slot,
                        attempt: work.attempt,
                        seconds: 0.0,
                        status: &why,
                        output: &output,
                        process: None,
                    };
                    let given = Verdict::cannot_start(&work, &why).given;
                    self.settle(&ran, given, &mut pool.queue, observer);
                }
            }
        }
    }

    /// Starts the process of test job `number` for `work` on `slot`.
    fn start(
        &mut self,
        number: u64,
        work: Work,
        slot: usize,
        watcher: &mut Watcher,
        observer: &mut dyn Observer,
    ) -> Result<Job, StartFailure> {
        let config = self.config;
        let id = JobId::Test(number);
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
                .map(|dir| dir.path().join(format!("job-{number}.xml"))),
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
        let child =
            match process::spawn(id.tag(), &argv, &env, output, self.guard.as_ref(), watcher) {
                Ok(child) => child,
                Err(e) => {
                    let why = format!("cannot start `{}`: {e}", argv[0].to_string_lossy());
                    return Err(StartFailure { work, why });
                }
            };
        observer.started(&ids, slot + 1, work.attempt);
        let mut job = Job::new(id, work, slot, child, junit, config.timeout);
        if let Some(Stop::Signal(_)) = self.stop {
            // Started just as a signal came: it is stopped at once too.
            job.stop_at_once();
        }
        Ok(job)
    }
}
