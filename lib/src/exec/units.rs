//! Units of work: which ids run together in one process.
//!
//! nose's multiprocess plugin dispatched a context (a class, a module) to one worker as a
//! whole, so that its fixtures ran once, in the same process as its tests. Here a group (see
//! [`Grouping`]) is never split across processes unless its key matches a `--split` pattern
//! (nose's `_multiprocess_can_split_`), and small groups are packed together, up to the batch
//! size, so that a suite of many small classes does not pay one start-up per class.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ids::Grouping;

use super::command::Mode;

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
    /// Per id, its weight from earlier durations ([`crate::timings`]), when known. Then units
    /// run longest first (LPT), and a batch also closes at a time budget: the total over twice
    /// the jobs, so that each job gets about two batches of equal time.
    pub weights: Option<Vec<u64>>,
    /// Processes at once (for the time budget).
    pub jobs: usize,
    /// A batch holds one group only (`go test` runs one package a process).
    pub one_group_per_batch: bool,
}

/// The most bytes of ids in one batch (a group alone may have more): far below the kernel's
/// limit on a command line.
pub const BATCH_BYTES: usize = 256 * 1024;

/// A batch size that gives every job about two batches: start-up (~0.4 s for pytest) is paid
/// twice per job, and a job that drew slow tests leaves the other jobs one batch each to
/// take over. Durations from earlier runs (a time budget) balance better.
pub fn auto_batch_size(ids: usize, jobs: usize) -> usize {
    ids.div_ceil(jobs.max(1) * 2).clamp(1, MAX_BATCH)
}

/// The most ids in a batch unless `--batch-size` says otherwise.
pub const MAX_BATCH: usize = 1000;

/// Gathers `ids` into units: in the order the ids came, or with weights longest first.
pub fn pack(ids: &[String], packing: &Packing) -> Vec<Unit> {
    let weight_of = |group: &[usize]| -> u64 {
        packing
            .weights
            .as_ref()
            .map_or(0, |w| group.iter().map(|&i| w[i]).sum())
    };
    let mut units: Vec<Unit> = if packing.mode == Mode::PerId {
        (0..ids.len())
            .map(|i| Unit {
                ids: vec![i],
                weight: weight_of(&[i]),
            })
            .collect()
    } else {
        let mut groups = gather(ids, packing);
        let budget = packing.weights.as_ref().map(|w| {
            let total: u64 = w.iter().sum();
            total.div_ceil(2 * packing.jobs.max(1) as u64).max(1)
        });
        if budget.is_some() {
            // Heaviest groups first (stable: equal weights keep their order), so that batches
            // fill up to the budget and come out longest first.
            groups.sort_by_key(|g| std::cmp::Reverse(weight_of(g)));
        }
        let size = packing.batch_size.max(1);
        let mut units = Vec::new();
        let mut batch: Vec<usize> = Vec::new();
        let (mut bytes, mut weight) = (0, 0);
        let bytes_of = |group: &[usize]| group.iter().map(|&i| ids[i].len() + 1).sum::<usize>();
        for group in groups {
            let (group_bytes, group_weight) = (bytes_of(&group), weight_of(&group));
            let full = packing.one_group_per_batch
                || batch.len() + group.len() > size
                || bytes + group_bytes > BATCH_BYTES
                || budget.is_some_and(|b| weight + group_weight > b);
            if !batch.is_empty() && full {
                units.push(Unit {
                    ids: std::mem::take(&mut batch),
                    weight,
                });
                (bytes, weight) = (0, 0);
            }
            batch.extend(group);
            bytes += group_bytes;
            weight += group_weight;
        }
        if !batch.is_empty() {
            units.push(Unit { ids: batch, weight });
        }
        units
    };
    if packing.weights.is_some() {
        // Longest processing time first: the lower bound max(longest, total / jobs) is nearly
        // reached, where input order may leave the longest test for last.
        units.sort_by_key(|u| std::cmp::Reverse(u.weight));
    }
    units
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
mod tests {
    use super::*;
    use crate::ids::GroupBy;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn packing(by: GroupBy, split: &[&str], batch_size: usize) -> Packing {
        Packing {
            mode: Mode::Batch,
            grouping: Grouping::new(by, "::").unwrap(),
            split: split
                .iter()
                .map(|p| SplitPattern::new(p).unwrap())
                .collect(),
            batch_size,
            weights: None,
            jobs: 2,
            one_group_per_batch: false,
        }
    }

    const SUITE: &[&str] = &[
        "t/a.py::A::x",
        "t/a.py::f",
        "t/a.py::A::y",
        "t/b.py::B::x",
        "t/b.py::B::y",
        "t/b.py::B::z",
        "t/c.py::g",
    ];

    #[test]
    fn a_class_stays_in_one_process_and_small_groups_share_one() {
        let units = pack(&ids(SUITE), &packing(GroupBy::Class, &[], 2));
        // A (x, y) first; f alone; B (3 ids) is never split, even past the batch size.
        assert_eq!(
            units.iter().map(|u| u.ids.clone()).collect::<Vec<_>>(),
            vec![vec![0, 2], vec![1], vec![3, 4, 5], vec![6]]
        );
        let units = pack(&ids(SUITE), &packing(GroupBy::Class, &[], 3));
        assert_eq!(
            units.iter().map(|u| u.ids.clone()).collect::<Vec<_>>(),
            vec![vec![0, 2, 1], vec![3, 4, 5], vec![6]]
        );
    }

    #[test]
    fn a_split_group_spreads_over_batches() {
        let units = pack(&ids(SUITE), &packing(GroupBy::Class, &["*::B"], 2));
        assert_eq!(
            units.iter().map(|u| u.ids.clone()).collect::<Vec<_>>(),
            vec![vec![0, 2], vec![1, 3], vec![4, 5], vec![6]]
        );
    }

    #[test]
    fn every_id_is_in_exactly_one_unit() {
        for by in [GroupBy::None, GroupBy::Class, GroupBy::File] {
            for size in 1..=8 {
                let units = pack(&ids(SUITE), &packing(by, &[], size));
                let mut seen: Vec<usize> = units.iter().flat_map(|u| u.ids.clone()).collect();
                seen.sort();
                assert_eq!(seen, (0..SUITE.len()).collect::<Vec<_>>());
            }
        }
        let mut per_id = packing(GroupBy::Class, &[], 4);
        per_id.mode = Mode::PerId;
        assert_eq!(pack(&ids(SUITE), &per_id).len(), SUITE.len());
    }

    #[test]
    fn with_durations_the_longest_units_come_first_and_batches_share_time() {
        // Weights per id of SUITE: class A (x, y) 10, f 1, class B (x, y, z) 30, g 50.
        let mut p = packing(GroupBy::Class, &[], 100);
        p.weights = Some(vec![5, 1, 5, 10, 10, 10, 50]);
        p.jobs = 1;
        // Budget: 91 / 2 = 46: g alone, then B, A and f (41).
        let units = pack(&ids(SUITE), &p);
        assert_eq!(
            units
                .iter()
                .map(|u| (u.ids.clone(), u.weight))
                .collect::<Vec<_>>(),
            vec![(vec![6], 50), (vec![3, 4, 5, 0, 2, 1], 41)]
        );
        p.mode = Mode::PerId;
        let order: Vec<usize> = pack(&ids(SUITE), &p).iter().map(|u| u.ids[0]).collect();
        assert_eq!(order, vec![6, 3, 4, 5, 0, 2, 1]);
    }

    #[test]
    fn one_group_per_batch_never_mixes_groups() {
        let mut p = packing(GroupBy::File, &[], 100);
        p.one_group_per_batch = true;
        let units = pack(&ids(SUITE), &p);
        assert_eq!(
            units.iter().map(|u| u.ids.clone()).collect::<Vec<_>>(),
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
        );
    }

    #[test]
    fn the_automatic_batch_size_gives_each_job_about_two_batches() {
        assert_eq!(auto_batch_size(0, 2), 1);
        assert_eq!(auto_batch_size(3, 2), 1);
        assert_eq!(auto_batch_size(664, 2), 166);
        assert_eq!(auto_batch_size(1_000_000, 2), 1000);
        assert!(SplitPattern::new("[").is_err());
    }

    #[test]
    fn a_batch_stays_far_below_the_command_line_limit() {
        let long: Vec<String> = (0..100).map(|i| format!("{i:0>10000}")).collect();
        let units = pack(&long, &packing(GroupBy::None, &[], 1000));
        assert!(units.len() >= 4, "{}", units.len());
        for unit in &units {
            let bytes: usize = unit.ids.iter().map(|&i| long[i].len() + 1).sum();
            assert!(bytes <= BATCH_BYTES, "{bytes}");
        }
    }
}
