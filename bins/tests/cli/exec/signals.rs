//! Signals: SIGTERM mid-run still writes a complete report, a test that ended before the
//! signal keeps its result, a signal during the setup still runs the teardown, and a second
//! signal kills at once.

use std::fs;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shardkit::junit::cases::Status;

use super::{behave, cases_by_id, exec_cmd, gone, send, wait_until, write_ids};
use crate::support::{finish, path_str};

#[test]
fn sigterm_mid_run_still_writes_a_complete_report() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(
        work.path(),
        &["pass-1", "hang", "stubborn", "pass-2", "pass-3"],
    );
    let behave = behave();
    let child: Child = exec_cmd(work.path())
        .args([
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j2",
            "--grace",
            "1s",
            "--",
            &behave,
            "{}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both long tests are running (their grandchildren written down).
    wait_until("both long tests starting", || {
        work.path().join("hang.grandchild").exists()
            && work.path().join("stubborn.grandchild").exists()
    });
    send("-TERM", child.id());
    let output = child.wait_with_output().unwrap();
    let run = finish(output);
    assert_eq!(run.code, 143, "{}", run.stderr);
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases.len(), 5, "every id is in the report");
    assert_eq!(cases["pass-1"].status, Status::Passed);
    for id in ["hang", "stubborn", "pass-2", "pass-3"] {
        assert_eq!(cases[id].status, Status::Skipped, "{id}");
        assert_eq!(cases[id].property("shard.outcome"), Some("not-run"), "{id}");
    }
    let mut not_passed: Vec<&str> = run.stdout.lines().collect();
    not_passed.sort();
    assert_eq!(not_passed, ["hang", "pass-2", "pass-3", "stubborn"]);
    for grandchild in ["hang", "stubborn"] {
        assert!(
            gone(&work.path().join(format!("{grandchild}.grandchild"))),
            "{grandchild}"
        );
    }
    assert!(
        run.stderr.contains("SIGTERM: starting no more tests"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_second_signal_kills_at_once() {
    use std::io::{BufRead, BufReader};
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["stubborn", "pass-1"]);
    let behave = behave();
    let mut child = exec_cmd(work.path())
        .args([
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j1",
            "--grace",
            "1h",
            "--",
            &behave,
            "{}",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the stubborn test starting", || {
        work.path().join("stubborn.grandchild").exists()
    });
    let pid = child.id();
    let signal = |sig: &str| send(sig, pid);
    signal("-INT");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("SIGINT: starting no more tests") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no word of the first signal"
        );
    }
    signal("-INT");
    // With a grace period of an hour, only the second signal ends this run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the second SIGINT did not kill at once"
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases.len(), 2);
    assert_eq!(cases["stubborn"].property("shard.outcome"), Some("not-run"));
    assert!(gone(&work.path().join("stubborn.grandchild")));
}

#[test]
fn a_test_that_ended_before_a_signal_keeps_its_result() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["only"]);
    // It fails at once but leaves a process holding its output: the run waits for that
    // (--leak-timeout) when SIGTERM comes.
    let child = exec_cmd(work.path())
        .args([
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "--leak-timeout",
            "30s",
            "--grace",
            "1s",
            "--",
            "sh",
            "-c",
            "sleep 60 & echo $! > left.pid; echo $$ > sh.pid; exit 1",
            "_",
            "{}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the test ending", || {
        fs::read_to_string(work.path().join("sh.pid")).is_ok_and(|s| s.ends_with('\n'))
            && gone(&work.path().join("sh.pid"))
    });
    // Its end reaches shard-exec within 50 ms (the helper's check); leave it far more.
    thread::sleep(Duration::from_millis(500));
    send("-TERM", child.id());
    let run = finish(child.wait_with_output().unwrap());
    assert_eq!(run.code, 143, "{}", run.stderr);
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases["only"].status, Status::Failed, "{cases:?}");
    assert!(
        gone(&work.path().join("left.pid")),
        "the process it left got the signal"
    );
}

#[test]
fn a_signal_during_the_setup_stops_the_run_and_the_teardown_still_runs() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass-1", "pass-2"]);
    let behave = behave();
    let child = exec_cmd(work.path())
        .args([
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "--grace",
            "1s",
            "--setup",
            "echo $$ > setup.pid; exec sleep 300",
            "--teardown",
            "touch torn-down",
            "--",
            &behave,
            "{}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the setup starting", || {
        fs::read_to_string(work.path().join("setup.pid")).is_ok_and(|s| s.ends_with('\n'))
    });
    send("-TERM", child.id());
    let run = finish(child.wait_with_output().unwrap());
    assert_eq!(run.code, 143, "{}", run.stderr);
    assert!(gone(&work.path().join("setup.pid")), "the setup still runs");
    assert!(work.path().join("torn-down").exists(), "{}", run.stderr);
    assert!(!work.path().join("runs").exists(), "no test ran");
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert!(
        cases
            .values()
            .all(|c| c.property("shard.outcome") == Some("not-run")),
        "{cases:?}"
    );
    assert_eq!(run.stdout, "pass-1\npass-2\n");
}
