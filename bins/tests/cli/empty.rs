//! Nodes with nothing to do. Three classes over 8 nodes with `--group-by class` leave at least
//! five nodes empty: each must exit 0 without starting a runner and write a report with no case
//! that names its node (and plan), whichever way its ids reach shard-exec, so that the merge
//! verifies the whole plan. An empty node that is empty because shard-plan failed upstream must
//! still fail the merge's verification.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::read_cases;

use crate::support::{Run, finish, path_str, path_with_pytest, testdata};

const NODES: u32 = 8;

/// How a node's ids reach shard-exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `shard-plan --shard K/N | shard-exec --shard K/N -- pytest ...`
    Pipe,
    /// `shard-plan --shard K/N > ids; shard-exec --tests ids -- pytest ...`
    Tests,
    /// `shard-exec --manifest plan.tsv --shard K/N -- pytest ...`
    Manifest,
    /// `shard-plan --collect pytest --shard K/N | shard-exec --runner pytest --shard K/N`
    RunnerPipe,
    /// `shard-exec --runner pytest --manifest plan.tsv --shard K/N`
    RunnerManifest,
}

const WAYS: [Way; 5] = [
    Way::Pipe,
    Way::Tests,
    Way::Manifest,
    Way::RunnerPipe,
    Way::RunnerManifest,
];

fn suite() -> PathBuf {
    testdata().join("three-classes")
}

/// A binary, run in the suite with an empty environment but for pytest on PATH.
fn cmd(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", path_with_pytest())
        .current_dir(suite());
    cmd
}

fn plan_cmd(shard: &str, extra: &[&str]) -> Command {
    let mut cmd = cmd(env!("CARGO_BIN_EXE_shard-plan"));
    cmd.args([
        "--collect",
        "pytest",
        "--group-by",
        "class",
        "--shard",
        shard,
    ])
    .args(extra)
    .stdin(Stdio::null());
    cmd
}

/// The generic way to run pytest batches, for the ways without the preset.
const PYTEST: [&str; 6] = [
    "pytest",
    "-p",
    "no:cacheprovider",
    "-q",
    "--junitxml={junit}",
    "{ids}",
];

/// Node `node`'s shard-exec, its ids handed over `way`; `upstream` replaces the planning
/// step of the piped ways (a shard-plan that fails, say).
fn run_node(way: Way, node: u32, work: &Path, upstream: Option<Command>) -> Run {
    let shard = format!("{node}/{NODES}");
    let report = work.join(format!("reports/node-{node}.xml"));
    let manifest = work.join("plan.tsv");
    let mut exec = cmd(env!("CARGO_BIN_EXE_shard-exec"));
    exec.args(["--shard", &shard, "-j2", "--junit", path_str(&report)]);
    let runner = matches!(way, Way::RunnerPipe | Way::RunnerManifest);
    if runner {
        exec.args(["--runner", "pytest"]);
    } else {
        exec.args(["--group-by", "class"]);
    }
    match way {
        Way::Manifest | Way::RunnerManifest => {
            exec.args(["--manifest", path_str(&manifest)]);
        }
        Way::Tests => {
            let listed = finish(plan_cmd(&shard, &[]).output().unwrap());
            assert_eq!(listed.code, 0, "{}", listed.stderr);
            let ids = work.join(format!("ids-{node}.txt"));
            fs::write(&ids, &listed.stdout).unwrap();
            exec.args(["--tests", path_str(&ids)]);
        }
        Way::Pipe | Way::RunnerPipe => {}
    }
    if !runner {
        exec.arg("--").args(PYTEST);
    }
    if !matches!(way, Way::Pipe | Way::RunnerPipe) {
        return finish(exec.stdin(Stdio::null()).output().unwrap());
    }
    let mut plan = upstream
        .unwrap_or_else(|| plan_cmd(&shard, &[]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = finish(
        exec.stdin(Stdio::from(plan.stdout.take().unwrap()))
            .output()
            .unwrap(),
    );
    plan.wait().unwrap();
    run
}

/// An id of the plan and the node it is planned on.
struct PlannedId {
    node: u32,
    id: String,
}

/// Makes the plan every node agrees on: `shard-plan --collect pytest --manifest plan.tsv`.
/// Returns each id with its node.
fn make_plan(work: &Path) -> Vec<PlannedId> {
    let manifest = work.join("plan.tsv");
    let mut plan = cmd(env!("CARGO_BIN_EXE_shard-plan"));
    plan.args(["--collect", "pytest", "--group-by", "class", "--nodes"])
        .arg(NODES.to_string())
        .args(["--manifest", path_str(&manifest)]);
    let run = finish(plan.stdin(Stdio::null()).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            PlannedId {
                node: fields[0].parse().unwrap(),
                id: fields[3].to_string(),
            }
        })
        .collect()
}

fn fingerprint(work: &Path) -> String {
    let text = fs::read_to_string(work.join("plan.tsv")).unwrap();
    let header = text.lines().next().unwrap();
    let at = header.find("fingerprint=").unwrap() + "fingerprint=".len();
    header[at..].split('\t').next().unwrap().to_string()
}

fn merge(work: &Path) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-merge"))
            .env_clear()
            .arg("--plan")
            .arg(work.join("plan.tsv"))
            .args(["--expect-nodes", &NODES.to_string(), "-o"])
            .arg(work.join("merged.xml"))
            .arg(work.join("reports"))
            .output()
            .unwrap(),
    )
}

#[test]
fn empty_nodes_are_green_and_named_whichever_way_their_ids_come() {
    for way in WAYS {
        let work = tempfile::tempdir().unwrap();
        let planned = make_plan(work.path());
        assert_eq!(planned.len(), 6, "{way:?}: 3 classes of 2 tests");
        let busy: Vec<u32> = (1..=NODES)
            .filter(|k| planned.iter().any(|p| p.node == *k))
            .collect();
        assert!(busy.len() <= 3, "{way:?}: a class a node at most: {busy:?}");

        let mut reports = Vec::new();
        for node in 1..=NODES {
            let run = run_node(way, node, work.path(), None);
            assert_eq!(run.code, 0, "{way:?} node {node}: {}", run.stderr);
            let report = work.path().join(format!("reports/node-{node}.xml"));
            let xml = fs::read_to_string(&report)
                .unwrap_or_else(|e| panic!("{way:?} node {node}: no report: {e}"));
            let cases = read_cases(xml.as_bytes()).unwrap();
            let want = planned.iter().filter(|p| p.node == node).count();
            assert_eq!(cases.len(), want, "{way:?} node {node}: {xml}");
            assert!(
                xml.contains(&format!(
                    "<property name=\"shard.node\" value=\"{node}\"/><property name=\"shard.nodes\" value=\"{NODES}\"/>"
                )),
                "{way:?} node {node}: {xml}"
            );
            if matches!(way, Way::Manifest | Way::RunnerManifest) {
                let plan = format!(
                    "<property name=\"shard.plan\" value=\"{}\"/>",
                    fingerprint(work.path())
                );
                assert!(xml.contains(&plan), "{way:?} node {node}: {xml}");
            }
            if want == 0 {
                assert!(
                    run.stderr.contains("has no tests to run"),
                    "{way:?} node {node}: {}",
                    run.stderr
                );
                assert_eq!(run.stdout, "", "{way:?} node {node}");
            }
            reports.push(report);
        }
        let merged = merge(work.path());
        assert_eq!(merged.code, 0, "{way:?}: {}", merged.stderr);
        assert!(
            merged.stderr.contains("from 8 nodes: 6 tests, 0 failed"),
            "{way:?}: {}",
            merged.stderr
        );
        let cases = read_cases(fs::File::open(work.path().join("merged.xml")).unwrap()).unwrap();
        assert_eq!(cases.len(), 6, "{way:?}");
        if way == Way::Manifest {
            let refs: Vec<&Path> = reports.iter().map(PathBuf::as_path).collect();
            crate::support::check_junit(&refs);
        }
    }
}

#[test]
fn a_node_left_empty_by_a_failed_plan_fails_the_merge_with_its_tests_missing() {
    for way in [Way::Pipe, Way::RunnerPipe] {
        let work = tempfile::tempdir().unwrap();
        let planned = make_plan(work.path());
        let victim = planned[0].node;
        for node in 1..=NODES {
            // The victim's shard-plan fails (an unknown pytest option): shard-exec reads nothing.
            let upstream = (node == victim).then(|| {
                plan_cmd(
                    &format!("{node}/{NODES}"),
                    &["--", "--no-such-pytest-option"],
                )
            });
            let run = run_node(way, node, work.path(), upstream);
            assert_eq!(run.code, 0, "{way:?} node {node}: {}", run.stderr);
        }
        let merged = merge(work.path());
        assert_eq!(merged.code, 3, "{way:?}: {}", merged.stderr);
        let lost: Vec<&String> = planned
            .iter()
            .filter(|p| p.node == victim)
            .map(|p| &p.id)
            .collect();
        assert!(
            merged
                .stderr
                .contains(&format!("{} planned tests were not reported", lost.len())),
            "{way:?}: {}",
            merged.stderr
        );
        for id in lost {
            assert!(
                merged
                    .stderr
                    .contains(&format!("{id} (planned on node {victim})")),
                "{way:?}: {id} not named: {}",
                merged.stderr
            );
        }
    }
}

#[test]
fn an_empty_share_starts_no_runner_and_no_fixture() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let ids = dir.join("ids.txt");
    fs::write(&ids, "").unwrap();
    let report = dir.join("node.xml");
    let touch = |name: &str| format!("touch {}", path_str(&dir.join(name)));
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-exec"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--tests", path_str(&ids), "--shard", "4/8"])
            .args([
                "--setup",
                &touch("setup-ran"),
                "--teardown",
                &touch("teardown-ran"),
            ])
            .args(["--junit", path_str(&report), "--"])
            .args(["sh", "-c", &touch("test-ran"), "{}"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in ["setup-ran", "teardown-ran", "test-ran"] {
        assert!(!dir.join(name).exists(), "{name}: something ran");
    }
    let xml = fs::read_to_string(&report).unwrap();
    assert!(read_cases(xml.as_bytes()).unwrap().is_empty(), "{xml}");
    assert!(xml.contains("tests=\"0\""), "{xml}");
    assert!(
        xml.contains("<property name=\"shard.node\" value=\"4\"/>"),
        "{xml}"
    );

    // The pytest preset with no pytest anywhere on PATH: nothing starts, so nothing fails.
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-exec"))
            .env_clear()
            .env("PATH", "/nonexistent")
            .args(["--runner", "pytest", "--shard", "4/8", "--junit"])
            .arg(&report)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}
