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

/// A batch's groups, ids, bytes, time, and how many of its groups each module has.
struct Batch {
    groups: Vec<usize>,
    len: usize,
    bytes: usize,
    time: u64,
    modules: HashMap<usize, usize>,
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
            let mut modules = HashMap::new();
            for &g in &groups {
                *modules.entry(run.module[g]).or_insert(0) += 1;
            }
            Batch {
                len: groups.iter().map(|&g| run.groups[g].len()).sum(),
                bytes: groups.iter().map(|&g| bytes[g]).sum(),
                time: weight(run, &groups),
                groups,
                modules,
            }
        })
        .collect();
    for _ in 0..4 * all.len() + 16 {
        let Some(long) = (0..all.len()).max_by_key(|&b| (all[b].time, Reverse(b))) else {
            break;
        };
        let Some(short) = (0..all.len()).min_by_key(|&b| (all[b].time, b)) else {
            break;
        };
        let (from, to) = (&all[long], &all[short]);
        if long == short {
            break;
        }
        let best = from
            .groups
            .iter()
            .enumerate()
            .filter(|&(_, &g)| {
                to.len + run.groups[g].len() <= size && to.bytes + bytes[g] <= packing.command_bytes
            })
            .filter_map(|(k, &g)| {
                let m = run.module[g];
                let saved = if from.modules[&m] == 1 {
                    run.module_cost[g]
                } else {
                    0
                };
                let added = if to.modules.contains_key(&m) {
                    0
                } else {
                    run.module_cost[g]
                };
                let left = from
                    .time
                    .saturating_sub(run.weights[g])
                    .saturating_sub(saved);
                let taken = to.time.saturating_add(run.weights[g]).saturating_add(added);
                let worst = left.max(taken);
                (worst < from.time).then_some((worst, g, k, left, taken))
            })
            .min();
        let Some((_, g, k, left, taken)) = best else {
            break;
        };
        let m = run.module[g];
        let from = &mut all[long];
        from.groups.remove(k);
        (from.len, from.bytes, from.time) =
            (from.len - run.groups[g].len(), from.bytes - bytes[g], left);
        match from.modules.get_mut(&m) {
            Some(1) => {
                from.modules.remove(&m);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        let to = &mut all[short];
        let at = to.groups.partition_point(|&h| h < g);
        to.groups.insert(at, g);
        (to.len, to.bytes, to.time) = (to.len + run.groups[g].len(), to.bytes + bytes[g], taken);
        *to.modules.entry(m).or_insert(0) += 1;
    }
    all.into_iter()
        .map(|b| b.groups)
        .filter(|groups| !groups.is_empty())
        .collect()
}
