//! Merging the nodes' JUnit reports into one, streaming, with every case labelled by the node
//! that ran it.
//!
//! Each input is read twice, never held. The first pass ([`scan`]) parses and checks: the
//! totals the merged root states, which suites and cases already have a `<properties>` block
//! (so that provenance goes into it rather than into a second one), the node each input
//! belongs to, what to warn about, the plan verification, where a broken input stops being
//! usable, and the places where the input cannot be copied as it stands: tags to complete or
//! fix (provenance, times, names, counts, forbidden characters), text to sanitize, comments,
//! the input's `<testsuites>` root dissolved into the merged one. The second pass
//! ([`Merge::write`]) copies the input's bytes as they stand between those places, and writes
//! each place as the first pass decided; it parses no more than the few tags it changes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::exec::journal::JOURNAL_PROPERTY;
use crate::junit::cases::{Case, CaseTracker, Status};
use crate::junit::reader::{
    Attr, Event, JunitReader, Kind, ReadError, locate_all, parse_start_tag,
};
use crate::junit::time;
use crate::junit::writer::JunitWriter;
use crate::junit::writer::{escape_attribute, start_tag};
use crate::manifest::Manifest;
use crate::verify::{NODE_PROPERTY, Verification, Verifier};

/// The suite property naming the report a suite came from.
pub const SOURCE_PROPERTY: &str = "shard.source";

/// The suite property with the fingerprint of the plan a node ran (written by shardkit's runner).
pub const PLAN_PROPERTY: &str = "shard.plan";

/// An input's `<testsuites>` attributes are kept as properties of its first suite, named with
/// this prefix: `testsuites.name`, `testsuites.timestamp`.
pub const ROOT_ATTRIBUTE_PREFIX: &str = "testsuites.";

/// The name given to a suite or case that has none.
pub const UNNAMED: &str = "unnamed";

/// Warnings kept per input; the rest are counted.
pub const MAX_WARNINGS: usize = 20;

/// The suite and class of the case that stands for what a salvaged input lost.
pub const SALVAGE_CLASS: &str = "shard-merge.salvage";

/// One report to merge.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where to read it (a spooled copy for standard input).
    pub path: PathBuf,
    /// How to name it: in `shard.source`, messages and the summary.
    pub source: String,
    /// The node it came from, unless it says so itself with a `shard.node` property.
    pub label: String,
}

/// How a node's label is taken from a report's path when the report does not carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelFrom {
    /// The file name without its extension: `reports/node-3.xml` is `node-3`.
    #[default]
    Stem,
    /// The directory holding the file: `reports/node-3/TEST-a.xml` is `node-3`.
    Parent,
}

/// The node label of the report at `path`.
pub fn label_of(path: &Path, from: LabelFrom) -> String {
    let name = match from {
        LabelFrom::Stem => path.file_stem().map(|n| n.to_os_string()),
        LabelFrom::Parent => {
            let parent = path.parent().unwrap_or(Path::new(""));
            let dir = if parent.as_os_str().is_empty() {
                std::env::current_dir().ok()
            } else {
                std::path::absolute(parent).ok()
            };
            dir.and_then(|d| d.file_name().map(|n| n.to_os_string()))
        }
    };
    match name {
        Some(name) if !name.is_empty() => name.to_string_lossy().into_owned(),
        _ => path.display().to_string(),
    }
}

/// The `*.xml` files under each path, in a fixed order: a file named is taken as it is (any
/// extension); a directory is walked, its entries sorted by name. `skip` (the output) is
/// left out of walks.
pub fn find_reports(paths: &[PathBuf], skip: Option<&Path>) -> Result<Vec<PathBuf>> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Read {
            source_name: path.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            found.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::Read {
                source_name: e.path().unwrap_or(path).display().to_string(),
                source: e.into(),
            })?;
            let is_xml = entry
                .path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("xml"));
            if !entry.file_type().is_file() || !is_xml {
                continue;
            }
            if skip.is_some() && entry.path().canonicalize().ok() == skip {
                continue;
            }
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

/// What the merge is asked to check, and how.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Keep what a broken input holds instead of failing.
    pub salvage: bool,
    /// The nodes that must have reported: labels naming the numbers 1..=N.
    pub expect_nodes: Option<u32>,
    /// The plan every planned id must be reported against.
    pub plan: Option<&'a Manifest>,
    /// How many of the slowest cases to name.
    pub slowest: usize,
}

/// Counts over cases.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    /// Passed after failing first.
    pub flaky: u64,
    /// Seconds, summed over the cases with a time.
    pub time: f64,
}

impl Totals {
    fn add(&mut self, case: &Case) {
        self.tests += 1;
        match case.status {
            Status::Passed => {}
            Status::Failed => self.failures += 1,
            Status::Errored => self.errors += 1,
            Status::Skipped => self.skipped += 1,
        }
        self.flaky += u64::from(case.flaky);
        self.time += case.time.unwrap_or(0.0);
    }

    fn absorb(&mut self, other: &Totals) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
        self.time += other.time;
    }

    /// The count a `tests`, `failures`, `errors` or `skipped` attribute states.
    fn count(&self, attribute: &str) -> Option<u64> {
        match attribute {
            "tests" => Some(self.tests),
            "failures" => Some(self.failures),
            "errors" => Some(self.errors),
            "skipped" => Some(self.skipped),
            _ => None,
        }
    }
}

/// One node's share of the merged report.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTotals {
    pub label: String,
    pub totals: Totals,
}

/// One of the slowest cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub node: String,
    pub classname: Option<String>,
    pub name: String,
    pub time: f64,
}

/// Something in an input that was taken leniently, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub source: String,
    /// 1-based; 0 when the warning is about the whole input.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// A broken input of which only a part could be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    pub source: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// Complete cases kept.
    pub kept: u64,
}

/// Which of the expected nodes reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCheck {
    pub expected: u32,
    /// Node numbers no report came from.
    pub missing: Vec<u32>,
    /// Labels that name no node in 1..=expected.
    pub extra: Vec<String>,
}

/// An input that ran from a different plan than the manifest's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignPlan {
    pub source: String,
    pub fingerprint: String,
}

/// What the merge found: the merged totals, per node, and everything checked.
#[derive(Debug, Clone)]
pub struct Report {
    pub totals: Totals,
    /// By node, in label order (numbers in numeric order).
    pub nodes: Vec<NodeTotals>,
    /// The slowest cases, slowest first.
    pub slowest: Vec<Slow>,
    pub warnings: Vec<Warning>,
    pub salvaged: Vec<Salvaged>,
    pub node_check: Option<NodeCheck>,
    pub verification: Option<Verification>,
    pub foreign_plans: Vec<ForeignPlan>,
}

impl Report {
    /// Every check asked for passed and no input was salvaged.
    pub fn verified(&self) -> bool {
        self.salvaged.is_empty()
            && self.foreign_plans.is_empty()
            && self
                .node_check
                .as_ref()
                .is_none_or(|c| c.missing.is_empty() && c.extra.is_empty())
            && self
                .verification
                .as_ref()
                .is_none_or(Verification::is_clean)
    }

    /// No case failed or errored.
    pub fn passed(&self) -> bool {
        self.totals.failures == 0 && self.totals.errors == 0
    }
}

/// The number a node label names: its trailing digits (`3`, `node-3`, `junit3`).
pub fn node_number(label: &str) -> Option<u32> {
    let digits = label.len() - label.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    label[label.len() - digits..].parse().ok()
}

// Flags of a suite or case, from the first pass.
const HAS_PROPERTIES: u8 = 1;
const HAS_NODE: u8 = 2;
const HAS_SOURCE: u8 = 4;
const IS_SUITE: u8 = 8;

/// Where a broken input stops being usable.
#[derive(Debug, Clone)]
struct Broken {
    /// The synthetic case's message.
    message: String,
}

/// The first pass's findings about one input, for the second.
#[derive(Debug, Clone)]
struct InputScan {
    /// Per suite and case, in document order.
    flags: Vec<u8>,
    /// Per suite, in document order: its cases and those of the suites in it.
    suites: Vec<Totals>,
    /// The node label: the first `shard.node` property of a suite or the root, else the file's.
    label: String,
    /// Properties that go into the first top-level suite: the root's own, then its attributes.
    carried: Vec<(String, String)>,
    /// The name of the root `<testsuites>`, for the suites made for content outside any suite.
    root_name: Option<String>,
    /// Cases outside any `<testcase>` (nested cases are not counted).
    cases: u64,
    broken: Option<Broken>,
    /// What the second pass changes, in input order.
    edits: Vec<Edit>,
    /// The bytes of the input that go into the merge (edited), as offsets `start..end`: the
    /// content of a `<testsuites>` root, or the whole `<testsuite>` root.
    copy: (u64, u64),
    /// The elements left open where a broken input stops, innermost first: each name, and
    /// the suite or case whose provenance goes in before it closes (a `<properties>`), if any.
    closers: Vec<(String, u32)>,
    /// The first suite at the top level (or [`HOLDER`]): it gets the root's properties.
    carry_to: usize,
    /// Whether the input has a suite at the top level.
    top_level: bool,
    /// The input's length and modification time when it was read.
    stamp: Option<(u64, SystemTime)>,
    /// A suite or the root says it is a shard-exec journal (`shard.journal`).
    journal: bool,
}

/// A change the second pass makes at a place in an input, found by the first.
#[derive(Debug, Clone, Copy)]
struct Edit {
    /// Where, as a byte offset.
    at: u64,
    /// How many bytes of the input it stands for (0: an insertion).
    len: u64,
    op: Op,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Left out.
    Cut,
    /// A run of character data, written sanitized.
    Text,
    /// The start tag of suite or case number `element` (`suite`: its suite number, else
    /// [`NO_ELEMENT`]): written again when `rewrite` (a name, a time or a count to fix, a
    /// forbidden character), then its provenance unless it has a `<properties>` of its own.
    Start {
        element: u32,
        suite: u32,
        rewrite: bool,
        empty: bool,
    },
    /// Another start tag, written again.
    Tag { kind: Kind },
    /// The empty `<properties/>` of suite or case `owner`: opened for its provenance.
    EmptyProperties { owner: u32, rewrite: bool },
    /// Before the `</properties>` of suite or case `owner`: its provenance.
    Append { owner: u32 },
    /// Opens the suite made for content the root holds outside any suite.
    HolderOpen,
    /// Closes it.
    HolderClose,
}

/// `carry_to` when the root's properties go into the suite made for content outside suites.
const HOLDER: usize = usize::MAX - 1;

/// An element number that stands for none.
const NO_ELEMENT: u32 = u32::MAX;

/// What the second pass reads at once from an input.
const COPY_BUFFER: usize = 256 * 1024;

/// The merge after its first pass: what will be written, and the report on it.
#[derive(Debug)]
pub struct Merge {
    inputs: Vec<Input>,
    scans: Vec<InputScan>,
    report: Report,
}

/// Frame of the first pass's element stack.
#[derive(Debug, Clone, Copy)]
struct ScanFrame {
    kind: Kind,
    /// The element number of a suite or case.
    element: usize,
    /// The suite number of a suite.
    suite: usize,
    /// A `<properties>` whose properties belong to the input's root.
    root_properties: bool,
    /// A `<properties>` directly in a suite or case: the element number of that suite or case.
    owner: usize,
    owner_is_suite: bool,
    /// The input's `<testsuites>` root, whose tags are not written.
    dissolved: bool,
    /// Where its start tag begins.
    tag_start: u64,
}

const NONE: usize = usize::MAX;

/// Who reported a case: an input (its label settled when it is read to the end), or a label
/// the case named itself.
#[derive(Debug, Default)]
struct Reporters {
    labels: Vec<String>,
    by_label: HashMap<String, usize>,
    totals: Vec<Totals>,
}

impl Reporters {
    fn slot(&mut self, label: Option<&str>) -> usize {
        if let Some(label) = label
            && let Some(&slot) = self.by_label.get(label)
        {
            return slot;
        }
        let slot = self.labels.len();
        self.labels.push(label.unwrap_or_default().to_string());
        self.totals.push(Totals::default());
        if let Some(label) = label {
            self.by_label.insert(label.to_string(), slot);
        }
        slot
    }
}

/// The first pass over every input: counts, checks and the report. Fails on the first input
/// that cannot be read (unless `options.salvage`), naming its file, line and column.
/// The inputs are read on as many threads as there are cores, and their cases taken in input
/// order, so the result does not depend on which thread was first.
pub fn scan(inputs: Vec<Input>, options: &Options<'_>) -> Result<Merge> {
    let mut senders = Vec::with_capacity(inputs.len());
    let mut receivers = Vec::with_capacity(inputs.len());
    for _ in &inputs {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        senders.push(Mutex::new(Some(tx)));
        receivers.push(rx);
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len())
        .max(1);
    let (scans, report) = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let sender = senders[i].lock().ok().and_then(|mut s| s.take());
                    let Some(sender) = sender else { break };
                    if !scan_worker(input, &sender) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        let gathered = gather(&inputs, receivers, options);
        stop.store(true, Ordering::Relaxed);
        gathered
    })?;
    Ok(Merge {
        inputs,
        scans,
        report,
    })
}

/// Cases sent from a thread reading an input at once.
const BATCH: usize = 512;

/// Batches a reading thread may be ahead by, per input.
const QUEUE: usize = 128;

/// What a thread reading an input sends.
enum Found {
    Cases(Vec<Case>),
    Done(Box<Scanned>),
    Unreadable(Error),
}

/// An input read to its end (or where it broke).
struct Scanned {
    result: std::result::Result<InputScan, ScanFailure>,
    warnings: Vec<(u64, String)>,
    fingerprints: Vec<String>,
    stamp: Option<(u64, SystemTime)>,
}

/// Reads one input, sending its cases as they come; false when nobody listens any more.
fn scan_worker(input: &Input, out: &mpsc::SyncSender<Found>) -> bool {
    let file = match open(input) {
        Ok(file) => file,
        Err(e) => return out.send(Found::Unreadable(e)).is_ok(),
    };
    let stamp = stamp_of(&file);
    let mut batch = Vec::with_capacity(BATCH);
    let mut heard = true;
    let mut warnings = Vec::new();
    let mut fingerprints = Vec::new();
    let result = scan_input(
        file,
        &mut |case| {
            batch.push(case);
            if batch.len() == BATCH && heard {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                heard = out.send(Found::Cases(full)).is_ok();
            }
        },
        &mut |offset, message| warnings.push((offset, message)),
        &mut fingerprints,
    );
    if !batch.is_empty() && heard {
        heard = out.send(Found::Cases(batch)).is_ok();
    }
    heard
        && out
            .send(Found::Done(Box::new(Scanned {
                result,
                warnings,
                fingerprints,
                stamp,
            })))
            .is_ok()
}

/// The first pass's findings, taken from the reading threads input by input.
fn gather(
    inputs: &[Input],
    receivers: Vec<mpsc::Receiver<Found>>,
    options: &Options<'_>,
) -> Result<(Vec<InputScan>, Report)> {
    let mut verifier = options.plan.map(Verifier::new);
    let mut reporters = Reporters::default();
    let mut slowest: Vec<(f64, usize, Option<String>, String)> = Vec::new();
    let mut scans = Vec::with_capacity(inputs.len());
    let mut report = Report {
        totals: Totals::default(),
        nodes: Vec::new(),
        slowest: Vec::new(),
        warnings: Vec::new(),
        salvaged: Vec::new(),
        node_check: None,
        verification: None,
        foreign_plans: Vec::new(),
    };
    let mut own_slots = Vec::with_capacity(inputs.len());
    for (input, receiver) in inputs.iter().zip(receivers) {
        let own_slot = reporters.slot(None);
        own_slots.push(own_slot);
        // This input's complete cases, whatever node each names.
        let mut complete = 0u64;
        let mut on_case = |case: Case, reporters: &mut Reporters| {
            complete += 1;
            let slot = match case.property(NODE_PROPERTY) {
                Some(label) => reporters.slot(Some(label)),
                None => own_slot,
            };
            reporters.totals[slot].add(&case);
            if let Some(v) = verifier.as_mut() {
                v.observe(slot, &case);
            }
            // Past the first few, only a case slower than the slowest kept can enter.
            if options.slowest > 0
                && let Some(t) = case.time
                && (slowest.len() < options.slowest
                    || slowest
                        .iter()
                        .any(|s: &(f64, usize, Option<String>, String)| s.0 < t))
            {
                slowest.push((t, slot, case.classname, case.name));
                if slowest.len() >= options.slowest * 4 {
                    keep_slowest(&mut slowest, options.slowest);
                }
            }
        };
        let scanned = loop {
            match receiver.recv() {
                Ok(Found::Cases(cases)) => {
                    for case in cases {
                        on_case(case, &mut reporters);
                    }
                }
                Ok(Found::Done(scanned)) => break *scanned,
                Ok(Found::Unreadable(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Report {
                        source_name: input.source.clone(),
                        line: 0,
                        column: 0,
                        message: "internal: the thread reading it stopped".into(),
                    });
                }
            }
        };
        let Scanned {
            result: scanned,
            mut warnings,
            fingerprints,
            stamp,
        } = scanned;
        let mut scan = match scanned {
            Ok(scan) => scan,
            Err(failure) => {
                let (error, scan) = *failure;
                let (line, column) = place(input, &[error.offset])?[0];
                if !options.salvage {
                    let mut message = error.message;
                    if scan.journal {
                        message.push_str(
                            "; this is the journal of a shard-exec run that did not end (killed, or still running), whose report was never written: merge the results it holds with --salvage",
                        );
                    }
                    return Err(Error::Report {
                        source_name: input.source.clone(),
                        line,
                        column,
                        message,
                    });
                }
                let kept = complete;
                let message = format!(
                    "{}:{line}:{column}: {}; {kept} complete test cases kept, the rest of the report is lost",
                    input.source, error.message
                );
                report.salvaged.push(Salvaged {
                    source: input.source.clone(),
                    line,
                    column,
                    message: error.message,
                    kept,
                });
                InputScan {
                    broken: Some(Broken { message }),
                    ..scan
                }
            }
        };
        scan.stamp = stamp;
        let label = scan.label.clone();
        if label.is_empty() {
            scan.label = input.label.clone();
        }
        reporters.labels[own_slot] = scan.label.clone();
        if scan.broken.is_some() {
            reporters.totals[own_slot].tests += 1;
            reporters.totals[own_slot].errors += 1;
        }
        if let Some(plan) = options.plan {
            for fingerprint in fingerprints {
                let bare = fingerprint.strip_prefix("sha256:").unwrap_or(&fingerprint);
                if bare != plan.fingerprint {
                    report.foreign_plans.push(ForeignPlan {
                        source: input.source.clone(),
                        fingerprint,
                    });
                }
            }
        }
        let more = warnings.len().saturating_sub(MAX_WARNINGS);
        warnings.truncate(MAX_WARNINGS);
        let offsets: Vec<u64> = warnings.iter().map(|w| w.0).collect();
        let places = place(input, &offsets)?;
        for ((_, message), (line, column)) in warnings.into_iter().zip(places) {
            report.warnings.push(Warning {
                source: input.source.clone(),
                line,
                column,
                message,
            });
        }
        if more > 0 {
            report.warnings.push(Warning {
                source: input.source.clone(),
                line: 0,
                column: 0,
                message: format!("and {more} more warnings like these"),
            });
        }
        scans.push(scan);
    }

    // An input's own label names a node when some of its cases carry no label of their own, or
    // when it has no case at all (a node that ran nothing still reported).
    let mut silent: HashSet<usize> = HashSet::new();
    for (&slot, scan) in own_slots.iter().zip(&scans) {
        if reporters.totals[slot].tests == 0 && scan.cases > 0 {
            silent.insert(slot);
        }
    }
    let mut by_label: BTreeMap<(Option<u32>, String), Totals> = BTreeMap::new();
    for (slot, (label, totals)) in reporters.labels.iter().zip(&reporters.totals).enumerate() {
        report.totals.absorb(totals);
        if silent.contains(&slot) {
            continue;
        }
        by_label
            .entry((node_number(label), label.clone()))
            .or_default()
            .absorb(totals);
    }
    report.nodes = by_label
        .into_iter()
        .map(|((_, label), totals)| NodeTotals { label, totals })
        .collect();
    keep_slowest(&mut slowest, options.slowest);
    report.slowest = slowest
        .into_iter()
        .map(|(time, slot, classname, name)| Slow {
            node: reporters.labels[slot].clone(),
            classname,
            name,
            time,
        })
        .collect();
    if let Some(expected) = options.expect_nodes {
        let mut seen = HashSet::new();
        let mut extra = Vec::new();
        for node in &report.nodes {
            match node_number(&node.label) {
                Some(k) if (1..=expected).contains(&k) => {
                    seen.insert(k);
                }
                _ => extra.push(node.label.clone()),
            }
        }
        report.node_check = Some(NodeCheck {
            expected,
            missing: (1..=expected).filter(|k| !seen.contains(k)).collect(),
            extra,
        });
    }
    report.verification = verifier.map(|v| v.finish(&reporters.labels));
    Ok((scans, report))
}

fn keep_slowest(slowest: &mut Vec<(f64, usize, Option<String>, String)>, n: usize) {
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.3.cmp(&b.3)));
    slowest.truncate(n);
}

/// A file's length and modification time, to tell whether it changed between the passes.
fn stamp_of(file: &File) -> Option<(u64, SystemTime)> {
    let meta = file.metadata().ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn open(input: &Input) -> Result<File> {
    File::open(&input.path).map_err(|source| Error::Read {
        source_name: input.source.clone(),
        source,
    })
}

/// Lines and columns of offsets in the input, reading it once.
fn place(input: &Input, offsets: &[u64]) -> Result<Vec<(u64, u64)>> {
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    locate_all(open(input)?, offsets).map_err(|source| Error::Read {
        source_name: input.source.clone(),
        source,
    })
}

/// A `time` attribute as written: kept when it is a plain decimal already, normalized when it
/// reads as seconds (`1,234.5` -> `1234.5`), `0` when negative, dropped when it is no number.
fn fixed_time(raw: &str) -> Option<String> {
    if is_plain_decimal(raw) {
        return Some(raw.to_string());
    }
    match time::parse(raw) {
        Ok(seconds) => Some(time::format(seconds)),
        Err(time::BadTime::Negative) => Some("0".to_string()),
        Err(time::BadTime::NotANumber) => None,
    }
}

fn is_plain_decimal(text: &str) -> bool {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

fn is_count(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

const COUNT_ATTRIBUTES: [&str; 4] = ["tests", "failures", "errors", "skipped"];

/// Whether an element of this kind carries a duration in `time`.
fn has_duration(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Suite
            | Kind::Case
            | Kind::FlakyFailure
            | Kind::FlakyError
            | Kind::RerunFailure
            | Kind::RerunError
    )
}

/// Elements whose content is elements only: text in them other than white space is dropped.
fn holds_elements_only(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Suites | Kind::Suite | Kind::Case | Kind::Properties
    )
}

fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

type ScanFailure = Box<(ReadError, InputScan)>;

/// The first pass over one input.
fn scan_input(
    input: impl Read,
    on_case: &mut dyn FnMut(Case),
    warn: &mut dyn FnMut(u64, String),
    fingerprints: &mut Vec<String>,
) -> std::result::Result<InputScan, ScanFailure> {
    let mut reader = JunitReader::new(input);
    let mut tracker = CaseTracker::new();
    let mut scan = InputScan {
        flags: Vec::new(),
        suites: Vec::new(),
        label: String::new(),
        carried: Vec::new(),
        root_name: None,
        cases: 0,
        broken: None,
        edits: Vec::new(),
        copy: (0, 0),
        closers: Vec::new(),
        carry_to: NONE,
        top_level: false,
        stamp: None,
        journal: false,
    };
    let mut root_attributes: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<ScanFrame> = Vec::new();
    let mut open_case = NONE;
    let mut dropped_text = false;
    // Text of the current run that is left out (not white space, where only elements go).
    let mut run_dropped = false;
    // Where the root's `<properties>` being read began: it is left out.
    let mut cut_start = 0u64;
    let mut holder_open = false;
    // Where the last tag read ends: a broken input is kept up to there.
    let mut last_safe = 0u64;
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let event = match reader.next_event() {
            Ok(event) => event,
            Err(error) => {
                scan.carried.extend(root_attributes);
                // Kept: everything before the lost case, or up to the last tag read; the
                // elements open there are closed.
                let mut open = stack.len();
                let mut stop = last_safe;
                if let Some(i) = stack
                    .iter()
                    .position(|f| open_case != NONE && f.element == open_case)
                {
                    open = i;
                    stop = stack[i].tag_start;
                }
                if let Some(i) = stack[..open].iter().position(|f| f.root_properties) {
                    open = i;
                    stop = cut_start;
                }
                let names = reader.open_elements();
                for (frame, name) in stack[..open].iter().zip(names).rev() {
                    if !frame.dissolved {
                        scan.closers.push((name.to_string(), index(frame.owner)));
                    }
                }
                if !stack.is_empty() {
                    scan.copy.1 = stop.max(scan.copy.0);
                }
                finish_edits(&mut scan);
                return Err(Box::new((error, scan)));
            }
        };
        let finished = match event {
            Event::Eof => break,
            Event::Text(text) => {
                if let Some(frame) = stack.last()
                    && holds_elements_only(frame.kind)
                    && !is_blank(text)
                {
                    run_dropped = true;
                    if !dropped_text {
                        dropped_text = true;
                        warn(
                            offset,
                            "text directly inside an element that holds only elements is left out"
                                .into(),
                        );
                    }
                }
                None
            }
            Event::Start {
                kind,
                name,
                attrs,
                empty,
                span,
                dirty,
            } => {
                let (tag_start, tag_end) = (span.start, span.end);
                last_safe = tag_end;
                let tag = |op| Edit {
                    at: tag_start,
                    len: tag_end - tag_start,
                    op,
                };
                let attr = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.as_str());
                let parent = stack.last().copied();
                let dissolved_parent = parent.is_some_and(|p| p.dissolved);
                let mut rewrite = dirty;
                if depth == 0 {
                    match kind {
                        Kind::Suites => {
                            scan.root_name = attr("name").map(str::to_string);
                            root_attributes = attrs
                                .iter()
                                .map(|a| {
                                    (
                                        format!("{ROOT_ATTRIBUTE_PREFIX}{}", a.name),
                                        a.value.clone(),
                                    )
                                })
                                .collect();
                            scan.copy = (tag_end, tag_end);
                        }
                        Kind::Suite => scan.copy = (tag_start, tag_end),
                        _ => {
                            let error = ReadError {
                                offset,
                                message: format!(
                                    "the root element is <{name}>: a JUnit report has <testsuites> or <testsuite>"
                                ),
                                truncated: false,
                            };
                            return Err(Box::new((error, scan)));
                        }
                    }
                }
                let mut frame = ScanFrame {
                    kind,
                    element: NONE,
                    suite: NONE,
                    root_properties: false,
                    owner: NONE,
                    owner_is_suite: false,
                    dissolved: depth == 0 && kind == Kind::Suites,
                    tag_start,
                };
                // Content the input's root holds outside any suite goes into a suite made
                // for it.
                if dissolved_parent && kind != Kind::Properties {
                    if kind == Kind::Suite && holder_open {
                        scan.edits.push(Edit {
                            at: tag_start,
                            len: 0,
                            op: Op::HolderClose,
                        });
                        holder_open = false;
                    } else if kind != Kind::Suite && !holder_open {
                        scan.edits.push(Edit {
                            at: tag_start,
                            len: 0,
                            op: Op::HolderOpen,
                        });
                        holder_open = true;
                        if !scan.top_level {
                            scan.carry_to = HOLDER;
                        }
                        scan.top_level = true;
                    }
                }
                match kind {
                    Kind::Suite | Kind::Case => {
                        frame.element = scan.flags.len();
                        scan.flags
                            .push(if kind == Kind::Suite { IS_SUITE } else { 0 });
                        if attr("name").is_none() {
                            rewrite = true;
                            warn(
                                offset,
                                format!("<{name}> has no name: written as name=\"{UNNAMED}\""),
                            );
                        }
                        if kind == Kind::Suite {
                            frame.suite = scan.suites.len();
                            scan.suites.push(Totals::default());
                            if depth == 0 || dissolved_parent {
                                if !scan.top_level {
                                    scan.carry_to = frame.element;
                                }
                                scan.top_level = true;
                            }
                        } else if !tracker.in_case() {
                            scan.cases += 1;
                            if !empty {
                                open_case = frame.element;
                            }
                        }
                    }
                    Kind::Properties => match parent {
                        Some(p) if p.kind == Kind::Suites && depth == 1 => {
                            frame.root_properties = true;
                            if empty {
                                scan.edits.push(tag(Op::Cut));
                            } else {
                                cut_start = tag_start;
                            }
                        }
                        Some(p)
                            if p.element != NONE && scan.flags[p.element] & HAS_PROPERTIES == 0 =>
                        {
                            scan.flags[p.element] |= HAS_PROPERTIES;
                            frame.owner = p.element;
                            frame.owner_is_suite = p.kind == Kind::Suite;
                            if empty {
                                scan.edits.push(tag(Op::EmptyProperties {
                                    owner: index(p.element),
                                    rewrite,
                                }));
                            }
                        }
                        _ => {}
                    },
                    Kind::Property => {
                        if let Some(p) = parent
                            && let Some(property) = attr("name")
                        {
                            let value = attr("value").unwrap_or_default();
                            let suite_level = p.root_properties || p.owner_is_suite;
                            if p.root_properties {
                                scan.carried.push((property.to_string(), value.to_string()));
                            }
                            if p.owner != NONE {
                                match property {
                                    NODE_PROPERTY => scan.flags[p.owner] |= HAS_NODE,
                                    SOURCE_PROPERTY if p.owner_is_suite => {
                                        scan.flags[p.owner] |= HAS_SOURCE
                                    }
                                    _ => {}
                                }
                            }
                            if suite_level {
                                if property == NODE_PROPERTY && scan.label.is_empty() {
                                    scan.label = value.to_string();
                                }
                                if property == PLAN_PROPERTY {
                                    fingerprints.push(value.to_string());
                                }
                                if property == JOURNAL_PROPERTY {
                                    scan.journal = true;
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if has_duration(kind)
                    && let Some(raw) = attr("time")
                    && !is_plain_decimal(raw)
                {
                    rewrite = true;
                    let message = match fixed_time(raw) {
                        Some(fixed) => format!("<{name}> time=\"{raw}\" is written as {fixed}"),
                        None => {
                            format!("<{name}> time=\"{raw}\" is not a number of seconds: left out")
                        }
                    };
                    warn(offset, message);
                }
                if kind == Kind::Suite {
                    for count in COUNT_ATTRIBUTES {
                        if let Some(raw) = attr(count)
                            && !is_count(raw)
                        {
                            rewrite = true;
                            warn(
                                offset,
                                format!(
                                    "<{name}> {count}=\"{raw}\" is not a count: recounted from the cases"
                                ),
                            );
                        }
                    }
                }
                match kind {
                    Kind::Suite | Kind::Case => scan.edits.push(tag(Op::Start {
                        element: index(frame.element),
                        suite: index(frame.suite),
                        rewrite,
                        empty,
                    })),
                    Kind::Properties | Kind::Suites => {}
                    _ if rewrite => scan.edits.push(tag(Op::Tag { kind })),
                    _ => {}
                }
                let done = tracker.start(kind, attrs, empty, depth, offset);
                if !empty {
                    stack.push(frame);
                }
                done
            }
            Event::End { kind, span, .. } => {
                let (tag_start, tag_end) = (span.start, span.end);
                last_safe = tag_end;
                let frame = stack.pop();
                if let Some(f) = frame {
                    if f.element == open_case {
                        open_case = NONE;
                    }
                    if f.root_properties {
                        scan.edits.push(Edit {
                            at: cut_start,
                            len: tag_end - cut_start,
                            op: Op::Cut,
                        });
                    }
                    if f.owner != NONE {
                        scan.edits.push(Edit {
                            at: tag_start,
                            len: 0,
                            op: Op::Append {
                                owner: index(f.owner),
                            },
                        });
                    }
                    if stack.is_empty() {
                        if f.dissolved {
                            if holder_open {
                                scan.edits.push(Edit {
                                    at: tag_start,
                                    len: 0,
                                    op: Op::HolderClose,
                                });
                            }
                            scan.copy.1 = tag_start;
                        } else {
                            scan.copy.1 = tag_end;
                        }
                    }
                }
                tracker.end(kind, depth - 1)
            }
        };
        for (at, end) in reader.take_skipped() {
            scan.edits.push(Edit {
                at,
                len: end - at,
                op: Op::Cut,
            });
        }
        if let Some(run) = reader.take_run() {
            let op = if std::mem::take(&mut run_dropped) {
                Some(Op::Cut)
            } else if run.dirty {
                Some(Op::Text)
            } else {
                None
            };
            if let Some(op) = op {
                scan.edits.push(Edit {
                    at: run.start,
                    len: run.end - run.start,
                    op,
                });
            }
        }
        if let Some(case) = finished {
            for frame in &stack {
                if frame.suite != NONE {
                    scan.suites[frame.suite].add(&case);
                }
            }
            on_case(case);
        }
    }
    scan.carried.extend(root_attributes);
    finish_edits(&mut scan);
    Ok(scan)
}

/// Puts the edits in input order and keeps those that apply: inside the part copied, and not
/// inside a part left out.
fn finish_edits(scan: &mut InputScan) {
    let (start, end) = scan.copy;
    scan.edits.sort_by_key(|e| e.at);
    let mut covered = start;
    scan.edits.retain(|e| {
        let keep = e.at >= covered && e.at + e.len <= end;
        if keep {
            covered = e.at + e.len;
        }
        keep
    });
}

/// An element number as the edits store it.
fn index(element: usize) -> u32 {
    u32::try_from(element).unwrap_or(NO_ELEMENT)
}

impl Merge {
    /// What the merge found.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The second pass: writes the merged report to `out`.
    pub fn write(&self, out: impl Write) -> Result<()> {
        self.write_to(Sink::Writer(out))
    }

    /// The second pass, into a file: long runs of bytes that are copied as they stand go from
    /// file to file in the kernel, never read into the process.
    pub fn write_file(&self, out: &File) -> Result<()> {
        self.write_to(Sink::<io::Sink>::File(io::BufWriter::with_capacity(
            COPY_BUFFER,
            out,
        )))
    }

    fn write_to<W: Write>(&self, out: Sink<'_, W>) -> Result<()> {
        let io_error = |source: io::Error| Error::Write {
            path: PathBuf::from("the merged report"),
            source,
        };
        let mut writer = JunitWriter::new(out).map_err(io_error)?;
        let totals = &self.report.totals;
        let attrs = [
            ("tests", totals.tests.to_string()),
            ("failures", totals.failures.to_string()),
            ("errors", totals.errors.to_string()),
            ("skipped", totals.skipped.to_string()),
            ("time", time::format(totals.time)),
        ]
        .map(|(name, value)| Attr {
            name: name.to_string(),
            value,
        });
        writer
            .start("testsuites", &attrs, false)
            .map_err(io_error)?;
        for (input, scan) in self.inputs.iter().zip(&self.scans) {
            writer.escaped_text("\n").map_err(io_error)?;
            let file = open(input)?;
            let copied = if stamp_of(&file) == scan.stamp {
                copy_input(file, input, scan, &mut writer)
            } else {
                Err(CopyFailure::Changed("its size or time changed".into()))
            };
            match copied {
                Ok(()) => {}
                Err(CopyFailure::Io(e)) => return Err(io_error(e)),
                Err(CopyFailure::Changed(message)) => {
                    return Err(Error::Report {
                        source_name: input.source.clone(),
                        line: 0,
                        column: 0,
                        message: format!("the report changed while it was being merged: {message}"),
                    });
                }
            }
        }
        writer.escaped_text("\n").map_err(io_error)?;
        writer.finish().map_err(io_error)?;
        Ok(())
    }
}

/// Where the merged report goes: any writer, or a file that bytes can be copied into from
/// another file directly.
enum Sink<'f, W> {
    Writer(W),
    File(io::BufWriter<&'f File>),
}

impl<W: Write> Write for Sink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Writer(w) => w.write(buf),
            Sink::File(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Writer(w) => w.write_all(buf),
            Sink::File(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Writer(w) => w.flush(),
            Sink::File(w) => w.flush(),
        }
    }
}

/// Runs of bytes copied as they stand from this long on go from file to file directly.
const DIRECT_COPY: u64 = 1 << 20;

/// Why the second pass could not copy an input: reading failed, or the input is no longer what
/// the first pass read.
enum CopyFailure {
    Io(io::Error),
    Changed(String),
}

impl From<io::Error> for CopyFailure {
    fn from(e: io::Error) -> Self {
        CopyFailure::Io(e)
    }
}

/// The second pass over one input: its bytes copied as they stand, except where the first
/// pass found something to change.
fn copy_input<W: Write>(
    mut file: File,
    input: &Input,
    scan: &InputScan,
    writer: &mut JunitWriter<Sink<'_, W>>,
) -> std::result::Result<(), CopyFailure> {
    let base = writer.depth();
    let (start, end) = scan.copy;
    file.seek(SeekFrom::Start(start))?;
    let direct = file.try_clone()?;
    // One reader for the whole input: its source is copied from, and it reads the runs of
    // character data that need sanitizing.
    let mut text = JunitReader::fragment(io::BufReader::with_capacity(COPY_BUFFER, file));
    let mut tag = Vec::new();
    let mut at = start;
    // What goes into suite or case `element`'s properties, as `<property>` elements: the same
    // for most cases, so written once.
    let case_node = render_properties(&[(NODE_PROPERTY.to_string(), scan.label.clone())]);
    let provenance = |element: u32| -> Cow<'_, [u8]> {
        let Some(&flags) = scan.flags.get(element as usize) else {
            return Cow::Borrowed(&[]);
        };
        if flags & IS_SUITE == 0 {
            return Cow::Borrowed(if flags & HAS_NODE == 0 {
                &case_node
            } else {
                &[]
            });
        }
        let mut props = Vec::new();
        if flags & IS_SUITE != 0 && scan.carry_to == element as usize {
            props.extend(scan.carried.iter().cloned());
        }
        if flags & HAS_NODE == 0 {
            props.push((NODE_PROPERTY.to_string(), scan.label.clone()));
        }
        if flags & (HAS_SOURCE | IS_SUITE) == IS_SUITE {
            props.push((SOURCE_PROPERTY.to_string(), input.source.clone()));
        }
        Cow::Owned(render_properties(&props))
    };
    // A synthetic suite's: the root's properties unless a suite of the input has them.
    let synthetic = |carried: bool| -> Vec<(String, String)> {
        let mut props = if carried {
            scan.carried.clone()
        } else {
            Vec::new()
        };
        props.push((NODE_PROPERTY.to_string(), scan.label.clone()));
        props.push((SOURCE_PROPERTY.to_string(), input.source.clone()));
        props
    };
    let synthetic_name = scan.root_name.as_deref().unwrap_or(UNNAMED);
    for edit in &scan.edits {
        let gap = edit
            .at
            .checked_sub(at)
            .ok_or_else(|| CopyFailure::Changed("edits out of order".into()))?;
        copy_gap(&mut text, &direct, at, gap, writer)?;
        at = edit.at + edit.len;
        match edit.op {
            Op::Cut => copy_bytes::<W>(text.source(), edit.len, None)?,
            Op::Text => {
                text.limit(Some(edit.len));
                loop {
                    match text.next_event() {
                        Ok(Event::Text(t)) => writer.escaped_text(t)?,
                        Ok(Event::Eof) => break,
                        Ok(_) => return Err(CopyFailure::Changed("a tag inside text".into())),
                        Err(e) => return Err(CopyFailure::Changed(e.message)),
                    }
                }
                text.limit(None);
            }
            Op::Start {
                element,
                suite,
                rewrite,
                empty,
            } => {
                read_tag(text.source(), edit.len, &mut tag)?;
                let flags = scan.flags.get(element as usize).copied().unwrap_or(0);
                let props = if flags & HAS_PROPERTIES == 0 {
                    provenance(element)
                } else {
                    Cow::Borrowed(&[][..])
                };
                let kind = if suite == NO_ELEMENT {
                    Kind::Case
                } else {
                    Kind::Suite
                };
                let totals = scan.suites.get(suite as usize).copied();
                write_tag(writer, &tag, kind, rewrite, !props.is_empty(), totals)?;
                if !props.is_empty() {
                    writer.raw(b"<properties>")?;
                    writer.raw(&props)?;
                    writer.raw(b"</properties>")?;
                    if empty {
                        writer.raw(if kind == Kind::Suite {
                            b"</testsuite>"
                        } else {
                            b"</testcase>"
                        })?;
                    }
                }
            }
            Op::Tag { kind } => {
                read_tag(text.source(), edit.len, &mut tag)?;
                write_tag(writer, &tag, kind, true, false, None)?;
            }
            Op::EmptyProperties { owner, rewrite } => {
                read_tag(text.source(), edit.len, &mut tag)?;
                let props = provenance(owner);
                write_tag(
                    writer,
                    &tag,
                    Kind::Properties,
                    rewrite,
                    !props.is_empty(),
                    None,
                )?;
                if !props.is_empty() {
                    writer.raw(&props)?;
                    writer.raw(b"</properties>")?;
                }
            }
            Op::Append { owner } => writer.raw(&provenance(owner))?,
            Op::HolderOpen => {
                let props = synthetic(scan.carry_to == HOLDER);
                write_synthetic_suite(writer, synthetic_name, &props, Synthetic::Holder)?;
            }
            Op::HolderClose => writer.end()?,
        }
    }
    let rest = end
        .checked_sub(at)
        .ok_or_else(|| CopyFailure::Changed("edits out of order".into()))?;
    copy_gap(&mut text, &direct, at, rest, writer)?;
    for (name, owner) in &scan.closers {
        if *owner != NO_ELEMENT {
            writer.raw(&provenance(*owner))?;
        }
        writer.raw(format!("</{name}>").as_bytes())?;
    }
    while writer.depth() > base {
        writer.end()?;
    }
    if let Some(broken) = &scan.broken {
        let props = synthetic(!scan.top_level);
        write_synthetic_suite(
            writer,
            SALVAGE_CLASS,
            &props,
            Synthetic::Lost(&broken.message),
        )?;
        writer.end()?;
    } else if !scan.top_level {
        let props = synthetic(true);
        write_synthetic_suite(writer, synthetic_name, &props, Synthetic::Empty)?;
        writer.end()?;
    }
    Ok(())
}

/// `<property>` elements, escaped.
fn render_properties(props: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in props {
        out.push_str("<property name=\"");
        escape_attribute(name, &mut out);
        out.push_str("\" value=\"");
        escape_attribute(value, &mut out);
        out.push_str("\"/>");
    }
    out.into_bytes()
}

/// Copies bytes `from..from + len` of the input (where `text` stands) as they are: a long run
/// into a file directly from `file`, the input.
fn copy_gap<R: Read + Seek, W: Write>(
    text: &mut JunitReader<R>,
    file: &File,
    from: u64,
    len: u64,
    writer: &mut JunitWriter<Sink<'_, W>>,
) -> std::result::Result<(), CopyFailure> {
    if len >= DIRECT_COPY
        && let Sink::File(out) = writer.get_mut()
    {
        let mut source = file;
        source.seek(SeekFrom::Start(from))?;
        let copied = io::copy(&mut source.take(len), out)?;
        if copied != len {
            return Err(CopyFailure::Changed("it is shorter than before".into()));
        }
        text.reposition(from + len)?;
        return Ok(());
    }
    copy_bytes(text.source(), len, Some(writer))
}

/// Hands the next `len` bytes of `source` to `take`, a buffer's worth at a time.
fn take_bytes(
    source: &mut dyn BufRead,
    mut len: u64,
    mut take: impl FnMut(&[u8]) -> io::Result<()>,
) -> std::result::Result<(), CopyFailure> {
    while len > 0 {
        let available = source.fill_buf()?;
        if available.is_empty() {
            return Err(CopyFailure::Changed("it is shorter than before".into()));
        }
        let n = available
            .len()
            .min(usize::try_from(len).unwrap_or(usize::MAX));
        take(&available[..n])?;
        source.consume(n);
        len -= n as u64;
    }
    Ok(())
}

/// Copies the next `len` bytes of `source` to `writer` (or skips them, without one).
fn copy_bytes<W: Write>(
    source: &mut dyn BufRead,
    len: u64,
    mut writer: Option<&mut JunitWriter<W>>,
) -> std::result::Result<(), CopyFailure> {
    take_bytes(source, len, |bytes| match writer.as_deref_mut() {
        Some(w) => w.raw(bytes),
        None => Ok(()),
    })
}

/// Reads the next `len` bytes of `source` (a tag) into `tag`.
fn read_tag(
    source: &mut dyn BufRead,
    len: u64,
    tag: &mut Vec<u8>,
) -> std::result::Result<(), CopyFailure> {
    tag.clear();
    take_bytes(source, len, |bytes| {
        tag.extend_from_slice(bytes);
        Ok(())
    })
}

/// Writes a start tag read from the input: as it stands, or (`rewrite`) read and written
/// again with its time normalized, a missing name given and a suite's counts (`totals`)
/// that are no counts recounted. `open` writes an empty tag as a start tag.
fn write_tag<W: Write>(
    writer: &mut JunitWriter<W>,
    tag: &[u8],
    kind: Kind,
    rewrite: bool,
    open: bool,
    totals: Option<Totals>,
) -> std::result::Result<(), CopyFailure> {
    if !rewrite {
        match tag.strip_suffix(b"/>") {
            Some(start) if open => {
                writer.raw(start.trim_ascii_end())?;
                writer.raw(b">")?;
            }
            _ => writer.raw(tag)?,
        }
        return Ok(());
    }
    let (name, mut attrs, empty) = parse_start_tag(tag).map_err(CopyFailure::Changed)?;
    if has_duration(kind) {
        fix_time_attribute(&mut attrs);
    }
    if matches!(kind, Kind::Suite | Kind::Case) && !attrs.iter().any(|a| a.name == "name") {
        attrs.insert(
            0,
            Attr {
                name: "name".into(),
                value: UNNAMED.into(),
            },
        );
    }
    if let Some(totals) = totals {
        for attr in attrs.iter_mut() {
            if let Some(count) = totals.count(&attr.name)
                && !is_count(&attr.value)
            {
                attr.value = count.to_string();
            }
        }
    }
    let mut out = String::new();
    start_tag(&name, &attrs, empty && !open, &mut out);
    writer.raw(out.as_bytes())?;
    Ok(())
}

fn fix_time_attribute(attrs: &mut Vec<Attr>) {
    if let Some(i) = attrs.iter().position(|a| a.name == "time") {
        match fixed_time(&attrs[i].value) {
            Some(fixed) => attrs[i].value = fixed,
            None => {
                attrs.remove(i);
            }
        }
    }
}

fn write_properties<W: Write>(
    writer: &mut JunitWriter<W>,
    props: &[(String, String)],
) -> io::Result<()> {
    writer.start("properties", &[], false)?;
    for (n, v) in props {
        writer.property(n, v)?;
    }
    writer.end()
}

/// What a suite the input did not have is for.
#[derive(Debug, Clone, Copy)]
enum Synthetic<'a> {
    /// Content the input's root holds outside any suite: it follows.
    Holder,
    /// An input with no suite at all: the suite names it.
    Empty,
    /// The one errored case that stands for what a broken input lost.
    Lost(&'a str),
}

/// Opens a suite the input did not have, and leaves it open.
fn write_synthetic_suite<W: Write>(
    writer: &mut JunitWriter<W>,
    name: &str,
    props: &[(String, String)],
    what: Synthetic<'_>,
) -> io::Result<()> {
    let lost = match what {
        Synthetic::Lost(message) => Some(message),
        _ => None,
    };
    let attr = |name: &str, value: &str| Attr {
        name: name.to_string(),
        value: value.to_string(),
    };
    let mut attrs = vec![attr("name", name)];
    if lost.is_some() {
        attrs.extend([
            attr("tests", "1"),
            attr("failures", "0"),
            attr("errors", "1"),
            attr("skipped", "0"),
            attr("time", "0"),
        ]);
    } else if let Synthetic::Empty = what {
        attrs.extend(COUNT_ATTRIBUTES.map(|c| attr(c, "0")));
    }
    writer.start("testsuite", &attrs, false)?;
    write_properties(writer, props)?;
    if let Some(message) = lost {
        let node = props
            .iter()
            .filter(|(n, _)| n == NODE_PROPERTY)
            .cloned()
            .collect::<Vec<_>>();
        let source = props
            .iter()
            .find(|(n, _)| n == SOURCE_PROPERTY)
            .map_or("", |(_, v)| v.as_str());
        writer.start(
            "testcase",
            &[
                attr("classname", SALVAGE_CLASS),
                attr("name", source),
                attr("time", "0"),
            ],
            false,
        )?;
        write_properties(writer, &node)?;
        writer.start(
            "error",
            &[attr("type", "truncated"), attr("message", message)],
            false,
        )?;
        writer.text(message)?;
        writer.end()?;
        writer.end()?;
    }
    Ok(())
}
