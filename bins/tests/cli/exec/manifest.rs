//! `--manifest`: a node runs exactly its share of shard-plan's manifest, its report names the
//! plan, and a manifest or a list that disagrees with the node is refused before anything
//! runs.

use std::fs;
use std::process::Command;

use super::{behave, exec, exec_cmd, write_ids};
use crate::support::{finish, path_str};

#[test]
fn the_ids_of_a_manifest_are_this_nodes_share_and_must_agree_with_a_list() {
    let work = tempfile::tempdir().unwrap();
    let all: Vec<String> = (0..40).map(|i| format!("pass-{i}")).collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let ids = write_ids(work.path(), &all_refs);
    let plan = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .args([
                "--nodes",
                "2",
                "--manifest",
                path_str(&work.path().join("plan.tsv")),
                path_str(&ids),
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let node2 = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .args(["--nodes", "2", "--node", "2", path_str(&ids)])
            .output()
            .unwrap(),
    );
    let behave = behave();
    let run = finish(
        exec_cmd(work.path())
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
    let mut ran: Vec<String> = fs::read_to_string(work.path().join("runs"))
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
    let report = fs::read_to_string(work.path().join("node-2.xml")).unwrap();
    let fingerprint = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .args(["--nodes", "2", "--fingerprint", path_str(&ids)])
            .output()
            .unwrap(),
    );
    assert!(
        report.contains(&format!(
            "<property name=\"shard.plan\" value=\"{}\"/>",
            fingerprint.stdout.trim()
        )),
        "{report}"
    );
    // Node 1 runs its share too (nodes from --shard this time); the merged report verifies.
    let run = exec(
        work.path(),
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
            .current_dir(work.path())
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
    // A manifest without this node's number, or for another node count, is refused.
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
        let run = exec(work.path(), &argv);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    // A list that is not node 2's share is refused before anything runs.
    let wrong = write_ids(work.path(), &["pass-0", "pass-1"]);
    let run = exec(
        work.path(),
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
