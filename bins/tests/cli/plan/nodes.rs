//! Which node this is: flags, every CI's own variables and the disabled switch name the same
//! node, flags override the environment and say so, and a bad setting is an error (exit 2,
//! nothing on stdout) that names the setting, never a fallback to every test.

use super::{fails_with, golden_ids, ok, plan};
use crate::support::path_str;

#[test]
fn each_ci_convention_gives_the_same_list_as_node_flags() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    // (variables naming node 2 of 3, with the convention's own base)
    let conventions: &[&[(&str, &str)]] = &[
        &[("SHARD_NODES", "3"), ("SHARD_NODE", "2")],
        &[("NOSE_NODES", "3"), ("NOSE_NODE_NUMBER", "2")],
        &[
            ("GITLAB_CI", "true"),
            ("CI_NODE_TOTAL", "3"),
            ("CI_NODE_INDEX", "2"),
        ],
        &[("CIRCLE_NODE_TOTAL", "3"), ("CIRCLE_NODE_INDEX", "1")],
        &[
            ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
            ("BUILDKITE_PARALLEL_JOB", "1"),
        ],
        &[("SEMAPHORE_JOB_COUNT", "3"), ("SEMAPHORE_JOB_INDEX", "2")],
        &[("TEST_TOTAL_SHARDS", "3"), ("TEST_SHARD_INDEX", "1")],
        &[("GTEST_TOTAL_SHARDS", "3"), ("GTEST_SHARD_INDEX", "1")],
        &[("JOB_COMPLETION_INDEX", "1"), ("SHARD_NODES", "3")],
    ];
    let expected = plan(&["--nodes", "3", "--node", "2", ids], &[]);
    ok(&expected);
    assert!(!expected.stdout.is_empty());
    let shard = plan(&["--shard", "2/3", ids], &[]);
    ok(&shard);
    assert_eq!(shard.stdout, expected.stdout);
    for vars in conventions {
        let run = plan(&[ids], vars);
        ok(&run);
        assert_eq!(run.stdout, expected.stdout, "{vars:?}");
        assert!(run.stderr.contains("node 2 of 3 from"), "{}", run.stderr);
    }
    // Kubernetes gives only the index; --nodes gives N.
    let run = plan(&["--nodes", "3", ids], &[("JOB_COMPLETION_INDEX", "1")]);
    ok(&run);
    assert_eq!(run.stdout, expected.stdout);
    assert!(
        run.stderr.contains(
            "node 2 of 3 from Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1) with --nodes 3"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn the_source_is_named_once() {
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[
            ("GITLAB_CI", "true"),
            ("CI_NODE_TOTAL", "2"),
            ("CI_NODE_INDEX", "1"),
        ],
    );
    ok(&run);
    assert_eq!(
        run.stderr
            .matches("from GitLab (CI_NODE_INDEX=1, CI_NODE_TOTAL=2)")
            .count(),
        1,
        "{}",
        run.stderr
    );
}

/// A node setting shard-plan must refuse: its flags (before the ids), its environment and
/// what the message says.
struct BadSetting {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    says: &'static str,
}

/// A setting made of flags alone.
const fn flags(args: &'static [&'static str], says: &'static str) -> BadSetting {
    BadSetting {
        args,
        env: &[],
        says,
    }
}

/// A setting made of environment variables alone.
const fn vars(env: &'static [(&'static str, &'static str)], says: &'static str) -> BadSetting {
    BadSetting {
        args: &[],
        env,
        says,
    }
}

/// A setting made of flags and environment variables together.
const fn both(
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    says: &'static str,
) -> BadSetting {
    BadSetting { args, env, says }
}

/// Every bad node setting: numbers out of range or not numbers, in flags and in each CI's
/// variables, sources that disagree, settings missing, and bad ring parameters.
const BAD_NODE_SETTINGS: &[BadSetting] = &[
    flags(
        &["--nodes", "3", "--node", "0"],
        "--node 0: node 0 is not one of the 3 nodes",
    ),
    flags(
        &["--nodes", "3", "--node", "4"],
        "--node 4: node 4 is not one of the 3 nodes",
    ),
    flags(
        &["--shard", "4/3"],
        "--shard 4/3: node 4 is not one of the 3 nodes",
    ),
    flags(
        &["--nodes", "0", "--node", "1"],
        "--nodes 0: the number of nodes must be at least 1",
    ),
    flags(
        &["--shard", "1/0"],
        "--shard 1/0: the number of nodes must be at least 1",
    ),
    flags(
        &["--nodes", "three", "--node", "1"],
        "invalid value 'three' for '--nodes <N>'",
    ),
    flags(
        &["--shard", "1-3"],
        "invalid value '1-3' for '--shard <K/N>'",
    ),
    vars(
        &[("SHARD_NODES", "3"), ("SHARD_NODE", "x")],
        "SHARD_NODE=x (shardkit): not a number",
    ),
    vars(
        &[("SHARD_NODES", "0"), ("SHARD_NODE", "1")],
        "SHARD_NODES=0 (shardkit): the number of nodes must be at least 1",
    ),
    vars(
        &[("SHARD_NODES", "3"), ("SHARD_NODE", "4")],
        "node 4 is not one of the 3 nodes",
    ),
    vars(
        &[("NOSE_NODES", "3"), ("NOSE_NODE_NUMBER", "0")],
        "NOSE_NODE_NUMBER=0 (distributed-nose): distributed-nose counts nodes from 1",
    ),
    vars(
        &[("CIRCLE_NODE_TOTAL", "3"), ("CIRCLE_NODE_INDEX", "3")],
        "node 4 is not one of the 3 nodes",
    ),
    vars(
        &[("TEST_TOTAL_SHARDS", "3")],
        "TEST_TOTAL_SHARDS (Bazel): it is set but TEST_SHARD_INDEX is not",
    ),
    vars(
        &[("JOB_COMPLETION_INDEX", "0")],
        "the number of nodes is not known: pass --nodes N",
    ),
    flags(
        &["--shard", "1/3", "--nodes", "4"],
        "--nodes 4: disagrees with --shard 1/3",
    ),
    flags(
        &["--shard", "1/3", "--node", "2"],
        "--node 2: disagrees with --shard 1/3",
    ),
    vars(
        &[
            ("SHARD_NODES", "3"),
            ("SHARD_NODE", "1"),
            ("CIRCLE_NODE_TOTAL", "3"),
            ("CIRCLE_NODE_INDEX", "1"),
        ],
        "two sources disagree",
    ),
    both(
        &["--nodes", "4"],
        &[("GTEST_TOTAL_SHARDS", "3"), ("GTEST_SHARD_INDEX", "1")],
        "--nodes 4: disagrees with GoogleTest",
    ),
    flags(&[], "no node count"),
    flags(&["--nodes", "3"], "no node chosen"),
    flags(&["--node", "2"], "the number of nodes is not known"),
    flags(
        &["--shard", "1/2", "--load-factor", "0.9"],
        "it must be at least 1",
    ),
    flags(&["--shard", "1/2", "--vnodes", "0"], "invalid vnodes `0`"),
    flags(
        &["--shard", "1/2", "--separator", ""],
        "invalid separator ``",
    ),
    flags(
        &["--shard", "1/2", "--group-by", "module"],
        "invalid value 'module' for '--group-by <HOW>'",
    ),
    both(
        &["--shard", "1/2"],
        &[("SHARD_GROUP_BY", "module")],
        "SHARD_GROUP_BY=module: invalid group-by `module`: expected none, class or file",
    ),
    both(
        &["--shard", "1/2"],
        &[("SHARD_DISABLED", "maybe")],
        "SHARD_DISABLED=maybe: expected 1 or 0 (true/false, yes/no, on/off)",
    ),
];

#[test]
fn bad_node_settings_exit_2_with_nothing_on_stdout() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    for bad in BAD_NODE_SETTINGS {
        let mut all: Vec<&str> = bad.args.to_vec();
        all.push(ids);
        fails_with(&plan(&all, bad.env), bad.says);
    }
}

#[test]
fn never_falls_back_to_every_test() {
    // The seed tool ran the whole suite on a bad node number; this must not.
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[("NOSE_NODES", "2"), ("NOSE_NODE_NUMBER", "3")],
    );
    fails_with(&run, "node 3 is not one of the 2 nodes");
}

#[test]
fn flags_override_the_environment_and_say_so() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    let flags = plan(&["--shard", "1/2", ids], &[]);
    let run = plan(
        &["--shard", "1/2", ids],
        &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "3")],
    );
    ok(&run);
    assert_eq!(run.stdout, flags.stdout);
    assert!(
        run.stderr.contains(
            "note: the flags override CircleCI (CIRCLE_NODE_INDEX=3, CIRCLE_NODE_TOTAL=4)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn too_many_nodes_names_the_setting() {
    let ids = golden_ids();
    fails_with(
        &plan(
            &[path_str(&ids)],
            &[("SHARD_NODES", "100000"), ("SHARD_NODE", "1")],
        ),
        "SHARD_NODES=100000 (shardkit): the number of nodes must be at most 10000",
    );
    fails_with(
        &plan(
            &[
                "--nodes",
                "10000",
                "--node",
                "1",
                "--vnodes",
                "4096",
                path_str(&ids),
            ],
            &[],
        ),
        "ring points allowed; use fewer --vnodes",
    );
}

#[test]
fn disabled_plans_every_id_whatever_the_node() {
    let ids = golden_ids();
    let input = std::fs::read_to_string(&ids).unwrap();
    for (args, env) in [
        (&["--disabled", "--shard", "2/4"][..], &[][..]),
        (&["--shard", "2/4"], &[("SHARD_DISABLED", "1")]),
        (&[], &[("SHARD_DISABLED", "true"), ("SHARD_NODE", "9")]),
    ] {
        let mut all: Vec<&str> = args.to_vec();
        all.push(path_str(&ids));
        let run = plan(&all, env);
        ok(&run);
        let mut sorted: Vec<&str> = input.lines().collect();
        sorted.sort();
        assert_eq!(run.stdout, sorted.join("\n") + "\n");
        assert!(run.stderr.contains("sharding disabled"), "{}", run.stderr);
        // A leftover SHARD_DISABLED beside node flags is worth a warning.
        assert_eq!(
            run.stderr.contains("warning: sharding is disabled"),
            !args.is_empty(),
            "{}",
            run.stderr
        );
    }
    // A false value leaves sharding on.
    let run = plan(
        &["--shard", "2/4", path_str(&ids)],
        &[("SHARD_DISABLED", "0")],
    );
    ok(&run);
    assert!(run.stdout.lines().count() < input.lines().count());
}

#[test]
fn bazel_status_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", path_str(&status)),
        ],
    );
    ok(&run);
    assert!(status.exists());
    // Touched when the flags name the node too: Bazel only needs to know we shard.
    let flagged = dir.path().join("flagged");
    let run = plan(
        &["--shard", "1/2", path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", path_str(&flagged)),
        ],
    );
    ok(&run);
    assert!(flagged.exists());
    // A status file that cannot be touched is an error, and no manifest is left behind.
    let manifest = dir.path().join("plan.tsv");
    let run = plan(
        &["--manifest", path_str(&manifest), path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", "/nonexistent/dir/status"),
        ],
    );
    fails_with(
        &run,
        "cannot touch the shard status file /nonexistent/dir/status",
    );
    assert!(!manifest.exists());
    // Not touched on an error.
    let other = dir.path().join("other");
    let run = plan(
        &[path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "2"),
            ("TEST_SHARD_STATUS_FILE", path_str(&other)),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(!other.exists());
}
