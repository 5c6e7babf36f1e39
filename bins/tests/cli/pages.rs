//! The run's page opened where people open it: headless Chromium (Debian's, driven by
//! playwright-core through scripts/page-check), served with Jenkins' default
//! Content-Security-Policy, which refuses every script and inline style, and opened from disk.
//! The picture has a band per node and a bar per process, and the failures and verification
//! problems are in the page's text. Screenshots go to target/pages/. The audit is checked
//! against the merged report, case for case.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Status, read_cases};

use crate::support::{Run, check_junit, finish, path_str, testdata};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where screenshots go, for people to look at.
fn screenshots() -> PathBuf {
    let dir = repo().join("target/pages");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens `page` with scripts/page-check `via` http (with the policy) or file, asserting what
/// it must show; the screenshot is `target/pages/{name}-{via}.png`.
fn check_page(page: &Path, name: &str, bands: usize, bars: usize, texts: &[&str]) {
    let modules = repo().join("scripts/.tools/node/node_modules");
    assert!(
        modules.join("playwright-core").exists() && Path::new("/usr/bin/chromium").exists(),
        "playwright-core or chromium is missing: run scripts/test, which installs both"
    );
    for via in ["http", "file"] {
        let shot = screenshots().join(format!("{name}-{via}.png"));
        let _ = fs::remove_file(&shot);
        let mut cmd = Command::new("node");
        cmd.arg(repo().join("scripts/page-check/check.mjs"))
            .args(["--modules", path_str(&modules), "--page", path_str(page)])
            .args(["--via", via, "--screenshot", path_str(&shot)])
            .args(["--bands", &bands.to_string(), "--bars", &bars.to_string()]);
        for text in texts {
            cmd.args(["--text", text]);
        }
        let run = finish(cmd.stdin(Stdio::null()).output().unwrap());
        assert_eq!(
            run.code,
            0,
            "page-check --via {via} of {}:\n{}{}",
            page.display(),
            run.stdout,
            run.stderr
        );
        let found: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(found["bands"], bands, "{found}");
        assert!(
            shot.metadata().unwrap().len() > 10_000,
            "{}",
            shot.display()
        );
    }
}

/// The processes each node's report names: its cases' `shard.process` and the `process` of
/// their earlier attempts.
fn processes(reports: &Path) -> usize {
    let mut all = BTreeSet::new();
    for entry in fs::read_dir(reports).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        for marker in ["name=\"shard.process\" value=\"", " process=\""] {
            for piece in text.split(marker).skip(1) {
                let number: String = piece.chars().take_while(char::is_ascii_digit).collect();
                all.insert((path.clone(), number));
            }
        }
    }
    all.len()
}

#[test]
fn the_simulated_runs_page_shows_every_node_and_process_under_jenkins_policy_and_from_disk() {
    let work = tempfile::tempdir().unwrap();
    let bins = Path::new(env!("CARGO_BIN_EXE_shard-merge"))
        .parent()
        .unwrap();
    let run = finish(
        Command::new(repo().join("scripts/simulate"))
            .arg("3")
            .env("SIMULATE_OUT", work.path())
            .env("SHARDKIT_BIN", bins)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    // 1: the example suite has a genuine failure.
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("timeline ("), "{}", run.stderr);
    let bars = processes(&work.path().join("reports"));
    assert!(bars >= 3, "{bars}");
    check_page(
        &work.path().join("run.html"),
        "simulate",
        3,
        bars,
        &[
            "29 tests on 3 nodes",
            "verified: every planned test ran once, on its node",
            "tests/test_orders.py::test_discount",
            "AssertionError: discount computed wrongly",
            "tests/test_orders.py::test_flaky_network",
        ],
    );
    let md = fs::read_to_string(work.path().join("summary.md")).unwrap();
    assert!(
        md.contains("| tests/test\\_orders.py::test\\_discount | 3 | failed |"),
        "{md}"
    );
}

fn exec(work: &Path, ids: &[&str], args: &[&str]) -> Run {
    let list = work.join("ids.txt");
    fs::write(&list, ids.join("\n") + "\n").unwrap();
    let behave = testdata().join("exec/behave.sh");
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-exec"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("WORK", work)
            .current_dir(work)
            .args(["--tests", path_str(&list)])
            .args(args)
            .args(["--", path_str(&behave), "{}"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn a_run_with_failures_flaky_not_run_and_a_late_node_shows_them_all() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let reports = w.join("reports");
    let node1 = reports.join("node-1.xml");
    let node2 = reports.join("node-2.xml");
    let one = exec(
        w,
        &["pass-1", "slow-1", "fail-1", "flaky", "hang"],
        &[
            "--shard",
            "1/3",
            "-j2",
            "--retries",
            "1",
            "--timeout",
            "2s",
            "--grace",
            "300ms",
            "--junit",
            path_str(&node1),
        ],
    );
    assert_eq!(one.code, 1, "{}", one.stderr);
    where_and_when_each_case_ran(&node1, 2);
    // Node 2 starts when node 1 has ended: late. It stops at its first failure.
    let two = exec(
        w,
        &["pass-2", "slow-2", "fail-2", "pass-3", "pass-4"],
        &[
            "--shard",
            "2/3",
            "-j1",
            "--max-fail",
            "1",
            "--junit",
            path_str(&node2),
        ],
    );
    assert_eq!(two.code, 1, "{}", two.stderr);

    let (page, md, audit, merged) = (
        w.join("run.html"),
        w.join("summary.md"),
        w.join("audit.tsv"),
        w.join("merged.xml"),
    );
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-merge"))
            .args(["--expect-nodes", "3", "--summary", "-o", path_str(&merged)])
            .args(["--html", path_str(&page), "--markdown", path_str(&md)])
            .args(["--audit", path_str(&audit), path_str(&reports)])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    check_page(
        &page,
        "failures",
        2,
        processes(&reports),
        &[
            "NOT verified",
            "of 3 expected nodes did not report",
            "node 3",
            "fail-1",
            "expected 2, got 3",
            "timed out after 2s",
            "pass-3",
            "pass-4",
            "Flaky tests (1)",
        ],
    );
    // Node 2's band starts where node 1's ends.
    let html = fs::read_to_string(&page).unwrap();
    let span_x: Vec<f64> = html
        .split("<rect class=\"span\" x=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(span_x.len(), 2, "{html}");
    assert!(span_x[1] > span_x[0] + 300.0, "{span_x:?}");
    let md = fs::read_to_string(&md).unwrap();
    assert!(md.contains("### Not run (2)"), "{md}");
    assert!(
        md.contains("- 1 of 3 expected nodes did not report:\n  - node 3"),
        "{md}"
    );
    the_audit_is_the_merged_report(&audit, &merged, 10);
    check_junit(&[&node1, &node2, &merged]);
}

/// Every case of the node report `report` says which of `slots` slots and which process it ran
/// in, within the node's start and end; a retried case's earlier attempt names its own process.
fn where_and_when_each_case_ran(report: &Path, slots: usize) {
    let text = fs::read_to_string(report).unwrap();
    let value_of = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let at = text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        text[at + marker.len()..]
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let (start, end) = (value_of("shard.start"), value_of("shard.end"));
    // RFC 3339 in UTC with milliseconds: ordered as text.
    assert!(
        start.len() == 24 && start.ends_with('Z') && start <= end,
        "{start} {end}"
    );
    for case in read_cases(fs::File::open(report).unwrap()).unwrap() {
        let p = |name| {
            case.property(name)
                .unwrap_or_else(|| panic!("no {name}: {case:?}"))
        };
        let slot: usize = p("shard.slot").parse().unwrap();
        assert!((1..=slots).contains(&slot), "{case:?}");
        let _: u64 = p("shard.process").parse().unwrap();
        let (from, to) = (p("shard.process.start"), p("shard.process.end"));
        assert!(
            start.as_str() <= from && from <= to && to <= end.as_str(),
            "{case:?}"
        );
    }
    let flaky = text.split("value=\"flaky\"").nth(1).unwrap();
    let last = flaky
        .split("name=\"shard.process\" value=\"")
        .nth(1)
        .unwrap();
    let earlier = flaky.split("<flakyFailure").nth(1).unwrap();
    let earlier = earlier.split(" process=\"").nth(1).unwrap();
    assert_ne!(
        last.split('"').next(),
        earlier.split('"').next(),
        "the retry ran in a process of its own: {flaky}"
    );
}

/// Each line of the audit is the merged report's case at the same place.
fn the_audit_is_the_merged_report(audit: &Path, merged: &Path, expected: usize) {
    let audit = fs::read_to_string(audit).unwrap();
    let mut lines = audit.lines();
    assert_eq!(
        lines.next(),
        Some("node\tid\toutcome\ttime\tattempts\tslot\tprocess\tstart")
    );
    let cases = read_cases(fs::File::open(merged).unwrap()).unwrap();
    assert_eq!(cases.len(), expected);
    let mut outcomes = BTreeMap::new();
    for (case, line) in cases.iter().zip(lines.by_ref()) {
        let f: Vec<&str> = line.split('\t').collect();
        let p = |name| case.property(name).unwrap_or("");
        let outcome = match case.status {
            _ if p("shard.outcome") == "not-run" => "not-run",
            Status::Passed if case.flaky => "flaky",
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "error",
            Status::Skipped => "skipped",
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
        let attempts = case.property("shard.attempts").unwrap_or("1");
        let time: f64 = f[3].parse().unwrap();
        assert_eq!(
            (f[0], f[1], f[2], f[4], f[5], f[6], f[7]),
            (
                p("shard.node"),
                p("shard.id"),
                outcome,
                attempts,
                p("shard.slot"),
                p("shard.process"),
                p("shard.process.start")
            ),
            "{line}"
        );
        assert!((time - case.time.unwrap()).abs() < 1e-9, "{line}");
    }
    assert_eq!(lines.next(), None, "more lines than cases");
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("failed", 2),
            ("error", 1),
            ("flaky", 1),
            ("not-run", 2),
            ("passed", 4)
        ])
    );
}
