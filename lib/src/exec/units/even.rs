//! Evening batches' sizes once their times are even.
//!
//! A process that holds more tests runs each of them slower: Python's garbage collector, for
//! one, walks everything the process holds at each full collection, and a runner holds every
//! test it collected. That time lands in the tests' own times, measured in processes of other
//! sizes, so no report tells it apart; but batches of the same size pay it alike. On
//! astropy's tests, with a node's two batches even in time, the one of 3,663 tests ended 4.9 s
//! to 7.5 s after the one of 1,945 in each of three runs (its tests 5% to 17% slower, against
//! the other's, than in the report the times came from).
//!
//! So once a cut's batches are even in time, the batch with the most ids and the one with the
//! fewest exchange groups: the first gives its lightest for their ids, a module's groups
//! together where they fit (a module moved whole is paid once, where it goes, as before);
//! whenever the second is then the longer, it gives back its densest, as long as the first
//! stays within a fiftieth past the longest batch before. Of every point of the exchange
//! where neither batch is past that, within the batch size and the command line's bytes, the
//! one that leaves their sizes closest is taken (the shorter longest batch among equals).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, HashSet};

use super::Packing;
use super::cut::Run;
use super::polish::{Side, weight};

/// An exchange may take a batch this fraction (a fiftieth) past the longest batch before.
const SLACK: u64 = 50;

/// Sizes within this fraction (a tenth) of a batch's mean size are even.
const CLOSE: usize = 10;

/// A module's groups in one batch, moved together, or one group alone.
#[derive(Clone)]
struct Piece {
    groups: Vec<usize>,
    ids: usize,
    weight: u64,
}

/// `batches` (each a list of groups of `run`, whose ids take `bytes`), their sizes evened
/// where their times allow; each batch's groups in their order.
pub(super) fn even(
    run: Run<'_>,
    bytes: &[usize],
    packing: &Packing,
    mut batches: Vec<Vec<usize>>,
) -> Vec<Vec<usize>> {
    let Some(longest) = batches.iter().map(|b| weight(run, b)).max() else {
        return batches;
    };
    let limits = Limits {
        time: longest.saturating_add(longest / SLACK),
        ids: packing.batch_size.max(1),
        bytes: packing.command_bytes,
    };
    for _ in 0..2 * batches.len() {
        let sides: Vec<Side> = batches.iter().map(|b| Side::new(run, bytes, b)).collect();
        let close = (sides.iter().map(|s| s.ids).sum::<usize>() / sides.len() / CLOSE).max(1);
        let (Some(big), Some(small)) = (
            (0..sides.len()).max_by_key(|&b| (sides[b].ids, Reverse(b))),
            (0..sides.len()).min_by_key(|&b| (sides[b].ids, b)),
        ) else {
            break;
        };
        if sides[big].ids - sides[small].ids <= close {
            break;
        }
        let light = pieces(run, &batches[big], false);
        let dense = pieces(run, &batches[small], true);
        let (larger, smaller) = (sides[big].clone(), sides[small].clone());
        let Some(moved) = exchange(run, bytes, (larger, smaller), (&light, &dense), &limits) else {
            break;
        };
        let (larger, smaller) = apply(&batches[big], &batches[small], &moved);
        (batches[big], batches[small]) = (larger, smaller);
    }
    batches
}

/// What a batch may hold.
struct Limits {
    time: u64,
    ids: usize,
    bytes: usize,
}

impl Limits {
    fn hold(&self, side: &Side) -> bool {
        side.time <= self.time && side.ids <= self.ids && side.bytes <= self.bytes
    }

    /// Whether `side` stays within these limits with `piece` (groups of one module) too.
    fn hold_with(&self, side: &Side, run: Run<'_>, bytes: &[usize], piece: &Piece) -> bool {
        let Some(&first) = piece.groups.first() else {
            return true;
        };
        let bytes = piece.groups.iter().map(|&g| bytes[g]).sum::<usize>();
        side.time
            .saturating_add(piece.weight)
            .saturating_add(side.module_cost(run, first))
            <= self.time
            && side.ids + piece.ids <= self.ids
            && side.bytes + bytes <= self.bytes
    }
}

/// The pieces of `batch`, one for each module of its groups: lightest for their ids first,
/// or densest first, and each piece's groups in the same order; among equals, the one whose
/// first group comes first.
fn pieces(run: Run<'_>, batch: &[usize], densest: bool) -> Vec<Piece> {
    let mut modules: BTreeMap<usize, Piece> = BTreeMap::new();
    for &g in batch {
        let piece = modules.entry(run.module[g]).or_insert(Piece {
            groups: Vec::new(),
            ids: 0,
            weight: 0,
        });
        piece.groups.push(g);
        piece.ids += run.groups[g].len();
        piece.weight = piece.weight.saturating_add(run.weights[g]);
    }
    // a's weight per id against b's, exactly: w_a × n_b against w_b × n_a.
    let density = |a: &Piece, b: &Piece| -> Ordering {
        let (wa, na) = (a.weight as u128, a.ids.max(1) as u128);
        let (wb, nb) = (b.weight as u128, b.ids.max(1) as u128);
        (wa * nb).cmp(&(wb * na))
    };
    let order = |a: &Piece, b: &Piece| {
        let order = if densest {
            density(b, a)
        } else {
            density(a, b)
        };
        order.then(a.groups[0].cmp(&b.groups[0]))
    };
    let mut pieces: Vec<Piece> = modules.into_values().collect();
    pieces.sort_by(order);
    for piece in &mut pieces {
        let mut alone: Vec<Piece> = piece.groups.iter().map(|&g| one(run, g)).collect();
        alone.sort_by(order);
        piece.groups = alone.into_iter().flat_map(|p| p.groups).collect();
    }
    pieces
}

/// The exchange between the `larger` batch and the `smaller`, as the groups that change
/// sides; none when no point of it leaves the sizes closer within the `limits`. The larger
/// gives its `light` pieces in their order, each whole where it fits, else those of its groups
/// that do (one that would leave the sizes as far apart the other way does not), until the
/// sizes are within a tenth of their mean (or, while a batch is past the limits, until the
/// larger is no longer the larger); after each gift, while the smaller is the longer,
/// it gives back the first of its `dense` pieces (whole, or one group) that is denser than
/// the last gift and keeps the larger within the limits.
fn exchange(
    run: Run<'_>,
    bytes: &[usize],
    (mut larger, mut smaller): (Side, Side),
    (light, dense): (&[Piece], &[Piece]),
    limits: &Limits,
) -> Option<Vec<usize>> {
    let parts = |pieces: &[Piece]| -> Vec<Piece> {
        pieces
            .iter()
            .flat_map(|p| std::iter::once(p.clone()).chain(p.groups.iter().map(|&g| one(run, g))))
            .collect()
    };
    let (gifts, backs) = (parts(light), parts(dense));
    let close = ((larger.ids + smaller.ids) / 2 / CLOSE).max(1);
    let apart = |l: &Side, s: &Side| l.ids.abs_diff(s.ids);
    // The best point so far: (how far apart, the longer time), and how many groups moved;
    // a point must leave the sizes closer than before to count.
    let mut best = ((apart(&larger, &smaller), 0), 0);
    // The groups moved, in their order, and the same as a set.
    let (mut moved, mut seen): (Vec<usize>, HashSet<usize>) = (Vec::new(), HashSet::new());
    let denser = |p: &Piece, (weight, ids): (u64, usize)| {
        p.weight as u128 * ids as u128 > weight as u128 * p.ids.max(1) as u128
    };
    let mut gifts = gifts.iter();
    loop {
        // Gifts go on past sizes within `close` only while a batch is past the limits, and
        // the larger still the larger.
        let within = limits.hold(&larger) && limits.hold(&smaller);
        if larger.ids <= smaller.ids + if within { close } else { 0 } {
            break;
        }
        let gap = larger.ids - smaller.ids;
        let Some(gift) = gifts.find(|p| p.ids < gap && !p.groups.iter().any(|g| seen.contains(g)))
        else {
            break;
        };
        larger.give(&mut smaller, run, bytes, &gift.groups);
        moved.extend(&gift.groups);
        seen.extend(&gift.groups);
        let last = (gift.weight, gift.ids.max(1));
        while smaller.time > larger.time {
            let back = backs.iter().find(|p| {
                denser(p, last)
                    && limits.hold_with(&larger, run, bytes, p)
                    && !p.groups.iter().any(|g| seen.contains(g))
            });
            let Some(back) = back else {
                break;
            };
            smaller.give(&mut larger, run, bytes, &back.groups);
            moved.extend(&back.groups);
            seen.extend(&back.groups);
        }
        if limits.hold(&larger) && limits.hold(&smaller) {
            let here = (apart(&larger, &smaller), larger.time.max(smaller.time));
            if here < best.0 {
                best = (here, moved.len());
            }
        }
    }
    (best.1 > 0).then(|| moved[..best.1].to_vec())
}

/// Group `g` of `run` as a piece of its own.
fn one(run: Run<'_>, g: usize) -> Piece {
    Piece {
        groups: vec![g],
        ids: run.groups[g].len(),
        weight: run.weights[g],
    }
}

/// The two batches after the groups `moved` change sides, each's groups in their order.
fn apply(larger: &[usize], smaller: &[usize], moved: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let moved: HashSet<usize> = moved.iter().copied().collect();
    let after = |keep: &[usize], other: &[usize]| {
        let mut groups: Vec<usize> = keep
            .iter()
            .filter(|g| !moved.contains(g))
            .chain(other.iter().filter(|g| moved.contains(g)))
            .copied()
            .collect();
        groups.sort_unstable();
        groups
    };
    (after(larger, smaller), after(smaller, larger))
}
