//! What a merge found, for the binary to show: the merged totals, each node's, the slowest
//! cases, the warnings, the inputs salvaged, and the checks asked for.

use crate::junit::cases::{Case, Status};
use crate::manifest::Manifest;
use crate::verify::Verification;

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
    pub(super) fn add(&mut self, case: &Case) {
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

    pub(super) fn absorb(&mut self, other: &Totals) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
        self.time += other.time;
    }

    /// The count a `tests`, `failures`, `errors` or `skipped` attribute states.
    pub(super) fn count(&self, attribute: &str) -> Option<u64> {
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
