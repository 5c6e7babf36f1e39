//! Every dialect's report merges to its golden merged report, byte for byte, whether written
//! to stdout or to a file; and every golden report is one Jenkins' parser reads.

use std::fs;
use std::path::{Path, PathBuf};

use shardkit::junit::cases::{Status, read_cases};

use super::{cases_of, expect, merge_in, repo};
use crate::support::{check_junit, path_str, run_check_junit, testdata};

#[test]
fn every_dialect_merges_to_its_golden_report() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut dirs: Vec<PathBuf> = fs::read_dir(testdata().join("junit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 11, "a fixture per dialect");
    for dir in dirs {
        let dialect = dir.file_name().unwrap().to_str().unwrap().to_string();
        let input = format!("testdata/junit/{dialect}/report.xml");
        let salvage = dialect.starts_with("broken");
        let mut args = vec!["--node-label", "parent", input.as_str()];
        if salvage {
            args.insert(0, "--salvage");
        }
        let run = merge_in(&repo(), &args);
        let golden = dir.join("merged.xml");
        if update {
            fs::write(&golden, &run.stdout).unwrap();
        }
        let want = fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{}: run with UPDATE_GOLDEN=1", golden.display()));
        assert_eq!(
            run.stdout, want,
            "{dialect}: output differs from its golden"
        );

        let input_cases = read_cases(fs::File::open(dir.join("report.xml")).unwrap());
        let merged = cases_of(run.stdout.as_bytes());
        let failed = merged
            .iter()
            .any(|c| matches!(c.status, Status::Failed | Status::Errored));
        let code = if salvage {
            3
        } else if failed {
            1
        } else {
            0
        };
        expect(&run, code);
        if !salvage {
            assert_eq!(merged.len(), input_cases.unwrap().len(), "{dialect}");
        }
        for case in &merged {
            assert_eq!(case.property("shard.node"), Some(dialect.as_str()));
        }
    }
}

/// `-o FILE` copies long unchanged runs from file to file (1 MiB or more), stdout through the
/// process: every dialect, as it is and with a case holding 1.5 MiB of plain output, gives the
/// same bytes and the same exit status both ways, and the long run arrives whole.
#[test]
fn the_file_and_the_stdout_paths_write_the_same_bytes_with_and_without_a_long_run() {
    let work = tempfile::tempdir().unwrap();
    let long: String = "an unchanged line of test output\n".repeat(48_000);
    assert!(
        long.len() >= 3 << 19,
        "more than the 1 MiB of a file-to-file copy"
    );
    let mut dirs: Vec<PathBuf> = fs::read_dir(testdata().join("junit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let dialect = dir.file_name().unwrap().to_str().unwrap().to_string();
        let salvage = dialect.starts_with("broken");
        let xml = fs::read_to_string(dir.join("report.xml")).unwrap();
        let mut inputs = vec![("as-is", xml.clone())];
        if let Some(at) = xml.rfind("</testsuite>") {
            let case = format!(
                "<testcase classname=\"big\" name=\"long_output\" time=\"1\"><system-out>{long}</system-out></testcase>"
            );
            inputs.push(("long", format!("{}{case}{}", &xml[..at], &xml[at..])));
        }
        for (variant, text) in inputs {
            let input = work.path().join(format!("{dialect}-{variant}.xml"));
            fs::write(&input, &text).unwrap();
            let mut args = vec!["--node-label", "parent", path_str(&input)];
            if salvage {
                args.insert(0, "--salvage");
            }
            let to_stdout = merge_in(work.path(), &args);
            let out = work.path().join(format!("{dialect}-{variant}.merged.xml"));
            let mut file_args = args.clone();
            file_args.extend(["-o", path_str(&out)]);
            let to_file = merge_in(work.path(), &file_args);
            assert_eq!(
                to_file.code, to_stdout.code,
                "{dialect} {variant}: {}",
                to_file.stderr
            );
            assert!(
                matches!(to_file.code, 0 | 1 | 3),
                "{dialect} {variant}: {}",
                to_file.stderr
            );
            let written = fs::read_to_string(&out).unwrap();
            assert!(
                written == to_stdout.stdout,
                "{dialect} {variant}: -o and stdout differ"
            );
            if variant == "long" {
                assert_eq!(written.matches(long.as_str()).count(), 1, "{dialect}");
                let cases = cases_of(written.as_bytes());
                assert!(cases.iter().any(|c| c.name == "long_output"), "{dialect}");
            }
        }
    }
}

/// Jenkins' parser and the output profile accept every golden merged report, while the
/// inputs that Jenkins would reject or misread (a raw ESC, a truncated file, "1,234.5" times)
/// are refused, each with its place: the check can fail, and shard-merge's output passes it.
#[test]
fn every_golden_merged_report_is_one_jenkins_reads() {
    let mut goldens: Vec<PathBuf> = fs::read_dir(testdata().join("junit"))
        .unwrap()
        .map(|e| e.unwrap().path().join("merged.xml"))
        .collect();
    goldens.sort();
    let refs: Vec<&Path> = goldens.iter().map(PathBuf::as_path).collect();
    check_junit(&refs);

    let rejected = [
        (
            "pytest-xunit1",
            ":2:291: not well-formed XML 1.0: An invalid XML character (Unicode: 0x1b)",
        ),
        ("broken-truncated", ":7:13: not well-formed XML 1.0"),
        ("surefire", ":2:291: cvc-pattern-valid: Value '2,120.532'"),
        ("ant", ":8:97: cvc-pattern-valid: Value '1,200.5'"),
    ];
    // (file, what its line says), all checked in one run of the JVM.
    let mut refused: Vec<(PathBuf, &str)> = rejected
        .iter()
        .map(|(dialect, why)| {
            let input = testdata().join("junit").join(dialect).join("report.xml");
            (input, *why)
        })
        .collect();

    let work = tempfile::tempdir().unwrap();
    let cases = [
        ("empty.xml", "", ":1:1: empty file"),
        ("root.xml", "<report/>", "the root element is <report>"),
        (
            "nan.xml",
            "<testsuite><testcase name=\"a\" time=\"NaN\"/></testsuite>",
            "'NaN'",
        ),
        ("negative.xml", "<testsuites tests=\"-1\"/>", "'-1'"),
        (
            "unnamed.xml",
            "<testsuite><testcase classname=\"c\"/></testsuite>",
            "'name' must appear",
        ),
        (
            "blank.xml",
            "<testsuite><testcase name=\"\"/></testsuite>",
            "minLength",
        ),
    ];
    for (file, xml, why) in cases {
        let path = work.path().join(file);
        fs::write(&path, xml).unwrap();
        refused.push((path, why));
    }
    let paths: Vec<&Path> = refused.iter().map(|(p, _)| p.as_path()).collect();
    let run = run_check_junit(&paths);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for (path, why) in &refused {
        let said = run
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("{}:", path.display())))
            .collect::<Vec<_>>()
            .join("\n");
        let want = format!("{}{why}", path.display());
        assert!(
            said.contains(&want) || (!why.starts_with(':') && said.contains(why)),
            "{}: no {why:?} in {said:?}",
            path.display()
        );
        assert!(!said.ends_with(": ok"), "{}", path.display());
    }
    let extras = work.path().join("extras.xml");
    fs::write(
        &extras,
        "<testsuites><testsuite name=\"s\" hostname=\"h\" time=\"0.5\"><properties><property name=\"k\" value=\"v\"/></properties>\
         <testcase name=\"a\" file=\"x.py\" time=\"12\"><flakyFailure message=\"m\"/><system-out>o</system-out></testcase>\
         <custom a=\"b\"/></testsuite></testsuites>",
    )
    .unwrap();
    check_junit(&[&extras]);
}
