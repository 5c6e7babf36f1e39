//! What failures do to the run: `--fail-fast` and `--max-fail` stop starting work and report
//! the rest as not run, and `--flaky-result fail` counts a flaky test as a failure.

use std::fs;

use shardkit::junit::cases::Status;

use super::{behave, cases_by_id, exec, write_ids};
use crate::support::path_str;

#[test]
fn fail_fast_stops_starting_work_and_reports_the_rest_as_not_run() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass-1", "fail-2", "pass-3", "pass-4"]);
    let behave = behave();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j1",
            "--fail-fast",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "fail-2\npass-3\npass-4\n");
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases["pass-3"].property("shard.outcome"), Some("not-run"));
    assert_eq!(cases["pass-4"].status, Status::Skipped);
    let runs = fs::read_to_string(work.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 2, "{runs}");
}

#[test]
fn flaky_tests_can_count_as_failures_and_max_fail_stops_after_n() {
    let work = tempfile::tempdir().unwrap();
    let behave = behave();
    let ids = write_ids(work.path(), &["flaky", "pass"]);
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--retries",
            "2",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--retries",
            "2",
            "--flaky-result",
            "fail",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "flaky\n"),
        "{}",
        run.stderr
    );

    let ids = write_ids(
        work.path(),
        &["fail-1", "pass-2", "fail-3", "pass-4", "fail-5"],
    );
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "-j1",
            "--max-fail",
            "2",
            "--junit",
            "node.xml",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "fail-1\nfail-3\npass-4\nfail-5\n");
    let report = fs::read_to_string(work.path().join("node.xml")).unwrap();
    assert_eq!(
        report
            .matches("not run: the run stopped after 2 failed tests")
            .count(),
        2,
        "{report}"
    );
}
