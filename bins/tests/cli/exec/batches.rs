//! Batches (`{ids}`): each result comes from the command's own report, a crash or a hang is
//! pinned on its test while the rest run again, and a real pytest suite runs in class batches
//! with a result per test.

use std::fs;
use std::path::Path;
use std::process::Command;

use shardkit::junit::cases::{Case, Status, read_cases};

use super::{cases_by_id, exec, exec_cmd, exec_dir, write_ids};
use crate::support::{check_junit, finish, path_str, pytest};

#[test]
fn a_batch_takes_each_result_from_the_commands_report_and_survives_a_crash() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(
        work.path(),
        &["a", "fail-b", "crash-c", "d", "silent-e", "stray-f", "g"],
    );
    let runner = path_str(&exec_dir().join("fake-runner.sh")).to_string();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j1",
            "--batch-size",
            "10",
            "--",
            &runner,
            "{junit}",
            "{ids}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let cases = cases_by_id(&work.path().join("node.xml"));
    // a and fail-b keep what the first process reported before it died; the test that
    // crashed it is found and blamed; the others ran again and have their own results.
    assert_eq!(cases["a"].status, Status::Passed);
    assert_eq!(cases["a"].time, Some(0.25), "the case's own time");
    assert_eq!(cases["fail-b"].status, Status::Failed);
    assert_eq!(cases["crash-c"].status, Status::Errored);
    assert_eq!(cases["d"].status, Status::Passed);
    assert_eq!(cases["g"].status, Status::Passed);
    assert_eq!(cases["silent-e"].status, Status::Errored);
    assert_eq!(cases["stray-f"].status, Status::Errored);
    assert!(
        run.stderr.contains(
            "crash-c: the process crashed while running it (killed by signal 9 (SIGKILL))"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("silent-e: no result reported (exit status 0)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("names none of its ids: fake::stray-f-unrelated"),
        "{}",
        run.stderr
    );
    let runs = fs::read_to_string(work.path().join("runs")).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        // Died at crash-c; the five without a result again together: died at once; then
        // each alone: crash-c is the one.
        [
            "a", "fail-b", "crash-c", "crash-c", "crash-c", "d", "silent-e", "stray-f", "g"
        ]
    );
    // The stray case is kept, flagged, beside exactly one case per id.
    let all = read_cases(fs::File::open(work.path().join("node.xml")).unwrap()).unwrap();
    assert_eq!(all.len(), 8);
    let stray: Vec<&Case> = all
        .iter()
        .filter(|c| c.property("shard.unmatched") == Some("true"))
        .collect();
    assert_eq!(stray.len(), 1);
    assert_eq!(stray[0].name, "stray-f-unrelated");
    check_junit(&[&work.path().join("node.xml")]);
}

#[test]
fn a_batch_that_times_out_finds_the_test_that_hangs_and_runs_the_rest_again() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["a", "hang-b", "c", "d"]);
    let runner = path_str(&exec_dir().join("fake-runner.sh")).to_string();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j1",
            "--batch-size",
            "10",
            "--timeout",
            "1s",
            "--grace",
            "200ms",
            "--",
            &runner,
            "{junit}",
            "{ids}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "hang-b\n");
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases["a"].status, Status::Passed);
    assert_eq!(cases["hang-b"].status, Status::Errored);
    assert_eq!(cases["c"].status, Status::Passed);
    assert_eq!(cases["d"].status, Status::Passed);
    assert!(
        run.stderr.contains("hang-b: timed out after 1s"),
        "{}",
        run.stderr
    );
    let runs = fs::read_to_string(work.path().join("runs")).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        ["a", "hang-b", "hang-b", "hang-b", "c", "d"]
    );
}

/// The ids `pytest --collect-only` lists in `suite`: all 14 of them.
fn collect_pytest_ids(pytest: &Path, suite: &Path) -> Vec<String> {
    let collected = Command::new(pytest)
        .args(["--collect-only", "-q", "-p", "no:cacheprovider"])
        .current_dir(suite)
        .output()
        .unwrap();
    let ids: Vec<String> = String::from_utf8(collected.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("::"))
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), 14, "{ids:?}");
    ids
}

/// Each class's setup ran once, in the process that ran all its tests (the suite's fixtures
/// write `log`).
fn assert_each_class_was_set_up_once_in_the_process_of_its_tests(log: &str) {
    for class in ["TestAccounts", "TestLedger"] {
        let setups: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with(&format!("setup_class {class} ")))
            .collect();
        assert_eq!(setups.len(), 1, "{log}");
        let pid = setups[0].rsplit(' ').next().unwrap();
        assert!(
            log.lines()
                .filter(|l| l.starts_with(&format!("test {class} ")))
                .all(|l| l.ends_with(pid)),
            "{log}"
        );
    }
}

#[test]
fn a_pytest_suite_runs_in_class_batches_with_per_test_results() {
    let work = tempfile::tempdir().unwrap();
    let suite = exec_dir().join("pytest-suite");
    let pytest = pytest();
    let ids = collect_pytest_ids(&pytest, &suite);
    let id_file = work.path().join("ids.txt");
    fs::write(&id_file, ids.join("\n")).unwrap();
    let log = work.path().join("fixtures.log");
    let marker = work.path().join("setup-marker");
    let report = work.path().join("node.xml");
    let run = finish(
        exec_cmd(&suite)
            .env("FIXTURE_LOG", &log)
            .env("SETUP_MARKER", &marker)
            .args([
                "--tests",
                path_str(&id_file),
                "--junit",
                path_str(&report),
                "--group-by",
                "class",
                "--batch-size",
                "2",
                "-j2",
                "--setup",
                &format!("touch '{}'", marker.display()),
                "--teardown",
                &format!("rm '{}'", marker.display()),
                "--",
                path_str(&pytest),
                "-p",
                "no:cacheprovider",
                "-q",
                "--junitxml={junit}",
                "{ids}",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!marker.exists(), "--teardown ran");
    assert_each_class_was_set_up_once_in_the_process_of_its_tests(
        &fs::read_to_string(&log).unwrap(),
    );
    let cases = cases_by_id(&report);
    assert_eq!(cases.len(), 14);
    let status = |id: &str| cases[&format!("tests/{id}")].status;
    assert_eq!(
        status("test_accounts.py::TestAccounts::test_overdraft"),
        Status::Failed
    );
    assert_eq!(
        status("test_accounts.py::TestAccounts::test_open"),
        Status::Passed
    );
    assert_eq!(
        status("test_accounts.py::TestLedger::test_audit"),
        Status::Skipped
    );
    assert_eq!(status("test_accounts.py::test_param[a b]"), Status::Passed);
    assert_eq!(
        status("test_accounts.py::test_param[$(touch pwned)]"),
        Status::Passed
    );
    assert_eq!(
        status("test_shared.py::test_setup_ran"),
        Status::Passed,
        "--setup ran before the tests"
    );
    assert_eq!(
        status("test_shared.py::test_error_in_fixture"),
        Status::Errored
    );
    // The case is pytest's own: its classname and name.
    let overdraft = &cases["tests/test_accounts.py::TestAccounts::test_overdraft"];
    assert_eq!(
        overdraft.classname.as_deref(),
        Some("tests.test_accounts.TestAccounts")
    );
    assert_eq!(
        run.stdout,
        "tests/test_accounts.py::TestAccounts::test_overdraft\ntests/test_shared.py::test_error_in_fixture\n"
    );
    check_junit(&[&report]);
}
