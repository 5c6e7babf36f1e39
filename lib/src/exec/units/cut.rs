//! Cutting groups in their order into batches: by count into rounds without durations, and by
//! time (the longest batch as short as a cut in order allows, or shorter with the longest
//! groups laid out first) with them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::even::even;
use super::polish::{polish, weight};
use super::{Packing, Unit, id_bytes, rounds};

/// Groups in their order, as a cut sees them.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub groups: &'a [Vec<usize>],
    /// Each group's weight.
    pub weights: &'a [u64],
    /// Whether each group comes from another module than the group before it.
    pub new_module: &'a [bool],
    /// Each group's module, a number for each module of the node's ids.
    pub module: &'a [usize],
    /// Each group's module's cost to a batch that has not had it yet (importing and
    /// collecting it).
    pub module_cost: &'a [u64],
    /// Whether a module's cost was measured (see [`LAY_OUT`]).
    pub measured: bool,
}

impl<'a> Run<'a> {
    fn split_at(self, at: usize) -> (Run<'a>, Run<'a>) {
        let (groups, later_groups) = self.groups.split_at(at);
        let (weights, later_weights) = self.weights.split_at(at);
        let (new_module, later_new) = self.new_module.split_at(at);
        let (module_cost, later_cost) = self.module_cost.split_at(at);
        let (module, later_module) = self.module.split_at(at);
        (
            Run {
                groups,
                weights,
                new_module,
                module,
                module_cost,
                ..self
            },
            Run {
                groups: later_groups,
                weights: later_weights,
                new_module: later_new,
                module: later_module,
                module_cost: later_cost,
                ..self
            },
        )
    }

    /// What group `g` adds to a batch: its weight, and its module's cost when the batch has
    /// not had its module yet (`first`: the batch's first group).
    fn cost(&self, g: usize, first: bool) -> u64 {
        let module = if first || self.new_module[g] {
            self.module_cost[g]
        } else {
            0
        };
        self.weights[g].saturating_add(module)
    }
}

/// `groups` in their order, cut by count into [`rounds`]: the full rounds' batches first, of
/// about equal counts, then the last round's, of about half as many ids each.
pub(super) fn in_rounds(ids: &[String], run: Run<'_>, packing: &Packing) -> Vec<Unit> {
    let jobs = packing.jobs.max(1);
    let rounds = rounds(ids.len(), jobs, packing.batch_size);
    let counts: Vec<u64> = run.groups.iter().map(|g| g.len() as u64).collect();
    let free = vec![0; run.groups.len()];
    let run = Run {
        weights: &counts,
        module_cost: &free,
        measured: false,
        ..run
    };
    // The full rounds take (2 x rounds - 2) of (2 x rounds - 1) halves of the ids; they end
    // at the group boundary nearest that (in halves, so that no division rounds).
    let halves = (2 * rounds - 1) as u64;
    let full = ids.len() as u64 * (halves - 1);
    let off = |before: u64| (before * halves).abs_diff(full);
    let mut split = 0;
    let mut before = 0u64;
    for (g, &count) in counts.iter().enumerate() {
        if off(before) <= off(before + count) {
            break;
        }
        before += count;
        split = g + 1;
    }
    let (long, short) = run.split_at(split);
    let mut units = cut(ids, long, packing, Some((rounds - 1) * jobs), false);
    units.extend(cut(ids, short, packing, Some(jobs), false));
    for unit in &mut units {
        unit.weight = 0;
    }
    units
}

/// The groups of `run` in their order, cut into batches: a batch closes at the batch size and
/// at the command line's bytes; given a `count` of batches, also at the least time that lets
/// `count` batches hold them all (found by bisection: the fewest batches under a time is a
/// greedy cut), so that the longest batch is as short as a cut in order allows, or, when that
/// is shorter still, with the longest groups laid out first (see [`long_first`]); with a
/// module's cost measured, each evened by moves first (see [`polish`]), and when `evened`,
/// its batches' sizes too (see [`even`]). A batch's time is its groups' weights and the cost
/// of each module they come from, once.
pub(super) fn cut(
    ids: &[String],
    run: Run<'_>,
    packing: &Packing,
    count: Option<usize>,
    evened: bool,
) -> Vec<Unit> {
    let bytes: Vec<usize> = run
        .groups
        .iter()
        .map(|g| g.iter().map(|&i| id_bytes(&ids[i])).sum())
        .collect();
    let starts = |most| starts_under(run, &bytes, packing, most);
    let Some(count) = count else {
        return units(run, spans(run, &starts(u64::MAX)));
    };
    let whole = (0..run.groups.len())
        .map(|g| run.cost(g, g == 0))
        .sum::<u64>();
    let low = (0..run.groups.len())
        .map(|g| run.cost(g, true))
        .max()
        .unwrap_or(0);
    let loosest = starts(whole);
    if loosest.len() > count {
        // The size and the bytes alone need more batches: time changes nothing.
        return units(run, spans(run, &loosest));
    }
    let best = least(low, whole, loosest, |most| {
        Some(starts(most)).filter(|cut| cut.len() <= count)
    });
    // With a module's cost measured, what a move costs is known: each cut is polished, and
    // when `evened`, its sizes evened and polished again.
    let polished = |batches: Vec<Vec<usize>>| match (run.measured, evened) {
        (true, true) => {
            let polished = polish(run, &bytes, packing, batches);
            let evened = even(run, &bytes, packing, polished);
            units(run, polish(run, &bytes, packing, evened))
        }
        (true, false) => units(run, polish(run, &bytes, packing, batches)),
        (false, _) => units(run, batches),
    };
    let in_order = polished(spans(run, &best));
    match long_first(run, &bytes, packing, count, whole).map(polished) {
        Some(units) if longest(&units) < longest(&in_order) => units,
        _ => in_order,
    }
}

/// What `fits` gives at the least time from `low` to `high` where it gives anything, `best`
/// being what it gives at `high`; by bisection, for what fits under a time fits under any
/// longer one.
fn least<T>(mut low: u64, mut high: u64, mut best: T, fits: impl Fn(u64) -> Option<T>) -> T {
    while low < high {
        let mid = low + (high - low) / 2;
        match fits(mid) {
            Some(found) => {
                high = mid;
                best = found;
            }
            None => low = mid + 1,
        }
    }
    best
}

fn longest(units: &[Unit]) -> u64 {
    units.iter().map(|u| u.weight).max().unwrap_or(0)
}

/// With a module's cost measured, a group over this fraction (a fiftieth) of a batch's mean
/// time and over four times that cost is laid out first (see [`long_first`]): where two
/// batches meet, nothing longer can leave them uneven, and what it costs to move is known.
const LAY_OUT: u64 = 50;

/// Without a module's cost (by count, or none measured), only a group over a quarter of a
/// batch's mean is: moving more would scatter modules over batches at a cost unknown.
const LAY_OUT_BLIND: u64 = 4;

/// A cut in order can do no better than the group it has to keep whole where two batches
/// meet: a 2 s test at the boundary leaves one batch up to 2 s longer than the other. So the
/// long groups (see [`LAY_OUT`]) are laid out first, longest first, each on the least loaded
/// batch it fits, each paying its module once more; and the others are cut in their order on
/// top of them: each batch, least loaded first, takes the next groups up to the least time
/// that lets `count` batches hold them all (bisection again). Each batch's groups, in their
/// order; none when no group is long or the batch size or bytes do not allow it.
fn long_first(
    run: Run<'_>,
    bytes: &[usize],
    packing: &Packing,
    count: usize,
    whole: u64,
) -> Option<Vec<Vec<usize>>> {
    let mean = whole / count.max(1) as u64;
    let share = if run.measured { LAY_OUT } else { LAY_OUT_BLIND };
    let long = |g: usize| {
        let cost = run.cost(g, true);
        cost > mean / share && cost > run.module_cost[g].saturating_mul(4)
    };
    let mut firsts: Vec<usize> = (0..run.groups.len()).filter(|&g| long(g)).collect();
    if firsts.is_empty() || count < 2 {
        return None;
    }
    firsts.sort_by_key(|&g| (Reverse(run.weights[g]), g));
    let size = packing.batch_size.max(1);
    // Each batch's long groups, its ids, its bytes and its time.
    let mut bins = vec![(Vec::new(), 0usize, 0usize, 0u64); count];
    let mut moved = vec![false; run.groups.len()];
    // The batches by their time, least first (the first of equals).
    let mut loads: BinaryHeap<Reverse<(u64, usize)>> =
        (0..count).map(|b| Reverse((0, b))).collect();
    for &g in &firsts {
        let (len, used) = (run.groups[g].len(), bytes[g]);
        let fits = |b: &(Vec<usize>, usize, usize, u64)| {
            b.1 + len <= size && b.2 + used <= packing.command_bytes
        };
        let mut full = Vec::new();
        let b = loop {
            let Reverse((time, b)) = loads.pop()?;
            if fits(&bins[b]) {
                break b;
            }
            full.push(Reverse((time, b)));
        };
        loads.extend(full);
        let bin = &mut bins[b];
        bin.0.push(g);
        (bin.1, bin.2, bin.3) = (bin.1 + len, bin.2 + used, bin.3 + run.cost(g, true));
        loads.push(Reverse((bin.3, b)));
        moved[g] = true;
    }
    // The least loaded first.
    bins.sort_by_key(|b| b.3);
    let rest: Vec<usize> = (0..run.groups.len()).filter(|&g| !moved[g]).collect();
    // What the k-th of `rest` adds to a batch after the (k - 1)-th, or first: a module
    // changes between them when any group from the one to the other starts a module.
    let cost = |k: usize, first: bool| {
        let new = first || (rest[k - 1] + 1..=rest[k]).any(|g| run.new_module[g]);
        let module = if new { run.module_cost[rest[k]] } else { 0 };
        run.weights[rest[k]].saturating_add(module)
    };
    // Each batch's groups of `rest` (from, to) under `most`, or None when they do not fit.
    let fill = |most: u64| -> Option<Vec<(usize, usize)>> {
        let mut spans = Vec::with_capacity(count);
        let mut next = 0;
        for &(_, mut len, mut used, mut time) in &bins {
            let from = next;
            while let Some(&g) = rest.get(next) {
                let cost = cost(next, next == from);
                if len + run.groups[g].len() > size
                    || used + bytes[g] > packing.command_bytes
                    || time.saturating_add(cost) > most
                {
                    break;
                }
                (len, used, time) = (len + run.groups[g].len(), used + bytes[g], time + cost);
                next += 1;
            }
            spans.push((from, next));
        }
        (next == rest.len()).then_some(spans)
    };
    let all = (0..run.groups.len())
        .map(|g| run.cost(g, true))
        .fold(0u64, u64::saturating_add);
    let low = bins.iter().map(|b| b.3).max().unwrap_or(0);
    let best = least(low, all, fill(all)?, fill);
    let batches = bins
        .iter()
        .zip(best)
        .map(|(bin, (from, to))| {
            let mut groups: Vec<usize> = rest[from..to].iter().chain(&bin.0).copied().collect();
            groups.sort_unstable();
            groups
        })
        .filter(|groups| !groups.is_empty())
        .collect();
    Some(batches)
}

/// Where each batch of the greedy cut of `run` (its ids' `bytes`) in its order starts: a batch
/// closes where the next group would take it over `most` time, the batch size or the command
/// line's bytes.
fn starts_under(run: Run<'_>, bytes_of: &[usize], packing: &Packing, most: u64) -> Vec<usize> {
    let size = packing.batch_size.max(1);
    let mut starts = Vec::new();
    let (mut len, mut bytes, mut weight) = (0, 0, 0u64);
    for (g, group) in run.groups.iter().enumerate() {
        let full = len + group.len() > size
            || bytes + bytes_of[g] > packing.command_bytes
            || weight.saturating_add(run.cost(g, len == 0)) > most;
        if starts.is_empty() || (len > 0 && full) {
            starts.push(g);
            (len, bytes, weight) = (0, 0, 0);
        }
        weight = weight.saturating_add(run.cost(g, len == 0));
        len += group.len();
        bytes += bytes_of[g];
    }
    starts
}

/// The groups of each batch of `run` that starts where `starts` says.
fn spans(run: Run<'_>, starts: &[usize]) -> Vec<Vec<usize>> {
    let ends = starts.iter().skip(1).copied().chain([run.groups.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&from, to)| (from..to).collect())
        .collect()
}

/// Each batch (its groups of `run`, in their order) as a unit: its ids and its time.
fn units(run: Run<'_>, batches: Vec<Vec<usize>>) -> Vec<Unit> {
    batches
        .into_iter()
        .map(|groups| Unit {
            ids: groups
                .iter()
                .flat_map(|&g| run.groups[g].iter().copied())
                .collect(),
            weight: weight(run, &groups),
        })
        .collect()
}
