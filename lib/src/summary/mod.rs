//! A picture of a run, from its merged report: where and when each node's processes ran, and
//! what the run came to.
//!
//! - [`summarize`] (`collect`) reads the merged report once, streaming. Each case becomes a
//!   [`CaseRecord`], handed on at once (the audit writes it); the [`RunSummary`] keeps what is
//!   bounded by the run's processes and by the caps below, never every case: the processes as
//!   bars, per-node counts and clocks, the slowest cases, and lists of failures, flaky and
//!   not-run cases.
//! - [`html`] draws it as one self-contained page, [`markdown`] writes it for a CI page
//!   (`$GITHUB_STEP_SUMMARY`), [`timeline`] lays the bars out and draws the text timeline,
//!   [`audit`] writes one line per case. [`checks`] words what the merge's verification found.

pub mod audit;
pub mod checks;
mod collect;
pub mod html;
mod html_lists;
pub mod markdown;
mod record;
pub mod timeline;

pub use collect::{SummaryError, summarize};
pub use record::{
    Bar, BarState, CaseOutcome, CaseRecord, Counts, Earlier, Failure, Flaky, Listed, NodeRun,
    NotRun, Slow, Slowest, Stamp,
};

use std::collections::HashMap;

/// Bytes kept of a failure's text (its element's, else its output's).
pub const TEXT_KEPT: usize = 2048;
/// Failures kept with their message and text; the next ones by name only.
pub const FAILURES_KEPT: usize = 100;
/// Cases kept by name per list (failures past [`FAILURES_KEPT`], flaky, not run); the rest
/// are counted.
pub const NAMES_KEPT: usize = 1000;

/// What a run came to, drawn from its merged report.
#[derive(Debug)]
pub struct RunSummary {
    /// In the order the report first names them.
    pub nodes: Vec<NodeRun>,
    index: HashMap<String, usize>,
    pub slowest: Slowest,
    pub failures: Listed<Failure>,
    pub flaky: Listed<Flaky>,
    pub not_run: Listed<NotRun>,
}

impl RunSummary {
    fn new(slowest: usize) -> Self {
        RunSummary {
            nodes: Vec::new(),
            index: HashMap::new(),
            slowest: Slowest::new(slowest),
            failures: Listed::default(),
            flaky: Listed::default(),
            not_run: Listed::default(),
        }
    }

    fn node(&mut self, label: &str) -> &mut NodeRun {
        let i = match self.index.get(label) {
            Some(&i) => i,
            None => {
                self.index.insert(label.to_string(), self.nodes.len());
                self.nodes.push(NodeRun::new(label));
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[i]
    }

    /// When a node's run started and ended, as its suite says.
    fn clock(&mut self, clock: collect::SuiteClock) {
        let Some(label) = &clock.node else {
            return;
        };
        let node = self.node(label);
        node.started = Stamp::earliest(node.started, clock.start);
        node.ended = Stamp::latest(node.ended, clock.end);
    }

    fn add(&mut self, case: &CaseRecord<'_>) {
        self.node(case.node).add(case);
        self.slowest.offer(case);
        match case.outcome {
            CaseOutcome::Failed | CaseOutcome::Errored => {
                let full = self.failures.items.len() < FAILURES_KEPT;
                self.failures.offer(|| Failure::of(case, full));
            }
            CaseOutcome::Flaky => self.flaky.offer(|| Flaky::of(case)),
            CaseOutcome::NotRun => self.not_run.offer(|| NotRun::of(case)),
            CaseOutcome::Passed | CaseOutcome::Skipped => {}
        }
    }

    /// The cases, by outcome, over every node.
    pub fn totals(&self) -> Counts {
        let mut all = Counts::default();
        for node in &self.nodes {
            all.absorb(&node.counts);
        }
        all
    }

    /// The earliest start of any node: where the time axis begins.
    pub fn origin(&self) -> Option<Stamp> {
        self.nodes.iter().filter_map(NodeRun::start).min()
    }

    /// The latest end of any node.
    pub fn finish(&self) -> Option<Stamp> {
        self.nodes.iter().filter_map(NodeRun::end).max()
    }
}
