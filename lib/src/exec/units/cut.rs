//! Cutting groups in their order into batches: by count into rounds without durations, and by
//! time (the longest batch as short as a cut in order allows) with them.

use super::{Packing, Unit, id_bytes, rounds};

/// `groups` in their order, cut by count into [`rounds`]: the full rounds' batches first, of
/// about equal counts, then the last round's, of about half as many ids each.
pub(super) fn in_rounds(ids: &[String], groups: &[Vec<usize>], packing: &Packing) -> Vec<Unit> {
    let jobs = packing.jobs.max(1);
    let rounds = rounds(ids.len(), jobs, packing.batch_size);
    let counts: Vec<u64> = groups.iter().map(|g| g.len() as u64).collect();
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
    let (long, short) = groups.split_at(split);
    let (long_counts, short_counts) = counts.split_at(split);
    let mut units = cut(ids, long, long_counts, packing, Some((rounds - 1) * jobs));
    units.extend(cut(ids, short, short_counts, packing, Some(jobs)));
    for unit in &mut units {
        unit.weight = 0;
    }
    units
}

/// `groups` (with their `weights`) in their order, cut into batches: a batch closes at the
/// batch size and at the command line's bytes; given a `count` of batches, also at the
/// least time that lets `count` batches hold them all (found by bisection: the fewest batches
/// under a time is a greedy cut), so that the longest batch is as short as a cut in order
/// allows.
pub(super) fn cut(
    ids: &[String],
    groups: &[Vec<usize>],
    weights: &[u64],
    packing: &Packing,
    count: Option<usize>,
) -> Vec<Unit> {
    let bytes: Vec<usize> = groups
        .iter()
        .map(|g| g.iter().map(|&i| id_bytes(&ids[i])).sum())
        .collect();
    let starts = |most| starts_under(groups, weights, &bytes, packing, most);
    let Some(count) = count else {
        return batches(groups, weights, &starts(u64::MAX));
    };
    let (mut low, mut high) = (
        weights.iter().copied().max().unwrap_or(0),
        weights.iter().sum::<u64>(),
    );
    let mut best = starts(high);
    if best.len() > count {
        // The size and the bytes alone need more batches: time changes nothing.
        return batches(groups, weights, &best);
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
    batches(groups, weights, &best)
}

/// Where each batch of the greedy cut of `groups` (their `weights`, their ids' `bytes`) in
/// their order starts: a batch closes where the next group would take it over `most` time,
/// the batch size or the command line's bytes.
fn starts_under(
    groups: &[Vec<usize>],
    weights: &[u64],
    bytes_of: &[usize],
    packing: &Packing,
    most: u64,
) -> Vec<usize> {
    let size = packing.batch_size.max(1);
    let mut starts = Vec::new();
    let (mut len, mut bytes, mut weight) = (0, 0, 0u64);
    for (g, group) in groups.iter().enumerate() {
        let full = len + group.len() > size
            || bytes + bytes_of[g] > packing.command_bytes
            || weight.saturating_add(weights[g]) > most;
        if starts.is_empty() || (len > 0 && full) {
            starts.push(g);
            (len, bytes, weight) = (0, 0, 0);
        }
        len += group.len();
        bytes += bytes_of[g];
        weight += weights[g];
    }
    starts
}

/// The batches of `groups` that start where `starts` says.
fn batches(groups: &[Vec<usize>], weights: &[u64], starts: &[usize]) -> Vec<Unit> {
    let ends = starts.iter().skip(1).copied().chain([groups.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&from, to)| Unit {
            ids: groups[from..to].concat(),
            weight: weights[from..to].iter().sum(),
        })
        .collect()
}
