//! Units of work: which ids run together in one process.
//!
//! nose's multiprocess plugin dispatched a context (a class, a module) to one worker as a
//! whole, so that its fixtures ran once, in the same process as its tests. Here a group (see
//! [`Grouping`]) is never split across processes unless its key matches a `--split` pattern
//! (nose's `_multiprocess_can_split_`), and small groups are packed together, up to the batch
//! size, so that a suite of many small classes does not pay one start-up per class.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

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
    /// run longest first (LPT), and batches are cut by time (see [`pack`]).
    pub weights: Option<Vec<u64>>,
    /// What starting one process costs, in the weights' unit (microseconds), as earlier
    /// reports measured it; with weights, it sets how many batches are worth their start-up.
    pub startup: Option<u64>,
    /// What each id costs its process besides its own time (collecting it, reporting it), in
    /// microseconds, as earlier reports measured it: added to every id's weight.
    pub per_id: u64,
    /// Processes at once (for the time budget).
    pub jobs: usize,
    /// A batch holds one group only (`go test` runs one package a process).
    pub one_group_per_batch: bool,
    /// The most bytes of ids in one batch, counted by [`id_bytes`] (a group alone may have
    /// more): see [`command_line_budget`].
    pub command_bytes: usize,
}

/// The bytes one id takes on a command line: its own, its NUL and its pointer in argv, or
/// the `test(=…) | ` around it when the ids are joined into one argument.
pub fn id_bytes(id: &str) -> usize {
    id.len() + 16
}

/// The most bytes of ids for one command line on this system: half of what a new program's
/// arguments and environment may take (`ARG_MAX`, 2 MiB on Linux with the usual 8 MiB
/// stack), less this process's environment; and when the ids are joined into one argument
/// (`{filterset}`, `{go-run}`), below Linux's limit on one argument (128 KiB).
pub fn command_line_budget(joined: bool) -> usize {
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|v| usize::try_from(v).ok());
    let environment = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + 8)
        .sum();
    budget(arg_max, environment, joined)
}

/// [`command_line_budget`] given `ARG_MAX` (none: no limit) and the environment's bytes.
fn budget(arg_max: Option<usize>, environment: usize, joined: bool) -> usize {
    const FLOOR: usize = 16 * 1024;
    const ONE_ARGUMENT: usize = 96 * 1024;
    let whole = arg_max.unwrap_or(4 * 1024 * 1024);
    let half = (whole.saturating_sub(environment) / 2).max(FLOOR);
    if joined { half.min(ONE_ARGUMENT) } else { half }
}

/// A batch size that gives every job about two batches: start-up (~0.4 s for pytest) is paid
/// twice per job, and a job that drew slow tests leaves the other jobs one batch each to
/// take over. Durations from earlier runs (a time budget) balance better.
pub fn auto_batch_size(ids: usize, jobs: usize) -> usize {
    ids.div_ceil(jobs.max(1) * 2).clamp(1, MAX_BATCH)
}

/// The most ids in a batch unless `--batch-size` says otherwise.
pub const MAX_BATCH: usize = 1000;

/// Gathers `ids` into units: in the order the ids came, or with weights longest first.
///
/// Without weights, groups are packed in their order up to the batch size. With weights,
/// groups stay in their order too (a module's classes side by side, so that a batch imports
/// few modules) and are cut into batches of about equal time (the longest as short as a cut in
/// order allows); how many is what makes the
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
        let cut = |count: Option<usize>| cut(ids, &groups, &weights, packing, count);
        match &packing.weights {
            None => cut(None),
            Some(_) => {
                let jobs = packing.jobs.max(1);
                let counts = match packing.startup {
                    Some(_) => jobs..=(8 * jobs).min(groups.len().max(jobs)),
                    None => 2 * jobs..=2 * jobs,
                };
                let startup = packing.startup.unwrap_or(0);
                counts
                    .map(|count| cut(Some(count)))
                    .min_by_key(|units| (makespan(units, jobs, startup), units.len()))
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

/// `groups` (with their `weights`) in their order, cut into batches: a batch closes at the
/// batch size and at the command line's bytes; given a `count` of batches, also at the
/// least time that lets `count` batches hold them all (found by bisection: the fewest batches
/// under a time is a greedy cut), so that the longest batch is as short as a cut in order
/// allows.
fn cut(
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
            startup: None,
            per_id: 0,
            jobs: 2,
            one_group_per_batch: false,
            command_bytes: 256 * 1024,
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
        // No start-up measured: two batches per job, of about 91 / 2 = 46 each, the groups
        // in their order: A, f and B (41), then g alone; g runs first.
        let units = pack(&ids(SUITE), &p);
        assert_eq!(
            units
                .iter()
                .map(|u| (u.ids.clone(), u.weight))
                .collect::<Vec<_>>(),
            vec![(vec![6], 50), (vec![0, 2, 1, 3, 4, 5], 41)]
        );
        p.mode = Mode::PerId;
        let order: Vec<usize> = pack(&ids(SUITE), &p).iter().map(|u| u.ids[0]).collect();
        assert_eq!(order, vec![6, 3, 4, 5, 0, 2, 1]);
    }

    /// Six ids of these weights, each its own group, on two jobs with a start-up of `startup`.
    fn sized(startup: u64) -> Vec<(Vec<usize>, u64)> {
        let six = ids(&["a", "b", "c", "d", "e", "f"]);
        let mut p = packing(GroupBy::None, &[], 1000);
        p.weights = Some(vec![100, 100, 450, 100, 100, 150]);
        p.startup = Some(startup);
        pack(&six, &p)
            .into_iter()
            .map(|u| (u.ids, u.weight))
            .collect()
    }

    #[test]
    fn the_measured_start_up_sets_how_many_batches_are_worth_it() {
        // Free to start: three batches (450; 100 + 100 + 150 = 350; 100 + 100) end at 550, where
        // two (650, 350) end at 650. Ids stay in their order within a batch; longest first.
        assert_eq!(
            sized(0),
            [(vec![2], 450), (vec![3, 4, 5], 350), (vec![0, 1], 200)]
        );
        // At 200 a process, the third batch costs more than it balances: 650 + 200 = 850 beats
        // 350 + 200 + 200 + 200 = 950.
        assert_eq!(sized(200), [(vec![0, 1, 2], 650), (vec![3, 4, 5], 350)]);
        // The estimate itself: longest first, each with its start-up.
        let unit = |weight| Unit {
            ids: vec![],
            weight,
        };
        let units = [unit(450), unit(350), unit(200)];
        assert_eq!(makespan(&units, 2, 0), 550);
        assert_eq!(makespan(&units, 2, 200), 950);
        assert_eq!(makespan(&units, 3, 10), 460);
        assert_eq!(makespan(&[], 2, 10), 0);
    }

    #[test]
    fn a_cut_into_two_batches_leaves_no_remainder_of_its_own() {
        // 20, 30, 10 in two: the first batch stops short of half (20, not 50), and the second
        // takes the rest (40) rather than closing at its own half and leaving the 10 a
        // process of its own, whose start-up (100) would cost more than it balances.
        let three = ids(&["a", "b", "c"]);
        let mut p = packing(GroupBy::None, &[], 1000);
        p.weights = Some(vec![20, 30, 10]);
        p.startup = Some(100);
        let units: Vec<(Vec<usize>, u64)> = pack(&three, &p)
            .into_iter()
            .map(|u| (u.ids, u.weight))
            .collect();
        assert_eq!(units, [(vec![1, 2], 40), (vec![0], 20)]);
    }

    #[test]
    fn a_cut_in_order_makes_its_longest_batch_as_short_as_it_can() {
        // 10, 40, 10, 30 in three batches on three jobs: the longest can be 40 (10; 40;
        // 10 + 30), where closing each batch near a third of what is left gives 50 (10 + 40;
        // 10; 30).
        let four = ids(&["a", "b", "c", "d"]);
        let mut p = packing(GroupBy::None, &[], 1000);
        p.weights = Some(vec![10, 40, 10, 30]);
        p.startup = Some(100);
        p.jobs = 3;
        let units: Vec<(Vec<usize>, u64)> = pack(&four, &p)
            .into_iter()
            .map(|u| (u.ids, u.weight))
            .collect();
        assert_eq!(units, [(vec![1], 40), (vec![2, 3], 40), (vec![0], 10)]);
    }

    #[test]
    fn what_each_id_costs_its_process_weighs_in_the_cut() {
        // One slow test (600) and ten quick ones (10 each), on two jobs, 300 a process.
        let mut names = vec!["slow".to_string()];
        names.extend((0..10).map(|i| format!("q{i}")));
        let mut p = packing(GroupBy::None, &[], 1000);
        p.weights = Some([600].into_iter().chain([10; 10]).collect());
        p.startup = Some(300);
        let cut = |p: &Packing| -> Vec<(Vec<usize>, u64)> {
            pack(&names, p)
                .into_iter()
                .map(|u| (u.ids, u.weight))
                .collect()
        };
        // By their own times, the slow test alone and the quick ones together.
        assert_eq!(cut(&p), [(vec![0], 600), ((1..=10).collect(), 100)]);
        // At 100 more per test, the ten quick ones weigh 1,100: the cut moves two of them
        // beside the slow one (920 and 880).
        p.per_id = 100;
        assert_eq!(cut(&p), [(vec![0, 1, 2], 920), ((3..=10).collect(), 880)]);
    }

    #[test]
    fn with_durations_a_modules_classes_stay_side_by_side() {
        // Three modules of four classes each, the weights uneven: every batch is a run of
        // classes in their order, so a batch imports few modules.
        let list: Vec<String> = (0..3)
            .flat_map(|m| (0..4).map(move |c| format!("t/m{m}.py::C{c}::t")))
            .collect();
        let mut p = packing(GroupBy::Class, &[], 1000);
        p.weights = Some(vec![9, 1, 5, 3, 2, 8, 2, 6, 4, 4, 7, 1]);
        p.startup = Some(2);
        for jobs in 1..=4 {
            p.jobs = jobs;
            let units = pack(&list, &p);
            let mut seen: Vec<usize> = Vec::new();
            for unit in &units {
                assert!(
                    unit.ids.windows(2).all(|w| w[1] == w[0] + 1),
                    "not a run: {units:?}"
                );
                seen.extend(&unit.ids);
            }
            seen.sort();
            assert_eq!(seen, (0..12).collect::<Vec<_>>());
            assert!(units.windows(2).all(|w| w[0].weight >= w[1].weight));
        }
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
    fn a_batch_stays_within_the_command_line_budget() {
        let long: Vec<String> = (0..100).map(|i| format!("{i:0>10000}")).collect();
        let mut p = packing(GroupBy::None, &[], 1000);
        p.command_bytes = 100_000;
        let units = pack(&long, &p);
        // 9 ids of 10,016 bytes fit in 100,000.
        assert_eq!(units.len(), 12);
        for unit in &units {
            let bytes: usize = unit.ids.iter().map(|&i| id_bytes(&long[i])).sum();
            assert!(bytes <= p.command_bytes, "{bytes}");
        }
    }

    #[test]
    fn the_command_line_budget_is_half_of_what_the_system_allows() {
        // Linux with an 8 MiB stack, 10 KiB of environment: about 1 MiB of ids.
        assert_eq!(
            budget(Some(2 << 20), 10 << 10, false),
            ((2 << 20) - (10 << 10)) >> 1
        );
        // Joined into one argument: below 128 KiB.
        assert_eq!(budget(Some(2 << 20), 10 << 10, true), 96 << 10);
        // An environment larger than the limit leaves the floor; no limit, 2 MiB.
        assert_eq!(budget(Some(64 << 10), 1 << 20, false), 16 << 10);
        assert_eq!(budget(None, 0, false), 2 << 20);
        assert!(command_line_budget(false) >= command_line_budget(true));
    }
}
