//! End to end on a real third-party suite (more-itertools 10.5.0's own tests, fetched by
//! `scripts/third-party-suite`, which `.ci/run` runs): planned with the pytest preset across 2,
//! 3 and 4 nodes, each node run by shard-exec, the reports merged with --plan. The merged
//! report must hold exactly the tests of one plain `pytest --junitxml` run, each with the same
//! outcome.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Status, read_cases};

use crate::{Run, finish, path_str};

fn suite() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/.bench/suite/more-itertools-10.5.0");
    assert!(
        path.join("tests/test_more.py").exists(),
        "{} is missing: run scripts/third-party-suite (.ci/run does)",
        path.display()
    );
    path
}

/// (classname, name) -> status, of every case of a report.
fn outcomes(report: &Path) -> BTreeMap<(String, String), Status> {
    let mut map = BTreeMap::new();
    for case in read_cases(fs::File::open(report).unwrap()).unwrap() {
        let key = (
            case.classname.clone().unwrap_or_default(),
            case.name.clone(),
        );
        assert!(
            map.insert(key.clone(), case.status).is_none(),
            "{key:?} twice in {}",
            report.display()
        );
    }
    map
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> Run {
    finish(
        Command::new(program)
            .env_clear()
            .env("PATH", crate::exec::path_with_pytest())
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn a_third_party_suite_split_across_2_3_and_4_nodes_gives_the_plain_runs_outcomes() {
    let suite = suite();
    let work = tempfile::tempdir().unwrap();
    let plain_xml = work.path().join("plain.xml");
    let junitxml = format!("--junitxml={}", plain_xml.display());
    let plain = run_in(
        &suite,
        "pytest",
        &["-p", "no:cacheprovider", "-q", &junitxml, "tests"],
    );
    assert!(
        plain.code == 0 || plain.code == 1,
        "{}{}",
        plain.stdout,
        plain.stderr
    );
    let expected = outcomes(&plain_xml);
    assert!(expected.len() > 600, "{} tests", expected.len());
    let plain_failed = expected
        .values()
        .any(|s| matches!(s, Status::Failed | Status::Errored));

    for nodes in 2..=4u32 {
        let dir = work.path().join(format!("n{nodes}"));
        fs::create_dir(&dir).unwrap();
        let manifest = dir.join("plan.tsv");
        let n = nodes.to_string();
        let plan = run_in(
            &suite,
            env!("CARGO_BIN_EXE_shard-plan"),
            &[
                "--collect",
                "pytest",
                "--nodes",
                &n,
                "--manifest",
                path_str(&manifest),
                "--",
                "tests",
            ],
        );
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let reports = dir.join("reports");
        fs::create_dir(&reports).unwrap();
        for node in 1..=nodes {
            let report = reports.join(format!("node-{node}.xml"));
            let shard = format!("{node}/{nodes}");
            let run = run_in(
                &suite,
                env!("CARGO_BIN_EXE_shard-exec"),
                &[
                    "--runner",
                    "pytest",
                    "--manifest",
                    path_str(&manifest),
                    "--shard",
                    &shard,
                    "-j2",
                    "--timeout",
                    "5m",
                    "--junit",
                    path_str(&report),
                ],
            );
            assert!(
                run.code == 0 || run.code == 1,
                "node {shard}: {}",
                run.stderr
            );
        }
        let merged_xml = dir.join("junit.xml");
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
        assert_eq!(
            merged.code,
            if plain_failed { 1 } else { 0 },
            "{nodes} nodes: {}",
            merged.stderr
        );
        let got = outcomes(&merged_xml);
        let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{nodes} nodes: missing {missing:?}, extra {extra:?}"
        );
        let differ: Vec<_> = expected.iter().filter(|(k, s)| got[*k] != **s).collect();
        assert!(
            differ.is_empty(),
            "{nodes} nodes: outcomes differ: {differ:?}"
        );
    }
}
