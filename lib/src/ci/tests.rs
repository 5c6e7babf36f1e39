//! The resolution of one node from flags and variables: every convention, every way a
//! setting can be wrong, and which source wins.

use super::*;
use std::collections::HashMap;

fn run(flags: NodeFlags, vars: &[(&str, &str)]) -> Result<Option<Selection>> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve(&flags, &|name| map.get(name).cloned())
}

fn node_of(flags: NodeFlags, vars: &[(&str, &str)]) -> (u32, Option<u32>) {
    let s = run(flags, vars).unwrap().unwrap();
    (s.nodes, s.node)
}

fn err(flags: NodeFlags, vars: &[(&str, &str)]) -> String {
    run(flags, vars).unwrap_err().to_string()
}

const NONE: NodeFlags = NodeFlags {
    shard: None,
    nodes: None,
    node: None,
};

#[test]
fn every_convention_maps_to_one_based_nodes() {
    type Case<'a> = (&'a [(&'a str, &'a str)], (u32, Option<u32>));
    let cases: &[Case] = &[
        (&[("SHARD_NODES", "4"), ("SHARD_NODE", "2")], (4, Some(2))),
        (
            &[("NOSE_NODES", "4"), ("NOSE_NODE_NUMBER", "2")],
            (4, Some(2)),
        ),
        (
            &[
                ("GITLAB_CI", "true"),
                ("CI_NODE_TOTAL", "4"),
                ("CI_NODE_INDEX", "2"),
            ],
            (4, Some(2)),
        ),
        (
            &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "1")],
            (4, Some(2)),
        ),
        (
            &[
                ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
                ("BUILDKITE_PARALLEL_JOB", "1"),
            ],
            (4, Some(2)),
        ),
        (
            &[("SEMAPHORE_JOB_COUNT", "4"), ("SEMAPHORE_JOB_INDEX", "2")],
            (4, Some(2)),
        ),
        (
            &[("TEST_TOTAL_SHARDS", "4"), ("TEST_SHARD_INDEX", "1")],
            (4, Some(2)),
        ),
        (
            &[("GTEST_TOTAL_SHARDS", "4"), ("GTEST_SHARD_INDEX", "1")],
            (4, Some(2)),
        ),
    ];
    for (vars, expected) in cases {
        assert_eq!(node_of(NONE, vars), *expected, "{vars:?}");
    }
    let nodes4 = NodeFlags {
        nodes: Some(4),
        ..NONE
    };
    assert_eq!(
        node_of(nodes4, &[("JOB_COMPLETION_INDEX", "1")]),
        (4, Some(2))
    );
    assert_eq!(
        node_of(NONE, &[("JOB_COMPLETION_INDEX", "3"), ("SHARD_NODES", "4")]),
        (4, Some(4))
    );
}

#[test]
fn gitlab_variables_count_only_inside_gitlab() {
    let vars = [("CI_NODE_TOTAL", "4"), ("CI_NODE_INDEX", "2")];
    assert_eq!(run(NONE, &vars).unwrap(), None);
}

#[test]
fn flags_win_and_overridden_sources_are_named() {
    let flags = NodeFlags {
        shard: Some("1/2".parse().unwrap()),
        ..NONE
    };
    let s = run(
        flags,
        &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "3")],
    )
    .unwrap()
    .unwrap();
    assert_eq!((s.nodes, s.node), (2, Some(1)));
    assert_eq!(s.source, "--shard 1/2");
    assert_eq!(
        s.notes,
        ["the flags override CircleCI (CIRCLE_NODE_INDEX=3, CIRCLE_NODE_TOTAL=4)"]
    );
}

#[test]
fn invalid_values_name_their_origin() {
    let n = |nodes, node| NodeFlags {
        shard: None,
        nodes: Some(nodes),
        node: Some(node),
    };
    assert_eq!(
        err(n(4, 0), &[]),
        "--node 0: node 0 is not one of the 4 nodes (1 to 4)"
    );
    assert_eq!(
        err(n(4, 5), &[]),
        "--node 5: node 5 is not one of the 4 nodes (1 to 4)"
    );
    assert_eq!(
        err(n(0, 1), &[]),
        "--nodes 0: the number of nodes must be at least 1"
    );
    assert_eq!(
        err(NONE, &[("SHARD_NODES", "4"), ("SHARD_NODE", "two")]),
        "SHARD_NODE=two (shardkit): not a number"
    );
    assert_eq!(
        err(NONE, &[("NOSE_NODES", "4"), ("NOSE_NODE_NUMBER", "0")]),
        "NOSE_NODE_NUMBER=0 (distributed-nose): distributed-nose counts nodes from 1"
    );
    assert_eq!(
        err(
            NONE,
            &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "4")]
        ),
        "CircleCI (CIRCLE_NODE_INDEX=4, CIRCLE_NODE_TOTAL=4): node 5 is not one of the 4 nodes (1 to 4)"
    );
    // GitLab's jobs that do not run in parallel have CI_NODE_TOTAL=1 and no index: no
    // node is named there, so the flags (a plan for 3 nodes) decide.
    let plan_job = [("GITLAB_CI", "true"), ("CI_NODE_TOTAL", "1")];
    let flags = NodeFlags {
        nodes: Some(3),
        ..NONE
    };
    assert!(run(flags, &plan_job).is_ok());
    // CircleCI tells such a job as node 1 of 1.
    let circle_alone = [("CIRCLE_NODE_TOTAL", "1"), ("CIRCLE_NODE_INDEX", "0")];
    let planned = run(flags, &circle_alone).unwrap().unwrap();
    assert_eq!((planned.nodes, planned.node), (3, None));
    let alone = run(NONE, &circle_alone).unwrap().unwrap();
    assert_eq!((alone.nodes, alone.node), (1, Some(1)));
    assert!(run(NONE, &plan_job).unwrap().is_none());
    assert_eq!(
        err(NONE, &[("GITLAB_CI", "true"), ("CI_NODE_TOTAL", "2")]),
        "CI_NODE_TOTAL (GitLab): it is set but CI_NODE_INDEX is not"
    );
    assert_eq!(
        err(NONE, &[("BUILDKITE_PARALLEL_JOB", "1")]),
        "BUILDKITE_PARALLEL_JOB (Buildkite): it is set but BUILDKITE_PARALLEL_JOB_COUNT is not"
    );
    assert_eq!(
        err(NONE, &[("JOB_COMPLETION_INDEX", "1")]),
        "Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1): the number of nodes is not known: pass --nodes N"
    );
    assert_eq!(
        err(
            NodeFlags {
                node: Some(1),
                ..NONE
            },
            &[]
        ),
        "--node 1: the number of nodes is not known: pass --nodes N or use --shard K/N"
    );
    assert!("3".parse::<ShardSpec>().is_err());
    assert!("a/3".parse::<ShardSpec>().is_err());
    assert!("1/-3".parse::<ShardSpec>().is_err());
    assert_eq!(
        err(
            NodeFlags {
                shard: Some("0/3".parse().unwrap()),
                ..NONE
            },
            &[]
        ),
        "--shard 0/3: node 0 is not one of the 3 nodes (1 to 3)"
    );
}

#[test]
fn disagreeing_sources_are_an_error() {
    assert_eq!(
        err(
            NodeFlags {
                shard: Some("1/4".parse().unwrap()),
                nodes: Some(3),
                node: None
            },
            &[]
        ),
        "--nodes 3: disagrees with --shard 1/4"
    );
    assert_eq!(
        err(
            NONE,
            &[
                ("SHARD_NODES", "4"),
                ("SHARD_NODE", "1"),
                ("GITLAB_CI", "true"),
                ("CI_NODE_TOTAL", "4"),
                ("CI_NODE_INDEX", "2"),
            ]
        ),
        "GitLab (CI_NODE_INDEX=2, CI_NODE_TOTAL=4): says node 2 of 4 but shardkit (SHARD_NODE=1, SHARD_NODES=4) says node 1 of 4; two sources disagree: unset one, or pass --node and --nodes"
    );
    assert_eq!(
        err(
            NodeFlags {
                nodes: Some(3),
                ..NONE
            },
            &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "0")]
        ),
        "--nodes 3: disagrees with CircleCI (CIRCLE_NODE_INDEX=0, CIRCLE_NODE_TOTAL=4)"
    );
    // Sources that agree are fine (Bazel sets its own and GoogleTest's variables).
    let vars = [
        ("TEST_TOTAL_SHARDS", "3"),
        ("TEST_SHARD_INDEX", "2"),
        ("GTEST_TOTAL_SHARDS", "3"),
        ("GTEST_SHARD_INDEX", "2"),
        ("TEST_SHARD_STATUS_FILE", "/tmp/status"),
    ];
    let s = run(NONE, &vars).unwrap().unwrap();
    assert_eq!((s.nodes, s.node), (3, Some(3)));
    assert_eq!(s.status_files, [PathBuf::from("/tmp/status")]);
}

#[test]
fn a_lent_total_must_agree_with_a_source_that_has_its_own() {
    assert_eq!(
        err(
            NONE,
            &[
                ("SHARD_NODES", "4"),
                ("CIRCLE_NODE_TOTAL", "3"),
                ("CIRCLE_NODE_INDEX", "1")
            ]
        ),
        "SHARD_NODES=4: disagrees with CircleCI (CIRCLE_NODE_INDEX=1, CIRCLE_NODE_TOTAL=3)"
    );
    assert_eq!(
        node_of(
            NONE,
            &[
                ("SHARD_NODES", "3"),
                ("CIRCLE_NODE_TOTAL", "3"),
                ("CIRCLE_NODE_INDEX", "1")
            ]
        ),
        (3, Some(2))
    );
}

#[test]
fn status_files_are_touched_whoever_names_the_node() {
    let vars = [
        ("TEST_TOTAL_SHARDS", "2"),
        ("TEST_SHARD_INDEX", "0"),
        ("TEST_SHARD_STATUS_FILE", "/tmp/bazel"),
        ("GTEST_SHARD_STATUS_FILE", "/tmp/gtest"),
    ];
    let expected = [PathBuf::from("/tmp/bazel"), PathBuf::from("/tmp/gtest")];
    assert_eq!(run(NONE, &vars).unwrap().unwrap().status_files, expected);
    let flags = NodeFlags {
        shard: Some("1/2".parse().unwrap()),
        ..NONE
    };
    assert_eq!(run(flags, &vars).unwrap().unwrap().status_files, expected);
    let count_only = NodeFlags {
        nodes: Some(2),
        ..NONE
    };
    let vars = [("TEST_SHARD_STATUS_FILE", "/tmp/bazel")];
    assert!(
        run(count_only, &vars)
            .unwrap()
            .unwrap()
            .status_files
            .is_empty()
    );
}

#[test]
fn broken_variables_are_notes_when_the_flags_decide() {
    let flags = NodeFlags {
        shard: Some("1/2".parse().unwrap()),
        ..NONE
    };
    let s = run(flags, &[("JOB_COMPLETION_INDEX", "x")])
        .unwrap()
        .unwrap();
    assert_eq!((s.nodes, s.node), (2, Some(1)));
    assert_eq!(
        s.notes,
        [
            "ignored because the flags name the node: JOB_COMPLETION_INDEX=x (Kubernetes Indexed Job): not a number"
        ]
    );
    // Without the flags deciding, the same variable is an error.
    assert!(
        run(
            NodeFlags {
                nodes: Some(2),
                ..NONE
            },
            &[("JOB_COMPLETION_INDEX", "x")]
        )
        .is_err()
    );
}

#[test]
fn numbers_out_of_range_say_so() {
    assert_eq!(
        err(NONE, &[("SHARD_NODES", "99999999999"), ("SHARD_NODE", "1")]),
        "SHARD_NODES=99999999999 (shardkit): the number of nodes must be at most 10000"
    );
    assert_eq!(
        err(
            NodeFlags {
                nodes: Some(20_000),
                node: Some(1),
                ..NONE
            },
            &[]
        ),
        "--nodes 20000: the number of nodes must be at most 10000"
    );
    assert_eq!(
        err(NONE, &[("SHARD_NODES", "4"), ("SHARD_NODE", "99999999999")]),
        "SHARD_NODE=99999999999 (shardkit): the index must be at most 10000"
    );
}

#[test]
fn on_off_variables_take_the_usual_words() {
    let on = |v: &str| {
        let v = v.to_string();
        env_switch("SHARD_DISABLED", &move |_| Some(v.clone()))
    };
    for v in ["1", "true", "YES", "on "] {
        assert!(on(v).unwrap(), "{v}");
    }
    for v in ["0", "false", "No", "off", ""] {
        assert!(!on(v).unwrap(), "{v}");
    }
    assert_eq!(
        on("maybe").unwrap_err().to_string(),
        "SHARD_DISABLED=maybe: expected 1 or 0 (true/false, yes/no, on/off)"
    );
    assert!(!env_switch("SHARD_DISABLED", &|_| None).unwrap());
}

#[test]
fn a_count_alone_names_no_node() {
    assert_eq!(
        node_of(
            NodeFlags {
                nodes: Some(5),
                ..NONE
            },
            &[]
        ),
        (5, None)
    );
    assert_eq!(node_of(NONE, &[("SHARD_NODES", "5")]), (5, None));
    assert_eq!(run(NONE, &[]).unwrap(), None);
    let s = run(
        NodeFlags {
            nodes: Some(5),
            ..NONE
        },
        &[("SHARD_NODES", "4")],
    )
    .unwrap()
    .unwrap();
    assert_eq!(s.nodes, 5);
    assert_eq!(s.notes, ["--nodes 5 overrides SHARD_NODES=4"]);
}
