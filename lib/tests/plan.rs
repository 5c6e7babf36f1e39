//! The planner's promises: invariants (property tests), golden vectors that pin the
//! algorithm, and balance and stability on a large generated suite.

#[allow(dead_code)]
mod support {
    pub mod suite;
}

use std::collections::HashMap;
use std::path::PathBuf;

use proptest::prelude::*;
use shardkit::timings::{Timings, quantize};
use shardkit::{GroupBy, Grouping, LoadFactor, Plan, PlanParams, TestIds};
use support::suite;

fn params(nodes: u32, by: GroupBy) -> PlanParams {
    PlanParams {
        grouping: Grouping::new(by, "::").unwrap(),
        ..PlanParams::new(nodes)
    }
}

/// id -> node.
fn assignment(plan: &Plan<'_>) -> HashMap<String, u32> {
    plan.entries().map(|e| (e.id.to_string(), e.node)).collect()
}

fn moved(before: &HashMap<String, u32>, after: &HashMap<String, u32>) -> usize {
    before.iter().filter(|(id, n)| after[*id] != **n).count()
}

// ---------------------------------------------------------------------------------------
// Invariants

/// Small pytest-like ids: few files and classes, so that groups have several members.
fn id_strategy() -> impl Strategy<Value = String> {
    (
        0..6u8,
        prop::option::of(0..4u8),
        "[a-z]{1,6}",
        prop::option::of("[ a-zé/:-]{0,5}"),
    )
        .prop_map(|(file, class, name, param)| {
            let mut id = format!("tests/test_{file}.py");
            if let Some(c) = class {
                id.push_str(&format!("::TestC{c}"));
            }
            id.push_str(&format!("::test_{name}"));
            if let Some(p) = param {
                id.push_str(&format!("[{p}]"));
            }
            id
        })
}

fn group_by_strategy() -> impl Strategy<Value = GroupBy> {
    prop_oneof![
        Just(GroupBy::None),
        Just(GroupBy::Class),
        Just(GroupBy::File)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_id_on_exactly_one_node(
        ids in prop::collection::btree_set(id_strategy(), 1..300),
        nodes in 1..=64u32,
        by in group_by_strategy(),
    ) {
        let lines: Vec<&String> = ids.iter().collect();
        let set = TestIds::from_lines(&lines).unwrap();
        let plan = Plan::by_count(&set, params(nodes, by)).unwrap();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for e in plan.entries_by_node() {
            prop_assert!((1..=nodes).contains(&e.node));
            prop_assert!(seen.insert(e.id, e.node).is_none(), "{} twice", e.id);
        }
        prop_assert_eq!(seen.len(), ids.len());
        let per_node: usize = (1..=nodes).map(|k| plan.node_entries(k).count()).sum();
        prop_assert_eq!(per_node, ids.len());
    }

    #[test]
    fn the_plan_does_not_depend_on_input_order(
        ids in prop::collection::btree_set(id_strategy(), 1..300),
        nodes in 1..=64u32,
        by in group_by_strategy(),
        seed in any::<u64>(),
    ) {
        let sorted: Vec<&String> = ids.iter().collect();
        let mut shuffled = sorted.clone();
        let mut rng = suite::Rng::new(seed);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let a = TestIds::from_lines(&sorted).unwrap();
        let b = TestIds::from_lines(&shuffled).unwrap();
        let pa = Plan::by_count(&a, params(nodes, by)).unwrap();
        let pb = Plan::by_count(&b, params(nodes, by)).unwrap();
        prop_assert_eq!(pa.entries_by_node().collect::<Vec<_>>(), pb.entries_by_node().collect::<Vec<_>>());
        for k in 1..=nodes {
            prop_assert_eq!(pa.node_entries(k).collect::<Vec<_>>(), pb.node_entries(k).collect::<Vec<_>>());
        }
        prop_assert_eq!(pa.fingerprint(), pb.fingerprint());
    }

    #[test]
    fn groups_never_split_and_stay_adjacent(
        ids in prop::collection::btree_set(id_strategy(), 1..300),
        nodes in 1..=64u32,
        by in group_by_strategy(),
    ) {
        let lines: Vec<&String> = ids.iter().collect();
        let set = TestIds::from_lines(&lines).unwrap();
        let grouping = Grouping::new(by, "::").unwrap();
        let plan = Plan::by_count(&set, params(nodes, by)).unwrap();
        let mut node_of_group: HashMap<&str, u32> = HashMap::new();
        for e in plan.entries() {
            prop_assert_eq!(e.group, grouping.key(e.id));
            let node = *node_of_group.entry(e.group).or_insert(e.node);
            prop_assert_eq!(node, e.node, "group {} split", e.group);
        }
        for k in 1..=nodes {
            // Within a node, a group's ids are adjacent and groups come in key order.
            let groups: Vec<&str> = plan.node_entries(k).map(|e| e.group).collect();
            let mut runs: Vec<&str> = groups.clone();
            runs.dedup();
            let mut sorted = runs.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(runs, sorted);
        }
    }

    #[test]
    fn no_node_above_capacity(
        weights in prop::collection::vec(0..1000u64, 1..300),
        nodes in 1..=64u32,
        factor in 1_000_000..1_300_000u64,
    ) {
        let lines: Vec<String> = (0..weights.len()).map(|i| format!("t.py::test_{i}")).collect();
        let set = TestIds::from_lines(&lines).unwrap();
        let c: LoadFactor = format!("{}.{:06}", factor / 1_000_000, factor % 1_000_000).parse().unwrap();
        let p = PlanParams { load_factor: c, ..params(nodes, GroupBy::None) };
        let plan = Plan::new(&set, weights.clone(), p).unwrap();
        let total: u64 = weights.iter().sum();
        let loads = plan.loads();
        prop_assert_eq!(loads.iter().map(|l| l.weight).sum::<u64>(), total);
        // Within capacity; a group that fits nowhere goes to the least-loaded node, whose load
        // was then at most the capacity, so no node ends above capacity + the largest group.
        let largest = weights.iter().copied().max().unwrap_or(0);
        for l in &loads {
            let bound = if plan.overflowed() == 0 { plan.capacity() } else { plan.capacity() + largest };
            prop_assert!(l.weight <= bound, "node {} has {} > {}", l.node, l.weight, bound);
        }
    }

    #[test]
    fn unit_weights_always_fit(
        count in 1..2000usize,
        nodes in 1..=64u32,
        seed in any::<u64>(),
    ) {
        let lines = suite::pytest_ids(count, seed);
        let set = TestIds::from_lines(&lines).unwrap();
        let plan = Plan::by_count(&set, params(nodes, GroupBy::None)).unwrap();
        prop_assert_eq!(plan.overflowed(), 0);
        for l in plan.loads() {
            prop_assert!(l.weight <= plan.capacity());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Golden vectors: a change here is a change of the algorithm, and needs a version bump.

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden-plan")
}

/// The --all listing of a plan, then its fingerprint.
fn render(plan: &Plan<'_>) -> String {
    let mut out = String::new();
    for e in plan.entries_by_node() {
        out.push_str(&format!("{}\t{}\n", e.node, e.id));
    }
    out.push_str(&format!("# fingerprint sha256:{}\n", plan.fingerprint()));
    out
}

#[test]
fn golden_vectors() {
    let dir = golden_dir();
    let text = std::fs::read(dir.join("ids.txt")).unwrap();
    let ids = TestIds::read([("ids.txt".to_string(), &text[..])]).unwrap();
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for by in [GroupBy::None, GroupBy::Class, GroupBy::File] {
        for nodes in 2..=5 {
            let plan = Plan::by_count(&ids, params(nodes, by)).unwrap();
            let got = render(&plan);
            let path = dir.join(format!("{by}-{nodes}.tsv"));
            if update {
                std::fs::write(&path, &got).unwrap();
            } else {
                let want = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if got != want {
                    failures.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the plan changed for {failures:?}: if the algorithm changed on purpose, bump ring::ALGORITHM and regenerate with UPDATE_GOLDEN=1"
    );
}

// ---------------------------------------------------------------------------------------
// Balance and stability on 100,000 generated pytest-style ids.

const SUITE: usize = 100_000;

#[test]
fn balance_and_stability_on_a_large_suite() {
    let base = suite::pytest_ids(SUITE, 1);
    let mut grown = base.clone();
    grown.extend(suite::new_ids(SUITE / 100, 2));
    let base_ids = TestIds::from_lines(&base).unwrap();
    let grown_ids = TestIds::from_lines(&grown).unwrap();

    let mut previous: Option<HashMap<String, u32>> = None;
    for nodes in 2..=32u32 {
        let plan = Plan::by_count(&base_ids, params(nodes, GroupBy::None)).unwrap();
        let max = plan.loads().iter().map(|l| l.weight).max().unwrap() as f64;
        let mean = SUITE as f64 / f64::from(nodes);
        assert!(
            max / mean <= 1.05,
            "N={nodes}: count max/mean {:.4}",
            max / mean
        );

        let now = assignment(&plan);
        if let Some(before) = &previous
            && nodes <= 17
        {
            // Going from N-1 to N nodes: at most 1.25/N of the ids move (ideal 1/N).
            let share = moved(before, &now) as f64 / SUITE as f64;
            let bound = 1.25 / f64::from(nodes);
            assert!(
                share <= bound,
                "N={}->{nodes}: {share:.4} of ids moved, bound {bound:.4}",
                nodes - 1
            );
        }

        // Adding 1% new ids moves at most 0.5% of the existing ones.
        let after = assignment(&Plan::by_count(&grown_ids, params(nodes, GroupBy::None)).unwrap());
        let share = moved(&now, &after) as f64 / SUITE as f64;
        assert!(
            share <= 0.005,
            "N={nodes}: adding 1% ids moved {share:.4} of the existing ones"
        );
        previous = Some(now);
    }
}

// ---------------------------------------------------------------------------------------
// Coarse groups: a class holding a third of the suite must not leave nodes idle.

#[test]
fn a_giant_group_gets_a_node_of_its_own() {
    let mut lines: Vec<String> = (0..400)
        .map(|i| format!("tests/test_big.py::TestBig::test_{i}"))
        .collect();
    lines.extend((0..900).map(|i| format!("tests/test_small_{i}.py::test_x")));
    let ids = TestIds::from_lines(&lines).unwrap();
    for nodes in 2..=8u32 {
        let plan = Plan::by_count(&ids, params(nodes, GroupBy::Class)).unwrap();
        let loads = plan.loads();
        let max = loads.iter().map(|l| l.weight).max().unwrap();
        let mean = 1300.0 / f64::from(nodes);
        if 400.0 > mean {
            // The best possible: the big class alone on its node, the rest spread below it.
            assert_eq!(max, 400, "{nodes} nodes: loads {loads:?}");
            let big = plan
                .entries()
                .find(|e| e.group == "tests/test_big.py::TestBig")
                .unwrap();
            assert_eq!(
                loads[big.node as usize - 1].tests,
                400,
                "{nodes} nodes: {loads:?}"
            );
        } else {
            assert!(max as f64 / mean <= 1.05, "{nodes} nodes: loads {loads:?}");
        }
        assert_eq!(plan.overflowed(), 0, "{nodes} nodes");
    }
}

// ---------------------------------------------------------------------------------------
// Weighted by durations from earlier reports (quantized as `timings` does).

fn plan_of<'a>(ids: &'a TestIds, weights: &[u64], nodes: u32) -> Plan<'a> {
    Plan::new(ids, weights.to_vec(), timed_params(nodes)).unwrap()
}

const TIMED: usize = 20_000;

/// Node -> summed true duration, for a plan of `ids` (whose true durations are `seconds`).
fn time_loads(plan: &Plan<'_>, index: &HashMap<&str, usize>, seconds: &[f64]) -> Vec<f64> {
    let mut loads = vec![0.0; plan.params().nodes as usize];
    for e in plan.entries() {
        loads[e.node as usize - 1] += seconds[index[e.id]];
    }
    loads
}

fn max_over_mean(loads: &[f64]) -> f64 {
    let mean = loads.iter().sum::<f64>() / loads.len() as f64;
    loads.iter().copied().fold(0.0, f64::max) / mean
}

fn timed_params(nodes: u32) -> PlanParams {
    PlanParams {
        load_factor: LoadFactor::WITH_DURATIONS,
        ..PlanParams::new(nodes)
    }
}

#[test]
fn durations_balance_like_lpt_and_stay_stable_like_a_ring() {
    let base = suite::pytest_ids(TIMED, 1);
    let seconds = suite::lognormal_durations(TIMED, 1.5, 7);
    let index: HashMap<&str, usize> = base
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let ids = TestIds::from_lines(&base).unwrap();
    let weights: Vec<u64> = seconds.iter().map(|&s| quantize(s)).collect();

    // 1% new tests, with durations of their own.
    let mut grown = base.clone();
    grown.extend(suite::new_ids(TIMED / 100, 2));
    let grown_ids = TestIds::from_lines(&grown).unwrap();
    let mut grown_weights = weights.clone();
    grown_weights.extend(
        suite::lognormal_durations(TIMED / 100, 1.5, 9)
            .iter()
            .map(|&s| quantize(s)),
    );
    // 10% of the durations measured again, each times a factor in 0.5..2.
    let mut rng = suite::Rng::new(11);
    let remeasured: Vec<u64> = seconds
        .iter()
        .map(|&s| {
            if rng.below(10) == 0 {
                let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                quantize(s * 0.5 * 4f64.powf(unit))
            } else {
                quantize(s)
            }
        })
        .collect();

    let mut previous: Option<HashMap<String, u32>> = None;
    for nodes in 2..=32u32 {
        let plan = plan_of(&ids, &weights, nodes);
        let balance = max_over_mean(&time_loads(&plan, &index, &seconds));
        assert!(
            balance <= 1.03,
            "N={nodes}: summed duration max/mean {balance:.4}"
        );
        let now = assignment(&plan);
        // Going from N-1 to N nodes (N <= 9): at most 1.25/N of the tests move.
        if nodes <= 9
            && let Some(before) = &previous
        {
            let share = moved(before, &now) as f64 / TIMED as f64;
            let bound = 1.25 / f64::from(nodes);
            assert!(
                share <= bound,
                "N={}->{nodes}: {share:.4} moved, bound {bound:.4}",
                nodes - 1
            );
        }
        // Adding 1% new tests, or measuring 10% again, moves at most 0.5% of the others.
        let after = assignment(&plan_of(&grown_ids, &grown_weights, nodes));
        let share = moved(&now, &after) as f64 / TIMED as f64;
        assert!(
            share <= 0.005,
            "N={nodes}: 1% new tests moved {share:.4} of the others"
        );
        let after = assignment(&plan_of(&ids, &remeasured, nodes));
        let share = moved(&now, &after) as f64 / TIMED as f64;
        assert!(
            share <= 0.005,
            "N={nodes}: re-measuring 10% moved {share:.4}"
        );
        previous = Some(now);
    }
}

#[test]
fn ids_without_a_duration_weigh_the_median_and_are_all_planned() {
    let base = suite::pytest_ids(TIMED, 3);
    let seconds = suite::lognormal_durations(TIMED, 1.5, 5);
    // 5% of the ids have no recorded duration: the median known one stands in.
    let mut rng = suite::Rng::new(13);
    let known: Vec<Option<f64>> = seconds
        .iter()
        .map(|&s| (rng.below(20) != 0).then_some(s))
        .collect();
    let timings = Timings {
        durations: known,
        ..Timings::default()
    };
    let weights = timings.weights();
    let mut sorted: Vec<f64> = timings.durations.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let median = quantize(sorted[sorted.len() / 2]);
    for (w, d) in weights.iter().zip(&timings.durations) {
        if d.is_none() {
            assert!(w.abs_diff(median) * 20 <= median, "{w} vs median {median}");
        }
    }
    let ids = TestIds::from_lines(&base).unwrap();
    for nodes in 2..=32u32 {
        let plan = Plan::new(&ids, weights.clone(), timed_params(nodes)).unwrap();
        assert_eq!(plan.entries().count(), TIMED);
        let loads: Vec<f64> = plan.loads().iter().map(|l| l.weight as f64).collect();
        let estimated = max_over_mean(&loads);
        assert!(
            estimated <= 1.06,
            "N={nodes}: estimated max/mean {estimated:.4}"
        );
    }
}
