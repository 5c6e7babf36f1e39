//! shard-exec: run one node's share of the tests in parallel processes and write its
//! complete JUnit report.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Parser;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shardkit::ci;
use shardkit::exec::journal::{Recorder, ReportFile};
use shardkit::exec::report::{self, Counts, Identity};
use shardkit::exec::scheduler::{self, shown_ids, signal_name};
use shardkit::exec::units::{MAX_BATCH, Packing, SplitPattern, auto_batch_size};
use shardkit::exec::{
    Config, Finished, Mode, Observer, Outcome, ReportFormat, RunResult, Template, duration,
};
use shardkit::presets::Runner;
use shardkit::{GroupBy, Grouping, Manifest};

use crate::args::{self, GroupByArg, NodeArgs, RunnerArg, TimingArgs};
use crate::exit::Exit;
use crate::{say, say_raw, warn};

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

    /// Pack small groups into one process up to N ids (a group is never split) [default: about
    /// two batches per job, at most 1000; with --timings, batches of about equal time].
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

/// The ids to run and where they came from.
struct Share {
    ids: Vec<String>,
    node: u32,
    nodes: u32,
    plan: Option<String>,
}

fn share(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Share> {
    let flags = cli.node_args.flags();
    let selection = ci::resolve(&flags, env)?;
    let listed = match &cli.tests {
        Some(path) => Some(args::read_ids(
            std::slice::from_ref(path),
            args::Empty::Allowed,
        )?),
        None if cli.manifest.is_none() => Some(
            args::read_ids(&[], args::Empty::Allowed)
                .context("no --tests or --manifest: reading ids from stdin")?,
        ),
        None => None,
    };
    let (node, nodes) = match &selection {
        Some(s) => (s.node.unwrap_or(1), s.nodes),
        None => (1, 1),
    };
    let Some(path) = &cli.manifest else {
        let ids = listed.expect("ids were read");
        return Ok(Share {
            ids: ids.iter().map(str::to_string).collect(),
            node,
            nodes,
            plan: None,
        });
    };
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let manifest = Manifest::read(&name, io::BufReader::new(file).take(u64::MAX))?;
    let Some(selection) = selection else {
        bail!(
            "--manifest needs this node's number: pass --node K (or --shard K/N), or set SHARD_NODE and SHARD_NODES"
        )
    };
    let Some(node) = selection.node else {
        bail!("--manifest needs this node's number K: pass --node K or --shard K/N")
    };
    if selection.nodes != manifest.params.nodes {
        bail!(
            "{name} plans {} nodes, but {} says {}",
            manifest.params.nodes,
            selection.source,
            selection.nodes
        );
    }
    let planned: Vec<String> = manifest.node_ids(node).map(str::to_string).collect();
    if let Some(listed) = listed {
        let given: HashSet<&str> = listed.iter().collect();
        let wanted: HashSet<&str> = planned.iter().map(String::as_str).collect();
        let extra: Vec<&str> = listed.iter().filter(|id| !wanted.contains(id)).collect();
        let missing: Vec<&str> = planned
            .iter()
            .map(String::as_str)
            .filter(|id| !given.contains(id))
            .collect();
        if !extra.is_empty() || !missing.is_empty() {
            bail!(
                "the ids given differ from node {node}'s share in {name}: {} not planned on node {node} ({}), {} planned but not given ({})",
                extra.len(),
                shown_ids(&extra),
                missing.len(),
                shown_ids(&missing)
            );
        }
    }
    Ok(Share {
        ids: planned,
        node,
        nodes: selection.nodes,
        plan: Some(format!("sha256:{}", manifest.fingerprint)),
    })
}

/// Runs shard-exec.
pub fn run(cli: Cli) -> Result<Exit> {
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let runner = cli.runner.map(Runner::from);
    let jobs = cli.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    // A preset's files (nextest's profiles) live as long as the run.
    let preset_dir = tempfile::Builder::new()
        .prefix("shard-exec-preset-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let (template, junit_at, report, one_group_per_batch) = match runner {
        Some(runner) => {
            let setup = runner
                .run_setup(&cli.command, preset_dir.path(), jobs)
                .context("cannot prepare the runner's configuration")?;
            (
                Template::parse(&setup.argv)?,
                setup.junit_at,
                setup.report,
                setup.one_group_per_batch,
            )
        }
        None => (
            Template::parse(&cli.command)?,
            None,
            ReportFormat::Junit,
            false,
        ),
    };
    let group_by = args::group_by(cli.group_by, &env, runner)?;
    let grouping = Grouping::new(group_by, &cli.separator)?;
    let split = cli
        .split
        .iter()
        .map(|p| SplitPattern::new(p))
        .collect::<shardkit::Result<Vec<_>>>()?;
    let share = share(&cli, &env)?;
    if share.ids.is_empty() && !cli.quiet {
        say(&format!(
            "node {} of {} has no tests to run: nothing runs, and the report names the node with no cases",
            share.node, share.nodes
        ));
    }
    if template.mode() == Mode::PerId && (cli.batch_size.is_some() || group_by != GroupBy::None) {
        warn(
            "with `{}` every id runs in a process of its own: --batch-size and --group-by do nothing",
        );
    }
    let weights = cli
        .timing
        .read(share.ids.iter().map(String::as_str), &env, cli.quiet)?
        .filter(|t| t.known() > 0)
        .map(|t| t.weights());
    let config = Config {
        nothing_ran_status: runner.and_then(Runner::nothing_ran_status),
        junit_at,
        report,
        packing: Packing {
            mode: template.mode(),
            grouping,
            split,
            // With durations, the time budget makes the batches; the count only caps them.
            batch_size: match (cli.batch_size, &weights) {
                (Some(b), _) => b as usize,
                (None, Some(_)) => MAX_BATCH,
                (None, None) => auto_batch_size(share.ids.len(), jobs),
            },
            weights,
            jobs,
            one_group_per_batch,
        },
        template,
        jobs,
        timeout: cli.timeout,
        grace: cli.grace,
        leak_timeout: cli.leak_timeout,
        retries: cli.retries,
        max_fail: if cli.fail_fast {
            Some(1)
        } else {
            cli.max_fail.map(|n| n as usize)
        },
        node: share.node,
        nodes: share.nodes,
        capture_limit: cli.capture_limit.max(64),
        setup: cli.setup.as_ref().map(|c| shell(c)),
        teardown: cli.teardown.as_ref().map(|c| shell(c)),
        guardian: crate::guardian::command(),
    };

    let who = Identity {
        node: share.node,
        nodes: share.nodes,
        plan: share.plan.as_deref(),
        hostname: report::hostname(),
    };
    // Each result goes to the journal beside the report as it becomes final: a shard-exec
    // killed hard leaves those for `shard-merge --salvage`.
    let mut report_file = match &cli.junit {
        Some(path) => Some(ReportFile::open(path, &who, SystemTime::now())?),
        None => None,
    };

    let (inbox, interrupter) = scheduler::inbox();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .context("cannot handle signals")?;
    let handle = signals.handle();
    // The last signal, also one that comes after the run (while the report is written).
    let last_signal = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let seen = std::sync::Arc::clone(&last_signal);
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            seen.store(sig, std::sync::atomic::Ordering::SeqCst);
            interrupter.interrupt(sig);
        }
    });

    if !cli.quiet {
        say(&format!(
            "running {} test{} of node {} of {} with {jobs} job{}",
            share.ids.len(),
            plural(share.ids.len()),
            share.node,
            share.nodes,
            plural(jobs)
        ));
    }
    let mut terminal = Terminal::new(share.ids.len(), cli.quiet);
    let journal = report_file.as_mut().and_then(ReportFile::journal);
    let mut recorder = Recorder::new(journal, &mut terminal);
    let result = scheduler::run(&config, &share.ids, inbox, &mut recorder);
    terminal.done();
    let result = result.context("the run failed")?;

    let mut write_failed = false;
    if let Some(mut file) = report_file {
        match file.write(&result, &who) {
            Err(e) => {
                write_failed = true;
                say(&format!("error: {}", anyhow::Error::from(e)));
                if let Some(journal) = file.journal_path() {
                    say(&format!(
                        "the results of the tests that finished are in {} (`shard-merge --salvage` reads it)",
                        journal.display()
                    ));
                }
            }
            Ok(()) => {
                if let Err(e) = file.finish() {
                    warn(&format!("cannot remove the journal: {e}"));
                }
            }
        }
    }

    // stdout: the ids that did not pass.
    let flaky_fails = cli.flaky_result == FlakyResult::Fail;
    let mut out = io::stdout().lock();
    for r in &result.results {
        let outcome = r.outcome();
        if outcome.is_failure() || outcome == Outcome::NotRun || (flaky_fails && r.flaky()) {
            writeln!(out, "{}", r.id)?;
        }
    }
    out.flush()?;

    let counts = Counts::of(&result);
    if !cli.quiet {
        summary(&result, &counts);
    }
    if let Some(why) = &result.setup_failed {
        say(&format!("error: --setup failed: {why}"));
    }
    if let Some(why) = &result.teardown_failed {
        warn(&format!("--teardown failed: {why}"));
    }
    // A signal that came after the run still ends it as interrupted, once the report is out.
    handle.close();
    let _ = forwarder.join();
    let late = last_signal.load(std::sync::atomic::Ordering::SeqCst);
    let interrupted = result.interrupted.or((late != 0).then_some(late));
    Ok(if let Some(sig) = interrupted {
        match sig {
            signal_hook::consts::SIGHUP => Exit::Hangup,
            signal_hook::consts::SIGTERM => Exit::Terminated,
            _ => Exit::Interrupted,
        }
    } else if result.setup_failed.is_some() || write_failed {
        Exit::Unverified
    } else if counts.failed + counts.errors + counts.not_run > 0
        || (flaky_fails && counts.flaky > 0)
    {
        Exit::TestsFailed
    } else {
        Exit::Success
    })
}

fn shell(command: &str) -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string(), command.to_string()]
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The terminal side of a run: a progress bar with the running tests on a terminal, one line
/// per finished unit otherwise; a failure's output when it happens.
struct Terminal {
    bar: Option<ProgressBar>,
    running: BTreeMap<usize, String>,
    quiet: bool,
}

impl Terminal {
    fn new(total: usize, quiet: bool) -> Self {
        let bar = (io::stderr().is_terminal() && !quiet).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Terminal {
            bar,
            running: BTreeMap::new(),
            quiet,
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => say_raw(text),
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            let names: Vec<&str> = self.running.values().map(String::as_str).collect();
            bar.set_message(names.join(", "));
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Terminal {
    fn started(&mut self, ids: &[&str], slot: usize, _attempt: u32) {
        self.running.insert(slot, shown_ids(ids));
        self.refresh();
    }

    fn finished(&mut self, f: &Finished<'_>) {
        self.running.remove(&f.slot);
        let retry_note = |id: &str| {
            if f.retrying.contains(&id) {
                " (will retry)"
            } else {
                ""
            }
        };
        let mut failed_any = false;
        for (id, outcome, message) in &f.ids {
            let label = match outcome {
                Outcome::Passed if f.attempt > 1 => "FLAKY",
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::Errored => "ERROR",
                Outcome::Skipped => "SKIP",
                Outcome::NotRun => "NOT RUN",
            };
            let bad = outcome.is_failure() || *outcome == Outcome::NotRun;
            failed_any |= bad;
            if self.quiet && !bad {
                continue;
            }
            // Passing batches get one line, not one per id.
            if !bad && f.ids.len() > 1 {
                continue;
            }
            let why = message
                .and_then(|m| m.lines().next())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            self.line(&format!(
                "{label:>7} [{:>7.3}s] {id}{why}{}",
                f.seconds,
                retry_note(id)
            ));
        }
        if f.ids.len() > 1 && !self.quiet {
            let passed = f
                .ids
                .iter()
                .filter(|(_, o, _)| !o.is_failure() && *o != Outcome::NotRun)
                .count();
            self.line(&format!(
                "{:>7} [{:>7.3}s] {passed} of {} in one process (slot {}, {})",
                "BATCH",
                f.seconds,
                f.ids.len(),
                f.slot,
                f.status
            ));
        }
        if failed_any {
            for (name, text) in [("stdout", &f.output.stdout), ("stderr", &f.output.stderr)] {
                let text = text.trim_end();
                if !text.is_empty() {
                    self.line(&format!(
                        "--- {name} of {} ---\n{text}",
                        shown_ids(&f.ids.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
                    ));
                }
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(f.ids.len().saturating_sub(f.retrying.len()) as u64);
        }
        self.refresh();
    }

    fn warning(&mut self, message: &str) {
        self.line(&format!("shard-exec: warning: {message}"));
    }
}

/// The table at the end: counts, time, and the ids that did not pass.
fn summary(result: &RunResult, counts: &Counts) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "tests", "passed", "failed", "errors", "skipped", "not run", "flaky", "time",
    ]);
    table.add_row(
        [
            counts.tests,
            counts.passed,
            counts.failed,
            counts.errors,
            counts.skipped,
            counts.not_run,
            counts.flaky,
        ]
        .iter()
        .map(|n| Cell::new(n).set_alignment(CellAlignment::Right))
        .chain([Cell::new(format!("{:.2}s", result.seconds)).set_alignment(CellAlignment::Right)]),
    );
    say_raw(&table.to_string());
    let bad: Vec<_> = result
        .results
        .iter()
        .filter(|r| r.outcome().is_failure() || r.outcome() == Outcome::NotRun)
        .collect();
    for r in bad.iter().take(20) {
        say_raw(&format!("  {:<7} {}", r.outcome().as_str(), r.id));
    }
    if bad.len() > 20 {
        say_raw(&format!(
            "  ... and {} more (the ids are on stdout)",
            bad.len() - 20
        ));
    }
    if let Some(sig) = result.interrupted {
        say(&format!("interrupted by {}", signal_name(sig)));
    }
}
