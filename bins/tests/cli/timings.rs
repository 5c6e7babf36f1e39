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
