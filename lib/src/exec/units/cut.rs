//! Cutting groups in their order into batches: by count into rounds without durations, and by
//! time (the longest batch as short as a cut in order allows) with them.

use super::{Packing, Unit, id_bytes, rounds};

/// Groups in their order, as a cut sees them.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub groups: &'a [Vec<usize>],
    /// Each group's weight.
    pub weights: &'a [u64],
    /// Whether each group comes from another module than the group before it.
    pub new_module: &'a [bool],
    /// What a batch costs for each module its groups come from (importing and collecting it).
    pub per_module: u64,
}

impl<'a> Run<'a> {
    fn split_at(self, at: usize) -> (Run<'a>, Run<'a>) {
        let (groups, later_groups) = self.groups.split_at(at);
        let (weights, later_weights) = self.weights.split_at(at);
        let (new_module, later_new) = self.new_module.split_at(at);
        (
            Run {
                groups,
                weights,
                new_module,
                ..self
            },
            Run {
                groups: later_groups,
                weights: later_weights,
                new_module: later_new,
                ..self
            },
        )
    }

    /// What group `g` adds to a batch: its weight, and its module's cost when the batch has
    /// not had its module yet (`first`: the batch's first group).
    fn cost(&self, g: usize, first: bool) -> u64 {
        let module = if first || self.new_module[g] {
            self.per_module
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
    let run = Run {
        weights: &counts,
        per_module: 0,
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
    let mut units = cut(ids, long, packing, Some((rounds - 1) * jobs));
    units.extend(cut(ids, short, packing, Some(jobs)));
    for unit in &mut units {
        unit.weight = 0;
    }
    units
}

/// The groups of `run` in their order, cut into batches: a batch closes at the batch size and
/// at the command line's bytes; given a `count` of batches, also at the least time that lets
/// `count` batches hold them all (found by bisection: the fewest batches under a time is a
/// greedy cut), so that the longest batch is as short as a cut in order allows. A batch's time
/// is its groups' weights and the cost of each module they come from.
pub(super) fn cut(
    ids: &[String],
    run: Run<'_>,
    packing: &Packing,
    count: Option<usize>,
) -> Vec<Unit> {
    let bytes: Vec<usize> = run
        .groups
        .iter()
        .map(|g| g.iter().map(|&i| id_bytes(&ids[i])).sum())
        .collect();
    let starts = |most| starts_under(run, &bytes, packing, most);
    let Some(count) = count else {
        return batches(run, &starts(u64::MAX));
    };
    let whole = (0..run.groups.len())
        .map(|g| run.cost(g, g == 0))
        .sum::<u64>();
    let (mut low, mut high) = (
        (0..run.groups.len())
            .map(|g| run.cost(g, true))
            .max()
            .unwrap_or(0),
        whole,
    );
    let mut best = starts(high);
    if best.len() > count {
        // The size and the bytes alone need more batches: time changes nothing.
        return batches(run, &best);
    }
    while low < high {
        let mid = low + (high - low) / 2;
        let cut = starts(mid);
        if cut.len() <= count {
            high = mid;
            best = cut;
        } else {
            low = mid + 1;
        }
    }
    batches(run, &best)
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

/// The batches of `run` that start where `starts` says.
fn batches(run: Run<'_>, starts: &[usize]) -> Vec<Unit> {
    let ends = starts.iter().skip(1).copied().chain([run.groups.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&from, to)| Unit {
            ids: run.groups[from..to].concat(),
            weight: (from..to).map(|g| run.cost(g, g == from)).sum(),
        })
        .collect()
}
