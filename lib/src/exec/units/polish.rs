//! Moving groups between batches while that shortens the longest.
//!
//! A cut keeps the groups it does not lay out first in their order, so where two batches meet
//! they can end up to a group (and its module) apart, and laying out long groups first leaves
//! the rest to fill around them. Once cut, the longest batch gives the shortest one the group
//! whose move leaves the longer of the two shortest, counting what each module costs a batch:
//! the longest saves its module's cost when the group was the last of its module there, the
//! shortest pays it when it has none of that module yet. It stops when no move shortens the
//! longest batch (or after a few moves a batch): every move does, so it ends.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::Packing;
use super::cut::Run;

/// A batch as a move sees it: its ids, bytes, time, and how many of its groups each module
/// has, so that a move counts a module's cost once a batch.
#[derive(Clone)]
pub(super) struct Side {
    pub ids: usize,
    pub bytes: usize,
    pub time: u64,
    modules: HashMap<usize, usize>,
}

impl Side {
    pub fn new(run: Run<'_>, bytes: &[usize], groups: &[usize]) -> Side {
        let mut modules = HashMap::new();
        for &g in groups {
            *modules.entry(run.module[g]).or_insert(0) += 1;
        }
        Side {
            ids: groups.iter().map(|&g| run.groups[g].len()).sum(),
            bytes: groups.iter().map(|&g| bytes[g]).sum(),
            time: weight(run, groups),
            modules,
        }
    }

    /// What group `g`'s module costs this side on top of its weight: nothing when the side
    /// has that module already.
    pub fn module_cost(&self, run: Run<'_>, g: usize) -> u64 {
        match self.modules.contains_key(&run.module[g]) {
            true => 0,
            false => run.module_cost[g],
        }
    }

    /// This side's time without its group `g`: less its module's cost when `g` was the last
    /// of its module here.
    fn without(&self, run: Run<'_>, g: usize) -> u64 {
        let saved = match self.modules.get(&run.module[g]) {
            Some(1) => run.module_cost[g],
            _ => 0,
        };
        self.time
            .saturating_sub(run.weights[g])
            .saturating_sub(saved)
    }

    /// This side's time with group `g` as well.
    fn with(&self, run: Run<'_>, g: usize) -> u64 {
        self.time
            .saturating_add(run.weights[g])
            .saturating_add(self.module_cost(run, g))
    }

    /// Gives `groups` (this side's) to `to`.
    pub fn give(&mut self, to: &mut Side, run: Run<'_>, bytes: &[usize], groups: &[usize]) {
        for &g in groups {
            let (left, taken) = (self.without(run, g), to.with(run, g));
            let m = run.module[g];
            match self.modules.get_mut(&m) {
                Some(1) => {
                    self.modules.remove(&m);
                }
                Some(n) => *n -= 1,
                None => {}
            }
            *to.modules.entry(m).or_insert(0) += 1;
            let (ids, b) = (run.groups[g].len(), bytes[g]);
            (self.ids, self.bytes, self.time) = (self.ids - ids, self.bytes - b, left);
            (to.ids, to.bytes, to.time) = (to.ids + ids, to.bytes + b, taken);
        }
    }
}

/// A batch's groups, in their order, and what a move sees of it.
struct Batch {
    groups: Vec<usize>,
    side: Side,
}

/// The time of a batch of `groups`: their weights, and each of their modules' cost once.
pub(super) fn weight(run: Run<'_>, groups: &[usize]) -> u64 {
    let mut seen = HashMap::new();
    groups.iter().fold(0u64, |sum, &g| {
        let module = match seen.insert(run.module[g], ()) {
            None => run.module_cost[g],
            Some(()) => 0,
        };
        sum.saturating_add(run.weights[g]).saturating_add(module)
    })
}

/// `batches` (each a list of groups of `run`, whose ids take `bytes`) after the moves that
/// shorten the longest, within the batch size and the command line's bytes; each batch's
/// groups in their order, empty batches left out.
pub(super) fn polish(
    run: Run<'_>,
    bytes: &[usize],
    packing: &Packing,
    batches: Vec<Vec<usize>>,
) -> Vec<Vec<usize>> {
    let size = packing.batch_size.max(1);
    let mut all: Vec<Batch> = batches
        .into_iter()
        .map(|mut groups| {
            groups.sort_unstable();
            let side = Side::new(run, bytes, &groups);
            Batch { groups, side }
        })
        .collect();
    for _ in 0..4 * all.len() + 16 {
        let time = |b: usize| all[b].side.time;
        let Some(long) = (0..all.len()).max_by_key(|&b| (time(b), Reverse(b))) else {
            break;
        };
        let Some(short) = (0..all.len()).min_by_key(|&b| (time(b), b)) else {
            break;
        };
        let (from, to) = (&all[long].side, &all[short].side);
        if long == short {
            break;
        }
        let best = all[long]
            .groups
            .iter()
            .enumerate()
            .filter(|&(_, &g)| {
                to.ids + run.groups[g].len() <= size && to.bytes + bytes[g] <= packing.command_bytes
            })
            .filter_map(|(k, &g)| {
                let worst = from.without(run, g).max(to.with(run, g));
                (worst < from.time).then_some((worst, g, k))
            })
            .min();
        let Some((_, g, k)) = best else {
            break;
        };
        let [from, to] = all.get_disjoint_mut([long, short]).expect("two batches");
        from.side.give(&mut to.side, run, bytes, &[g]);
        from.groups.remove(k);
        let at = to.groups.partition_point(|&h| h < g);
        to.groups.insert(at, g);
    }
    all.into_iter()
        .map(|b| b.groups)
        .filter(|groups| !groups.is_empty())
        .collect()
}
