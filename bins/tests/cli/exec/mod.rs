//! shard-exec, driven as a user would: real processes that pass, fail, hang, crash, leak and
//! get interrupted; ids no shell may read; a real pytest suite run in class batches.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shardkit::junit::cases::{Case, Status, read_cases};

use crate::{Run, finish, path_str, testdata};

fn exec_dir() -> PathBuf {
    testdata().join("exec")
}

/// shard-exec in `work`, with a clean environment but PATH and WORK=`work`.
fn exec_cmd(work: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-exec"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WORK", work)
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

fn exec(work: &Path, args: &[&str]) -> Run {
    finish(exec_cmd(work).args(args).output().unwrap())
}

fn write_ids(work: &Path, ids: &[&str]) -> PathBuf {
    let path = work.join("ids.txt");
    fs::write(
        &path,
        ids.iter().map(|id| format!("{id}\n")).collect::<String>(),
    )
    .unwrap();
    path
}

/// The report's cases by their shard.id, each id exactly once (cases flagged as matching no
/// id left out).
fn cases_by_id(report: &Path) -> BTreeMap<String, Case> {
    let cases = read_cases(fs::File::open(report).unwrap()).unwrap();
    let mut by_id = BTreeMap::new();
    for case in cases {
        if case.property("shard.unmatched") == Some("true") {
            continue;
        }
        let id = case
            .property("shard.id")
            .unwrap_or_else(|| panic!("a case without shard.id: {case:?}"))
            .to_string();
        assert!(by_id.insert(id.clone(), case).is_none(), "{id} twice");
    }
    by_id
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped): waits up to 10 s for it.
fn gone(pid_file: &Path) -> bool {
    let pid = fs::read_to_string(pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
        .trim()
        .to_string();
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match fs::read_to_string(&stat) {
            Err(_) => return true,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) if Instant::now() > deadline => return false,
            Ok(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Waits (up to 30 s) until `ready` holds; `what` names it in the failure.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`-TERM`) to process `pid` with kill(1).
fn send(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

fn behave() -> String {
    path_str(&exec_dir().join("behave.sh")).to_string()
}

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
    crate::check_junit(&[&work.path().join("node.xml")]);
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
    crate::check_junit(&[&work.path().join("node.xml")]);
}

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
fn a_failed_setup_makes_every_id_an_error_and_teardown_still_runs() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["pass-1", "pass-2"]);
    let behave = behave();
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "--setup",
            "echo setting up; exit 7",
            "--teardown",
            "touch torn-down",
            "--",
            &behave,
            "{}",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--setup failed: `sh -c echo setting up; exit 7`: exit status 7"),
        "{}",
        run.stderr
    );
    assert!(work.path().join("torn-down").exists());
    // Its output went to stderr as it came.
    assert!(run.stderr.contains("setting up\n"), "{}", run.stderr);
    assert!(!work.path().join("runs").exists(), "no test ran");
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert!(cases.values().all(|c| c.status == Status::Errored));
}

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

/// The pytest of the virtualenv that `scripts/test` makes (or $SHARDKIT_PYTEST).
fn pytest() -> PathBuf {
    if let Some(p) = std::env::var_os("SHARDKIT_PYTEST") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/.venv/bin/pytest");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, or `python3 -m venv scripts/.venv && scripts/.venv/bin/pip install pytest==8.3.4`",
        p.display()
    );
    p
}

#[test]
fn a_pytest_suite_runs_in_class_batches_with_per_test_results() {
    let work = tempfile::tempdir().unwrap();
    let suite = exec_dir().join("pytest-suite");
    let pytest = pytest();
    let collected = Command::new(&pytest)
        .args(["--collect-only", "-q", "-p", "no:cacheprovider"])
        .current_dir(&suite)
        .output()
        .unwrap();
    let ids: Vec<String> = String::from_utf8(collected.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("::"))
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), 14, "{ids:?}");
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
    // Each class's setup ran once, in the process that ran all its tests.
    let log = fs::read_to_string(&log).unwrap();
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
    crate::check_junit(&[&report]);
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

/// PATH with the virtualenv's pytest first.
pub(crate) fn path_with_pytest() -> std::ffi::OsString {
    let venv = pytest().parent().unwrap().to_path_buf();
    let mut paths = vec![venv];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn the_pytest_preset_collects_plans_runs_and_merges_a_real_suite() {
    let work = tempfile::tempdir().unwrap();
    let suite = exec_dir().join("pytest-suite");
    let env = [("PATH", path_with_pytest())];
    let done = pipeline("pytest", &suite, &env, 2, work.path(), &[]);
    assert!(
        done.plan.stderr.contains("pytest listed 14 tests"),
        "{}",
        done.plan.stderr
    );
    // The preset groups by class: each class on one node.
    let text = fs::read_to_string(&done.manifest).unwrap();
    assert!(
        text.lines().next().unwrap().contains("group-by=class"),
        "{text}"
    );
    // Verified; the suite has a failure and an error of its own.
    assert_eq!(done.merged.code, 1, "{}", done.merged.stderr);
    let cases = read_cases(fs::File::open(&done.merged_xml).unwrap()).unwrap();
    assert_eq!(cases.len(), 14);
    assert_eq!(
        cases.iter().filter(|c| c.status == Status::Failed).count(),
        1
    );
    assert_eq!(
        cases.iter().filter(|c| c.status == Status::Errored).count(),
        1
    );
    let manifest = done.manifest;
    let run_in = |bin: &str, args: &[&str]| {
        finish(
            Command::new(bin)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(&suite)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };

    // pytest's exit status 5: every id of a batch deselected (-m) is skipped, not lost.
    let report = work.path().join("deselected.xml");
    let run = run_in(
        env!("CARGO_BIN_EXE_shard-exec"),
        &[
            "--runner",
            "pytest",
            "--manifest",
            path_str(&manifest),
            "--shard",
            "1/2",
            "--junit",
            path_str(&report),
            "--",
            "-m",
            "no_such_marker",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let cases = cases_by_id(&report);
    assert!(!cases.is_empty());
    assert!(
        cases.values().all(|c| c.status == Status::Skipped),
        "{cases:?}"
    );
}

#[test]
fn a_server_started_by_the_setup_serves_every_test_until_the_teardown() {
    let work = tempfile::tempdir().unwrap();
    let ids = write_ids(work.path(), &["a", "b", "c"]);
    // The "server" keeps the setup's output (stderr) open and outlives the setup itself.
    let run = exec(
        work.path(),
        &[
            "--tests",
            path_str(&ids),
            "--junit",
            "node.xml",
            "-j2",
            "--timeout",
            "20s",
            "--setup",
            "sleep 60 & echo $! > server.pid; echo server up",
            "--teardown",
            "kill $(cat server.pid) && echo server down",
            "--",
            "sh",
            "-c",
            "kill -0 $(cat server.pid)",
            "_",
            "{}",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("server up") && run.stderr.contains("server down"),
        "{}",
        run.stderr
    );
    assert!(gone(&work.path().join("server.pid")));
    let cases = cases_by_id(&work.path().join("node.xml"));
    assert!(
        cases.values().all(|c| c.status == Status::Passed),
        "{cases:?}"
    );
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
fn the_nextest_preset_collects_runs_and_merges_a_real_crate() {
    let work = tempfile::tempdir().unwrap();
    let project = testdata().join("nextest-project");
    let env = [
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
        ("HOME", std::env::var_os("HOME").unwrap_or_default()),
        (
            "CARGO_TARGET_DIR",
            work.path().join("target").into_os_string(),
        ),
    ];
    let done = pipeline("nextest", &project, &env, 2, work.path(), &[]);
    assert!(
        done.plan.stderr.contains("nextest listed 6 tests"),
        "{}",
        done.plan.stderr
    );
    assert_eq!(
        done.merged.code, 1,
        "verified, with the crate's one failure: {}",
        done.merged.stderr
    );
    let cases = cases_by_id(&done.merged_xml);
    assert_eq!(cases.len(), 6, "{cases:?}");
    assert_eq!(
        cases["sample tests::wrong_on_purpose"].status,
        Status::Failed
    );
    assert_eq!(cases["sample::api public_api"].status, Status::Passed);
    // nextest's own case, kept as it wrote it: classname is the binary.
    assert_eq!(
        cases["sample tests::adds"].classname.as_deref(),
        Some("sample")
    );
}

/// What [`pipeline`] did.
pub(crate) struct Pipeline {
    pub(crate) plan: Run,
    pub(crate) manifest: PathBuf,
    pub(crate) merged: Run,
    pub(crate) merged_xml: PathBuf,
}

/// The whole pipeline with a runner preset, as CI runs it, in the project `dir` with `env`
/// (besides an empty environment): `shard-plan --collect RUNNER -- ARGS` for `nodes` nodes,
/// each node's `shard-exec --runner RUNNER` (its report checked by check-junit), and
/// `shard-merge --plan --expect-nodes`. Files go to `work`.
pub(crate) fn pipeline(
    runner: &str,
    dir: &Path,
    env: &[(&str, std::ffi::OsString)],
    nodes: u32,
    work: &Path,
    args: &[&str],
) -> Pipeline {
    let run_in = |bin: &str, argv: &[&str]| {
        finish(
            Command::new(bin)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(dir)
                .args(argv)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    let n = nodes.to_string();
    let manifest = work.join("plan.tsv");
    let mut argv = vec![
        "--collect",
        runner,
        "--nodes",
        &n,
        "--manifest",
        path_str(&manifest),
    ];
    if !args.is_empty() {
        argv.push("--");
        argv.extend_from_slice(args);
    }
    let plan = run_in(env!("CARGO_BIN_EXE_shard-plan"), &argv);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let reports = work.join("reports");
    for node in 1..=nodes {
        let report = reports.join(format!("node-{node}.xml"));
        let shard = format!("{node}/{nodes}");
        let run = run_in(
            env!("CARGO_BIN_EXE_shard-exec"),
            &[
                "--runner",
                runner,
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
        crate::check_junit(&[&report]);
    }
    let merged_xml = work.join("junit.xml");
    let merged = run_in(
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
    Pipeline {
        plan,
        manifest,
        merged,
        merged_xml,
    }
}

#[test]
fn the_go_preset_collects_runs_and_merges_a_real_module() {
    let work = tempfile::tempdir().unwrap();
    let project = testdata().join("go-project");
    let env = [
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
        ("HOME", std::env::var_os("HOME").unwrap_or_default()),
        ("GOCACHE", work.path().join("gocache").into_os_string()),
    ];
    let done = pipeline("go", &project, &env, 2, work.path(), &[]);
    assert_eq!(
        done.merged.code, 1,
        "verified, with the module's one failure: {}",
        done.merged.stderr
    );
    let cases = cases_by_id(&done.merged_xml);
    // Tests and examples; not the benchmark.
    assert_eq!(cases.len(), 7, "{cases:?}");
    let status = |name: &str| cases[&format!("example.com/sample/{name}")].status;
    assert_eq!(status("calc::TestWrongOnPurpose"), Status::Failed);
    assert_eq!(status("calc::TestTable"), Status::Passed);
    assert_eq!(status("calc::TestSkipped"), Status::Skipped);
    assert_eq!(status("calc::ExampleAdd"), Status::Passed);
    assert_eq!(status("text::TestLen"), Status::Passed);
    // The case shardkit made of go's events: classname the package, the test's output kept.
    let failed = &cases["example.com/sample/calc::TestWrongOnPurpose"];
    assert_eq!(failed.classname.as_deref(), Some("example.com/sample/calc"));
    let xml = fs::read_to_string(&done.merged_xml).unwrap();
    assert!(xml.contains("a genuine failure: got 4, want 5"), "{xml}");
    // A package's tests ran in one process: the manifest groups by package.
    let manifest = fs::read_to_string(&done.manifest).unwrap();
    assert!(
        manifest.lines().next().unwrap().contains("group-by=file"),
        "{manifest}"
    );
}

#[test]
fn a_listing_that_fails_is_an_error_that_shows_the_runners_words_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let suite = exec_dir().join("pytest-suite");
    let manifest = work.path().join("plan.tsv");
    let plan = |args: &[&str]| {
        let mut argv = vec![
            "--collect",
            "pytest",
            "--nodes",
            "2",
            "--manifest",
            path_str(&manifest),
            "--",
        ];
        argv.extend_from_slice(args);
        finish(
            Command::new(env!("CARGO_BIN_EXE_shard-plan"))
                .env_clear()
                .env("PATH", path_with_pytest())
                .current_dir(&suite)
                .args(&argv)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    let run = plan(&["no_such_dir"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("collecting tests with `pytest --collect-only -q -p no:cacheprovider no_such_dir`: it failed (exit status 4)"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_dir"), "{}", run.stderr);
    let run = plan(&["-m", "no_such_marker"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("pytest collected no tests (exit status 5)"),
        "{}",
        run.stderr
    );
    assert!(!manifest.exists(), "no manifest for a failed listing");
    assert_eq!(run.stdout, "");
}
