//! Per-test results of a batch, from what the command wrote: a JUnit report at `{junit}`
//! (`junit.rs`), or the events of `go test -json` (`go_json.rs`).
//!
//! Either way each id of the batch takes the case that names it (the matching of
//! [`crate::junit::matching`]) and every other case is kept as unmatched. A case is kept as
//! XML ready to be written back into shard-exec's report ([`ChildCase`]). Errors (a missing,
//! truncated or unreadable report) come back as a sentence beside what was read; the caller
//! decides what they mean.

mod go_json;
mod junit;

use std::sync::Arc;

use super::Outcome;

pub(crate) use self::go_json::read_go_json;
pub(crate) use self::junit::read;

/// A `<testcase>` from a command's own report, as XML ready to be written back.
#[derive(Debug, Clone)]
pub struct ChildCase {
    pub classname: Option<String>,
    pub name: String,
    pub outcome: Outcome,
    /// The case's own `time`, in seconds.
    pub time: Option<f64>,
    /// The `message` of its failure, error or skipped element.
    pub message: Option<String>,
    /// The start tag, and when `has_properties` also the case's `<properties>` start tag:
    /// what comes before shard-exec's properties.
    pub head: String,
    /// Whether the case has a `<properties>` block of its own (`head` ends inside it).
    pub has_properties: bool,
    /// Everything after the properties, up to (not including) `</testcase>`.
    pub body: String,
}

/// What a batch's report said about its ids.
#[derive(Debug, Default)]
pub(crate) struct BatchResults {
    /// Per id of the batch, in its order: the case that names it.
    pub(crate) cases: Vec<Option<Arc<ChildCase>>>,
    /// Cases that name no id of the batch (or one named already).
    pub(crate) unmatched: Vec<Arc<ChildCase>>,
}

impl BatchResults {
    /// No case yet for any of `ids` ids.
    fn new(ids: usize) -> Self {
        BatchResults {
            cases: vec![None; ids],
            unmatched: Vec::new(),
        }
    }

    /// Keeps a case: for the id at `named`, unless that id has one already, else unmatched.
    fn keep(&mut self, named: Option<usize>, case: Arc<ChildCase>) {
        match named {
            Some(i) if self.cases[i].is_none() => self.cases[i] = Some(case),
            _ => self.unmatched.push(case),
        }
    }
}
