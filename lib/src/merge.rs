//! Merging the nodes' JUnit reports into one, streaming, with every case labelled by the node
//! that ran it.
//!
//! Each input is read twice, never held. The first pass ([`scan`]) counts and checks: the
//! totals the merged root states, which suites and cases already have a `<properties>` block
//! (so that provenance goes into it rather than into a second one), the node each input
//! belongs to, what to warn about, the plan verification, and where a broken input stops being
//! usable. The second pass ([`Merge::write`]) copies every input through the writer, changing
//! only what the first pass decided: provenance added, times normalized, missing names and
//! unreadable counts filled in, the input's `<testsuites>` root dissolved into the merged one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::junit::cases::{Case, CaseTracker, Status};
use crate::junit::reader::{Attr, Event, JunitReader, Kind, ReadError, locate_all};
use crate::junit::time;
use crate::junit::writer::JunitWriter;
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

/// Where a broken input stops being usable.
#[derive(Debug, Clone)]
struct Broken {
    /// The element number of the case that was open when the input broke: it is left out.
    lost_element: Option<usize>,
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
}

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
pub fn scan(inputs: Vec<Input>, options: &Options<'_>) -> Result<Merge> {
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
    for input in &inputs {
        let own_slot = reporters.slot(None);
        own_slots.push(own_slot);
        let mut warnings: Vec<(u64, String)> = Vec::new();
        let mut warn = |offset: u64, message: String| warnings.push((offset, message));
        let mut fingerprints = Vec::new();
        let mut on_case = |case: Case, reporters: &mut Reporters| {
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
        let file = open(input)?;
        let scanned = scan_input(
            file,
            &mut reporters,
            &mut on_case,
            &mut warn,
            &mut fingerprints,
        );
        let mut scan = match scanned {
            Ok(scan) => scan,
            Err(failure) => {
                let (error, lost_element, scan) = *failure;
                let (line, column) = place(input, &[error.offset])?[0];
                if !options.salvage {
                    return Err(Error::Report {
                        source_name: input.source.clone(),
                        line,
                        column,
                        message: error.message,
                    });
                }
                let kept = reporters.totals[own_slot].tests;
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
                    broken: Some(Broken {
                        lost_element,
                        message,
                    }),
                    ..scan
                }
            }
        };
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
    Ok(Merge {
        inputs,
        scans,
        report,
    })
}

fn keep_slowest(slowest: &mut Vec<(f64, usize, Option<String>, String)>, n: usize) {
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.3.cmp(&b.3)));
    slowest.truncate(n);
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

type ScanFailure = Box<(ReadError, Option<usize>, InputScan)>;

/// The first pass over one input.
fn scan_input(
    input: impl Read,
    reporters: &mut Reporters,
    on_case: &mut dyn FnMut(Case, &mut Reporters),
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
    };
    let mut root_attributes: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<ScanFrame> = Vec::new();
    let mut open_case = NONE;
    let mut dropped_text = false;
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let event = match reader.next_event() {
            Ok(event) => event,
            Err(error) => {
                let lost = (open_case != NONE).then_some(open_case);
                scan.carried.extend(root_attributes);
                return Err(Box::new((error, lost, scan)));
            }
        };
        let finished = match event {
            Event::Eof => break,
            Event::Text(text) => {
                if let Some(frame) = stack.last()
                    && holds_elements_only(frame.kind)
                    && !dropped_text
                    && !is_blank(text)
                {
                    dropped_text = true;
                    warn(
                        offset,
                        "text directly inside an element that holds only elements is left out"
                            .into(),
                    );
                }
                None
            }
            Event::Start {
                kind,
                name,
                attrs,
                empty,
            } => {
                let attr = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.as_str());
                let parent = stack.last().copied();
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
                        }
                        Kind::Suite => {}
                        _ => {
                            let error = ReadError {
                                offset,
                                message: format!(
                                    "the root element is <{name}>: a JUnit report has <testsuites> or <testsuite>"
                                ),
                                truncated: false,
                            };
                            return Err(Box::new((error, None, scan)));
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
                };
                match kind {
                    Kind::Suite | Kind::Case => {
                        frame.element = scan.flags.len();
                        scan.flags.push(0);
                        if attr("name").is_none() {
                            warn(
                                offset,
                                format!("<{name}> has no name: written as name=\"{UNNAMED}\""),
                            );
                        }
                        if kind == Kind::Suite {
                            frame.suite = scan.suites.len();
                            scan.suites.push(Totals::default());
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
                        }
                        Some(p)
                            if p.element != NONE && scan.flags[p.element] & HAS_PROPERTIES == 0 =>
                        {
                            scan.flags[p.element] |= HAS_PROPERTIES;
                            frame.owner = p.element;
                            frame.owner_is_suite = p.kind == Kind::Suite;
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
                            }
                        }
                    }
                    _ => {}
                }
                if has_duration(kind)
                    && let Some(raw) = attr("time")
                    && !is_plain_decimal(raw)
                {
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
                            warn(
                                offset,
                                format!(
                                    "<{name}> {count}=\"{raw}\" is not a count: recounted from the cases"
                                ),
                            );
                        }
                    }
                }
                let done = tracker.start(kind, &attrs, empty, depth, offset);
                if !empty {
                    stack.push(frame);
                }
                done
            }
            Event::End { kind, .. } => {
                let frame = stack.pop();
                if let Some(f) = frame
                    && f.element == open_case
                {
                    open_case = NONE;
                }
                tracker.end(kind, depth - 1)
            }
        };
        if let Some(case) = finished {
            for frame in &stack {
                if frame.suite != NONE {
                    scan.suites[frame.suite].add(&case);
                }
            }
            on_case(case, reporters);
        }
    }
    scan.carried.extend(root_attributes);
    Ok(scan)
}

impl Merge {
    /// What the merge found.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The second pass: writes the merged report to `out`.
    pub fn write(&self, out: impl Write) -> Result<()> {
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
            match copy_input(file, input, scan, &mut writer) {
                Ok(()) => {}
                Err(Copy::Io(e)) => return Err(io_error(e)),
                Err(Copy::Changed(message)) => {
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

enum Copy {
    Io(io::Error),
    Changed(String),
}

impl From<io::Error> for Copy {
    fn from(e: io::Error) -> Self {
        Copy::Io(e)
    }
}

/// Frame of the second pass's element stack.
#[derive(Debug)]
struct CopyFrame {
    kind: Kind,
    /// Whether its tags are written (the input's `<testsuites>` root is not).
    written: bool,
    /// Properties to add into this suite's or case's own `<properties>` when it comes.
    inject: Option<Vec<(String, String)>>,
    /// Properties to add before this `<properties>` closes.
    append: Vec<(String, String)>,
}

/// The second pass over one input.
fn copy_input<W: Write>(
    file: impl Read,
    input: &Input,
    scan: &InputScan,
    writer: &mut JunitWriter<W>,
) -> std::result::Result<(), Copy> {
    let mut reader = JunitReader::new(file);
    let base = writer.depth();
    let mut stack: Vec<CopyFrame> = Vec::new();
    let mut element = 0usize;
    let mut cases = 0u64;
    let mut in_case = 0usize;
    // Depth (reader's, before the element) of a subtree being skipped.
    let mut skip: Option<usize> = None;
    // A suite opened for content the input's root holds outside any suite.
    let mut stray_open = false;
    let mut top_level_written = false;
    let mut carried = Some(scan.carried.clone());
    let suite_properties = |flags: u8, carried: Option<Vec<(String, String)>>| {
        let mut props = carried.unwrap_or_default();
        if flags & HAS_NODE == 0 {
            props.push((NODE_PROPERTY.to_string(), scan.label.clone()));
        }
        if flags & HAS_SOURCE == 0 {
            props.push((SOURCE_PROPERTY.to_string(), input.source.clone()));
        }
        props
    };
    let synthetic_name = scan
        .root_name
        .clone()
        .unwrap_or_else(|| UNNAMED.to_string());
    let mut suite_number = 0usize;
    loop {
        let depth = reader.depth();
        let event = match reader.next_event() {
            Ok(event) => event,
            // A salvaged input ends where it broke.
            Err(_) if scan.broken.is_some() => break,
            Err(error) => return Err(Copy::Changed(error.message)),
        };
        if let Some(at) = skip {
            match event {
                Event::End { .. } if depth - 1 == at => skip = None,
                _ => {}
            }
            continue;
        }
        match event {
            Event::Eof => break,
            Event::Text(text) => {
                let parent = stack.last();
                let dropped = parent.is_some_and(|p| {
                    !p.written || (holds_elements_only(p.kind) && !is_blank(text))
                });
                if parent.is_some() && !dropped {
                    writer.escaped_text(text)?;
                }
            }
            Event::Start {
                kind,
                name,
                attrs,
                empty,
            } => {
                let dissolved_parent = stack.last().is_some_and(|p| !p.written);
                if (kind == Kind::Suite || kind == Kind::Case) && element >= scan.flags.len() {
                    return Err(Copy::Changed("more suites and cases than before".into()));
                }
                if kind == Kind::Case
                    && scan
                        .broken
                        .as_ref()
                        .is_some_and(|b| b.lost_element == Some(element))
                {
                    break;
                }
                if depth == 0 && !matches!(kind, Kind::Suites | Kind::Suite) {
                    // Not a report: only a salvaged input gets here.
                    break;
                }
                if depth == 0 && kind == Kind::Suites {
                    stack.push(CopyFrame {
                        kind,
                        written: false,
                        inject: None,
                        append: Vec::new(),
                    });
                    continue;
                }
                if dissolved_parent {
                    match kind {
                        Kind::Properties => {
                            // The root's properties, carried into the first suite.
                            if !empty {
                                skip = Some(depth);
                            }
                            continue;
                        }
                        Kind::Suite => {
                            if stray_open {
                                writer.end()?;
                                stray_open = false;
                            }
                        }
                        _ => {
                            if !stray_open {
                                let props = suite_properties(0, carried.take());
                                write_synthetic_suite(
                                    writer,
                                    &synthetic_name,
                                    &props,
                                    Synthetic::Holder,
                                )?;
                                stray_open = true;
                                top_level_written = true;
                            }
                        }
                    }
                }
                let mut attrs = attrs;
                if has_duration(kind) {
                    fix_time_attribute(&mut attrs);
                }
                let mut frame = CopyFrame {
                    kind,
                    written: true,
                    inject: None,
                    append: Vec::new(),
                };
                match kind {
                    Kind::Suite | Kind::Case => {
                        let flags = scan.flags[element];
                        element += 1;
                        if !attrs.iter().any(|a| a.name == "name") {
                            attrs.insert(
                                0,
                                Attr {
                                    name: "name".into(),
                                    value: UNNAMED.into(),
                                },
                            );
                        }
                        let props = if kind == Kind::Suite {
                            let totals = scan.suites[suite_number];
                            suite_number += 1;
                            for attr in attrs.iter_mut() {
                                if let Some(count) = totals.count(&attr.name)
                                    && !is_count(&attr.value)
                                {
                                    attr.value = count.to_string();
                                }
                            }
                            let top = depth == 0 || dissolved_parent;
                            if top {
                                top_level_written = true;
                            }
                            suite_properties(flags, if top { carried.take() } else { None })
                        } else {
                            if in_case == 0 {
                                cases += 1;
                            }
                            // A case gets the node, never the source.
                            suite_properties(flags | HAS_SOURCE, None)
                        };
                        if flags & HAS_PROPERTIES != 0 {
                            writer.start(&name, &attrs, false)?;
                            frame.inject = Some(props);
                        } else if props.is_empty() {
                            writer.start(&name, &attrs, empty)?;
                        } else {
                            writer.start(&name, &attrs, false)?;
                            write_properties(writer, &props)?;
                            if empty {
                                writer.end()?;
                            }
                        }
                    }
                    Kind::Properties => {
                        let owner = stack.last_mut().and_then(|p| p.inject.take());
                        match owner {
                            Some(props) if empty => {
                                writer.start(&name, &attrs, false)?;
                                for (n, v) in &props {
                                    writer.property(n, v)?;
                                }
                                writer.end()?;
                            }
                            Some(props) => {
                                writer.start(&name, &attrs, false)?;
                                frame.append = props;
                            }
                            None => writer.start(&name, &attrs, empty)?,
                        }
                    }
                    _ => writer.start(&name, &attrs, empty)?,
                }
                if kind == Kind::Case && !empty {
                    in_case += 1;
                }
                if !empty {
                    stack.push(frame);
                }
            }
            Event::End { kind, .. } => {
                let Some(frame) = stack.pop() else {
                    return Err(Copy::Changed("an element closes that did not open".into()));
                };
                if kind == Kind::Case {
                    in_case = in_case.saturating_sub(1);
                }
                for (n, v) in &frame.append {
                    writer.property(n, v)?;
                }
                if frame.written {
                    writer.end()?;
                } else if stray_open {
                    writer.end()?;
                    stray_open = false;
                }
            }
        }
    }
    while writer.depth() > base {
        writer.end()?;
    }
    if let Some(broken) = &scan.broken {
        let props = suite_properties(0, carried.take());
        write_synthetic_suite(
            writer,
            SALVAGE_CLASS,
            &props,
            Synthetic::Lost(&broken.message),
        )?;
        writer.end()?;
        return Ok(());
    }
    if cases != scan.cases {
        return Err(Copy::Changed(format!(
            "{} test cases now, {} before",
            cases, scan.cases
        )));
    }
    if !top_level_written {
        let props = suite_properties(0, carried.take());
        write_synthetic_suite(writer, &synthetic_name, &props, Synthetic::Empty)?;
        writer.end()?;
    }
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
