//! Units of work: which ids run together in one process.
//!
//! nose's multiprocess plugin dispatched a context (a class, a module) to one worker as a
//! whole, so that its fixtures ran once, in the same process as its tests. Here a group (see
//! [`Grouping`]) is never split across processes unless its key matches a `--split` pattern
//! (nose's `_multiprocess_can_split_`), and small groups are packed together, up to the batch
//! size, so that a suite of many small classes does not pay one start-up per class.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::error::{Error, Result};
use crate::ids::{GroupBy, Grouping};

use super::command::Mode;

mod budget;
mod cut;
mod even;
mod polish;

pub use budget::{command_line_budget, id_bytes};
use cut::{Run, cut, in_rounds};

/// The ids one process runs, as indices into the node's ids, in their order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub ids: Vec<usize>,
    /// The summed weight (durations) of its ids; 0 without durations.
    pub weight: u64,
}

/// A `--split` pattern: a glob over group keys (`*` and `?` match any character, `/` too;
/// `[abc]` a set).
#[derive(Debug, Clone)]
pub struct SplitPattern(glob::Pattern);

impl SplitPattern {
    pub fn new(text: &str) -> Result<Self> {
        glob::Pattern::new(text)
            .map(SplitPattern)
            .map_err(|e| Error::InvalidParameter {
                what: "split pattern",
                value: text.to_string(),
                reason: e.to_string(),
            })
    }

    pub fn matches(&self, key: &str) -> bool {
        self.0.matches(key)
    }
}

/// How ids are gathered into units.
#[derive(Debug, Clone)]
pub struct Packing {
    pub mode: Mode,
    pub grouping: Grouping,
    pub split: Vec<SplitPattern>,
    /// The most ids in one batch, unless one group alone has more.
    pub batch_size: usize,
    /// Without weights, and without a batch size asked for: the ids are cut by count into
    /// rounds of one batch per job, the last round's batches half the size of the others (see
    /// [`rounds`]). Otherwise, without weights, batches fill up to the batch size.
    pub in_rounds: bool,
    /// Per id, its weight from earlier durations ([`crate::timings`]), when known. Then units
    /// run longest first (LPT), and batches are cut by time (see [`pack`]).
    pub weights: Option<Vec<u64>>,
    /// What starting one process costs, in the weights' unit (microseconds), as earlier
    /// reports measured it; with weights, it sets how many batches are worth their start-up.
    pub startup: Option<u64>,
    /// What each id costs its process besides its own time (collecting it, reporting it), in
    /// microseconds, as earlier reports measured it: added to every id's weight.
    pub per_id: u64,
    /// What each module (file) of its ids costs a process (importing and collecting it), in
    /// microseconds, as earlier reports measured it: with weights, added to a batch's time
    /// once for each module its ids come from.
    pub per_module: u64,
    /// What a module costs by its folder, where earlier reports told folders apart (see
    /// [`crate::timings::Timings::per_folder`]), in microseconds: for a module of a folder
    /// named here, in place of `per_module`.
    pub per_folder: BTreeMap<String, u64>,
    /// Processes at once (for the time budget).
    pub jobs: usize,
    /// A batch holds one group only (`go test` runs one package a process).
    pub one_group_per_batch: bool,
    /// The most bytes of ids in one batch, counted by [`id_bytes`] (a group alone may have
    /// more): see [`command_line_budget`].
    pub command_bytes: usize,
}

/// How many rounds of batches (one batch per job a round) `ids` ids take without durations:
/// two, the first of long batches and the last of batches half as long, unless a batch would
/// then hold more than `most` ids; then as many more full rounds as keep it under.
///
/// Nothing says which tests are slow, so a job that drew slow ones in the first round ends it
/// late, and the short batches of the last round go to the jobs that ended theirs first; as
/// many start-ups as two equal rounds. And the next run, with this run's report for
/// durations, sees processes of two sizes, from which the cost of each test to its process
/// (collecting it, reporting it) can be told from the cost of starting one.
pub fn rounds(ids: usize, jobs: usize, most: usize) -> usize {
    let (jobs, most) = (jobs.max(1), most.max(1));
    // (rounds - 1) full batches a job and a half one: 2 x ids / ((2 x rounds - 1) x jobs) ids
    // in a full batch.
    let mut rounds = 2;
    while (2 * ids).div_ceil((2 * rounds - 1) * jobs) > most {
        rounds += 1;
    }
    rounds
}

/// The most ids in a batch unless `--batch-size` says otherwise.
pub const MAX_BATCH: usize = 2000;

/// Gathers `ids` into units: in the order the ids came, or with weights longest first.
///
/// Without weights, groups are packed in their order: in [`rounds`], or up to a batch size
/// asked for. With weights,
/// groups stay in their order too (a module's classes side by side, so that a batch imports
/// few modules) and are cut into batches of about equal time (the longest as short as a cut in
/// order allows, but for the long groups that may be laid out first); how many is what
/// makes the
/// node's run shortest: each count from one batch per job up to eight per job is laid out
/// longest first on the jobs, each batch costing its start-up too, and the shortest estimate
/// wins, the fewest batches among equals. Without a measured start-up, two batches per job.
pub fn pack(ids: &[String], packing: &Packing) -> Vec<Unit> {
    let weight_of = |group: &[usize]| -> u64 {
        packing
            .weights
            .as_ref()
            .map_or(0, |w| group.iter().map(|&i| w[i] + packing.per_id).sum())
    };
    let mut units: Vec<Unit> = if packing.mode == Mode::PerId || packing.one_group_per_batch {
        let each: Vec<Vec<usize>> = if packing.mode == Mode::PerId {
            (0..ids.len()).map(|i| vec![i]).collect()
        } else {
            gather(ids, packing)
        };
        each.into_iter()
            .map(|ids| Unit {
                weight: weight_of(&ids),
                ids,
            })
            .collect()
    } else {
        let groups = gather(ids, packing);
        let weights: Vec<u64> = groups.iter().map(|g| weight_of(g)).collect();
        let (new_module, module, module_cost) = modules(ids, &groups, packing);
        let run = Run {
            groups: &groups,
            weights: &weights,
            new_module: &new_module,
            module: &module,
            module_cost: &module_cost,
            measured: packing.weights.is_some()
                && (packing.per_module > 0 || !packing.per_folder.is_empty()),
        };
        let cut = |count: Option<usize>, evened| cut(ids, run, packing, count, evened);
        match &packing.weights {
            None if packing.in_rounds => in_rounds(ids, run, packing),
            None => cut(None, false),
            Some(_) => {
                let jobs = packing.jobs.max(1);
                let counts = match packing.startup {
                    Some(_) => jobs..=(8 * jobs).min(groups.len().max(jobs)),
                    None => 2 * jobs..=2 * jobs,
                };
                let startup = packing.startup.unwrap_or(0);
                // The count is chosen on the cuts as polished; the one chosen is then evened
                // too, which keeps every batch within a fiftieth of the longest.
                counts
                    .min_by_key(|&count| {
                        let units = cut(Some(count), false);
                        (makespan(&units, jobs, startup), units.len())
                    })
                    .map(|count| cut(Some(count), true))
                    .unwrap_or_default()
            }
        }
    };
    if packing.weights.is_some() {
        // Longest processing time first: the lower bound max(longest, total / jobs) is nearly
        // reached, where input order may leave the longest test for last.
        units.sort_by_key(|u| std::cmp::Reverse(u.weight));
    }
    units
}

/// When the last of `units` would end, run longest first on `jobs` slots, each costing
/// `startup` more.
pub fn makespan(units: &[Unit], jobs: usize, startup: u64) -> u64 {
    let mut weights: Vec<u64> = units.iter().map(|u| u.weight + startup).collect();
    weights.sort_unstable_by(|a, b| b.cmp(a));
    let mut slots: BinaryHeap<Reverse<u64>> = (0..jobs.max(1)).map(|_| Reverse(0)).collect();
    for w in weights {
        if let Some(Reverse(load)) = slots.pop() {
            slots.push(Reverse(load + w));
        }
    }
    slots
        .into_iter()
        .map(|Reverse(load)| load)
        .max()
        .unwrap_or(0)
}

/// Per group of `ids`: whether its module (the file its first id names) is another than the
/// group before it's, the module's number (in the order modules first appear), and what the
/// module costs a batch (with weights only: by its folder, else the common cost).
fn modules(
    ids: &[String],
    groups: &[Vec<usize>],
    packing: &Packing,
) -> (Vec<bool>, Vec<usize>, Vec<u64>) {
    let files = Grouping::new(GroupBy::File, packing.grouping.separator()).unwrap_or_default();
    let module = |g: &Vec<usize>| g.first().map(|&i| files.key(&ids[i]));
    let cost = |module: Option<&str>| match (&packing.weights, module) {
        (None, _) => 0,
        (Some(_), Some(m)) => packing
            .per_folder
            .get(crate::timings::folder(m))
            .copied()
            .unwrap_or(packing.per_module),
        (Some(_), None) => packing.per_module,
    };
    let mut numbers: HashMap<Option<&str>, usize> = HashMap::new();
    let mut before = None;
    let (mut new, mut number, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for g in groups {
        let this = module(g);
        new.push(this != before);
        let next = numbers.len();
        number.push(*numbers.entry(this).or_insert(next));
        costs.push(cost(this));
        before = this;
    }
    (new, number, costs)
}

/// The groups of `ids`, in the order of their first id; a split group gives one per id.
fn gather(ids: &[String], packing: &Packing) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let key = packing.grouping.key(id);
        if key == id.as_str() || packing.split.iter().any(|p| p.matches(key)) {
            groups.push(vec![i]);
            continue;
        }
        match index.get(key) {
            Some(&g) => groups[g].push(i),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![i]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests;
