//! `--setup` and `--teardown`: a failed setup makes every id an error and the teardown still
//! runs; a server the setup starts serves every test until the teardown stops it.

use shardkit::junit::cases::Status;

use super::{behave, cases_by_id, exec, gone, write_ids};
use crate::support::path_str;

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
