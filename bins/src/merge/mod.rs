//! `shard-merge`: the nodes' JUnit reports in, one report out, verified.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};

use shardkit::Manifest;
use shardkit::merge::{self, Input, LabelFrom, Options, Report};

use crate::exit::Exit;
use crate::warn;

mod pictures;
mod tell;

use pictures::Pictures;
use shardkit::summary::audit::AuditFormat;

const ABOUT: &str = "Merge the nodes' JUnit reports into one, and check that every test ran once.";

const LONG_ABOUT: &str = "\
Merge the nodes' JUnit reports into one, and check that every test ran once.

Reads each report as a stream (memory stays small whatever their size) and writes one
<testsuites> whose counts are recounted from the test cases. Every input suite is kept as it
was, with its attributes and children; time values become plain decimals. Every suite gets the
properties shard.node and shard.source (the input), every test case shard.node: the node is the
shard.node property a report already carries, else taken from its path (--node-label). Text is
made of XML 1.0 characters only: a control character C becomes the visible U+2400+C (ESC is
\u{241b}), so Jenkins and every other consumer can read the result.";

const EXAMPLES: &str = "\
Examples:
  shard-merge -o junit.xml reports/                      # every *.xml under reports/
  shard-merge -o junit.xml --expect-nodes 4 node-*.xml   # nodes 1..4 must all be there
  shard-merge -o junit.xml --plan plan.tsv --summary reports/
  shard-merge -o timings/junit.xml --keep-previous 2 reports/  # and the last 2 runs' beside it
  shard-merge -o junit.xml --html run.html --markdown \"$GITHUB_STEP_SUMMARY\" reports/
  cat node-1.xml | shard-merge - node-2.xml > junit.xml

Exit status:
  0  merged and verified, every test passed
  1  merged and verified, some tests failed or errored
  2  bad usage or an unreadable input (file:line:column named); nothing written
  3  merged, but verification failed (a node or test missing, a test twice, not planned, on
     the wrong node, from another plan) or an input was salvaged; the report is still written";

/// The most merged reports `--keep-previous` keeps: each is moved once a run.
const MAX_KEPT: usize = 100;

/// Where a node's label comes from when a report does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LabelArg {
    /// The file name without extension: `node-3.xml` is node `node-3` (number 3).
    #[default]
    Stem,
    /// The directory of the file: `node-3/TEST-a.xml` is node `node-3`.
    Parent,
}

/// The format of `--audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AuditArg {
    /// Tab-separated values with a header line.
    #[default]
    Tsv,
    /// JSON Lines: one object per case.
    Json,
}

/// The arguments of shard-merge, as typed.
#[derive(Debug, Parser)]
#[command(
    name = "shard-merge",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
)]
pub struct Cli {
    /// JUnit reports: files, directories (walked for *.xml, in name order), `-` for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Write the merged report here (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Keep the N reports that -o FILE replaces beside it (junit.xml: junit.1.xml, the newest,
    /// to junit.N.xml), for shard-plan --timings DIR
    ///
    /// The oldest goes. `shard-plan --timings timings/` then weighs each test by the mean of
    /// the last N+1 runs (timings/junit.xml and the N before it), so one slow run counts for
    /// 1/(N+1). They move only when the merge is written (exit 0, 1 or 3), never on exit 2. At
    /// most 100.
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub keep_previous: usize,

    /// Where a node's label comes from when a report carries no shard.node property.
    #[arg(long, value_enum, value_name = "FROM", default_value_t = LabelArg::Stem)]
    pub node_label: LabelArg,

    /// Nodes 1..=N must each have reported (a label's trailing number names its node).
    #[arg(long, value_name = "N", help_heading = "Verification")]
    pub expect_nodes: Option<u32>,

    /// shard-plan's manifest: every planned test must be reported once, on its node.
    #[arg(long, value_name = "MANIFEST", help_heading = "Verification")]
    pub plan: Option<PathBuf>,

    /// Keep the complete test cases of a broken report, add an error case for what was lost,
    /// and exit 3, instead of failing with exit 2.
    #[arg(long)]
    pub salvage: bool,

    /// Show tables on stderr: per node, the slowest tests, node time max/mean.
    #[arg(long)]
    pub summary: bool,

    /// How many of the slowest tests the summary names.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub slowest: usize,

    /// Write the run as one self-contained HTML page: a timeline of every node's processes on
    /// its slots, the verification, the nodes, failures, slowest, flaky and not-run tests.
    #[arg(long, value_name = "FILE", help_heading = "Pictures of the run")]
    pub html: Option<PathBuf>,

    /// Write the same summary in GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY), with a
    /// text timeline; at most 512 KiB whatever the run's size.
    #[arg(long, value_name = "FILE", help_heading = "Pictures of the run")]
    pub markdown: Option<PathBuf>,

    /// Write one line per test case, in the merged report's order: node, id, outcome, time,
    /// attempts, slot, process, start. `-` for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Pictures of the run")]
    pub audit: Option<PathBuf>,

    /// The audit's format: tsv (with a header) or json (JSON Lines).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = AuditArg::Tsv, help_heading = "Pictures of the run")]
    pub audit_format: AuditArg,

    /// Say nothing on stderr but warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs shard-merge.
pub fn run(cli: Cli) -> Result<Exit> {
    if cli.expect_nodes == Some(0) {
        bail!("--expect-nodes must be at least 1");
    }
    let manifest = match &cli.plan {
        Some(path) => Some(read_manifest(path)?),
        None => None,
    };
    let from = match cli.node_label {
        LabelArg::Stem => LabelFrom::Stem,
        LabelArg::Parent => LabelFrom::Parent,
    };
    let output = cli.output.as_deref().filter(|p| *p != Path::new("-"));
    if cli.keep_previous > MAX_KEPT {
        bail!(
            "--keep-previous {}: at most {MAX_KEPT} reports are kept",
            cli.keep_previous
        );
    }
    if cli.keep_previous > 0 && output.is_none() {
        bail!("--keep-previous keeps the reports that -o FILE replaces: give -o FILE");
    }
    // Neither the output nor its kept versions is an input, should a directory hold them.
    let mut skip: Vec<PathBuf> = output.iter().map(|p| p.to_path_buf()).collect();
    if let Some(path) = output {
        skip.extend(shardkit::output::kept_versions(path, cli.keep_previous));
    }
    let Inputs { reports, spool } = gather(&cli.inputs, from, &skip)?;

    let count = reports.len();
    let options = Options {
        salvage: cli.salvage,
        expect_nodes: cli.expect_nodes,
        plan: manifest.as_ref(),
        // The slowest tests are only shown in the summary.
        slowest: if cli.summary { cli.slowest } else { 0 },
    };
    let pictures = Pictures {
        html: cli.html.as_deref(),
        markdown: cli.markdown.as_deref(),
        audit: cli.audit.as_deref(),
        format: match cli.audit_format {
            AuditArg::Tsv => AuditFormat::Tsv,
            AuditArg::Json => AuditFormat::Json,
        },
        timeline: cli.summary,
        slowest: cli.slowest,
    };
    if pictures.audit_to_stdout() && output.is_none() {
        bail!("--audit - and the merged report cannot both go to stdout: give -o FILE");
    }
    pictures.check_paths(output)?;
    let merged = merge::scan(reports, &options)?;
    let report = merged.report();
    tell::warnings(report);
    let timeline = pictures::write_with(&merged, output, cli.keep_previous, &pictures)?;
    drop(spool);

    if cli.summary {
        tell::summary(report, &timeline);
    }
    let verified = tell::verification(report);
    if !cli.quiet {
        tell::merged(count, report, output);
    }
    Ok(exit_of(verified, report))
}

/// The reports to merge, and the temporary file that holds standard input's (read twice, it
/// is spooled first) for as long as they are read.
struct Inputs {
    reports: Vec<Input>,
    spool: Option<tempfile::NamedTempFile>,
}

/// Finds the reports the arguments name, `skip` left out: each one once.
fn gather(args: &[PathBuf], from: LabelFrom, skip: &[PathBuf]) -> Result<Inputs> {
    let mut spool = None;
    let mut reports = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for arg in args {
        if arg == Path::new("-") {
            if spool.is_some() {
                bail!("`-` (standard input) is given twice");
            }
            let mut file = tempfile::NamedTempFile::new()
                .context("cannot make a temporary file for standard input")?;
            io::copy(&mut io::stdin().lock(), &mut file).context("cannot read standard input")?;
            reports.push(Input {
                path: file.path().to_path_buf(),
                source: "<stdin>".into(),
                label: "stdin".into(),
            });
            spool = Some(file);
            continue;
        }
        let found = merge::find_reports(std::slice::from_ref(arg), skip)?;
        if found.is_empty() {
            warn(&format!("{}: no *.xml file in it", arg.display()));
        }
        for path in found {
            let key = path.canonicalize().unwrap_or_else(|_| path.clone());
            if let Some(first) = seen.insert(key, reports.len()) {
                let first: &Input = &reports[first];
                bail!(
                    "{} is given twice (also as {})",
                    path.display(),
                    first.path.display()
                );
            }
            reports.push(Input {
                label: merge::label_of(&path, from),
                source: path.display().to_string(),
                path,
            });
        }
    }
    if reports.is_empty() {
        bail!("no reports to merge: no *.xml file in the inputs given");
    }
    // Kept for the whole merge: 100,000 reports are 100,000 inputs.
    reports.shrink_to_fit();
    Ok(Inputs { reports, spool })
}

fn exit_of(verified: bool, report: &Report) -> Exit {
    if !verified {
        Exit::Unverified
    } else if !report.passed() {
        Exit::TestsFailed
    } else {
        Exit::Success
    }
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot read {name}"))?;
    Ok(Manifest::read(&name, io::BufReader::new(file))?)
}
