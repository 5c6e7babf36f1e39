//! The pictures of a run at their edges: reports from other runners (tables, no timeline), the
//! audit on stdout, a merged report on stdout beside a page, and outputs that are all written
//! or none.

use std::fs;

use super::{cases_of, merge_in, repo};
use crate::support::path_str;

fn dialect(name: &str) -> String {
    path_str(&repo().join(format!("testdata/junit/{name}/report.xml"))).to_string()
}

#[test]
fn reports_from_other_runners_get_tables_and_an_audit_but_no_timeline() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (nextest, pytest) = (dialect("nextest"), dialect("pytest"));
    let run = merge_in(
        w,
        &[
            "-o",
            "merged.xml",
            "--html",
            "run.html",
            "--markdown",
            "summary.md",
            "--audit",
            "-",
            "--audit-format",
            "json",
            &nextest,
            &pytest,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let cases = cases_of(&fs::read(w.join("merged.xml")).unwrap());
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len());
    for (line, case) in lines.iter().zip(&cases) {
        let id = match &case.classname {
            Some(c) if !c.is_empty() => format!("{c}::{}", case.name),
            _ => case.name.clone(),
        };
        assert_eq!(line["id"], id.as_str(), "{line}");
        assert_eq!(line["node"], case.property("shard.node").unwrap(), "{line}");
        assert_eq!(line["slot"], serde_json::Value::Null, "{line}");
    }
    // nextest's own start of a case is its start.
    assert_eq!(lines[0]["start"], "2026-11-20T10:00:00.010+00:00");
    let page = fs::read_to_string(w.join("run.html")).unwrap();
    assert!(page.contains("id=\"no-timeline\""), "{page}");
    assert!(page.contains("plan::tests::always_fails"), "{page}");
    let md = fs::read_to_string(w.join("summary.md")).unwrap();
    assert!(!md.contains('▕'), "no text timeline without times: {md}");
    assert!(md.contains("### Failures ("), "{md}");
}

#[test]
fn a_merged_report_on_stdout_beside_a_page_is_the_same_report() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let nextest = dialect("nextest");
    let to_file = merge_in(w, &["-o", "merged.xml", &nextest]);
    assert_eq!(to_file.code, 1, "{}", to_file.stderr);
    let to_stdout = merge_in(w, &["--html", "run.html", &nextest]);
    assert_eq!(to_stdout.code, 1, "{}", to_stdout.stderr);
    assert_eq!(
        to_stdout.stdout,
        fs::read_to_string(w.join("merged.xml")).unwrap()
    );
    assert!(
        fs::read_to_string(w.join("run.html"))
            .unwrap()
            .contains("<h1>4 tests on 1 node")
    );
}

#[test]
fn outputs_are_written_all_or_none() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let nextest = dialect("nextest");
    // The page cannot be written: a file stands where its folder would be.
    fs::write(w.join("taken"), "a file").unwrap();
    let run = merge_in(
        w,
        &[
            "-o",
            "merged.xml",
            "--audit",
            "audit.tsv",
            "--markdown",
            "summary.md",
            "--html",
            "taken/run.html",
            &nextest,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("taken/run.html"), "{}", run.stderr);
    let mut left: Vec<String> = fs::read_dir(w)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["taken"], "nothing half-written");

    for (args, said) in [
        (
            vec!["--audit", "-", &nextest],
            "--audit - and the merged report cannot both go to stdout",
        ),
        (
            vec!["-o", "out.xml", "--html", "out.xml", &nextest],
            "-o and --html name the same file, out.xml",
        ),
        (
            vec!["--markdown", "a.md", "--audit", "./a.md", &nextest],
            "--markdown and --audit name the same file",
        ),
    ] {
        let run = merge_in(w, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}
