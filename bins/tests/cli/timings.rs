//! Durations from earlier reports, as shard-plan and shard-exec read them.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Run, finish, path_str};

fn plan(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .envs(env.iter().copied())
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// 40 ids; `slow-0` took 100 s last time, the others 1 s (`new-*` were not there).
fn setup(dir: &Path) {
    let mut ids = String::new();
    let mut report = String::from("<testsuite name=\"previous\">\n");
    for i in 0..36 {
        ids.push_str(&format!("suite::test_{i}\n"));
        report.push_str(&format!(
            "<testcase classname=\"suite\" name=\"test_{i}\" time=\"1.0\"/>\n"
        ));
    }
    ids.push_str("suite::slow-0\nnew::a\nnew::b\nnew::c\n");
    report.push_str("<testcase classname=\"suite\" name=\"slow-0\" time=\"100\"/>\n</testsuite>\n");
    fs::write(dir.join("ids.txt"), ids).unwrap();
    fs::create_dir(dir.join("reports")).unwrap();
    fs::write(dir.join("reports/junit.xml"), report).unwrap();
}

#[test]
fn shard_plan_weighs_ids_by_their_durations_from_earlier_reports() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let run = plan(
        dir.path(),
        &[
            "--nodes",
            "2",
            "--all",
            "--summary",
            "--timings",
            "reports",
            "ids.txt",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("durations for 37 of 40 ids from 1 report; the others weigh the median"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("est. seconds"), "{}", run.stderr);
    assert!(run.stderr.contains("load factor 1.02"), "{}", run.stderr);
    // The slow test's node holds few others: 100 s + 3 new x 1 s + 36 x 1 s over 2 nodes.
    let slow_node = run
        .stdout
        .lines()
        .find(|l| l.ends_with("suite::slow-0"))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let with_slow = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{slow_node}\t")))
        .count();
    assert_eq!(with_slow, 1, "{}", run.stdout);
    // The same plan from SHARD_TIMINGS, and the fingerprint depends on the durations.
    let from_env = plan(
        dir.path(),
        &["--nodes", "2", "--all", "ids.txt"],
        &[("SHARD_TIMINGS", "missing.xml:reports")],
    );
    assert_eq!(from_env.stdout, run.stdout);
    assert!(
        from_env
            .stderr
            .contains("warning: timings: cannot read missing.xml: No such file"),
        "{}",
        from_env.stderr
    );
    let timed = plan(
        dir.path(),
        &[
            "--nodes",
            "2",
            "--fingerprint",
            "--timings",
            "reports/junit.xml",
            "ids.txt",
        ],
        &[],
    );
    let counted = plan(
        dir.path(),
        &["--nodes", "2", "--fingerprint", "ids.txt"],
        &[],
    );
    assert_ne!(timed.stdout, counted.stdout);
}

#[test]
fn an_unreadable_timing_report_is_a_warning_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    fs::write(
        dir.path().join("reports/broken.xml"),
        "<testsuite><testcase name=",
    )
    .unwrap();
    let run = plan(
        dir.path(),
        &[
            "--nodes",
            "2",
            "--node",
            "1",
            "--timings",
            "reports",
            "ids.txt",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "warning: timings: {}:1:",
            path_str(Path::new("reports/broken.xml"))
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("durations for 37 of 40 ids from 1 report"),
        "{}",
        run.stderr
    );
    let strict = plan(
        dir.path(),
        &[
            "--nodes",
            "2",
            "--node",
            "1",
            "--timings-strict",
            "--timings",
            "reports",
            "ids.txt",
        ],
        &[],
    );
    assert_eq!(strict.code, 2, "{}", strict.stderr);
    assert!(
        strict.stderr.contains("reports/broken.xml:1:"),
        "{}",
        strict.stderr
    );
    assert_eq!(strict.stdout, "");
}

#[test]
fn shard_exec_starts_the_longest_work_first() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ["t-a", "t-b", "t-c", "t-d", "t-new"];
    fs::write(dir.path().join("ids.txt"), ids.join("\n")).unwrap();
    // An earlier report: t-c took longest, then t-a, t-d, t-b; t-new is unknown (median).
    fs::write(
        dir.path().join("previous.xml"),
        r#"<testsuite><testcase name="t-a" time="3"><properties><property name="shard.id" value="t-a"/></properties></testcase>
<testcase name="t-b" time="0.5"><properties><property name="shard.id" value="t-b"/></properties></testcase>
<testcase name="t-c" time="9"><properties><property name="shard.id" value="t-c"/></properties></testcase>
<testcase name="t-d" time="1"><properties><property name="shard.id" value="t-d"/></properties></testcase></testsuite>"#,
    )
    .unwrap();
    let exec = |extra: &[&str]| {
        let _ = fs::remove_file(dir.path().join("starts"));
        let mut args = vec!["--tests", "ids.txt", "-j1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", "echo \"$1\" >> starts", "_", "{}"]);
        let run = finish(
            Command::new(env!("CARGO_BIN_EXE_shard-exec"))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .current_dir(dir.path())
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        (
            fs::read_to_string(dir.path().join("starts")).unwrap(),
            run.stderr,
        )
    };
    let (plain, _) = exec(&[]);
    assert_eq!(
        plain, "t-a\nt-b\nt-c\nt-d\nt-new\n",
        "input order without durations"
    );
    let (timed, stderr) = exec(&["--timings", "previous.xml"]);
    // Longest first; the new id weighs the median of 0.5, 1, 3, 9 (2 s).
    assert_eq!(timed, "t-c\nt-a\nt-new\nt-d\nt-b\n", "{stderr}");
    assert!(
        stderr.contains("durations for 4 of 5 ids from 1 report"),
        "{stderr}"
    );
}

fn merge(dir: &Path, args: &[&str]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-merge"))
            .env_clear()
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// Each id's weight in a manifest of `plan --manifest -` (NODE, WEIGHT, GROUP, ID after a header).
fn weights(manifest: &str) -> std::collections::BTreeMap<String, u64> {
    manifest
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[3].to_string(), fields[1].parse().unwrap())
        })
        .collect()
}

/// The CI cycle with a memory: each run's merged report replaces the last one, which is kept
/// beside it with the one before (`--keep-previous 2`), and the plan weighs each id by the
/// mean of those three runs. One slow run of a test counts for a third; three runs later it
/// is forgotten.
#[test]
fn merged_reports_kept_beside_the_last_weigh_ids_by_the_mean_of_three_runs() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ids.txt"), "suite::a\nsuite::b\nsuite::c\n").unwrap();
    fs::create_dir(dir.path().join("reports")).unwrap();
    let keep = ["--keep-previous", "2", "-o", "timings/junit.xml", "reports"];
    // `a` takes 1 s, then 10 s in the last run; `b` 1 s, then 5 s twice; `c` always 1 s.
    for (run, (a, b)) in [(1, 1), (1, 5), (10, 5)].into_iter().enumerate() {
        fs::write(
            dir.path().join("reports/node-1.xml"),
            format!(
                "<testsuite name=\"suite\"><testcase classname=\"suite\" name=\"a\" time=\"{a}\"/>\
                 <testcase classname=\"suite\" name=\"b\" time=\"{b}\"/>\
                 <testcase classname=\"suite\" name=\"c\" time=\"1\"/></testsuite>"
            ),
        )
        .unwrap();
        let merged = merge(dir.path(), &keep);
        assert_eq!(merged.code, 0, "run {run}: {}", merged.stderr);
    }
    let mut names: Vec<String> = fs::read_dir(dir.path().join("timings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["junit.1.xml", "junit.2.xml", "junit.xml"]);

    let manifest = |timings: &str| {
        let run = plan(
            dir.path(),
            &[
                "--nodes",
                "1",
                "--manifest",
                "-",
                "--timings",
                timings,
                "ids.txt",
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        (weights(&run.stdout), run.stderr)
    };
    // The last report alone: `a` weighs ten times `c`.
    let (last, _) = manifest("timings/junit.xml");
    assert!(last["suite::a"] > 5 * last["suite::c"], "{last:?}");
    // The three runs: `a` weighs its mean, 4 s (1, 1, 10), `b` 3.7 s (1, 5, 5), `c` 1 s; in
    // steps of 5%.
    let (three, told) = manifest("timings");
    assert!(
        told.contains("durations for 3 of 3 ids from 3 reports"),
        "{told}"
    );
    let c = three["suite::c"] as f64;
    let near = |id: &str, times: f64| (three[id] as f64 / c - times).abs() < 0.05 * times;
    assert!(
        near("suite::a", 4.0) && near("suite::b", 11.0 / 3.0),
        "{three:?}"
    );

    // A merge that fails (an input cut short) moves nothing.
    let before: Vec<Vec<u8>> = ["junit.xml", "junit.1.xml", "junit.2.xml"]
        .iter()
        .map(|n| fs::read(dir.path().join("timings").join(n)).unwrap())
        .collect();
    fs::write(
        dir.path().join("reports/node-2.xml"),
        "<testsuite><testcase",
    )
    .unwrap();
    let failed = merge(dir.path(), &keep);
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert!(failed.stderr.contains("node-2.xml:1:"), "{}", failed.stderr);
    for (name, bytes) in ["junit.xml", "junit.1.xml", "junit.2.xml"]
        .iter()
        .zip(&before)
    {
        assert_eq!(
            &fs::read(dir.path().join("timings").join(name)).unwrap(),
            bytes
        );
    }
    fs::remove_file(dir.path().join("reports/node-2.xml")).unwrap();

    // Three more runs where `a` takes 10 s: the runs of 1 s go, and `a` weighs its 10 s.
    for _ in 0..3 {
        let merged = merge(dir.path(), &keep);
        assert_eq!(merged.code, 0, "{}", merged.stderr);
    }
    let (later, _) = manifest("timings");
    assert_eq!(later["suite::a"], last["suite::a"], "{later:?}");
}

/// Kept versions inside a folder that is merged are not inputs; without -o there is nothing to
/// keep, and more than 100 is refused.
#[test]
fn kept_reports_are_not_inputs_and_need_an_output_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("reports")).unwrap();
    fs::write(
        dir.path().join("reports/node-1.xml"),
        "<testsuite name=\"suite\"><testcase classname=\"suite\" name=\"a\" time=\"1\"/></testsuite>",
    )
    .unwrap();
    // Merges into the folder merged: from the third on, the output and its version are both
    // there, and neither is an input; the last reaches the output through a symlink, whose
    // versions are kept beside the file it leads to.
    std::os::unix::fs::symlink("reports/all.xml", dir.path().join("all.xml")).unwrap();
    for (round, output) in [
        "reports/all.xml",
        "reports/all.xml",
        "reports/all.xml",
        "all.xml",
    ]
    .iter()
    .enumerate()
    {
        let run = merge(
            dir.path(),
            &["--keep-previous", "1", "-o", output, "reports"],
        );
        assert_eq!(run.code, 0, "merge {round}: {}", run.stderr);
        assert!(
            run.stderr.contains("merged 1 report from 1 node"),
            "merge {round}: {}",
            run.stderr
        );
    }
    assert!(dir.path().join("reports/all.1.xml").is_file());
    assert!(!dir.path().join("all.1.xml").exists());
    let many = merge(
        dir.path(),
        &["--keep-previous", "101", "-o", "reports/all.xml", "reports"],
    );
    assert_eq!(many.code, 2, "{}", many.stderr);
    assert!(many.stderr.contains("at most 100"), "{}", many.stderr);
    let stdout = merge(dir.path(), &["--keep-previous", "1", "reports"]);
    assert_eq!(stdout.code, 2, "{}", stdout.stderr);
    assert!(stdout.stderr.contains("give -o FILE"), "{}", stdout.stderr);
}
