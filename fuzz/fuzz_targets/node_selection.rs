//! Any values in the node variables: settling the node never panics, and whatever it
//! returns is a real node of a real node count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardkit::ci::{self, NodeFlags};

fuzz_target!(|data: &[u8]| {
    // Tab-separated values for a few of the variables.
    let text = String::from_utf8_lossy(data);
    let mut values = text.split('\t');
    let names = [
        "SHARD_NODES",
        "SHARD_NODE",
        "GITLAB_CI",
        "CI_NODE_TOTAL",
        "CI_NODE_INDEX",
        "CIRCLE_NODE_TOTAL",
        "CIRCLE_NODE_INDEX",
        "JOB_COMPLETION_INDEX",
        "TEST_TOTAL_SHARDS",
        "TEST_SHARD_INDEX",
    ];
    let vars: Vec<(&str, String)> = names
        .iter()
        .filter_map(|&name| values.next().map(|v| (name, v.to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let env = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let flags = NodeFlags::default();
    if let Ok(Some(selection)) = ci::resolve(&flags, &env) {
        assert!(selection.nodes >= 1 && selection.nodes <= shardkit::ring::MAX_NODES);
        if let Some(k) = selection.node {
            assert!(k >= 1 && k <= selection.nodes);
        }
    }
});
