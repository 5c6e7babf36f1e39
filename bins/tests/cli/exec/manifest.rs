//! `--manifest`: a node runs exactly its share of shard-plan's manifest, its report names the
//! plan, and a manifest or a list that disagrees with the node is refused before anything
//! runs.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{behave, exec, exec_cmd, write_ids};
use crate::support::{Run, finish, path_str};

/// shard-plan with a clean environment.
fn shard_plan(args: &[&str]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_ids_of_a_manifest_are_this_nodes_share_and_must_agree_with_a_list() {
    let work = tempfile::tempdir().unwrap();
    let all: Vec<String> = (0..40).map(|i| format!("pass-{i}")).collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let ids = write_ids(work.path(), &all_refs);
    let plan = shard_plan(&[
        "--nodes",
        "2",
        "--manifest",
        path_str(&work.path().join("plan.tsv")),
        path_str(&ids),
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    node_2_runs_its_share_named_by_the_environment(work.path(), &ids);
    node_1_runs_its_share_and_the_merged_report_verifies(work.path());
    a_manifest_or_a_list_that_disagrees_with_the_node_is_refused(work.path());
}

/// Node 2 (from SHARD_NODE and SHARD_NODES) runs exactly shard-plan's node 2, and its report
/// names the plan's fingerprint.
fn node_2_runs_its_share_named_by_the_environment(work: &Path, ids: &Path) {
    let node2 = shard_plan(&["--nodes", "2", "--node", "2", path_str(ids)]);
    let behave = behave();
    let run = finish(
        exec_cmd(work)
            .env("SHARD_NODE", "2")
            .env("SHARD_NODES", "2")
            .args([
                "--manifest",
                "plan.tsv",
                "--junit",
                "node-2.xml",
                "--",
                &behave,
                "{}",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut ran: Vec<String> = fs::read_to_string(work.join("runs"))
        .unwrap()
        .lines()
        .map(|l| {
            assert!(l.ends_with("node=2/2"), "{l}");
            l.split(' ').next().unwrap().to_string()
        })
        .collect();
    ran.sort();
    let mut planned: Vec<String> = node2.stdout.lines().map(String::from).collect();
    planned.sort();
    assert_eq!(ran, planned);
    let report = fs::read_to_string(work.join("node-2.xml")).unwrap();
    let fingerprint = shard_plan(&["--nodes", "2", "--fingerprint", path_str(ids)]);
    assert!(
        report.contains(&format!(
            "<property name=\"shard.plan\" value=\"{}\"/>",
            fingerprint.stdout.trim()
        )),
        "{report}"
    );
}

/// Node 1 runs its share too (nodes from --shard this time); the merged report verifies.
fn node_1_runs_its_share_and_the_merged_report_verifies(work: &Path) {
    let behave = behave();
    let run = exec(
        work,
        &[
            "--manifest",
            "plan.tsv",
            "--shard",
            "1/2",
            "--junit",
            "node-1.xml",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let merged = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-merge"))
            .env_clear()
            .current_dir(work)
            .args([
                "--plan",
                "plan.tsv",
                "--expect-nodes",
                "2",
                "-o",
                "merged.xml",
                "node-1.xml",
                "node-2.xml",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(merged.code, 0, "{}", merged.stderr);
}

/// A manifest without this node's number, or for another node count, is refused; so is a
/// list that is not node 2's share, before anything runs.
fn a_manifest_or_a_list_that_disagrees_with_the_node_is_refused(work: &Path) {
    let behave = behave();
    for (args, says) in [
        (vec![], "--manifest needs this node's number"),
        (
            vec!["--shard", "1/3"],
            "plan.tsv plans 2 nodes, but --shard 1/3 says 3",
        ),
    ] {
        let mut argv = vec!["--manifest", "plan.tsv"];
        argv.extend(args);
        argv.extend(["--", behave.as_str(), "{}"]);
        let run = exec(work, &argv);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    // A list that is not node 2's share is refused before anything runs.
    let wrong = write_ids(work, &["pass-0", "pass-1"]);
    let run = exec(
        work,
        &[
            "--manifest",
            "plan.tsv",
            "--node",
            "2",
            "--nodes",
            "2",
            "--tests",
            path_str(&wrong),
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("differ from node 2's share in plan.tsv"),
        "{}",
        run.stderr
    );
}
