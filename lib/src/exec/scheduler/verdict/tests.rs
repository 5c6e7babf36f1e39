//! The verdict's cases, each judged without a process: exits, crashes, timeouts,
//! interrupts, reports with and without every id, retries, and crashed batches narrowed.

use std::os::unix::process::ExitStatusExt;

use super::*;

const TWO_SECONDS: Duration = Duration::from_secs(2);

fn rules(retries: u32) -> Rules {
    Rules {
        timeout: Some(TWO_SECONDS),
        nothing_ran_status: Some(5),
        retries,
        max_fail: None,
    }
}

fn work(ids: &[usize], attempt: u32, isolation: Isolation) -> Work {
    Work {
        ids: ids.to_vec(),
        attempt,
        slot: None,
        isolation,
    }
}

/// A process that exited with `code`.
fn exited(code: i32) -> Ending {
    Ending::of(Some(&Ok(ExitStatus::from_raw(code << 8))), false, false)
}

/// A process that `signal` killed.
fn killed(signal: i32) -> Ending {
    Ending::of(Some(&Ok(ExitStatus::from_raw(signal))), false, false)
}

fn timed_out() -> Ending {
    Ending {
        timed_out: true,
        ..killed(15)
    }
}

fn interrupted(ending: Ending) -> Ending {
    Ending {
        interrupted: true,
        ..ending
    }
}

fn case(outcome: Outcome, message: Option<&str>) -> Option<Arc<ChildCase>> {
    Some(Arc::new(ChildCase {
        classname: None,
        name: "t".to_string(),
        outcome,
        time: Some(0.5),
        message: message.map(str::to_string),
        head: String::new(),
        has_properties: false,
        body: String::new(),
    }))
}

/// Each given id with its outcome, message and whether it is retried.
fn given(verdict: &Verdict) -> Vec<(usize, Outcome, Option<&str>, bool)> {
    verdict
        .given
        .iter()
        .map(|g| {
            (
                g.id,
                g.decision.outcome,
                g.decision.message.as_deref(),
                g.retry,
            )
        })
        .collect()
}

fn report(cases: &[Option<Arc<ChildCase>>]) -> Option<Report<'_>> {
    Some(Report { cases, error: None })
}

#[test]
fn an_ending_tells_how_the_process_ended() {
    assert_eq!(exited(1).exit, Exit::Code(1));
    assert_eq!(exited(1).told, "exit status 1");
    assert_eq!(killed(9).exit, Exit::Crashed);
    assert_eq!(killed(9).told, "killed by signal 9 (SIGKILL)");
    let lost = Ending::of(Some(&Err(io::Error::other("gone"))), false, false);
    assert_eq!(lost.exit, Exit::Unknown);
    assert_eq!(lost.told, "could not be awaited: gone");
    assert_eq!(Ending::of(None, false, false).told, "still running");
}

#[test]
fn a_process_that_exits_zero_passes_every_id() {
    let v = judge(
        &work(&[3, 4], 1, Isolation::Batch),
        &exited(0),
        None,
        &rules(1),
        false,
    );
    assert_eq!(
        given(&v),
        [
            (3, Outcome::Passed, None, false),
            (4, Outcome::Passed, None, false)
        ]
    );
    assert!(v.rerun.is_none());
}

#[test]
fn a_failed_process_fails_every_id_and_retries_them_while_retries_are_left() {
    let failed = |attempt, stopping| {
        let w = work(&[0, 1], attempt, Isolation::Batch);
        given(&judge(&w, &exited(1), None, &rules(1), stopping))
            .into_iter()
            .map(|(_, outcome, message, retry)| (outcome, message.map(str::to_string), retry))
            .collect::<Vec<_>>()
    };
    let retried = (Outcome::Failed, Some("exit status 1".to_string()), true);
    let not_retried = (Outcome::Failed, Some("exit status 1".to_string()), false);
    assert_eq!(failed(1, false), [retried.clone(), retried]);
    assert_eq!(failed(2, false), [not_retried.clone(), not_retried.clone()]);
    assert_eq!(failed(1, true), [not_retried.clone(), not_retried]);
}

#[test]
fn a_crash_or_a_timeout_without_a_report_errors_every_id() {
    let w = work(&[0], 1, Isolation::Batch);
    let v = judge(&w, &killed(11), None, &rules(0), false);
    let crashed = "killed by signal 11 (SIGSEGV)";
    assert_eq!(given(&v), [(0, Outcome::Errored, Some(crashed), false)]);
    let v = judge(&w, &timed_out(), None, &rules(0), false);
    let message = "timed out after 2s (killed by signal 15 (SIGTERM))";
    assert_eq!(given(&v), [(0, Outcome::Errored, Some(message), false)]);
}

#[test]
fn an_interrupted_process_leaves_its_ids_not_run_unless_it_passed() {
    let w = work(&[0], 1, Isolation::Batch);
    let v = judge(&w, &interrupted(killed(15)), None, &rules(1), true);
    let message = "interrupted while running (killed by signal 15 (SIGTERM))";
    assert_eq!(given(&v), [(0, Outcome::NotRun, Some(message), false)]);
    let v = judge(&w, &interrupted(exited(0)), None, &rules(1), true);
    assert_eq!(given(&v), [(0, Outcome::Passed, None, false)]);
}

#[test]
fn a_process_that_could_not_be_awaited_fails_its_ids() {
    let lost = Ending::of(Some(&Err(io::Error::other("gone"))), false, false);
    let v = judge(
        &work(&[0], 1, Isolation::Batch),
        &lost,
        None,
        &rules(0),
        false,
    );
    let message = "could not be awaited: gone";
    assert_eq!(given(&v), [(0, Outcome::Failed, Some(message), false)]);
}

#[test]
fn each_id_takes_its_result_from_its_case_in_the_report() {
    let cases = [
        case(Outcome::Passed, Some("ignored")),
        case(Outcome::Failed, Some("assert 1 == 2")),
        case(Outcome::Skipped, None),
    ];
    let w = work(&[7, 8, 9], 1, Isolation::Batch);
    let v = judge(&w, &exited(1), report(&cases), &rules(1), false);
    assert_eq!(
        given(&v),
        [
            (7, Outcome::Passed, None, false),
            (8, Outcome::Failed, Some("assert 1 == 2"), true),
            (9, Outcome::Skipped, Some("skipped"), false),
        ]
    );
    assert!(v.given.iter().all(|g| g.decision.case.is_some()));
    assert!(v.rerun.is_none());
}

#[test]
fn a_flaky_test_fails_then_passes_on_its_retry() {
    let first = [case(Outcome::Failed, Some("flaked"))];
    let v = judge(
        &work(&[0], 1, Isolation::Batch),
        &exited(1),
        report(&first),
        &rules(1),
        false,
    );
    assert_eq!(given(&v), [(0, Outcome::Failed, Some("flaked"), true)]);
    let second = [case(Outcome::Passed, None)];
    let v = judge(
        &work(&[0], 2, Isolation::Batch),
        &exited(0),
        report(&second),
        &rules(1),
        false,
    );
    assert_eq!(given(&v), [(0, Outcome::Passed, None, false)]);
}

#[test]
fn ids_missing_from_a_normal_exit_error_with_why() {
    let cases = [case(Outcome::Passed, None), None];
    let report = Report {
        cases: &cases,
        error: Some("it wrote no report to {junit}"),
    };
    let v = judge(
        &work(&[0, 1], 1, Isolation::Batch),
        &exited(1),
        Some(report),
        &rules(0),
        false,
    );
    let message = "no result reported (exit status 1; it wrote no report to {junit})";
    assert_eq!(
        given(&v),
        [
            (0, Outcome::Passed, None, false),
            (1, Outcome::Errored, Some(message), false)
        ]
    );
    let v = judge(
        &work(&[0, 1], 1, Isolation::Batch),
        &exited(0),
        self::report(&cases),
        &rules(0),
        false,
    );
    assert_eq!(given(&v)[1].2, Some("no result reported (exit status 0)"));
}

#[test]
fn ids_the_command_did_not_select_are_skipped() {
    let cases = [None, None];
    let v = judge(
        &work(&[0, 1], 1, Isolation::Batch),
        &exited(5),
        report(&cases),
        &rules(1),
        false,
    );
    let message = "not selected: the command ran none of its ids (exit status 5)";
    assert_eq!(
        given(&v),
        [
            (0, Outcome::Skipped, Some(message), false),
            (1, Outcome::Skipped, Some(message), false)
        ]
    );
}

#[test]
fn a_crash_blames_the_only_id_without_a_result() {
    let cases = [case(Outcome::Passed, None), None];
    let v = judge(
        &work(&[0, 1], 1, Isolation::Batch),
        &killed(11),
        report(&cases),
        &rules(0),
        false,
    );
    let message = "the process crashed while running it (killed by signal 11 (SIGSEGV))";
    assert_eq!(given(&v)[1], (1, Outcome::Errored, Some(message), false));
    assert!(v.rerun.is_none());
    let v = judge(
        &work(&[0, 1], 1, Isolation::Batch),
        &timed_out(),
        report(&cases),
        &rules(0),
        false,
    );
    let message = "timed out after 2s (killed by signal 15 (SIGTERM))";
    assert_eq!(given(&v)[1], (1, Outcome::Errored, Some(message), false));
}

#[test]
fn a_crash_mid_batch_runs_the_ids_not_run_again_together() {
    let cases = [case(Outcome::Passed, None), None, None];
    let w = work(&[4, 5, 6], 2, Isolation::Batch);
    let v = judge(&w, &killed(11), report(&cases), &rules(3), false);
    assert_eq!(given(&v), [(4, Outcome::Passed, None, false)]);
    let rerun = v.rerun.expect("a rerun");
    assert_eq!(rerun.batches(), [work(&[5, 6], 2, Isolation::Again)]);
    assert_eq!(
        rerun.warning("a and 2 more", "killed by signal 11 (SIGSEGV)"),
        "the process of a and 2 more crashed (killed by signal 11 (SIGSEGV)) with 2 of its ids not reported; running those again together"
    );
}

#[test]
fn a_second_crash_runs_each_id_not_run_alone() {
    let cases = [None, None];
    let w = work(&[5, 6], 1, Isolation::Again);
    let v = judge(&w, &timed_out(), report(&cases), &rules(0), false);
    assert!(v.given.is_empty());
    let rerun = v.rerun.expect("a rerun");
    assert_eq!(rerun.fault, Fault::TimedOut);
    assert_eq!(
        rerun.batches(),
        [
            work(&[5], 1, Isolation::Alone),
            work(&[6], 1, Isolation::Alone)
        ]
    );
    assert_eq!(
        rerun.warning("b and 1 more", "killed by signal 15 (SIGTERM)"),
        "the process of b and 1 more timed out again (killed by signal 15 (SIGTERM)); running each of its 2 unreported ids alone"
    );
}

#[test]
fn an_interrupted_batch_leaves_the_ids_without_a_result_not_run() {
    let cases = [case(Outcome::Failed, Some("boom")), None, None];
    let w = work(&[0, 1, 2], 1, Isolation::Batch);
    let v = judge(&w, &interrupted(killed(2)), report(&cases), &rules(1), true);
    let message = "interrupted before it reported a result (killed by signal 2 (SIGINT))";
    assert_eq!(
        given(&v),
        [
            (0, Outcome::Failed, Some("boom"), false),
            (1, Outcome::NotRun, Some(message), false),
            (2, Outcome::NotRun, Some(message), false)
        ]
    );
    assert!(v.rerun.is_none());
}

#[test]
fn a_process_that_cannot_start_errors_every_id_without_a_retry() {
    let v = Verdict::cannot_start(
        &work(&[0, 1], 1, Isolation::Batch),
        "cannot start `x`: gone",
    );
    assert_eq!(
        given(&v),
        [
            (0, Outcome::Errored, Some("cannot start `x`: gone"), false),
            (1, Outcome::Errored, Some("cannot start `x`: gone"), false)
        ]
    );
}

#[test]
fn max_fail_is_reached_when_as_many_ids_failed_for_good() {
    let mut rules = rules(0);
    assert!(!rules.max_fail_reached(100));
    rules.max_fail = Some(MaxFail::new(2).unwrap());
    assert!(!rules.max_fail_reached(1));
    assert!(rules.max_fail_reached(2));
    assert!(rules.max_fail_reached(3));
}
