//! A run's settings and the rules that settle them: [`ConfigBuilder`] takes what the caller
//! was asked for (flags, a runner's preset, the node's share, earlier durations) and
//! [`ConfigBuilder::build`] fills in the defaults and refuses what does not go together, so
//! that a [`Config`] is always one the scheduler can run.
//!
//! The rules: `--fail-fast` is a [`MaxFail`] of one; a capture limit is at least
//! [`MIN_CAPTURE`] bytes; the batch size is the one asked for, else [`MAX_BATCH`] (or
//! none, when durations and a measured start-up make the batches), and without one asked for
//! nor durations the batches come in rounds ([`rounds`](super::units::rounds)); the jobs are the available CPUs unless
//! asked; `--setup` and `--teardown` run with `sh -c`. [`MaxFail`] is the typed count of
//! failures that stops a run.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::{GroupBy, Grouping};
use crate::presets::{RunSetup, Runner};
use crate::timings::Timings;

use super::command::{Mode, Template};
use super::units::{MAX_BATCH, Packing, SplitPattern, command_line_budget};
use super::{ReportFormat, Share};

mod max_fail;

pub use max_fail::MaxFail;

/// The fewest bytes of stdout and of stderr kept per process, whatever is asked: enough for a
/// line of head and a line of tail.
pub const MIN_CAPTURE: usize = 64;

/// Bytes of stdout and of stderr kept per process unless asked otherwise.
pub const DEFAULT_CAPTURE: usize = 1 << 20;

/// After SIGTERM, how long a process group has before SIGKILL unless asked otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// How long a process's pipes may stay open after it ended unless asked otherwise.
pub const DEFAULT_LEAK_TIMEOUT: Duration = Duration::from_millis(200);

/// Everything a run needs to know, settled by a [`ConfigBuilder`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) template: Template,
    pub(crate) packing: Packing,
    /// Processes at once, at least 1.
    pub(crate) jobs: usize,
    /// Per process: SIGTERM to its group after this long.
    pub(crate) timeout: Option<Duration>,
    /// After SIGTERM (timeout or interrupt), SIGKILL to the group after this long.
    pub(crate) grace: Duration,
    /// After a process ended, how long its pipes may stay open (held by a process it left
    /// behind) before that is reported and its group killed.
    pub(crate) leak_timeout: Duration,
    /// Re-runs of a failed id.
    pub(crate) retries: u32,
    /// Stop starting work after this many ids failed (for good, after retries).
    pub(crate) max_fail: Option<MaxFail>,
    pub(crate) node: u32,
    pub(crate) nodes: u32,
    /// Bytes of stdout and of stderr kept per process.
    pub(crate) capture_limit: usize,
    /// What the command writes at `{junit}` (or `junit_at`).
    pub(crate) report: ReportFormat,
    /// Where the command writes its own report when it is not `{junit}`: a path in which
    /// `{slot}` stands for the process's slot (nextest's report path comes from a profile).
    pub(crate) junit_at: Option<String>,
    /// The exit status with which the command says it ran none of its ids because none was
    /// selected (pytest's 5): those ids are skipped rather than errors. With `{junit}` only.
    pub(crate) nothing_ran_status: Option<i32>,
    /// Run once before any test / once after all.
    pub(crate) setup: Option<Vec<String>>,
    pub(crate) teardown: Option<Vec<String>>,
    /// The command that runs the [`guardian`](super::guardian) (a program calling
    /// [`guardian::main`](super::guardian::main) on its stdin: shard-exec itself, in a hidden
    /// mode); with none, a killed run leaves what its tests started running.
    pub(crate) guardian: Option<Vec<OsString>>,
    /// Directories the run's caller made for it (a preset's files), which the guardian
    /// removes with the run's own when the run ends or dies.
    pub(crate) scratch: Vec<PathBuf>,
}

impl Config {
    /// A builder for a run of `argv` (the program first), whose placeholders are checked.
    pub fn for_command(argv: &[String]) -> Result<ConfigBuilder> {
        Ok(ConfigBuilder::new(Template::parse(argv)?))
    }

    /// A builder for a run with `runner`'s preset, `setup` being what
    /// [`Runner::run_setup`] made: its command, where it writes its report, in what format,
    /// and the exit status with which it says it selected nothing.
    pub fn for_preset(runner: Runner, setup: RunSetup) -> Result<ConfigBuilder> {
        let mut builder = ConfigBuilder::new(Template::parse(&setup.argv)?);
        builder.junit_at = setup.junit_at;
        builder.report = setup.report;
        builder.one_group_per_batch = setup.one_group_per_batch;
        builder.nothing_ran_status = runner.nothing_ran_status();
        Ok(builder)
    }

    /// Processes at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// After how many failures the run starts no new work, if ever.
    pub fn max_fail(&self) -> Option<MaxFail> {
        self.max_fail
    }

    /// Bytes of stdout and of stderr kept per process.
    pub fn capture_limit(&self) -> usize {
        self.capture_limit
    }

    /// How ids are gathered into processes.
    pub fn packing(&self) -> &Packing {
        &self.packing
    }
}

/// Processes at once: `asked`, else one per available CPU (one when that cannot be told).
pub fn jobs_or_available(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

fn at_least_one(what: &'static str, value: usize) -> Error {
    Error::InvalidParameter {
        what,
        value: value.to_string(),
        reason: "it must be at least 1".to_string(),
    }
}

/// What a run was asked for, as given: [`build`](Self::build) settles it into a [`Config`].
///
/// Start from [`Config::for_command`] or [`Config::for_preset`]; every setting has a default
/// (one node of one, no ids, no grouping, no limits).
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    template: Template,
    report: ReportFormat,
    junit_at: Option<String>,
    one_group_per_batch: bool,
    nothing_ran_status: Option<i32>,
    grouping: Grouping,
    split: Vec<SplitPattern>,
    batch_size: Option<usize>,
    weights: Option<Vec<u64>>,
    /// The measured start-up cost of a process, in microseconds.
    startup: Option<u64>,
    /// The measured cost of each id to its process, in microseconds.
    per_id: u64,
    per_module: u64,
    per_folder: BTreeMap<String, u64>,
    jobs: Option<usize>,
    timeout: Option<Duration>,
    grace: Duration,
    leak_timeout: Duration,
    retries: u32,
    fail_fast: bool,
    max_fail: Option<usize>,
    node: u32,
    nodes: u32,
    capture_limit: usize,
    setup: Option<String>,
    teardown: Option<String>,
    guardian: Option<Vec<OsString>>,
    scratch: Vec<PathBuf>,
}

impl ConfigBuilder {
    fn new(template: Template) -> Self {
        ConfigBuilder {
            template,
            report: ReportFormat::Junit,
            junit_at: None,
            one_group_per_batch: false,
            nothing_ran_status: None,
            grouping: Grouping::default(),
            split: Vec::new(),
            batch_size: None,
            weights: None,
            startup: None,
            per_id: 0,
            per_module: 0,
            per_folder: BTreeMap::new(),
            jobs: None,
            timeout: None,
            grace: DEFAULT_GRACE,
            leak_timeout: DEFAULT_LEAK_TIMEOUT,
            retries: 0,
            fail_fast: false,
            max_fail: None,
            node: 1,
            nodes: 1,
            capture_limit: DEFAULT_CAPTURE,
            setup: None,
            teardown: None,
            guardian: None,
            scratch: Vec::new(),
        }
    }

    /// How ids group: a group runs in one process.
    pub fn grouping(mut self, grouping: Grouping) -> Self {
        self.grouping = grouping;
        self
    }

    /// Groups whose key matches one of `patterns` may be split across processes.
    pub fn split(mut self, patterns: Vec<SplitPattern>) -> Self {
        self.split = patterns;
        self
    }

    /// The most ids in one batch; `None` for the default (see [`build`](Self::build)).
    pub fn batch_size(mut self, size: Option<usize>) -> Self {
        self.batch_size = size;
        self
    }

    /// Durations from earlier runs, read for the share's ids: with at least one known, they
    /// weigh the ids and make the batches; with none known they are not used.
    pub fn timings(mut self, timings: Option<&Timings>) -> Self {
        let timings = timings.filter(|t| t.known() > 0);
        self.weights = timings.map(Timings::run_weights);
        let startup = timings.and_then(|t| t.startup);
        self.startup = startup.map(|s| (s.base * 1e6).round() as u64);
        self.per_id = startup.map_or(0, |s| (s.per_case * 1e6).round() as u64);
        self.per_module = startup.map_or(0, |s| (s.per_module * 1e6).round() as u64);
        self.per_folder = timings.map_or_else(BTreeMap::new, |t| {
            t.per_folder
                .iter()
                .map(|(folder, s)| (folder.clone(), (s * 1e6).round() as u64))
                .collect()
        });
        self
    }

    /// Processes at once; `None` for one per available CPU.
    pub fn jobs(mut self, jobs: Option<usize>) -> Self {
        self.jobs = jobs;
        self
    }

    /// The node whose share runs.
    pub fn share(mut self, share: &Share) -> Self {
        self.node = share.node;
        self.nodes = share.nodes;
        self
    }

    /// Per process: SIGTERM to its process group after this long.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// After SIGTERM, SIGKILL to the process group after this long.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long what a process left behind may hold its output open after it ended.
    pub fn leak_timeout(mut self, timeout: Duration) -> Self {
        self.leak_timeout = timeout;
        self
    }

    /// Re-runs of a failed id.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Start no new work after the first failure.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Start no new work after this many failures.
    pub fn max_fail(mut self, failures: Option<usize>) -> Self {
        self.max_fail = failures;
        self
    }

    /// Bytes of stdout and of stderr kept per process (at least [`MIN_CAPTURE`]).
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.capture_limit = bytes;
        self
    }

    /// A shell command run once before any test.
    pub fn setup(mut self, command: Option<&str>) -> Self {
        self.setup = command.map(str::to_string);
        self
    }

    /// A shell command run once after all tests, also after failures and interrupts.
    pub fn teardown(mut self, command: Option<&str>) -> Self {
        self.teardown = command.map(str::to_string);
        self
    }

    /// The command that starts the guardian of the run's processes, if there is one.
    pub fn guardian(mut self, command: Option<Vec<OsString>>) -> Self {
        self.guardian = command;
        self
    }

    /// A scratch directory made for the run (a preset's files): the guardian removes it when
    /// the run ends or dies. Only one named as shard-exec names them
    /// ([`SCRATCH_PREFIX`](super::guardian::SCRATCH_PREFIX)) is removed.
    pub fn scratch(mut self, dir: Option<&Path>) -> Self {
        self.scratch.extend(dir.map(Path::to_path_buf));
        self
    }

    /// What people should hear about the settings given so far: those that do nothing.
    pub fn warnings(&self) -> Vec<String> {
        let packs = self.batch_size.is_some() || self.grouping.by() != GroupBy::None;
        if self.template.mode() == Mode::PerId && packs {
            vec![
                "with `{}` every id runs in a process of its own: --batch-size and --group-by do nothing"
                    .to_string(),
            ]
        } else {
            Vec::new()
        }
    }

    /// Settles the run: the defaults filled in, the rules applied. Fails on a count of 0
    /// (jobs, batch size, max-fail) and on fail-fast with a max-fail other than 1.
    pub fn build(self) -> Result<Config> {
        let max_fail = self.settled_max_fail()?;
        let jobs = match self.jobs {
            Some(0) => return Err(at_least_one("jobs", 0)),
            asked => jobs_or_available(asked),
        };
        let batch_size = match (self.batch_size, &self.weights) {
            (Some(0), _) => return Err(at_least_one("batch size", 0)),
            (Some(size), _) => size,
            // With durations, time and the measured start-up make the batches (and the bytes
            // of a command line cap them); without a measured start-up, the count caps them too.
            (None, Some(_)) if self.startup.is_some() => usize::MAX,
            // Without durations, rounds of batches (see `rounds`), none larger than this.
            (None, _) => MAX_BATCH,
        };
        let in_rounds = self.batch_size.is_none() && self.weights.is_none();
        Ok(Config {
            packing: Packing {
                mode: self.template.mode(),
                grouping: self.grouping,
                split: self.split,
                batch_size,
                in_rounds,
                weights: self.weights,
                startup: self.startup,
                per_id: self.per_id,
                per_module: self.per_module,
                per_folder: self.per_folder,
                jobs,
                one_group_per_batch: self.one_group_per_batch,
                command_bytes: command_line_budget(self.template.joins_ids()),
            },
            template: self.template,
            jobs,
            timeout: self.timeout,
            grace: self.grace,
            leak_timeout: self.leak_timeout,
            retries: self.retries,
            max_fail,
            node: self.node,
            nodes: self.nodes,
            capture_limit: self.capture_limit.max(MIN_CAPTURE),
            report: self.report,
            junit_at: self.junit_at,
            nothing_ran_status: self.nothing_ran_status,
            setup: self.setup.as_deref().map(shell),
            teardown: self.teardown.as_deref().map(shell),
            guardian: self.guardian,
            scratch: self.scratch,
        })
    }

    /// Fail-fast is a max-fail of one: with another max-fail too, it is an error.
    fn settled_max_fail(&self) -> Result<Option<MaxFail>> {
        let asked = self.max_fail.map(MaxFail::new).transpose()?;
        match (self.fail_fast, asked) {
            (false, asked) => Ok(asked),
            (true, None | Some(MaxFail::FIRST)) => Ok(Some(MaxFail::FIRST)),
            (true, Some(other)) => Err(Error::InvalidParameter {
                what: "max-fail",
                value: other.get().to_string(),
                reason: "fail-fast already stops after the first failure".to_string(),
            }),
        }
    }
}

/// `command` as the argv that runs it with `sh -c`.
fn shell(command: &str) -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string(), command.to_string()]
}

#[cfg(test)]
mod tests;
