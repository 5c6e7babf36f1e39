//! What pytest reports while collecting reaches the merged report: modules and directories it
//! skips there (`importorskip`, a module-level `pytest.skip`) and, with
//! `--continue-on-collection-errors`, a module that fails to import. testdata/collect-suite,
//! split over 2 and 3 nodes with the pytest preset, must merge to the plain run's outcomes,
//! keyed by (classname, name), and pass `--plan` verification.

use std::path::{Path, PathBuf};

use shardkit::junit::cases::Status;

use crate::e2e::{CaseName, outcomes, run_in};
use crate::support::path_str;

fn suite() -> PathBuf {
    crate::support::testdata().join("collect-suite")
}

/// Plans `suite` with `shard-plan --collect pytest -- ARGS`, runs every node with
/// `shard-exec --runner pytest -- ARGS` and merges with `--plan --expect-nodes`; checks that
/// the merged report equals the plain `pytest ARGS` run outcome for outcome.
fn split_like_the_plain_run(nodes: u32, args: &[&str], paths: &[&str], work: &Path) {
    let suite = suite();
    let plain_xml = work.join("plain.xml");
    let junitxml = format!("--junitxml={}", plain_xml.display());
    let mut plain_args = vec!["-p", "no:cacheprovider", "-q", &junitxml];
    plain_args.extend_from_slice(args);
    plain_args.extend_from_slice(paths);
    let plain = run_in(&suite, "pytest", &plain_args);
    assert_eq!(
        plain.code, 1,
        "a test fails: {}{}",
        plain.stdout, plain.stderr
    );
    let expected = outcomes(&plain_xml);

    let manifest = work.join("plan.tsv");
    let n = nodes.to_string();
    let mut plan_args = vec!["--collect", "pytest", "--nodes", &n, "--manifest"];
    plan_args.push(path_str(&manifest));
    plan_args.push("--");
    plan_args.extend_from_slice(args);
    plan_args.extend_from_slice(paths);
    let plan = run_in(&suite, env!("CARGO_BIN_EXE_shard-plan"), &plan_args);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let at_collection = expected.keys().filter(|k| k.classname.is_empty()).count();
    assert!(
        plan.stderr.contains(&format!(
            "and {at_collection} paths it skipped or could not import while collecting"
        )),
        "{}",
        plan.stderr
    );

    let reports = work.join("reports");
    let mut files = Vec::new();
    for node in 1..=nodes {
        let report = reports.join(format!("node-{node}.xml"));
        let shard = format!("{node}/{nodes}");
        let mut exec_args = vec!["--runner", "pytest", "--manifest", path_str(&manifest)];
        exec_args.extend(["--shard", &shard, "-j2", "--junit", path_str(&report)]);
        exec_args.push("--");
        exec_args.extend_from_slice(args);
        let run = run_in(&suite, env!("CARGO_BIN_EXE_shard-exec"), &exec_args);
        assert!(
            run.code == 0 || run.code == 1,
            "node {shard}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("no result reported"), "{}", run.stderr);
        files.push(report);
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    crate::support::check_junit(&refs);

    let merged_xml = work.join("junit.xml");
    let merged = run_in(
        &suite,
        env!("CARGO_BIN_EXE_shard-merge"),
        &[
            "--plan",
            path_str(&manifest),
            "--expect-nodes",
            &n,
            "-o",
            path_str(&merged_xml),
            path_str(&reports),
        ],
    );
    // 1: a test fails (as in the plain run); 3 would be a verification failure.
    assert_eq!(merged.code, 1, "{nodes} nodes: {}", merged.stderr);
    assert_eq!(outcomes(&merged_xml), expected, "{nodes} nodes");
}

#[test]
fn modules_skipped_while_collecting_reach_the_merged_report() {
    let work = tempfile::tempdir().unwrap();
    for nodes in [2, 3] {
        let dir = work.path().join(format!("n{nodes}"));
        split_like_the_plain_run(nodes, &[], &["tests"], &dir);
        // What pytest writes for them, and so what the merge keeps.
        let merged = outcomes(&dir.join("junit.xml"));
        for module in ["tests.test_optional_dependency", "tests.test_not_here"] {
            assert_eq!(
                merged.get(&CaseName::new("", module)),
                Some(&Status::Skipped),
                "{module}"
            );
        }
    }
}

#[test]
fn with_continue_on_collection_errors_a_module_that_fails_to_import_is_an_error_case() {
    let work = tempfile::tempdir().unwrap();
    for nodes in [2, 3] {
        let dir = work.path().join(format!("n{nodes}"));
        let flag = ["--continue-on-collection-errors"];
        split_like_the_plain_run(nodes, &flag, &["tests", "broken"], &dir);
        let merged = outcomes(&dir.join("junit.xml"));
        assert_eq!(
            merged.get(&CaseName::new("", "broken.test_broken_import")),
            Some(&Status::Errored)
        );
    }
    // Without the flag a collection error is shard-plan's error, in pytest's words.
    let plan = run_in(
        &suite(),
        env!("CARGO_BIN_EXE_shard-plan"),
        &[
            "--collect",
            "pytest",
            "--shard",
            "1/2",
            "--",
            "tests",
            "broken",
        ],
    );
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert_eq!(plan.stdout, "");
    for words in [
        "it failed (exit status 2)",
        "ImportError",
        "Interrupted: 1 error during collection",
    ] {
        assert!(plan.stderr.contains(words), "{words}: {}", plan.stderr);
    }
}
