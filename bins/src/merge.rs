//! `shard-merge`: the nodes' JUnit reports in, one report out, verified.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use shardkit::Manifest;
use shardkit::junit::time;
use shardkit::merge::{self, Input, LabelFrom, Merge, Options, Report, Totals};
use shardkit::output::PendingFile;

use crate::common::plural;
use crate::exit::Exit;
use crate::{say, say_raw, warn};

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
  cat node-1.xml | shard-merge - node-2.xml > junit.xml

Exit status:
  0  merged and verified, every test passed
  1  merged and verified, some tests failed or errored
  2  bad usage or an unreadable input (file:line:column named); nothing written
  3  merged, but verification failed (a node or test missing, a test twice, not planned, on
     the wrong node, from another plan) or an input was salvaged; the report is still written";

/// Where a node's label comes from when a report does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LabelArg {
    /// The file name without extension: `node-3.xml` is node `node-3` (number 3).
    #[default]
    Stem,
    /// The directory of the file: `node-3/TEST-a.xml` is node `node-3`.
    Parent,
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

    /// Say nothing on stderr but warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How many lines of each kind of verification failure are shown.
const SHOWN: usize = 20;

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
    let Inputs { reports, spool } = gather(&cli.inputs, from, output)?;

    let count = reports.len();
    let options = Options {
        salvage: cli.salvage,
        expect_nodes: cli.expect_nodes,
        plan: manifest.as_ref(),
        // The slowest tests are only shown in the summary.
        slowest: if cli.summary { cli.slowest } else { 0 },
    };
    let merged = merge::scan(reports, &options)?;
    let report = merged.report();
    tell_warnings(report);
    write_merged(&merged, output)?;
    drop(spool);

    if cli.summary {
        summary(report);
    }
    let verified = tell_verification(report);
    if !cli.quiet {
        tell_merged(count, report, output);
    }
    Ok(exit_of(verified, report))
}

/// The reports to merge, and the temporary file that holds standard input's (read twice, it
/// is spooled first) for as long as they are read.
struct Inputs {
    reports: Vec<Input>,
    spool: Option<tempfile::NamedTempFile>,
}

/// Finds the reports the arguments name, `output` left out: each one once.
fn gather(args: &[PathBuf], from: LabelFrom, output: Option<&Path>) -> Result<Inputs> {
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
        let found = merge::find_reports(std::slice::from_ref(arg), output)?;
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

/// Says on stderr what was odd in the inputs, where it was.
fn tell_warnings(report: &Report) {
    for w in &report.warnings {
        if w.line == 0 {
            warn(&format!("{}: {}", w.source, w.message));
        } else {
            warn(&format!(
                "{}:{}:{}: {}",
                w.source, w.line, w.column, w.message
            ));
        }
    }
}

/// Writes the merged report to `output` (atomically), else to stdout.
fn write_merged(merged: &Merge, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => {
            let mut file = PendingFile::create(path)?;
            merged.write_file(file.file()?)?;
            file.finish()?;
            file.commit()?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            merged.write(&mut out)?;
            out.flush().context("cannot write to stdout")?;
        }
    }
    Ok(())
}

/// The closing line: how many reports, nodes and tests, and where the result went.
fn tell_merged(count: usize, report: &Report, output: Option<&Path>) {
    let t = &report.totals;
    say(&format!(
        "merged {count} report{} from {} node{}: {} tests, {} failed, {} errors, {} skipped, {} flaky, {} s{}",
        plural(count),
        report.nodes.len(),
        plural(report.nodes.len()),
        t.tests,
        t.failures,
        t.errors,
        t.skipped,
        t.flaky,
        time::format(t.time),
        output.map_or_else(String::new, |p| format!(" -> {}", p.display())),
    ));
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

/// Says on stderr what did not verify; true when everything did.
fn tell_verification(report: &Report) -> bool {
    let list = |what: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        warn(&format!("{} {what}:", items.len()));
        for item in items.iter().take(SHOWN) {
            say_raw(&format!("  {item}"));
        }
        if items.len() > SHOWN {
            say_raw(&format!("  ... and {} more", items.len() - SHOWN));
        }
    };
    for s in &report.salvaged {
        warn(&format!(
            "{}:{}:{}: {}: salvaged {} complete test cases, the rest is lost",
            s.source, s.line, s.column, s.message, s.kept
        ));
    }
    if let Some(check) = &report.node_check {
        list(
            &format!("of {} expected nodes missing", check.expected),
            check.missing.iter().map(|k| format!("node {k}")).collect(),
        );
        list(
            &format!(
                "node labels name no node in 1..={} (a label's trailing number is its node)",
                check.expected
            ),
            check.extra.clone(),
        );
    }
    for f in &report.foreign_plans {
        warn(&format!(
            "{} ran from another plan: its shard.plan is {}, the manifest's is different",
            f.source, f.fingerprint
        ));
    }
    if let Some(v) = &report.verification {
        list(
            "planned tests were not reported",
            v.missing
                .iter()
                .map(|m| format!("{} (planned on node {})", m.id, m.planned))
                .collect(),
        );
        list(
            "planned tests were reported more than once",
            v.duplicated
                .iter()
                .map(|(id, nodes)| format!("{id} (by {})", nodes.join(", ")))
                .collect(),
        );
        list(
            "reported tests were not planned",
            v.unplanned
                .iter()
                .map(|u| format!("{} (by {})", u.id, u.node))
                .collect(),
        );
        list(
            "tests ran on a node other than the planned one",
            v.misplaced
                .iter()
                .map(|m| format!("{} (planned on {}, ran on {})", m.id, m.planned, m.reported))
                .collect(),
        );
    }
    report.verified()
}

fn summary(report: &Report) {
    let mut nodes = Table::new();
    nodes.load_preset(UTF8_FULL_CONDENSED);
    nodes.set_header([
        "node", "tests", "failed", "errors", "skipped", "flaky", "time (s)",
    ]);
    let row = |label: &str, t: &Totals| {
        let mut cells = vec![Cell::new(label)];
        for n in [t.tests, t.failures, t.errors, t.skipped, t.flaky] {
            cells.push(Cell::new(n).set_alignment(CellAlignment::Right));
        }
        cells.push(Cell::new(format!("{:.1}", t.time)).set_alignment(CellAlignment::Right));
        cells
    };
    for node in &report.nodes {
        nodes.add_row(row(&node.label, &node.totals));
    }
    nodes.add_row(row("all", &report.totals));
    say_raw(&nodes.to_string());

    if !report.slowest.is_empty() {
        let mut slow = Table::new();
        slow.load_preset(UTF8_FULL_CONDENSED);
        slow.set_header(["time (s)", "node", "test"]);
        for s in &report.slowest {
            let test = match &s.classname {
                Some(c) if !c.is_empty() => format!("{c}::{}", s.name),
                _ => s.name.clone(),
            };
            slow.add_row([
                Cell::new(format!("{:.3}", s.time)).set_alignment(CellAlignment::Right),
                Cell::new(&s.node),
                Cell::new(test),
            ]);
        }
        say_raw(&slow.to_string());
    }
    let times: Vec<f64> = report.nodes.iter().map(|n| n.totals.time).collect();
    if !times.is_empty() {
        let max = times.iter().copied().fold(0.0, f64::max);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let ratio = if mean > 0.0 { max / mean } else { 1.0 };
        say_raw(&format!(
            "node time: max {max:.1} s, mean {mean:.1} s, max/mean {ratio:.3}"
        ));
    }
}
