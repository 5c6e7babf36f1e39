//! What shard-exec takes on its command line, and the help that explains it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shardkit::exec::duration;

use crate::args::{GroupByArg, NodeArgs, RunnerArg, TimingArgs};

const AFTER_HELP: &str = "\
Placeholders in COMMAND, also inside a larger argument (--junitxml={junit}):
  {}        one id: every id runs in a process of its own
  {ids}     the ids of one batch, each an argument of its own
  {junit}   a fresh path where COMMAND writes its JUnit report: per-test results of a batch
  {slot}    the process's slot, 1 to --jobs
  {node}    this node's number
  {filterset}  a cargo-nextest filterset selecting the batch's ids (BINARY-ID TEST-NAME)
  {go-run}, {go-package}  go test's -run pattern and package for ids PACKAGE::TestName
With none of {}, {ids}, {filterset} and {go-run}, a batch's ids are appended. `{{` and `}}` are literal braces.
COMMAND runs as argv, never through a shell. Each process gets its own process group, stdin
from /dev/null, and SHARD_SLOT, SHARD_ATTEMPT, SHARD_NODE and SHARD_NODES.

stdout: the ids that did not pass (failed, errors, not run; flaky too with --flaky-result
fail), one per line, so that a rerun is `shard-exec ... --tests failed.txt -- ...`.

Exit status:
  0    every test passed (or was skipped; flaky ones too unless --flaky-result fail)
  1    some tests failed, errored or did not run
  2    usage error or unreadable input: nothing was run
  3    --setup failed (every id is an error), or the report could not be written
  129, 130, 143   interrupted by SIGHUP, SIGINT, SIGTERM: the report is still written

Examples:
  shard-plan --node 2 --nodes 4 ids.txt \\
    | shard-exec --junit node-2.xml -- sh -c './run-one \"$1\"' _ {}
  shard-exec --manifest plan.tsv --node 2 --group-by class --junit node-2.xml \\
    -- pytest -p no:cacheprovider --junitxml={junit} {ids}
  shard-exec --tests failed.txt --retries 2 --timeout 5m -- cargo test -- --exact {}";

/// Run one node's share of the tests in parallel processes and write its JUnit report.
#[derive(Debug, Parser)]
#[command(name = "shard-exec", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The test command and its arguments, after `--`; with --runner, arguments for the
    /// runner.
    #[arg(
        value_name = "COMMAND",
        required_unless_present = "runner",
        last = true
    )]
    pub command: Vec<String>,

    /// Use a runner's preset: its command, batches with its own JUnit report, its grouping
    /// (pytest: `pytest -p no:cacheprovider -q --junitxml={junit} ARGS {ids}`, --group-by
    /// class; nextest: `cargo nextest run --no-fail-fast ARGS -E {filterset}` with a JUnit
    /// profile a slot; go: `go test -json -count=1 ARGS -run {go-run} {go-package}`, a
    /// package a process); what follows `--` goes to the runner.
    #[arg(long, value_enum, value_name = "RUNNER")]
    pub runner: Option<RunnerArg>,

    /// Read the ids to run from FILE, one per line (`-` for stdin).
    #[arg(long, value_name = "FILE", help_heading = "Ids")]
    pub tests: Option<PathBuf>,

    /// Run this node's share of shard-plan's manifest (with --node/--nodes, --shard or the CI
    /// environment, as shard-plan). With --tests too, the two lists must agree.
    #[arg(long, value_name = "FILE", help_heading = "Ids")]
    pub manifest: Option<PathBuf>,

    #[command(flatten, next_help_heading = "Node selection")]
    pub node_args: NodeArgs,

    /// Keep a class's or a file's ids in one process, so that its fixtures run once (also
    /// SHARD_GROUP_BY) [default: none; class with --runner pytest].
    ///
    /// distributed-nose's NOSE_HASH_BY_CLASS (its --hash-by-class) set to 1, true, yes or on
    /// means class, when neither the flag nor SHARD_GROUP_BY is given.
    #[arg(long, value_enum, value_name = "HOW", help_heading = "Units")]
    pub group_by: Option<GroupByArg>,

    /// The separator of an id's segments (the part before its first `[`).
    #[arg(long, value_name = "SEP", default_value = "::", help_heading = "Units")]
    pub separator: String,

    /// Pack small groups into one process up to N ids (a group is never split) [default: two
    /// rounds of one batch per job, the second's half as long, at most 2000 ids a batch; with
    /// --timings, as many batches of about equal time as the measured start-up makes worth it].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Units")]
    pub batch_size: Option<u32>,

    #[command(flatten, next_help_heading = "Units")]
    pub timing: TimingArgs,

    /// Groups whose key matches GLOB may be split across processes (repeatable).
    #[arg(long, value_name = "GLOB", help_heading = "Units")]
    pub split: Vec<String>,

    /// Run CMD (with `sh -c`) once before any test; if it fails, no test runs and every id is
    /// an error.
    #[arg(long, value_name = "CMD", help_heading = "Units")]
    pub setup: Option<String>,

    /// Run CMD (with `sh -c`) once after all tests, also after failures and interrupts.
    #[arg(long, value_name = "CMD", help_heading = "Units")]
    pub teardown: Option<String>,

    /// Processes at once [default: the available CPUs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Running")]
    pub jobs: Option<u32>,

    /// Per process: SIGTERM to its process group after DURATION (90s, 2m, 1.5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Running")]
    pub timeout: Option<Duration>,

    /// After SIGTERM, SIGKILL to the process group after DURATION.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, help_heading = "Running")]
    pub grace: Duration,

    /// After a process ended, how long something it left behind may hold its output open
    /// before that is reported and its process group killed.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration, help_heading = "Running")]
    pub leak_timeout: Duration,

    /// Run a failed id again up to N times; passing later makes it flaky.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Running")]
    pub retries: u32,

    /// Whether a flaky test counts as passed or failed for the exit status.
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value = "pass",
        help_heading = "Running"
    )]
    pub flaky_result: FlakyResult,

    /// Start no new work after the first failure (the rest is reported as not run).
    #[arg(long, help_heading = "Running")]
    pub fail_fast: bool,

    /// Start no new work after N failures.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "fail_fast", help_heading = "Running")]
    pub max_fail: Option<u32>,

    /// Write the node's JUnit report to FILE (atomically, also when interrupted).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub junit: Option<PathBuf>,

    /// Keep at most BYTES of each process's stdout and of its stderr (head and tail).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, help_heading = "Output")]
    pub capture_limit: usize,

    /// Say nothing on stderr but failures, warnings and errors.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

/// Whether a flaky test passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlakyResult {
    Pass,
    Fail,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    duration::parse("duration", s).map_err(|e| match e {
        shardkit::Error::InvalidParameter { reason, .. } => reason,
        other => other.to_string(),
    })
}
