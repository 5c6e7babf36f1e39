//! Any bytes as a list of test ids: reading never panics, and a plan of what was read puts
//! every id on exactly one node.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use shardkit::{GroupBy, Grouping, Plan, PlanParams, TestIds};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses N and the grouping; the rest is the list.
    let Some((&choice, list)) = data.split_first() else {
        return;
    };
    let Ok(ids) = TestIds::read([("fuzz".to_string(), list)]) else {
        return;
    };
    let nodes = u32::from(choice % 16) + 1;
    let by = [GroupBy::None, GroupBy::Class, GroupBy::File][usize::from(choice / 16 % 3)];
    let params = PlanParams {
        vnodes: 8,
        grouping: Grouping::new(by, "::").expect("a valid separator"),
        ..PlanParams::new(nodes)
    };
    let plan = Plan::by_count(&ids, params).expect("a plan of ids that were read");
    let mut seen = HashSet::new();
    for e in plan.entries_by_node() {
        assert!((1..=nodes).contains(&e.node));
        assert!(seen.insert(e.id), "{} planned twice", e.id);
    }
    assert_eq!(seen.len(), ids.len());
    let per_node: usize = (1..=nodes).map(|k| plan.node_entries(k).count()).sum();
    assert_eq!(per_node, ids.len());
});
