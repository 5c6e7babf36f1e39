//! What a plan charges each test for its module.
//!
//! A runner like pytest imports and collects a module whole in every process that runs any of
//! its tests, so every node that holds one of its groups pays for it once at least. A node that
//! holds many modules' tests costs more than its tests' times say: in one measured suite, the
//! node of 60 modules ran 1.05x the mean of three nodes balanced by their tests' times, where
//! the others held 57 and 51.
//!
//! A plan places groups before it knows which modules a node holds, so each group carries its
//! share of what its module is expected to cost the nodes: `N × (1 − (1 − 1/N)^g)` nodes of `N`
//! hold one of the module's `g` groups on average, each paying the module's cost; that sum
//! spread evenly over the `g` groups, and each group's share over its ids. A module of one
//! group puts its whole cost on it (the node that takes it pays it); a module of many groups,
//! on every node anyway, adds about `N / g` of its cost to each group.
//!
//! Exact IEEE operations only (products, quotients, sums in a fixed order, costs held to two
//! significant digits), so every node computes the same weights from the same reports.

use std::collections::HashMap;

use crate::ids::Grouping;

/// The most groups of one module counted: past it, every node holds one of them (the chance
/// that one does not is under `(1 − 1/N)^4096`).
const MOST_GROUPS: usize = 4096;

/// Each id's share, in microseconds, of what its module is expected to cost the plan's
/// `nodes`: `modules` names each id's module, `groups` its group in the plan, and `cost` gives
/// a module's cost in seconds (held to two significant digits of a microsecond count here).
pub fn module_shares<'a>(
    ids: &[&'a str],
    modules: &Grouping,
    groups: &Grouping,
    nodes: u32,
    cost: impl Fn(&str) -> f64,
) -> Vec<u64> {
    // Per module: its groups, each with its count of ids.
    let mut by_module: HashMap<&'a str, HashMap<&'a str, u64>> = HashMap::new();
    for &id in ids {
        *by_module
            .entry(modules.key(id))
            .or_default()
            .entry(groups.key(id))
            .or_default() += 1;
    }
    let mut per_module: HashMap<&str, f64> = HashMap::with_capacity(by_module.len());
    for (module, in_groups) in &by_module {
        let micros = super::two_digits(super::micros(cost(module)));
        let share = micros as f64 * expected_nodes(nodes, in_groups.len()) / in_groups.len() as f64;
        per_module.insert(module, share);
    }
    ids.iter()
        .map(|&id| {
            let module = modules.key(id);
            let size = by_module[module][groups.key(id)];
            (per_module[module] / size as f64).round() as u64
        })
        .collect()
}

/// How many of `nodes` hold at least one of `groups` groups placed at random, on average.
fn expected_nodes(nodes: u32, groups: usize) -> f64 {
    let nodes = f64::from(nodes.max(1));
    let stay = 1.0 - 1.0 / nodes;
    let mut none = 1.0;
    for _ in 0..groups.min(MOST_GROUPS) {
        none *= stay;
    }
    nodes * (1.0 - none)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GroupBy;

    fn shares(ids: &[&str], nodes: u32, cost: f64) -> Vec<u64> {
        let files = Grouping::new(GroupBy::File, "::").unwrap();
        let classes = Grouping::new(GroupBy::Class, "::").unwrap();
        module_shares(ids, &files, &classes, nodes, |_| cost)
    }

    #[test]
    fn a_module_of_one_group_puts_its_whole_cost_on_it() {
        // One class of four tests: the node that takes it pays the module, 0.25 s.
        let ids = ["a.py::A::t1", "a.py::A::t2", "a.py::A::t3", "a.py::A::t4"];
        assert_eq!(shares(&ids, 3, 0.25), [62_500; 4]);
        // Two modules of one group each, whatever the nodes.
        assert_eq!(shares(&["a.py::t", "b.py::t"], 8, 0.1), [100_000, 100_000]);
    }

    #[test]
    fn a_module_of_many_groups_costs_about_every_node_its_cost() {
        // 300 functions of one module on 3 nodes: every node holds some, so the module's
        // cost is paid 3 times, a hundredth of it on each test.
        let ids: Vec<String> = (0..300).map(|i| format!("m.py::test_{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let got = shares(&ids, 3, 0.5);
        assert!(got.iter().all(|&w| w == got[0]));
        let total: u64 = got.iter().sum();
        assert!((1_499_000..=1_500_000).contains(&total), "{total}");
        // Two groups on two nodes: 1.5 nodes hold one of them on average, 0.75 s a group.
        assert_eq!(shares(&["m.py::a", "m.py::b"], 2, 1.0), [750_000, 750_000]);
        // One node: the module is paid once, however many groups.
        assert_eq!(shares(&["m.py::a", "m.py::b"], 1, 1.0), [500_000, 500_000]);
    }

    #[test]
    fn costs_are_held_to_two_digits_and_nothing_is_charged_for_no_cost() {
        // 0.2437 s and 0.2401 s both charge 0.24 s: noise between runs moves no test.
        assert_eq!(
            shares(&["a.py::t"], 3, 0.2437),
            shares(&["a.py::t"], 3, 0.2401)
        );
        assert_eq!(shares(&["a.py::t"], 3, 0.2437), [240_000]);
        for cost in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(shares(&["a.py::t", "b.py::t"], 3, cost), [0, 0], "{cost}");
        }
        assert!(shares(&[], 3, 1.0).is_empty());
    }

    #[test]
    fn the_shares_do_not_depend_on_the_order_of_the_ids() {
        let ids = [
            "a.py::A::x",
            "b.py::f",
            "a.py::g",
            "a.py::A::y",
            "b.py::B::z",
        ];
        let forward = shares(&ids, 4, 0.3);
        let mut reversed: Vec<&str> = ids.to_vec();
        reversed.reverse();
        let mut back = shares(&reversed, 4, 0.3);
        back.reverse();
        assert_eq!(forward, back);
    }
}
