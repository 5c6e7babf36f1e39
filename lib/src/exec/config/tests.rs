//! The rules a ConfigBuilder applies, one test each: fail-fast and max-fail, the capture
//! floor, the batch size, the jobs, the shell commands, the preset, the warnings.

use super::*;

fn builder() -> ConfigBuilder {
    Config::for_command(&["run-tests".to_string()]).unwrap()
}

fn share_of(ids: usize) -> Share {
    Share {
        ids: (0..ids).map(|i| format!("t{i}")).collect(),
        node: 2,
        nodes: 3,
        plan: None,
    }
}

fn timings(durations: Vec<Option<f64>>) -> Timings {
    Timings {
        durations,
        ..Timings::default()
    }
}

#[test]
fn fail_fast_is_a_max_fail_of_one() {
    let config = builder().fail_fast(true).build().unwrap();
    assert_eq!(config.max_fail(), Some(MaxFail::FIRST));
    assert_eq!(MaxFail::FIRST.get(), 1);
}

#[test]
fn fail_fast_with_a_max_fail_of_one_is_the_same_limit() {
    let config = builder().fail_fast(true).max_fail(Some(1)).build().unwrap();
    assert_eq!(config.max_fail(), Some(MaxFail::FIRST));
}

#[test]
fn fail_fast_with_another_max_fail_is_an_error() {
    let err = builder()
        .fail_fast(true)
        .max_fail(Some(3))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid max-fail `3`: fail-fast already stops after the first failure"
    );
}

#[test]
fn no_fail_fast_and_no_max_fail_never_stop() {
    assert_eq!(builder().build().unwrap().max_fail(), None);
}

#[test]
fn a_max_fail_is_kept_as_given() {
    let config = builder().max_fail(Some(4)).build().unwrap();
    assert_eq!(config.max_fail(), Some(MaxFail::new(4).unwrap()));
}

#[test]
fn a_max_fail_of_zero_is_an_error() {
    assert!(builder().max_fail(Some(0)).build().is_err());
}

#[test]
fn the_capture_limit_has_a_floor() {
    let config = builder().capture_limit(10).build().unwrap();
    assert_eq!(config.capture_limit(), MIN_CAPTURE);
    let config = builder().capture_limit(1000).build().unwrap();
    assert_eq!(config.capture_limit(), 1000);
    assert_eq!(builder().build().unwrap().capture_limit(), DEFAULT_CAPTURE);
}

#[test]
fn without_durations_nor_a_batch_size_the_batches_come_in_rounds() {
    let config = builder()
        .jobs(Some(4))
        .share(&share_of(80))
        .build()
        .unwrap();
    assert_eq!(config.packing().batch_size, MAX_BATCH);
    assert!(config.packing().in_rounds);
    assert!(config.packing().weights.is_none());
}

#[test]
fn durations_make_the_batches_and_the_count_only_caps_them() {
    let known = timings(vec![Some(1.0), None]);
    let config = builder()
        .jobs(Some(4))
        .share(&share_of(2))
        .timings(Some(&known))
        .build()
        .unwrap();
    assert_eq!(config.packing().batch_size, MAX_BATCH);
    assert!(config.packing().weights.is_some());
    assert!(!config.packing().in_rounds);
}

#[test]
fn durations_with_none_known_are_not_used() {
    let unknown = timings(vec![None, None]);
    let config = builder()
        .jobs(Some(1))
        .share(&share_of(2))
        .timings(Some(&unknown))
        .build()
        .unwrap();
    assert!(config.packing().weights.is_none());
    assert!(config.packing().in_rounds);
}

#[test]
fn a_batch_size_asked_for_wins() {
    let known = timings(vec![Some(1.0)]);
    let config = builder()
        .batch_size(Some(7))
        .timings(Some(&known))
        .build()
        .unwrap();
    assert_eq!(config.packing().batch_size, 7);
    let config = builder().batch_size(Some(7)).build().unwrap();
    assert_eq!(config.packing().batch_size, 7);
    assert!(!config.packing().in_rounds);
}

#[test]
fn a_batch_size_or_jobs_of_zero_is_an_error() {
    let err = builder().batch_size(Some(0)).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid batch size `0`: it must be at least 1"
    );
    let err = builder().jobs(Some(0)).build().unwrap_err();
    assert_eq!(err.to_string(), "invalid jobs `0`: it must be at least 1");
}

#[test]
fn jobs_default_to_the_available_cpus() {
    assert!(builder().build().unwrap().jobs() >= 1);
    assert_eq!(jobs_or_available(Some(3)), 3);
    assert!(jobs_or_available(None) >= 1);
}

#[test]
fn setup_and_teardown_run_with_sh_dash_c() {
    let config = builder()
        .setup(Some("make db"))
        .teardown(Some("rm -r db"))
        .build()
        .unwrap();
    assert_eq!(
        config.setup,
        Some(vec!["sh".into(), "-c".into(), "make db".into()])
    );
    assert_eq!(
        config.teardown,
        Some(vec!["sh".into(), "-c".into(), "rm -r db".into()])
    );
}

#[test]
fn the_share_names_the_node() {
    let config = builder().share(&share_of(5)).build().unwrap();
    assert_eq!((config.node, config.nodes), (2, 3));
}

#[test]
fn a_preset_brings_its_report_and_its_nothing_ran_status() {
    let setup = RunSetup {
        argv: vec!["go".into(), "{junit}".into()],
        junit_at: Some("at-{slot}.xml".into()),
        report: ReportFormat::GoTestJson,
        one_group_per_batch: true,
    };
    let config = Config::for_preset(Runner::Pytest, setup)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(config.report, ReportFormat::GoTestJson);
    assert_eq!(config.junit_at.as_deref(), Some("at-{slot}.xml"));
    assert!(config.packing().one_group_per_batch);
    assert_eq!(config.nothing_ran_status, Some(5));
    let plain = builder().build().unwrap();
    assert_eq!(plain.nothing_ran_status, None);
    assert_eq!(plain.report, ReportFormat::Junit);
}

#[test]
fn packing_flags_with_one_id_a_process_are_a_warning() {
    let per_id = Config::for_command(&["t".to_string(), "{}".to_string()]).unwrap();
    assert!(per_id.warnings().is_empty());
    let sized = per_id.clone().batch_size(Some(3));
    assert_eq!(
        sized.warnings(),
        ["with `{}` every id runs in a process of its own: --batch-size and --group-by do nothing"]
    );
    let grouped = per_id.grouping(Grouping::new(GroupBy::Class, "::").unwrap());
    assert_eq!(grouped.warnings().len(), 1);
    assert!(builder().batch_size(Some(3)).warnings().is_empty());
}

#[test]
fn a_bad_command_is_the_templates_error() {
    let err = Config::for_command(&[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid command ``: no command given")
    );
}
