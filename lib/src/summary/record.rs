//! What the summary is made of: a case as read, and what is kept of the run's nodes, processes
//! and notable cases.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{NAMES_KEPT, TEXT_KEPT};

/// A point in time, in milliseconds since 1970 (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(pub i64);

impl Stamp {
    /// Reads `2024-05-01T12:00:00.250Z` (RFC 3339 in UTC, as shard-exec writes it).
    pub fn parse(text: &str) -> Option<Stamp> {
        let at = humantime::parse_rfc3339_weak(text.trim()).ok()?;
        let ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis();
        i64::try_from(ms).ok().map(Stamp)
    }

    /// As shard-exec writes it.
    pub fn format(self) -> String {
        let at = UNIX_EPOCH + Duration::from_millis(self.0.max(0) as u64);
        humantime::format_rfc3339_millis(at).to_string()
    }

    /// The time of day, `12:00:05`, and the date it is on.
    pub fn clock(self) -> String {
        let text = self.format();
        text.get(11..19).unwrap_or(&text).to_string()
    }

    /// Seconds from `earlier` to this.
    pub fn since(self, earlier: Stamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1000.0
    }

    pub(super) fn earliest(a: Option<Stamp>, b: Option<Stamp>) -> Option<Stamp> {
        a.into_iter().chain(b).min()
    }

    pub(super) fn latest(a: Option<Stamp>, b: Option<Stamp>) -> Option<Stamp> {
        a.into_iter().chain(b).max()
    }

    pub fn of(at: SystemTime) -> Stamp {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Stamp(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// How a case ended, as the summary tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseOutcome {
    Passed,
    /// Passed after failing first.
    Flaky,
    Failed,
    Errored,
    Skipped,
    /// Planned and never run to its end (shard-exec's `shard.outcome` is `not-run`).
    NotRun,
}

impl CaseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseOutcome::Passed => "passed",
            CaseOutcome::Flaky => "flaky",
            CaseOutcome::Failed => "failed",
            CaseOutcome::Errored => "error",
            CaseOutcome::Skipped => "skipped",
            CaseOutcome::NotRun => "not-run",
        }
    }
}

/// An attempt before a case's last, from its `<flakyFailure>` or `<rerunFailure>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier {
    pub attempt: u32,
    pub message: String,
    pub slot: Option<usize>,
    pub process: Option<u64>,
    pub start: Option<Stamp>,
    pub end: Option<Stamp>,
}

/// One case of the merged report.
#[derive(Debug)]
pub struct CaseRecord<'a> {
    /// Its `shard.node`; empty when it has none.
    pub node: &'a str,
    /// Its planned id (`shard.id`), else `classname::name`.
    pub id: Cow<'a, str>,
    pub outcome: CaseOutcome,
    /// Its message says its process timed out.
    pub timed_out: bool,
    /// Seconds.
    pub time: f64,
    pub attempts: u32,
    /// Where its last attempt ran (shard-exec's properties), when the report says.
    pub slot: Option<usize>,
    pub process: Option<u64>,
    pub process_start: Option<Stamp>,
    pub process_end: Option<Stamp>,
    /// Its own `timestamp`, as written, when its runner gave one.
    pub own_start: Option<&'a str>,
    /// The message of its failure, error or skip.
    pub message: Option<&'a str>,
    /// The start of its failure's text, else of its output.
    pub text: &'a str,
    pub earlier: &'a [Earlier],
}

/// How a process's bar is coloured: by the worst of what its cases did in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BarState {
    Passed,
    /// A case failed in it and passed in another, or passed here after failing elsewhere.
    Flaky,
    NotRun,
    Failed,
    TimedOut,
}

impl BarState {
    pub fn as_str(self) -> &'static str {
        match self {
            BarState::Passed => "passed",
            BarState::Flaky => "flaky",
            BarState::NotRun => "not run",
            BarState::Failed => "failed",
            BarState::TimedOut => "timed out",
        }
    }
}

/// One process of a node: a bar on its slot's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub slot: usize,
    pub process: u64,
    pub start: Stamp,
    pub end: Stamp,
    /// Cases that had an attempt in it.
    pub tests: u32,
    pub state: BarState,
    /// The id of the first of them.
    pub first: String,
}

/// The counts of a node's cases by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub tests: u64,
    pub passed: u64,
    pub flaky: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
    pub not_run: u64,
    /// The sum of the cases' times, in seconds.
    pub time: f64,
}

impl Counts {
    pub(super) fn absorb(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.passed += other.passed;
        self.flaky += other.flaky;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.not_run += other.not_run;
        self.time += other.time;
    }
}

/// One node of the run.
#[derive(Debug, Clone)]
pub struct NodeRun {
    pub label: String,
    pub counts: Counts,
    /// From its suite's `shard.start` and `shard.end`.
    pub started: Option<Stamp>,
    pub ended: Option<Stamp>,
    processes: HashMap<u64, Bar>,
}

impl NodeRun {
    pub(super) fn new(label: &str) -> Self {
        NodeRun {
            label: label.to_string(),
            counts: Counts::default(),
            started: None,
            ended: None,
            processes: HashMap::new(),
        }
    }

    pub(super) fn add(&mut self, case: &CaseRecord<'_>) {
        let c = &mut self.counts;
        c.tests += 1;
        c.time += case.time;
        match case.outcome {
            CaseOutcome::Passed => c.passed += 1,
            CaseOutcome::Flaky => c.flaky += 1,
            CaseOutcome::Failed => c.failed += 1,
            CaseOutcome::Errored => c.errors += 1,
            CaseOutcome::Skipped => c.skipped += 1,
            CaseOutcome::NotRun => c.not_run += 1,
        }
        let last = match case.outcome {
            CaseOutcome::NotRun => BarState::NotRun,
            CaseOutcome::Failed | CaseOutcome::Errored if case.timed_out => BarState::TimedOut,
            CaseOutcome::Failed | CaseOutcome::Errored => BarState::Failed,
            CaseOutcome::Flaky => BarState::Flaky,
            CaseOutcome::Passed | CaseOutcome::Skipped => BarState::Passed,
        };
        if let (Some(slot), Some(process), Some(start), Some(end)) = (
            case.slot,
            case.process,
            case.process_start,
            case.process_end,
        ) {
            self.ran(slot, process, start, end, last, &case.id);
        }
        for e in case.earlier {
            let state = match (case.outcome, e.message.starts_with("timed out")) {
                (_, true) => BarState::TimedOut,
                (CaseOutcome::Flaky, false) => BarState::Flaky,
                _ => BarState::Failed,
            };
            if let (Some(slot), Some(process), Some(start), Some(end)) =
                (e.slot, e.process, e.start, e.end)
            {
                self.ran(slot, process, start, end, state, &case.id);
            }
        }
    }

    fn ran(
        &mut self,
        slot: usize,
        process: u64,
        start: Stamp,
        end: Stamp,
        state: BarState,
        id: &str,
    ) {
        let bar = self.processes.entry(process).or_insert_with(|| Bar {
            slot,
            process,
            start,
            end,
            tests: 0,
            state,
            first: id.to_string(),
        });
        bar.tests += 1;
        bar.state = bar.state.max(state);
    }

    /// Its processes, in the order they started.
    pub fn bars(&self) -> Vec<&Bar> {
        let mut bars: Vec<&Bar> = self.processes.values().collect();
        bars.sort_by_key(|b| (b.start, b.process));
        bars
    }

    /// How many slots its processes ran on (the highest slot number).
    pub fn slots(&self) -> usize {
        self.processes.values().map(|b| b.slot).max().unwrap_or(0)
    }

    /// When it started: its suite's clock, else its first process's start.
    pub fn start(&self) -> Option<Stamp> {
        self.started
            .or_else(|| self.processes.values().map(|b| b.start).min())
    }

    /// When it ended: its suite's clock, else its last process's end.
    pub fn end(&self) -> Option<Stamp> {
        let last = self.processes.values().map(|b| b.end).max();
        Stamp::latest(self.ended, last)
    }

    /// Seconds its processes ran, over all slots.
    pub fn busy(&self) -> f64 {
        self.processes.values().map(|b| b.end.since(b.start)).sum()
    }

    /// The share of its slots' time from its start to its end that no process ran, in 0..=1.
    pub fn idle(&self) -> Option<f64> {
        let span = self.end()?.since(self.start()?);
        let capacity = span * self.slots() as f64;
        (capacity > 0.0).then(|| (1.0 - self.busy() / capacity).clamp(0.0, 1.0))
    }
}

/// A list kept up to a cap, with a count of all.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            items: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Listed<T> {
    pub(super) fn offer(&mut self, make: impl FnOnce() -> T) {
        self.total += 1;
        if self.items.len() < NAMES_KEPT {
            self.items.push(make());
        }
    }

    /// How many were counted and not kept.
    pub fn left_out(&self) -> u64 {
        self.total - self.items.len() as u64
    }
}

/// A case that failed or errored.
#[derive(Debug, Clone)]
pub struct Failure {
    pub node: String,
    pub id: String,
    pub outcome: CaseOutcome,
    pub time: f64,
    pub attempts: u32,
    /// Kept for the first [`FAILURES_KEPT`](super::FAILURES_KEPT) failures.
    pub message: Option<String>,
    pub text: Option<String>,
}

impl Failure {
    pub(super) fn of(case: &CaseRecord<'_>, full: bool) -> Self {
        Failure {
            node: case.node.to_string(),
            id: case.id.to_string(),
            outcome: case.outcome,
            time: case.time,
            attempts: case.attempts,
            message: full.then(|| case.message.unwrap_or_default().to_string()),
            text: full.then(|| case.text[..case.text.len().min(TEXT_KEPT)].to_string()),
        }
    }
}

/// A case that passed after failing.
#[derive(Debug, Clone)]
pub struct Flaky {
    pub node: String,
    pub id: String,
    /// The failed attempts before the one that passed.
    pub earlier: Vec<Earlier>,
}

impl Flaky {
    pub(super) fn of(case: &CaseRecord<'_>) -> Self {
        Flaky {
            node: case.node.to_string(),
            id: case.id.to_string(),
            earlier: case.earlier.to_vec(),
        }
    }
}

/// A case that never ran to its end.
#[derive(Debug, Clone)]
pub struct NotRun {
    pub node: String,
    pub id: String,
    pub why: String,
}

impl NotRun {
    pub(super) fn of(case: &CaseRecord<'_>) -> Self {
        let why = case.message.unwrap_or_default();
        NotRun {
            node: case.node.to_string(),
            id: case.id.to_string(),
            why: why.strip_prefix("not run: ").unwrap_or(why).to_string(),
        }
    }
}

/// A slow case.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub time: f64,
    pub node: String,
    pub id: String,
}

/// The `n` slowest cases so far.
#[derive(Debug)]
pub struct Slowest {
    n: usize,
    /// Least slow on top; `(time in microseconds, order seen)` orders them.
    heap: BinaryHeap<Reverse<(u64, u64, String, String)>>,
    seen: u64,
}

impl Slowest {
    pub(super) fn new(n: usize) -> Self {
        Slowest {
            n,
            heap: BinaryHeap::new(),
            seen: 0,
        }
    }

    pub(super) fn offer(&mut self, case: &CaseRecord<'_>) {
        self.seen += 1;
        if self.n == 0 {
            return;
        }
        let micros = (case.time.max(0.0) * 1e6) as u64;
        // Of two equally slow cases the one seen first is kept.
        let key = (micros, u64::MAX - self.seen);
        if self.heap.len() == self.n {
            match self.heap.peek() {
                Some(Reverse(least)) if (least.0, least.1) >= key => return,
                _ => {}
            }
            self.heap.pop();
        }
        self.heap.push(Reverse((
            key.0,
            key.1,
            case.node.to_string(),
            case.id.to_string(),
        )));
    }

    /// Slowest first.
    pub fn list(&self) -> Vec<Slow> {
        let mut all: Vec<_> = self.heap.iter().map(|Reverse(k)| k).collect();
        all.sort_by_key(|k| Reverse((k.0, k.1)));
        all.into_iter()
            .map(|(micros, _, node, id)| Slow {
                time: *micros as f64 / 1e6,
                node: node.clone(),
                id: id.clone(),
            })
            .collect()
    }
}
