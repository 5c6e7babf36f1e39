//! Merging the nodes' JUnit reports into one, streaming, with every case labelled by the node
//! that ran it.
//!
//! Each input is read twice, never held:
//! - `inputs`: which files are reports ([`find_reports`]) and the node each is labelled with.
//! - The first pass ([`scan`]): threads read the inputs at once and hand each input's cases
//!   over in input order (`gather`); one scanner per input (`scan`) parses and checks. It finds
//!   the totals the merged root states, which suites and cases already have a `<properties>`
//!   block (so that provenance goes into it rather than into a second one), the node each input
//!   belongs to, what to warn about, the plan verification, where a broken input stops being
//!   usable, and the places where the input cannot be copied as it stands (`edits`): tags to
//!   complete or fix (provenance, times, names, counts, forbidden characters; `fix`), text to
//!   sanitize, comments, the input's `<testsuites>` root dissolved into the merged one.
//! - `report`: what the first pass found, for the binary to show: totals, nodes, warnings,
//!   the slowest cases, the checks.
//! - The second pass ([`Merge::write`], `copy`) copies the input's bytes as they stand between
//!   those places, and writes each place as the first pass decided; it parses no more than the
//!   few tags it changes. Suites the inputs did not have (`synthetic`) hold what a root kept
//!   outside any suite, stand for an input with none, or for what a broken input lost.

mod copy;
mod edits;
mod fix;
mod gather;
mod inputs;
mod packed;
mod report;
mod scan;
mod synthetic;
mod tags;

pub use gather::scan;
pub use inputs::{Input, LabelFrom, find_reports, label_of, node_number};
pub use report::{
    ForeignPlan, NodeCheck, NodeTotals, Options, Report, Salvaged, Slow, Totals, Warning,
};

use packed::Packed;

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

/// The merge after its first pass: what will be written, and the report on it.
#[derive(Debug)]
pub struct Merge {
    inputs: Vec<Input>,
    scans: Packed,
    report: Report,
}
