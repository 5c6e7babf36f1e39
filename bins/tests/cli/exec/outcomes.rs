//! Every way a test ends (pass, fail, flaky, crash, hang, leak) is reported and nothing it
//! started survives; ids reach the command as arguments no shell reads; usage errors run
//! nothing; the report's place is checked first; a terminal gets a progress bar.

use std::fs;
use std::process::{Command, Stdio};

use shardkit::junit::cases::Status;

use super::{behave, cases_by_id, exec, gone, write_ids};
use crate::support::{check_junit, finish, path_str};

#[test]
fn every_way_a_test_ends_is_reported_and_no_grandchild_survives() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(
        work.path(),
        &[
            "pass", "fail", "flaky", "signal", "hang", "leak", "stubborn",
        ],
    );
    let behave = behave();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j3",
            "--retries",
            "1",
            "--timeout",
            "2s",
            "--grace",
            "500ms",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    // stdout: exactly the ids that did not pass, ready for a rerun.
    let mut not_passed: Vec<&str> = run.stdout.lines().collect();
    not_passed.sort();
    assert_eq!(not_passed, ["fail", "hang", "signal", "stubborn"]);

    let cases = cases_by_id(&work.path().join("node.xml"));
    assert_eq!(cases.len(), 7);
    let status = |id: &str| cases[id].status;
    assert_eq!(status("pass"), Status::Passed);
    assert_eq!(status("leak"), Status::Passed);
    assert_eq!(status("fail"), Status::Failed);
    assert_eq!(cases["fail"].reruns, 1);
    assert_eq!(status("flaky"), Status::Passed);
    assert!(cases["flaky"].flaky, "flaky: {:?}", cases["flaky"]);
    assert_eq!(status("signal"), Status::Errored);
    assert_eq!(status("hang"), Status::Errored);
    assert_eq!(status("stubborn"), Status::Errored);
    assert!(
        run.stderr.contains("hang: timed out after 2s"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("stubborn: timed out after 2s"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("signal: killed by signal 11 (SIGSEGV)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("leak: the process ended but something it started still holds its output"),
        "{}",
        run.stderr
    );
    for grandchild in ["hang", "stubborn", "leak"] {
        assert!(
            gone(&work.path().join(format!("{grandchild}.grandchild"))),
            "the grandchild of {grandchild} is still running"
        );
    }
    // A retry keeps its slot; attempts are counted.
    let runs = fs::read_to_string(work.path().join("runs")).unwrap();
    let slots = |id: &str| -> Vec<String> {
        runs.lines()
            .filter(|l| l.split(' ').next() == Some(id))
            .map(|l| l.split(' ').nth(1).unwrap().to_string())
            .collect()
    };
    let flaky_slots = slots("flaky");
    assert_eq!(flaky_slots.len(), 2, "{runs}");
    assert_eq!(flaky_slots[0], flaky_slots[1], "{runs}");
    assert!(
        runs.contains("flaky slot=") && runs.contains("attempt=2 node=1/1"),
        "{runs}"
    );
    assert!(
        runs.lines().all(|l| ["slot=1 ", "slot=2 ", "slot=3 "]
            .iter()
            .any(|s| l.contains(s))),
        "{runs}"
    );
    check_junit(&[&work.path().join("node.xml")]);
}

#[test]
fn ids_reach_the_command_as_arguments_that_no_shell_reads() {
    let work = tempfile::tempdir().unwrap();
    let odd = [
        "with space",
        "quote\"d 'both'",
        "semi;colon",
        "$(touch pwned)",
        "`touch pwned2`",
        "star *",
    ];
    let ids = write_ids(work.path(), &odd);
    // One process per id.
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$1\" >> seen",
            "_",
            "{}",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut seen: Vec<String> = fs::read_to_string(work.path().join("seen"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    seen.sort();
    let mut expected: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    // Batches: each id one argument.
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--batch-size",
            "100",
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$@\" > batch",
            "_",
            "{ids}",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let batch: Vec<String> = fs::read_to_string(work.path().join("batch"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(batch, odd);
    assert!(!work.path().join("pwned").exists() && !work.path().join("pwned2").exists());
}

#[test]
fn usage_errors_say_what_is_wrong_and_run_nothing() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass"]);
    let behave = behave();
    for (args, says) in [
        (vec!["--tests", path_str(&ids)], "required"),
        (
            vec!["--tests", path_str(&ids), "--", &behave, "{id}"],
            "unknown placeholder `{id}`",
        ),
        (
            vec![
                "--tests",
                path_str(&ids),
                "--timeout",
                "5",
                "--",
                &behave,
                "{}",
            ],
            "a unit is needed",
        ),
        (
            vec!["--tests", "missing.txt", "--", &behave, "{}"],
            "cannot open missing.txt",
        ),
        (
            vec!["--tests", path_str(&ids), "--", &behave, "{}", "{ids}"],
            "cannot be used together",
        ),
        (
            vec!["--manifest", "missing.tsv", "--", &behave, "{}"],
            "cannot open missing.tsv",
        ),
    ] {
        let run = exec(work.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!work.path().join("runs").exists());
    }
    // A command that cannot start: every id an error, no retry, the report still written.
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "--retries",
            "3",
            "--",
            "./no-such-program",
            "{}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot start `./no-such-program`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        cases_by_id(&work.path().join("node.xml"))["pass"].status,
        Status::Errored
    );
}

#[test]
fn a_report_that_cannot_be_written_is_found_before_anything_runs() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass-1", "fail-2"]);
    let behave = behave();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "ids.txt/node.xml",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("cannot write ids.txt/node.xml"),
        "{}",
        run.stderr
    );
    assert!(!work.path().join("runs").exists(), "nothing ran");
    // A directory that is not there yet is made.
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "new/dir/node.xml",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(work.path().join("new/dir/node.xml").exists());
}

#[test]
fn on_a_terminal_a_progress_bar_shows_the_running_tests() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass-1", "pass-2", "fail-3"]);
    let command = format!(
        "{} --tests {} -j1 -- {} {{}}",
        env!("CARGO_BIN_EXE_shard-exec"),
        path_str(&ids),
        behave()
    );
    // script(1) gives the run a terminal.
    let run = finish(
        Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("WORK", work.path())
            .current_dir(work.path())
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    // The bar: position, total and the test running now.
    assert!(run.stdout.contains("] 0/3 pass-1"), "{}", run.stdout);
    assert!(run.stdout.contains("] 2/3 fail-3"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL [  "), "{}", run.stdout);
    // Without a terminal: no bar.
    let plain = exec(
        work.path(),
        &["--tests", path_str(&ids), "-j1", "--", &behave(), "{}"],
    );
    assert!(!plain.stderr.contains("0/3"), "{}", plain.stderr);
}
