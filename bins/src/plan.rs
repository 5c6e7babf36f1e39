//! `shard-plan`: what was typed (`Cli`), resolved into a plan request, then the output.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use shardkit::ci::{self, Selection};
use shardkit::manifest;
use shardkit::output::PendingFile;
use shardkit::presets::Runner;
use shardkit::ring::DEFAULT_VNODES;
use shardkit::{Grouping, LoadFactor, Plan, PlanParams, TestIds};

use crate::args::{self, GroupByArg, NodeArgs, RunnerArg, TimingArgs};
use crate::common::{env, plural};
use crate::exit::Exit;
use crate::{say, say_raw, warn};

const ABOUT: &str = "Split a list of test ids across N CI nodes and print this node's share.";

const LONG_ABOUT: &str = "\
Split a list of test ids across N CI nodes and print this node's share.

Every node runs shard-plan on the same ids and gets the same plan, without talking to the
others: ids are placed on a consistent hash ring with bounded loads, so the plan depends only
on the set of ids (never their order), N and the parameters, and it moves few tests when tests
or nodes are added. Its fingerprint proves that every node planned from the same inputs.

The node (K of N, K counted from 1) comes from the first of: --shard K/N or --node K with
--nodes N; SHARD_NODE/SHARD_NODES; the variables of distributed-nose (NOSE_NODE_NUMBER,
NOSE_NODES), GitLab (CI_NODE_INDEX, CI_NODE_TOTAL), CircleCI (CIRCLE_NODE_INDEX,
CIRCLE_NODE_TOTAL), Buildkite (BUILDKITE_PARALLEL_JOB, BUILDKITE_PARALLEL_JOB_COUNT),
Semaphore (SEMAPHORE_JOB_INDEX, SEMAPHORE_JOB_COUNT), Bazel (TEST_SHARD_INDEX,
TEST_TOTAL_SHARDS; TEST_SHARD_STATUS_FILE is touched), GoogleTest (GTEST_SHARD_INDEX,
GTEST_TOTAL_SHARDS) and Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX, with --nodes or
SHARD_NODES). Flags override the environment; environment sources that disagree are an
error. A bad or missing node is an error (exit 2), never \"run everything\".";

const EXAMPLES: &str = "\
Examples:
  pytest --collect-only -q | grep '::' > ids.txt
  shard-plan --shard 2/4 ids.txt                    # node 2's ids, one per line
  shard-plan --shard 2/4 --group-by class ids.txt   # keep each class on one node
  shard-plan --nodes 4 --manifest plan.tsv ids.txt  # plan once, hand out the file
  shard-plan --nodes 4 --all --summary ids.txt      # every id as NODE<TAB>ID, and a table
  shard-plan --nodes 4 --fingerprint ids.txt        # compare across nodes

Exit status: 0 planned (also when this node has nothing to do), 2 bad usage or input.";

/// The arguments of shard-plan, as typed.
#[derive(Debug, Parser)]
#[command(
    name = "shard-plan",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
)]
pub struct Cli {
    /// Files of test ids, one per line; `-` or no FILE reads stdin.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Plan the ids that RUNNER lists (pytest: `pytest --collect-only -q ARGS`; nextest:
    /// `cargo nextest list ARGS`; run here) instead of reading them; the preset's grouping is
    /// the default (pytest: class). ARGS go after `--`.
    #[arg(long, value_enum, value_name = "RUNNER", conflicts_with = "files")]
    pub collect: Option<RunnerArg>,

    /// With --collect: arguments for the runner's listing, after `--`.
    #[arg(value_name = "ARGS", last = true, requires = "collect")]
    pub runner_args: Vec<String>,

    #[command(flatten, next_help_heading = "Node selection")]
    pub node_args: NodeArgs,

    /// Plan every id on one node, whatever the node settings say (also SHARD_DISABLED=1).
    #[arg(long, help_heading = "Node selection")]
    pub disabled: bool,

    /// Keep the ids of a class or a file on one node (also SHARD_GROUP_BY) [default: none;
    /// class with --collect pytest].
    ///
    /// distributed-nose's NOSE_HASH_BY_CLASS (its --hash-by-class) set to 1, true, yes or on
    /// means class, when neither the flag nor SHARD_GROUP_BY is given.
    #[arg(long, value_enum, value_name = "HOW", help_heading = "Planning")]
    pub group_by: Option<GroupByArg>,

    /// The separator of an id's segments (the part before its first `[`).
    #[arg(
        long,
        value_name = "SEP",
        default_value = "::",
        help_heading = "Planning"
    )]
    pub separator: String,

    /// Ring points per node.
    #[arg(long, value_name = "V", default_value_t = DEFAULT_VNODES, help_heading = "Planning")]
    pub vnodes: u32,

    /// A node's capacity as a multiple of the mean load, at least 1 [default: 1.05; 1.02 with
    /// --timings].
    #[arg(
        long,
        value_name = "C",
        value_parser = parse_load_factor,
        help_heading = "Planning"
    )]
    pub load_factor: Option<LoadFactor>,

    #[command(flatten, next_help_heading = "Planning")]
    pub timing: TimingArgs,

    #[arg(
        long,
        conflicts_with = "fingerprint",
        help_heading = "Output",
        help = "Print every id as NODE<TAB>ID instead of one node's ids"
    )]
    pub all: bool,

    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Output",
        help = "Write the whole plan to FILE (atomically; `-` for stdout): a header line, then NODE<TAB>WEIGHT<TAB>GROUP<TAB>ID"
    )]
    pub manifest: Option<PathBuf>,

    /// Print only the plan's fingerprint (sha256:...).
    #[arg(long, help_heading = "Output")]
    pub fingerprint: bool,

    /// Show a table of every node's load on stderr.
    #[arg(long, help_heading = "Output")]
    pub summary: bool,

    /// Say nothing on stderr but errors and warnings.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

fn parse_load_factor(s: &str) -> Result<LoadFactor, String> {
    s.parse::<LoadFactor>().map_err(|e| match e {
        shardkit::Error::InvalidParameter { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// What stdout carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// This node's ids.
    Node(u32),
    /// Every id as NODE<TAB>ID.
    All,
    /// The fingerprint.
    Fingerprint,
    /// The manifest (`--manifest -`).
    Manifest,
    /// Nothing: the manifest file is the output.
    Nothing,
}

/// What was typed, resolved against the environment: everything needed to plan and print.
#[derive(Debug)]
struct Request {
    files: Vec<PathBuf>,
    collect: Option<(Runner, Vec<String>)>,
    selection: Selection,
    disabled: bool,
    grouping: Grouping,
    vnodes: u32,
    load_factor: Option<LoadFactor>,
    timing: TimingArgs,
    output: Output,
    /// A manifest file to write (not `-`, which is an [`Output`]).
    manifest: Option<PathBuf>,
    summary: bool,
    quiet: bool,
}

impl Request {
    /// Settles the grouping, the node and the output from the flags and the environment.
    fn resolve(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let group_by = args::group_by(cli.group_by, env, cli.collect.map(Runner::from))?;
        let grouping = Grouping::new(group_by, &cli.separator)?;
        let flags = cli.node_args.flags();
        let disabled = cli.disabled || ci::env_switch("SHARD_DISABLED", env)?;
        let selection = if disabled {
            if flags.any() {
                warn(
                    "sharding is disabled (--disabled or SHARD_DISABLED): the node flags are ignored and every id is planned",
                );
            }
            Selection::disabled()
        } else {
            ci::resolve(&flags, env)?.context(
                "no node count: pass --shard K/N, or --node K with --nodes N, or set SHARD_NODE and SHARD_NODES (see --help for the CI variables read)",
            )?
        };
        // `/dev/stdout` is stdout too: opened a second time, it would overwrite the ids.
        let manifest_on_stdout = cli
            .manifest
            .as_deref()
            .is_some_and(|p| p == Path::new("-") || p == Path::new("/dev/stdout"));
        let output = match (cli.fingerprint, cli.all, selection.node) {
            _ if manifest_on_stdout && (cli.fingerprint || cli.all) => bail!(
                "--manifest - writes the manifest to stdout, which --all and --fingerprint need too"
            ),
            _ if manifest_on_stdout => Output::Manifest,
            (true, _, _) => Output::Fingerprint,
            (_, true, _) => Output::All,
            (_, _, Some(k)) => Output::Node(k),
            (_, _, None) if cli.manifest.is_some() => Output::Nothing,
            (_, _, None) => bail!(
                "{} nodes from {}, but no node chosen: pass --node K (or --shard K/N), or ask for --all, --fingerprint or --manifest FILE",
                selection.nodes,
                selection.source
            ),
        };
        Ok(Request {
            files: cli.files,
            collect: cli
                .collect
                .map(|r| (Runner::from(r), cli.runner_args.clone())),
            selection,
            disabled,
            grouping,
            vnodes: cli.vnodes,
            load_factor: cli.load_factor,
            timing: cli.timing,
            output,
            manifest: cli.manifest.filter(|_| !manifest_on_stdout),
            summary: cli.summary,
            quiet: cli.quiet,
        })
    }
}

/// Runs shard-plan.
pub fn run(cli: Cli) -> Result<Exit> {
    let request = Request::resolve(cli, &env)?;
    let ids = match &request.collect {
        Some((runner, args)) => {
            let listing = runner.collect(args)?;
            let collected = &listing.collected;
            if !request.quiet {
                let mut said = format!("{runner} listed {} tests", listing.ids.len());
                if !collected.ids.is_empty() {
                    said.push_str(&format!(
                        ", and {} path{} it skipped or could not import while collecting ({} errors), planned as ids of their own",
                        collected.ids.len(),
                        plural(collected.ids.len()),
                        collected.errors
                    ));
                }
                say(&said);
            }
            for case in &collected.unmapped {
                warn(&format!(
                    "{runner} reported `{case}` while collecting, which names no module file here (a directory whose conftest.py skips cannot be run by its path): it is not planned, and its case will be missing from the nodes' reports"
                ));
            }
            let all: Vec<&str> = listing.all_ids().collect();
            TestIds::from_lines(&all)?
        }
        None => args::read_ids(&request.files, args::Empty::Error)?,
    };
    let timings = request.timing.read(
        ids.iter(),
        request.grouping.separator(),
        &env,
        request.quiet,
    )?;
    let default_factor = if timings.as_ref().is_some_and(|t| t.known() > 0) {
        LoadFactor::WITH_DURATIONS
    } else {
        LoadFactor::DEFAULT
    };
    let params = PlanParams {
        nodes: request.selection.nodes,
        vnodes: request.vnodes,
        load_factor: request.load_factor.unwrap_or(default_factor),
        grouping: request.grouping.clone(),
    };
    let plan = match &timings {
        Some(t) => {
            let names: Vec<&str> = ids.iter().collect();
            let weights = t.plan_weights(&names, &params.grouping, params.nodes);
            Plan::new(&ids, weights, params)?
        }
        None => Plan::by_count(&ids, params)?,
    };

    // Everything that can fail comes before anything is written where people look: the
    // manifest is renamed into place only once stdout is written.
    request.selection.touch_status_files()?;
    let manifest = match &request.manifest {
        Some(path) => {
            let mut file = PendingFile::create(path)?;
            manifest::write(&plan, file.writer())
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.finish()?;
            Some((path, file))
        }
        None => None,
    };
    if !request.quiet {
        if request.disabled {
            say("sharding disabled (--disabled or SHARD_DISABLED): every id");
        } else {
            say(&request.selection.to_string());
        }
        for note in &request.selection.notes {
            say(&format!("note: {note}"));
        }
    }
    warn_about(&plan);

    match write_stdout(&request, &plan) {
        // A reader that stopped early (`| head`) is not an error, and the manifest still lands.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        result => result.context("cannot write to stdout")?,
    }
    if let Some((path, file)) = manifest {
        file.commit()?;
        if !request.quiet {
            say(&format!("wrote the manifest to {}", path.display()));
        }
    }
    if request.summary {
        say_raw(&summary(&plan, timings.is_some()));
    }
    Ok(Exit::Success)
}

/// Warnings about the input and the plan: ids padded with whitespace, groups that overflowed.
fn warn_about(plan: &Plan<'_>) {
    let ids = plan.ids();
    let padded: Vec<usize> = ids.padded().collect();
    if let Some(&first) = padded.first() {
        warn(&format!(
            "{} id(s) begin or end with whitespace, which stays part of the id; the first is `{}` at {}",
            padded.len(),
            ids.get(first),
            ids.location(first)
        ));
    }
    if plan.overflowed() > 0 {
        warn(&format!(
            "{} group(s) fit on no node within the capacity of {}; each went to the least-loaded node (groups are coarse for {} nodes)",
            plan.overflowed(),
            plan.capacity(),
            plan.params().nodes
        ));
    }
}

/// Writes what stdout carries.
fn write_stdout(request: &Request, plan: &Plan<'_>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match request.output {
        Output::Manifest => manifest::write(plan, &mut out)?,
        Output::Fingerprint => writeln!(out, "sha256:{}", plan.fingerprint())?,
        Output::All => {
            let labels: Vec<String> = (0..=plan.params().nodes)
                .map(|k| format!("{k}\t"))
                .collect();
            for e in plan.entries_by_node() {
                out.write_all(labels[e.node as usize].as_bytes())?;
                out.write_all(e.id.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        Output::Node(k) => {
            let mut count = 0usize;
            for e in plan.node_entries(k) {
                out.write_all(e.id.as_bytes())?;
                out.write_all(b"\n")?;
                count += 1;
            }
            if !request.quiet {
                if count == 0 {
                    say(&format!(
                        "node {k} has nothing to do: {} group(s) for {} nodes",
                        plan.group_count(),
                        plan.params().nodes
                    ));
                } else {
                    say(&format!("node {k}: {count} of {} ids", plan.ids().len()));
                }
            }
        }
        Output::Nothing => {}
    }
    out.flush()
}

/// The --summary table: per node tests, groups, weight and weight / mean; then max/mean.
fn summary(plan: &Plan<'_>, timed: bool) -> String {
    let loads = plan.loads();
    let total: u64 = loads.iter().map(|l| l.weight).sum();
    let mean = total as f64 / loads.len() as f64;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let weight = if timed { "est. seconds" } else { "weight" };
    table.set_header(["node", "tests", "groups", weight, "weight / mean"]);
    for l in &loads {
        let ratio = if mean > 0.0 {
            l.weight as f64 / mean
        } else {
            0.0
        };
        table.add_row([
            Cell::new(l.node),
            Cell::new(l.tests),
            Cell::new(l.groups),
            if timed {
                // Weights are durations in microseconds.
                Cell::new(format!("{:.1}", l.weight as f64 / 1e6))
            } else {
                Cell::new(l.weight)
            },
            Cell::new(format!("{ratio:.3}")),
        ]);
    }
    for column in 0..5 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let max = loads.iter().map(|l| l.weight).max().unwrap_or(0);
    let ratio = if mean > 0.0 { max as f64 / mean } else { 0.0 };
    let capacity = if timed {
        format!("{:.1} s", plan.capacity() as f64 / 1e6)
    } else {
        plan.capacity().to_string()
    };
    format!(
        "{table}\nmax/mean {ratio:.3} (capacity {capacity} per node, load factor {})",
        plan.params().load_factor
    )
}
