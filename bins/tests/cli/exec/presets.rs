//! The runner presets (`--collect` and `--runner`) on real projects: a pytest suite, a cargo
//! crate under nextest and a Go module are listed, planned, run and merged; a listing that
//! fails shows the runner's words and writes nothing.

use std::fs;
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Status, read_cases};

use super::{cases_by_id, exec_dir};
use crate::support::{finish, path_str, path_with_pytest, pipeline, testdata};

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
