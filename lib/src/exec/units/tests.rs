//! The units' tests: groups, batches, their order and their times.

use super::*;
use crate::ids::GroupBy;

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Each unit of `list` packed by `p`: its ids and its weight.
fn cut(list: &[String], p: &Packing) -> Vec<(Vec<usize>, u64)> {
    pack(list, p)
        .into_iter()
        .map(|u| (u.ids, u.weight))
        .collect()
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
        in_rounds: false,
        weights: None,
        startup: None,
        per_id: 0,
        per_module: 0,
        per_folder: BTreeMap::new(),
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
    assert_eq!(
        cut(&ids(SUITE), &p),
        [(vec![6], 50), (vec![0, 2, 1, 3, 4, 5], 41)]
    );
    p.mode = Mode::PerId;
    let order: Vec<usize> = pack(&ids(SUITE), &p).iter().map(|u| u.ids[0]).collect();
    assert_eq!(order, vec![6, 3, 4, 5, 0, 2, 1]);
}

/// Four ids of these weights, each its own group and module (at 100 a module), on two jobs
/// with a start-up of `startup`.
fn sized(startup: u64) -> Vec<(Vec<usize>, u64)> {
    let four = ids(&["a", "b", "c", "d"]);
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some(vec![60, 30, 40, 90]);
    p.per_module = 100;
    p.startup = Some(startup);
    cut(&four, &p)
}

#[test]
fn the_measured_start_up_sets_how_many_batches_are_worth_it() {
    // With its module, each id costs 160, 130, 140 or 190: none is over four times a
    // module's cost, so none is laid out first. Two batches in their order are a + b and
    // c + d, 290 and 330, and no move of one id evens them (a swap would). Free to start,
    // four batches end at 320 (190 + 130 against 160 + 140). Longest first.
    assert_eq!(
        sized(0),
        [
            (vec![3], 190),
            (vec![0], 160),
            (vec![2], 140),
            (vec![1], 130)
        ]
    );
    // At 200 a process, the two more cost more than they balance: 330 + 200 = 530 beats
    // 320 + 2 x 200 = 720.
    assert_eq!(sized(200), [(vec![2, 3], 330), (vec![0, 1], 290)]);
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
    // 20, 30, 10 in two: the 30, long beside a batch of 30, goes first into a batch of its
    // own, and the other takes the rest (20 + 10), rather than closing at its own half and
    // leaving the 10 a process of its own, whose start-up (100) would cost more than it
    // balances. In their order alone, the best cut would be 20 and 40.
    let three = ids(&["a", "b", "c"]);
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some(vec![20, 30, 10]);
    p.startup = Some(100);
    let units = cut(&three, &p);
    assert_eq!(units, [(vec![1], 30), (vec![0, 2], 30)]);
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
    let units = cut(&four, &p);
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
    // By their own times, the slow test alone and the quick ones together.
    assert_eq!(cut(&names, &p), [(vec![0], 600), ((1..=10).collect(), 100)]);
    // At 100 more per test, the ten quick ones weigh 1,100: the cut moves two of them
    // beside the slow one (920 and 880).
    p.per_id = 100;
    assert_eq!(
        cut(&names, &p),
        [(vec![0, 1, 2], 920), ((3..=10).collect(), 880)]
    );
}

#[test]
fn a_batch_pays_for_each_module_its_ids_come_from() {
    // Four tests of a.py, then one each of b.py, c.py and d.py, all 10; two jobs, each
    // process 1,000 to start, so two batches.
    let list = ids(&[
        "a.py::t0", "a.py::t1", "a.py::t2", "a.py::t3", "b.py::t", "c.py::t", "d.py::t",
    ]);
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some(vec![10; 7]);
    p.startup = Some(1000);
    // By the tests alone: a.py (40), then the other three (30).
    assert_eq!(
        cut(&list, &p),
        [(vec![0, 1, 2, 3], 40), (vec![4, 5, 6], 30)]
    );
    // At 30 a module, three modules weigh more than one: a.py and b.py (50 + 2 x 30) and
    // c.py and d.py (20 + 2 x 30), where a.py and the other three would be 70 and 120.
    p.per_module = 30;
    assert_eq!(
        cut(&list, &p),
        [(vec![0, 1, 2, 3, 4], 110), (vec![5, 6], 80)]
    );
}

#[test]
fn a_modules_cost_is_its_folders_where_reports_told_folders_apart() {
    // As above, a.py in u/ and the other three in c/, all at 30 a module but c/'s at 5:
    // a.py alone (40 + 30) against the other three (30 + 3 x 5), where at 30 for all the
    // cut would be 110 and 80.
    let list = ids(&[
        "u/a.py::t0",
        "u/a.py::t1",
        "u/a.py::t2",
        "u/a.py::t3",
        "c/b.py::t",
        "c/c.py::t",
        "c/d.py::t",
    ]);
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some(vec![10; 7]);
    p.startup = Some(1000);
    p.per_module = 30;
    p.per_folder = BTreeMap::from([("c".to_string(), 5)]);
    let units = cut(&list, &p);
    assert_eq!(units, [(vec![0, 1, 2, 3], 70), (vec![4, 5, 6], 45)]);
}

#[test]
fn long_tests_where_two_batches_meet_are_laid_out_first() {
    // Six modules of one test each, 90, 90 and four of 20, at 10 a module; two jobs, a
    // process 1,000 to start, so two batches. In their order, the best cut is the two 90s
    // (200) against the 20s (120), and no move of one test evens them: either 90 would
    // take the other batch to 220. Laid out first, the 90s go one a batch, and the 20s in
    // order on top of them: 100 + 30 + 30 = 160 each. The cut in order, its sizes evened
    // (2 ids against 4: the 20s give two of theirs for the first 90), comes to 160 each too,
    // and among equals it is kept.
    let list = ids(&[
        "a.py::t", "b.py::t", "c.py::t", "d.py::t", "e.py::t", "f.py::t",
    ]);
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some(vec![90, 90, 20, 20, 20, 20]);
    p.startup = Some(1000);
    p.per_module = 10;
    assert_eq!(cut(&list, &p), [(vec![1, 2, 3], 160), (vec![0, 4, 5], 160)]);
    // At 40 a module, no test is over four times its module's cost, and no move shortens
    // the longer batch: the cut in order, 260 and 240.
    p.per_module = 40;
    assert_eq!(cut(&list, &p), [(vec![0, 1], 260), (vec![2, 3, 4, 5], 240)]);
}

#[test]
fn long_tests_under_a_quarter_of_a_batch_are_laid_out_too() {
    // Two tests of 90 then 24 of 20, each its own module at 10: two batches of about 460.
    // In their order the best cut ends at 470 (the 90s and nine 20s against fifteen), a
    // 20 short of even, and moving one more 20 leaves 480. Each 90 is under a quarter of a
    // batch but over four times a module's cost: laid out first, one a batch, and twelve
    // 20s on each, 460 and 460.
    let list: Vec<String> = (0..26).map(|m| format!("m{m}.py::t")).collect();
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some([vec![90; 2], vec![20; 24]].concat());
    p.per_module = 10;
    p.startup = Some(1000);
    let first: Vec<usize> = [0].into_iter().chain(2..14).collect();
    let second: Vec<usize> = [1].into_iter().chain(14..26).collect();
    assert_eq!(cut(&list, &p), [(first, 460), (second, 460)]);
}

#[test]
fn a_move_evens_what_a_cut_in_order_leaves() {
    // Ten classes of 5 in s.py, three tests of 15 in b.py, ten classes of 5 in t.py, at 3
    // a module; two batches. In their order the 15s fall where the batches meet: s.py and
    // two of them, 53 + 33 = 86, against 18 + 53 = 71 at best. The move that leaves the
    // longer of the two shortest is a class of s.py, 81 against 79 (the other batch pays
    // s.py too); a 15 would only swap 86 and 71. With the 15s laid out first and the
    // classes on top, the batches end at 84 and 79, and no move shortens the 84: the cut
    // in order, moved, wins.
    let list: Vec<String> = (0..10)
        .map(|c| format!("s.py::C{c}::t"))
        .chain((0..3).map(|t| format!("b.py::t{t}")))
        .chain((0..10).map(|c| format!("t.py::C{c}::t")))
        .collect();
    let mut p = packing(GroupBy::Class, &[], 1000);
    p.weights = Some([vec![5; 10], vec![15; 3], vec![5; 10]].concat());
    p.per_module = 3;
    p.startup = Some(1000);
    let first: Vec<usize> = (1..12).collect();
    let second: Vec<usize> = [0].into_iter().chain(12..23).collect();
    assert_eq!(cut(&list, &p), [(first, 81), (second, 79)]);
}

#[test]
fn a_move_stays_within_the_batch_size() {
    // 60 and four of 10, each its own module at 10, batches of at most three ids: 60 + 10
    // against the three others (90 and 60), and the move of a 10 that would leave 70 and 80
    // would make a batch of four.
    let list = ids(&["a", "b", "c", "d", "e"]);
    let mut p = packing(GroupBy::None, &[], 3);
    p.weights = Some(vec![60, 10, 10, 10, 10]);
    p.per_module = 10;
    p.startup = Some(1000);
    assert_eq!(cut(&list, &p), [(vec![0, 1], 90), (vec![2, 3, 4], 60)]);
    p.batch_size = 4;
    assert_eq!(cut(&list, &p), [(vec![1, 2, 3, 4], 80), (vec![0], 70)]);
}

#[test]
fn sizes_are_evened_where_times_allow() {
    // Four tests of 50 and a hundred of 2, all of m.py at 20: cut in order, 4 ids against
    // 100, both at 220, and no move shortens either. Evened, the batch of 100 gives its
    // lightest for their ids, the other its densest, the weights kept level: 50 of the 2s
    // for two 50s, 52 ids each, still 220 each.
    let list: Vec<String> = (0..4)
        .map(|t| format!("m.py::h{t}"))
        .chain((0..100).map(|t| format!("m.py::l{t}")))
        .collect();
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some([vec![50; 4], vec![2; 100]].concat());
    p.per_module = 20;
    p.startup = Some(1000);
    let first: Vec<usize> = [2, 3].into_iter().chain(4..54).collect();
    let second: Vec<usize> = [0, 1].into_iter().chain(54..104).collect();
    assert_eq!(cut(&list, &p), [(first, 220), (second, 220)]);
    // With the 2s in a module of their own, a batch that takes some pays it too: 240, past
    // the longest's 220 by more than a fiftieth. The sizes stay as cut.
    let list: Vec<String> = (0..4)
        .map(|t| format!("m.py::h{t}"))
        .chain((0..100).map(|t| format!("n.py::l{t}")))
        .collect();
    assert_eq!(
        cut(&list, &p),
        [((0..4).collect(), 220), ((4..104).collect(), 220)]
    );
}

#[test]
fn a_module_changes_batches_whole_where_it_fits() {
    // r.py (two of 10), s.py (one of 80), p.py (twenty of 1), q.py (eighty of 1), at 5 a
    // module: in order, r and s (3 ids) against p and q (100), 110 each. The 100 give p.py
    // whole (paid once, where it goes: 135 against 85), and take back r.py whole, the
    // densest that fits (110 each): 21 ids against 82. Taking back s.py would take the
    // other to 170; giving q.py's tests one by one would make the 21 pay for q.py too.
    let list: Vec<String> = ["r.py::r0", "r.py::r1", "s.py::s0"]
        .into_iter()
        .map(String::from)
        .chain((0..20).map(|t| format!("p.py::p{t}")))
        .chain((0..80).map(|t| format!("q.py::q{t}")))
        .collect();
    let mut p = packing(GroupBy::None, &[], 1000);
    p.weights = Some([vec![10, 10, 80], vec![1; 100]].concat());
    p.per_module = 5;
    p.startup = Some(1000);
    let larger: Vec<usize> = [0, 1].into_iter().chain(23..103).collect();
    assert_eq!(cut(&list, &p), [((2..23).collect(), 110), (larger, 110)]);
}

#[test]
fn with_durations_a_modules_classes_stay_side_by_side() {
    // Three modules of four classes each, the weights uneven, no module's cost measured:
    // every batch is a run of classes in their order, so that a batch imports few
    // modules, but for the classes over a quarter of a batch laid out first (see `cut`),
    // here at most one a batch, its longest.
    let list: Vec<String> = (0..3)
        .flat_map(|m| (0..4).map(move |c| format!("t/m{m}.py::C{c}::t")))
        .collect();
    let weights = vec![9, 1, 5, 3, 2, 8, 12, 6, 4, 10, 7, 11];
    let mut p = packing(GroupBy::Class, &[], 1000);
    p.weights = Some(weights.clone());
    p.startup = Some(2);
    for jobs in 1..=4 {
        p.jobs = jobs;
        let units = pack(&list, &p);
        let mut seen: Vec<usize> = Vec::new();
        for unit in &units {
            let longest = unit.ids.iter().copied().max_by_key(|&i| weights[i]);
            let rest: Vec<usize> = unit
                .ids
                .iter()
                .copied()
                .filter(|&i| Some(i) != longest)
                .collect();
            let run = |ids: &[usize]| ids.windows(2).all(|w| w[1] == w[0] + 1);
            assert!(run(&unit.ids) || run(&rest), "not a run: {units:?}");
            assert!(unit.ids.windows(2).all(|w| w[0] < w[1]), "{units:?}");
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
fn without_durations_two_rounds_unless_a_batch_would_grow_past_the_most() {
    assert_eq!(rounds(0, 2, MAX_BATCH), 2);
    assert_eq!(rounds(5608, 2, 2000), 2);
    // 5,608 ids on two jobs, at most 1,000 a batch: 1,870 a full batch in two rounds,
    // 1,122 in three, 802 in four.
    assert_eq!(rounds(5608, 2, 1000), 4);
    assert_eq!(rounds(1_000_000, 2, 2000), 251);
    assert_eq!(rounds(10, 0, 0), 11);
    assert!(SplitPattern::new("[").is_err());
}

/// The ids of each unit of `list` packed in rounds on `jobs` jobs.
fn in_rounds_of(list: &[String], by: GroupBy, jobs: usize) -> Vec<Vec<usize>> {
    let mut p = packing(by, &[], MAX_BATCH);
    p.in_rounds = true;
    p.jobs = jobs;
    pack(list, &p).into_iter().map(|u| u.ids).collect()
}

#[test]
fn without_durations_the_last_round_has_batches_half_as_long() {
    // 12 ids on two jobs: two batches of 4, then two of 2.
    let twelve: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    assert_eq!(
        in_rounds_of(&twelve, GroupBy::None, 2),
        [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9], vec![10, 11]]
    );
    // Classes stay whole: A (x, y), f, B (x, y, z), g on one job: the full round ends at
    // the group boundary nearest 2/3 of the ids (4.67: after f, at 3, is 1.67 away; after
    // B, at 6, 1.33).
    assert_eq!(
        in_rounds_of(&ids(SUITE), GroupBy::Class, 1),
        [vec![0, 2, 1, 3, 4, 5], vec![6]]
    );
    // Fewer ids than batches: one id a batch, none empty.
    assert_eq!(
        in_rounds_of(&twelve[..3], GroupBy::None, 2),
        [vec![0], vec![1], vec![2]]
    );
    assert!(in_rounds_of(&[], GroupBy::None, 2).is_empty());
    for jobs in 1..=5 {
        for n in 0..=12 {
            let mut seen: Vec<usize> = in_rounds_of(&twelve[..n], GroupBy::None, jobs)
                .into_iter()
                .flatten()
                .collect();
            seen.sort();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{n} ids on {jobs} jobs");
        }
    }
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
