//! The first pass over every input, on threads: each input is read by one thread (as many as
//! there are cores, at most a few inputs ahead), which sends its cases as they come; the cases
//! are taken input by input, in input order, so the report does not depend on which thread was
//! first. Here the report is
//! gathered: each node's totals, the slowest cases, the warnings with their lines, the inputs
//! salvaged, and the checks against the plan and the expected nodes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

use crate::error::{Error, Result};
use crate::junit::cases::Case;
use crate::verify::{NODE_PROPERTY, Verifier};

use super::edits::{Broken, InputScan, Stamp};
use super::inputs::{Input, node_number, open, place, stamp_of};
use super::packed::Packed;
use super::report::{
    ForeignPlan, NodeCheck, NodeTotals, Options, Report, Salvaged, Slow, Totals, Warning,
};
use super::scan::{ScanFailure, Sinks, scan_input};
use super::{MAX_WARNINGS, Merge};

/// The first pass over every input: counts, checks and the report. Fails on the first input
/// that cannot be read (unless `options.salvage`), naming its file, line and column.
/// The inputs are read on as many threads as there are cores, and their cases taken in input
/// order, so the result does not depend on which thread was first.
pub fn scan(inputs: Vec<Input>, options: &Options<'_>) -> Result<Merge> {
    let handoff = Handoff::new(inputs.len());
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len())
        .max(1);
    let (scans, report) = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let Some(sender) = handoff.open(i) else { break };
                    if !scan_worker(input, &sender) {
                        handoff.stop();
                        break;
                    }
                }
            });
        }
        let gathered = gather(&inputs, &handoff, options);
        handoff.stop();
        gathered
    })?;
    Ok(Merge {
        inputs,
        scans,
        report,
    })
}

/// Inputs a reading thread may be ahead of the gathering by.
const WINDOW: usize = 16;

/// Where the reading threads hand each input's channel to the gathering. A channel is made
/// when its input is read, at most [`WINDOW`] inputs ahead of the one gathered, so that what
/// the threads hold does not grow with the number of inputs.
struct Handoff {
    state: Mutex<HandoffState>,
    changed: Condvar,
}

struct HandoffState {
    /// By input: its channel, until the gathering takes it.
    channels: Vec<Option<mpsc::Receiver<Found>>>,
    /// Inputs gathered so far.
    gathered: usize,
    /// The merge stopped (done, or failed): no more channels are made or taken.
    stopped: bool,
}

impl Handoff {
    fn new(inputs: usize) -> Handoff {
        Handoff {
            state: Mutex::new(HandoffState {
                channels: (0..inputs).map(|_| None).collect(),
                gathered: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Waits until input `i` may be read, then makes its channel: the end to send on, or
    /// `None` when the merge stopped.
    fn open(&self, i: usize) -> Option<mpsc::SyncSender<Found>> {
        let mut state = self.state.lock().ok()?;
        while !state.stopped && i >= state.gathered + WINDOW {
            state = self.changed.wait(state).ok()?;
        }
        if state.stopped {
            return None;
        }
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        state.channels[i] = Some(rx);
        self.changed.notify_all();
        Some(tx)
    }

    /// Waits for input `i`'s channel: the end to receive on, or `None` when the merge stopped.
    fn take(&self, i: usize) -> Option<mpsc::Receiver<Found>> {
        let mut state = self.state.lock().ok()?;
        loop {
            if let Some(receiver) = state.channels[i].take() {
                return Some(receiver);
            }
            if state.stopped {
                return None;
            }
            state = self.changed.wait(state).ok()?;
        }
    }

    /// Input `i` is gathered: the threads may read one more.
    fn gathered(&self, i: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.gathered = i + 1;
            self.changed.notify_all();
        }
    }

    /// Stops the merge: the channels not taken are dropped, so a thread sending on one stops.
    fn stop(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.stopped = true;
            state.channels.clear();
            self.changed.notify_all();
        }
    }
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
    /// Byte offsets and messages.
    warnings: Vec<(u64, String)>,
    fingerprints: Vec<String>,
    stamp: Option<Stamp>,
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
        Sinks {
            on_case: &mut |case| {
                batch.push(case);
                if batch.len() == BATCH && heard {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    heard = out.send(Found::Cases(full)).is_ok();
                }
            },
            warn: &mut |offset, message| warnings.push((offset, message)),
            fingerprints: &mut fingerprints,
        },
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

/// Who reported a case: an input (its label settled when it is read to the end), or a label
/// the case named itself.
#[derive(Debug, Default)]
struct Reporters {
    labels: Vec<String>,
    by_label: HashMap<String, usize>,
    totals: Vec<Totals>,
}

impl Reporters {
    /// Room for `inputs` reporters: one per input, at least.
    fn with_capacity(inputs: usize) -> Self {
        Reporters {
            labels: Vec::with_capacity(inputs),
            by_label: HashMap::new(),
            totals: Vec::with_capacity(inputs),
        }
    }

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

/// A case that may be among the slowest, with the reporter it counts for.
#[derive(Debug)]
struct SlowCase {
    time: f64,
    reporter: usize,
    classname: Option<String>,
    name: String,
}

/// The slowest cases so far: at most a few times `n` kept between trims.
#[derive(Debug)]
struct Slowest {
    n: usize,
    kept: Vec<SlowCase>,
}

impl Slowest {
    fn offer(&mut self, case: Case, reporter: usize) {
        // Past the first few, only a case slower than the slowest kept can enter.
        if self.n > 0
            && let Some(time) = case.time
            && (self.kept.len() < self.n || self.kept.iter().any(|s| s.time < time))
        {
            self.kept.push(SlowCase {
                time,
                reporter,
                classname: case.classname,
                name: case.name,
            });
            if self.kept.len() >= self.n * 4 {
                self.trim();
            }
        }
    }

    /// Keeps the `n` slowest, slowest first, ties by name.
    fn trim(&mut self) {
        self.kept
            .sort_by(|a, b| b.time.total_cmp(&a.time).then_with(|| a.name.cmp(&b.name)));
        self.kept.truncate(self.n);
    }

    fn finish(mut self, labels: &[String]) -> Vec<Slow> {
        self.trim();
        self.kept
            .into_iter()
            .map(|s| Slow {
                node: labels[s.reporter].clone(),
                classname: s.classname,
                name: s.name,
                time: s.time,
            })
            .collect()
    }
}

/// The first pass's findings, taken from the reading threads input by input.
fn gather(inputs: &[Input], handoff: &Handoff, options: &Options<'_>) -> Result<(Packed, Report)> {
    let mut gatherer = Gatherer {
        options,
        verifier: options.plan.map(Verifier::new),
        reporters: Reporters::with_capacity(inputs.len()),
        slowest: Slowest {
            n: options.slowest,
            kept: Vec::new(),
        },
        scans: Packed::default(),
        own_slots: Vec::with_capacity(inputs.len()),
        report: Report {
            totals: Totals::default(),
            nodes: Vec::new(),
            slowest: Vec::new(),
            warnings: Vec::new(),
            salvaged: Vec::new(),
            node_check: None,
            verification: None,
            foreign_plans: Vec::new(),
        },
    };
    for (i, input) in inputs.iter().enumerate() {
        let receiver = handoff.take(i).ok_or_else(|| stopped(input))?;
        gatherer.take(input, &receiver)?;
        drop(receiver);
        handoff.gathered(i);
    }
    Ok(gatherer.finish())
}

/// The report as it is gathered.
struct Gatherer<'o> {
    options: &'o Options<'o>,
    verifier: Option<Verifier<'o>>,
    reporters: Reporters,
    slowest: Slowest,
    scans: Packed,
    /// Per input, its own reporter (the cases that name no node of their own), and whether
    /// the input has cases.
    own_slots: Vec<(usize, bool)>,
    report: Report,
}

impl Gatherer<'_> {
    /// Takes one input's cases as its thread sends them, then what it found.
    fn take(&mut self, input: &Input, receiver: &mpsc::Receiver<Found>) -> Result<()> {
        let own_slot = self.reporters.slot(None);
        // This input's complete cases, whatever node each names.
        let mut complete = 0u64;
        let scanned = loop {
            match receiver.recv() {
                Ok(Found::Cases(cases)) => {
                    for case in cases {
                        complete += 1;
                        self.case(case, own_slot);
                    }
                }
                Ok(Found::Done(scanned)) => break *scanned,
                Ok(Found::Unreadable(e)) => return Err(e),
                Err(_) => return Err(stopped(input)),
            }
        };
        let Scanned {
            result,
            warnings,
            fingerprints,
            stamp,
        } = scanned;
        let mut scan = match result {
            Ok(scan) => scan,
            Err(failure) => self.broken(input, *failure, complete)?,
        };
        scan.stamp = stamp;
        if scan.label.is_empty() {
            scan.label = input.label.clone();
        }
        self.reporters.labels[own_slot] = scan.label.clone();
        if scan.broken.is_some() {
            self.reporters.totals[own_slot].tests += 1;
            self.reporters.totals[own_slot].errors += 1;
        }
        if let Some(plan) = self.options.plan {
            for fingerprint in fingerprints {
                let bare = fingerprint.strip_prefix("sha256:").unwrap_or(&fingerprint);
                if bare != plan.fingerprint {
                    self.report.foreign_plans.push(ForeignPlan {
                        source: input.source.clone(),
                        fingerprint,
                    });
                }
            }
        }
        self.warnings(input, warnings)?;
        self.own_slots.push((own_slot, scan.cases > 0));
        self.scans.push(&scan);
        Ok(())
    }

    /// A complete case, counted for the node it names or its input's.
    fn case(&mut self, case: Case, own_slot: usize) {
        let slot = match case.property(NODE_PROPERTY) {
            Some(label) => self.reporters.slot(Some(label)),
            None => own_slot,
        };
        self.reporters.totals[slot].add(&case);
        if let Some(v) = self.verifier.as_mut() {
            v.observe(slot, &case);
        }
        self.slowest.offer(case, slot);
    }

    /// An input that broke: the error, or (salvaging) what is kept of it.
    fn broken(
        &mut self,
        input: &Input,
        (error, scan): (crate::junit::reader::ReadError, InputScan),
        kept: u64,
    ) -> Result<InputScan> {
        let (line, column) = place(input, &[error.offset])?[0];
        if !self.options.salvage {
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
        let message = format!(
            "{}:{line}:{column}: {}; {kept} complete test cases kept, the rest of the report is lost",
            input.source, error.message
        );
        self.report.salvaged.push(Salvaged {
            source: input.source.clone(),
            line,
            column,
            message: error.message,
            kept,
        });
        Ok(InputScan {
            broken: Some(Broken { message }),
            ..scan
        })
    }

    /// An input's warnings, the first [`MAX_WARNINGS`] with their lines and columns.
    fn warnings(&mut self, input: &Input, mut warnings: Vec<(u64, String)>) -> Result<()> {
        let more = warnings.len().saturating_sub(MAX_WARNINGS);
        warnings.truncate(MAX_WARNINGS);
        let offsets: Vec<u64> = warnings.iter().map(|w| w.0).collect();
        let places = place(input, &offsets)?;
        for ((_, message), (line, column)) in warnings.into_iter().zip(places) {
            self.report.warnings.push(Warning {
                source: input.source.clone(),
                line,
                column,
                message,
            });
        }
        if more > 0 {
            self.report.warnings.push(Warning {
                source: input.source.clone(),
                line: 0,
                column: 0,
                message: format!("and {more} more warnings like these"),
            });
        }
        Ok(())
    }

    /// Every input taken: the nodes' totals, the slowest cases and the checks.
    fn finish(mut self) -> (Packed, Report) {
        let reporters = &self.reporters;
        // An input's own label names a node when some of its cases carry no label of their
        // own, or when it has no case at all (a node that ran nothing still reported).
        let mut silent: HashSet<usize> = HashSet::new();
        for &(slot, has_cases) in &self.own_slots {
            if reporters.totals[slot].tests == 0 && has_cases {
                silent.insert(slot);
            }
        }
        let mut by_label: BTreeMap<(Option<u32>, String), Totals> = BTreeMap::new();
        for (slot, (label, totals)) in reporters.labels.iter().zip(&reporters.totals).enumerate() {
            self.report.totals.absorb(totals);
            if silent.contains(&slot) {
                continue;
            }
            by_label
                .entry((node_number(label), label.clone()))
                .or_default()
                .absorb(totals);
        }
        self.report.nodes = by_label
            .into_iter()
            .map(|((_, label), totals)| NodeTotals { label, totals })
            .collect();
        self.report.slowest = self.slowest.finish(&reporters.labels);
        if let Some(expected) = self.options.expect_nodes {
            self.report.node_check = Some(node_check(&self.report.nodes, expected));
        }
        self.report.verification = self.verifier.map(|v| v.finish(&reporters.labels));
        self.scans.shrink_to_fit();
        (self.scans, self.report)
    }
}

/// The error for an input whose reading thread stopped before it was read to its end.
fn stopped(input: &Input) -> Error {
    Error::Report {
        source_name: input.source.clone(),
        line: 0,
        column: 0,
        message: "internal: the thread reading it stopped".into(),
    }
}

/// Which of nodes 1..=`expected` reported, and which labels name none of them.
fn node_check(nodes: &[NodeTotals], expected: u32) -> NodeCheck {
    let mut seen = HashSet::new();
    let mut extra = Vec::new();
    for node in nodes {
        match node_number(&node.label) {
            Some(k) if (1..=expected).contains(&k) => {
                seen.insert(k);
            }
            _ => extra.push(node.label.clone()),
        }
    }
    NodeCheck {
        expected,
        missing: (1..=expected).filter(|k| !seen.contains(k)).collect(),
        extra,
    }
}
