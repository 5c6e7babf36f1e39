//! shard-merge, driven as CI drives it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Case, Status, read_cases};
use shardkit::junit::matching::pytest_case;

use super::{Run, finish, path_str, suite, testdata, with_stdin};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn merge_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-merge"));
    cmd.env_clear().stdin(Stdio::null());
    cmd
}

fn merge(args: &[&str]) -> Run {
    finish(merge_cmd().args(args).output().unwrap())
}

fn merge_in(dir: &Path, args: &[&str]) -> Run {
    finish(merge_cmd().current_dir(dir).args(args).output().unwrap())
}

fn cases_of(xml: &[u8]) -> Vec<Case> {
    read_cases(xml).unwrap_or_else(|e| panic!("merged output unreadable: {e:?}"))
}

fn expect(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
}

/// Exit 2, nothing on stdout, `needle` in the message.
fn refused(run: &Run, needle: &str) {
    expect(run, 2);
    assert_eq!(run.stdout, "", "nothing may be written on error");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
}

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
    crate::check_junit(&refs);

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
    let run = crate::run_check_junit(&paths);
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
    crate::check_junit(&[&extras]);
}

/// One node's report, pytest style, for the ids it ran; `edit` changes the XML of a case.
fn node_report(ids: &[&str], edit: &dyn Fn(&str, String) -> String) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"pytest\">\n",
    );
    for id in ids {
        let (classname, name) = pytest_case(id).unwrap();
        let case = format!(
            "<testcase classname=\"{}\" name=\"{}\" time=\"0.25\"/>\n",
            escape(&classname),
            escape(name)
        );
        xml.push_str(&edit(id, case));
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

struct Planned {
    dir: tempfile::TempDir,
    /// Ids by node, nodes counted from 1.
    nodes: Vec<Vec<String>>,
    fingerprint: String,
}

fn planned(nodes: u32) -> Planned {
    let dir = tempfile::tempdir().unwrap();
    let ids = suite::pytest_ids(90, 7);
    fs::write(dir.path().join("ids.txt"), ids.join("\n")).unwrap();
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .current_dir(dir.path())
            .args(["--nodes", &nodes.to_string(), "--manifest", "plan.tsv"])
            .args(["--fingerprint", "ids.txt"])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs::read_to_string(dir.path().join("plan.tsv")).unwrap();
    let mut by_node = vec![Vec::new(); nodes as usize];
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let node: usize = fields[0].parse().unwrap();
        by_node[node - 1].push(fields[3].to_string());
    }
    Planned {
        dir,
        nodes: by_node,
        fingerprint: run.stdout.trim().to_string(),
    }
}

impl Planned {
    fn write_node(&self, k: usize, edit: &dyn Fn(&str, String) -> String) {
        let ids: Vec<&str> = self.nodes[k - 1].iter().map(String::as_str).collect();
        let path = self.dir.path().join(format!("reports/junit-{k}.xml"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, node_report(&ids, edit)).unwrap();
    }

    fn write_all(&self) {
        for k in 1..=self.nodes.len() {
            self.write_node(k, &|_, case| case);
        }
    }

    fn merge(&self, extra: &[&str]) -> Run {
        let mut args = vec!["--plan", "plan.tsv", "-o", "merged.xml"];
        args.extend(extra);
        args.push("reports");
        merge_in(self.dir.path(), &args)
    }

    fn merged(&self) -> Vec<Case> {
        cases_of(&fs::read(self.dir.path().join("merged.xml")).unwrap())
    }
}

#[test]
fn a_complete_run_verifies_against_the_plan() {
    let p = planned(3);
    p.write_all();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 0);
    assert!(
        run.stderr
            .contains("merged 3 reports from 3 nodes: 90 tests, 0 failed"),
        "{}",
        run.stderr
    );
    let cases = p.merged();
    assert_eq!(cases.len(), 90);
    for (k, ids) in p.nodes.iter().enumerate() {
        let label = format!("junit-{}", k + 1);
        let on_node = cases
            .iter()
            .filter(|c| c.property("shard.node") == Some(label.as_str()))
            .count();
        assert_eq!(on_node, ids.len(), "{label}");
    }

    // A failing test: merged and verified, exit 1.
    let victim = p.nodes[1][0].clone();
    p.write_node(2, &|id, case| {
        if id == victim {
            case.replace("/>", "><failure message=\"no\"/></testcase>")
        } else {
            case
        }
    });
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 1);
    assert!(run.stderr.contains("1 failed"), "{}", run.stderr);
}

#[test]
fn a_missing_node_fails_verification_but_the_report_is_written() {
    let p = planned(3);
    p.write_all();
    fs::remove_file(p.dir.path().join("reports/junit-2.xml")).unwrap();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    assert!(run.stderr.contains("node 2"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{} planned tests were not reported",
            p.nodes[1].len()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&p.nodes[1][0]), "{}", run.stderr);
    assert_eq!(p.merged().len(), 90 - p.nodes[1].len());

    // Nodes expected beyond those that ran.
    p.write_all();
    let run = p.merge(&["--expect-nodes", "4"]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("1 of 4 expected nodes missing"),
        "{}",
        run.stderr
    );
}

/// `-q`, as on shard-plan and shard-exec: nothing on stderr for a clean merge, the warnings of
/// a failed verification still.
#[test]
fn quiet_leaves_only_warnings() {
    let p = planned(3);
    p.write_all();
    let run = p.merge(&["-q", "--expect-nodes", "3"]);
    expect(&run, 0);
    assert_eq!(run.stderr, "");
    assert_eq!(p.merged().len(), 90);
    fs::remove_file(p.dir.path().join("reports/junit-3.xml")).unwrap();
    let run = p.merge(&["--quiet", "--expect-nodes", "3"]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("1 of 3 expected nodes missing"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("merged 2 reports"), "{}", run.stderr);
}

/// A CI retry that uploads a node's report a second time, under another name: every test of
/// that node is reported twice, which verification names.
#[test]
fn a_node_reported_twice_fails_verification() {
    let p = planned(3);
    p.write_all();
    let reports = p.dir.path().join("reports");
    fs::copy(
        reports.join("junit-2.xml"),
        reports.join("junit-2-retry.xml"),
    )
    .unwrap();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    let twice = p.nodes[1].len();
    let needle = format!("{twice} planned tests were reported more than once");
    assert!(run.stderr.contains(&needle), "{}", run.stderr);
    // (Inputs are read in name order: junit-2-retry.xml before junit-2.xml.)
    let first = format!("{} (by junit-2-retry, junit-2)", p.nodes[1][0]);
    assert!(run.stderr.contains(&first), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 node labels name no node in 1..=3"),
        "{}",
        run.stderr
    );
    // The merged report still holds both, so nothing is hidden.
    assert_eq!(p.merged().len(), 90 + twice);
}

#[test]
fn duplicates_strangers_wrong_nodes_and_other_plans_are_reported() {
    let p = planned(3);
    p.write_all();
    let twice = p.nodes[0][0].clone();
    let (classname, name) = pytest_case(&twice).unwrap();
    let wrong = p.nodes[2][0].clone();
    p.write_node(3, &|id, case| {
        if id == wrong {
            // It says it ran on node 1.
            case.replace(
                "/>",
                "><properties><property name=\"shard.node\" value=\"1\"/></properties></testcase>",
            )
        } else {
            case
        }
    });
    let extra = format!(
        "<testcase classname=\"{}\" name=\"{}\"/><testcase classname=\"tests.test_new\" name=\"test_unplanned\"/></testsuite>",
        escape(&classname),
        escape(name)
    );
    let node2 = p.dir.path().join("reports/junit-2.xml");
    let xml = fs::read_to_string(&node2)
        .unwrap()
        .replace("</testsuite>", &extra);
    fs::write(&node2, xml).unwrap();

    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    for needle in [
        "1 planned tests were reported more than once",
        &format!("{twice} (by junit-1, junit-2)"),
        "1 reported tests were not planned",
        "tests.test_new::test_unplanned (by junit-2)",
        "1 tests ran on a node other than the planned one",
        &format!("{wrong} (planned on 3, ran on 1)"),
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }

    // A node that planned from other ids.
    p.write_all();
    let node1 = p.dir.path().join("reports/junit-1.xml");
    let xml = fs::read_to_string(&node1).unwrap().replace(
        "<testsuite name=\"pytest\">",
        "<testsuite name=\"pytest\"><properties><property name=\"shard.plan\" value=\"sha256:0123\"/></properties>",
    );
    fs::write(&node1, xml).unwrap();
    let run = p.merge(&[]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("ran from another plan"),
        "{}",
        run.stderr
    );

    // The node's own fingerprint is no complaint.
    let xml = fs::read_to_string(&node1)
        .unwrap()
        .replace("sha256:0123", &p.fingerprint);
    fs::write(&node1, xml).unwrap();
    expect(&p.merge(&[]), 0);
}

#[test]
fn bad_inputs_exit_2_naming_the_place_and_leave_the_output_alone() {
    let dir = tempfile::tempdir().unwrap();
    let nested = format!("<testsuites>{}", "<testsuite name=\"x\">".repeat(200_000));
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<testsuites><testsuite name=\"s\"><testcase name=\"a\"><system-out>&lol3;</system-out></testcase></testsuite></testsuites>";
    let cases: [(&str, &[u8], &str); 9] = [
        ("empty", b"", "empty.xml:1:1: no root element"),
        ("text", b"hello, world", "text.xml:1:1: text outside the root"),
        (
            "truncated",
            b"<testsuites>\n<testsuite name=\"s\">\n<testcase name=\"a\"/>\n<testcase name=\"b\"><system-out>half",
            "truncated.xml:4:",
        ),
        (
            "utf8",
            b"<testsuite name=\"s\">\n<testcase name=\"a\"><system-out>caf\xe9</system-out></testcase></testsuite>",
            "utf8.xml:2:35: text is not valid UTF-8",
        ),
        (
            "laughs",
            laughs.as_bytes(),
            "laughs.xml:3:64: entity `&lol3;` is not defined",
        ),
        ("nested", nested.as_bytes(), "nested.xml:1:5113: elements nest more than 256 deep"),
        ("html", b"<html><body/></html>", "html.xml:1:1: the root element is <html>"),
        (
            "mismatch",
            b"<testsuites><testsuite name=\"s\"></testsuites>",
            "mismatch.xml:1:",
        ),
        (
            "badref",
            b"<testsuite name=\"s\"><system-out>&#xZZ;</system-out></testsuite>",
            "badref.xml:1:",
        ),
    ];
    let good = testdata().join("junit/pytest/report.xml");
    let out = dir.path().join("merged.xml");
    for (name, bytes, needle) in cases {
        let file = dir.path().join(format!("{name}.xml"));
        fs::write(&file, bytes).unwrap();
        fs::write(&out, "previous").unwrap();
        let run = merge_in(
            dir.path(),
            &[path_str(&good), &format!("{name}.xml"), "-o", "merged.xml"],
        );
        refused(&run, needle);
        assert_eq!(fs::read_to_string(&out).unwrap(), "previous", "{name}");
        // To stdout: nothing at all.
        let run = merge_in(dir.path(), &[path_str(&good), &format!("{name}.xml")]);
        refused(&run, needle);
    }

    // No inputs at all.
    let run = merge(&[]);
    expect(&run, 2);
    let empty = dir.path().join("nothing");
    fs::create_dir(&empty).unwrap();
    refused(&merge(&[path_str(&empty)]), "no reports to merge");
    refused(
        &merge(&[path_str(&dir.path().join("absent.xml"))]),
        "cannot read",
    );
    refused(
        &merge(&[path_str(&good), path_str(&good)]),
        "is given twice",
    );
    refused(
        &merge(&[path_str(&good), "--plan", "/nonexistent/plan.tsv"]),
        "cannot read",
    );
}

#[test]
fn odd_values_are_fixed_with_a_warning_that_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let xml = "<testsuites>\n<testsuite tests=\"many\" time=\"-3\">\n<testcase classname=\"c\" time=\"NaN\"/>\n<testcase classname=\"c\" name=\"comma\" time=\"1,234.5\"/>\n<testcase classname=\"c\" name=\"neg\" time=\"-0.5\"/>\n<testcase classname=\"c\" name=\"ctl\u{1b}[1m\" time=\"0.5\"><system-out>NUL \0 BEL \u{7} ESC \u{1b}[0m</system-out></testcase>\n</testsuite></testsuites>";
    fs::write(dir.path().join("odd.xml"), xml).unwrap();
    let run = merge_in(dir.path(), &["odd.xml"]);
    expect(&run, 0);
    for needle in [
        "odd.xml:2:1: <testsuite> has no name: written as name=\"unnamed\"",
        "odd.xml:2:1: <testsuite> time=\"-3\"",
        "odd.xml:2:1: <testsuite> tests=\"many\" is not a count",
        "odd.xml:3:1: <testcase> has no name",
        "odd.xml:3:1: <testcase> time=\"NaN\" is not a number of seconds: left out",
        "odd.xml:4:1: <testcase> time=\"1,234.5\" is written as 1234.5",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    let out = &run.stdout;
    assert!(
        out.contains("<testsuite name=\"unnamed\" tests=\"4\" time=\"0\">"),
        "{out}"
    );
    assert!(
        out.contains("<testcase name=\"unnamed\" classname=\"c\">"),
        "{out}"
    );
    assert!(out.contains("name=\"comma\" time=\"1234.5\""), "{out}");
    assert!(out.contains("name=\"neg\" time=\"0\""), "{out}");
    assert!(
        out.contains("NUL \u{2400} BEL \u{2407} ESC \u{241b}[0m"),
        "{out}"
    );
    assert!(out.contains("name=\"ctl\u{241b}[1m\""), "{out}");
    assert!(
        out.contains(
            "<testsuites tests=\"4\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"1235\">"
        ),
        "{out}"
    );
    assert!(!out.bytes().any(|b| b < 0x20 && !b"\t\n\r".contains(&b)));
}

#[test]
fn salvage_keeps_every_complete_case_and_says_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cut = "<testsuites>\n<testsuite name=\"s\">\n<properties><property name=\"shard.node\" value=\"2\"/></properties>\n<testcase classname=\"c\" name=\"one\"/>\n<testcase classname=\"c\" name=\"two\"><failure/></testcase>\n<testcase classname=\"c\" name=\"three\"><system-out>half of the out";
    fs::write(dir.path().join("node-2.xml"), cut).unwrap();
    fs::write(dir.path().join("node-1.xml"), b"").unwrap();
    fs::copy(
        testdata().join("junit/pytest/report.xml"),
        dir.path().join("node-3.xml"),
    )
    .unwrap();

    let run = merge_in(dir.path(), &["node-1.xml", "node-2.xml", "node-3.xml"]);
    refused(&run, "node-1.xml:1:1: no root element");

    let run = merge_in(
        dir.path(),
        &[
            "--salvage",
            "--expect-nodes",
            "3",
            "node-1.xml",
            "node-2.xml",
            "node-3.xml",
        ],
    );
    expect(&run, 3);
    assert!(
        run.stderr.contains("node-2.xml:6:")
            && run.stderr.contains("salvaged 2 complete test cases"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("node-1.xml:1:1"), "{}", run.stderr);
    let cases = cases_of(run.stdout.as_bytes());
    let names: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c.classname.as_deref().unwrap_or(""), c.name.as_str()))
        .collect();
    assert!(names.contains(&("c", "one")) && names.contains(&("c", "two")));
    assert!(!names.contains(&("c", "three")), "the cut case is not kept");
    let lost: Vec<&Case> = cases
        .iter()
        .filter(|c| c.classname.as_deref() == Some("shard-merge.salvage"))
        .collect();
    assert_eq!(lost.len(), 2, "one stand-in per broken input");
    assert!(lost.iter().all(|c| c.status == Status::Errored));
    assert_eq!(lost[1].name, "node-2.xml");
    assert_eq!(lost[1].property("shard.node"), Some("2"));
    // Counts include the stand-ins: 1 + 2 + 1 + pytest's 6.
    assert!(
        run.stdout
            .contains("<testsuites tests=\"10\" failures=\"2\" errors=\"3\""),
        "{}",
        &run.stdout[..200]
    );
}

#[test]
fn directories_stdin_labels_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    for (node, class) in [("node-2", "b"), ("node-1", "a"), ("node-1", "c")] {
        let d = reports.join(node);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join(format!("TEST-{class}.xml")),
            format!(
                "<testsuite name=\"{class}\"><testcase classname=\"{class}\" name=\"t\" time=\"{}\"/></testsuite>",
                if class == "b" { "2.5" } else { "0.5" }
            ),
        )
        .unwrap();
    }
    fs::write(reports.join("notes.txt"), "not a report").unwrap();
    let run = merge_in(
        dir.path(),
        &[
            "--node-label",
            "parent",
            "--expect-nodes",
            "2",
            "--summary",
            "-o",
            "reports/merged.xml",
            "reports",
        ],
    );
    expect(&run, 0);
    let merged = fs::read(reports.join("merged.xml")).unwrap();
    let cases = cases_of(&merged);
    let order: Vec<(&str, Option<&str>)> = cases
        .iter()
        .map(|c| (c.suite.as_str(), c.property("shard.node")))
        .collect();
    assert_eq!(
        order,
        [
            ("a", Some("node-1")),
            ("c", Some("node-1")),
            ("b", Some("node-2"))
        ]
    );
    let text = String::from_utf8(merged).unwrap();
    assert!(text.contains(&format!(
        "<property name=\"shard.source\" value=\"{}\"/>",
        Path::new("reports").join("node-1").join("TEST-a.xml").display()
    )));
    for needle in ["node-1", "time (s)", "2.500", "max/mean 1.429"] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }

    // Again: the merged file inside the directory is not an input.
    let run = merge_in(
        dir.path(),
        &[
            "--node-label",
            "parent",
            "-o",
            "reports/merged.xml",
            "reports",
        ],
    );
    expect(&run, 0);
    assert_eq!(
        cases_of(&fs::read(reports.join("merged.xml")).unwrap()).len(),
        3
    );

    // Standard input, beside a file.
    let mut cmd = merge_cmd();
    cmd.current_dir(dir.path())
        .args(["-", "reports/node-2/TEST-b.xml"]);
    let run = with_stdin(cmd, &fs::read(reports.join("node-1/TEST-a.xml")).unwrap());
    expect(&run, 0);
    let cases = cases_of(run.stdout.as_bytes());
    assert_eq!(cases[0].property("shard.node"), Some("stdin"));
    assert_eq!(cases[1].property("shard.node"), Some("TEST-b"));
    assert!(run.stdout.contains("value=\"&lt;stdin&gt;\""));
}

#[test]
fn a_300_mb_system_out_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.xml");
    let line =
        "2026-11-20 10:00:00 INFO worker 3 moved item &amp; &lt;ok&gt; \u{1b}[32mgreen\u{1b}[0m\n";
    let mut file = std::io::BufWriter::new(fs::File::create(&input).unwrap());
    file.write_all(b"<testsuites><testsuite name=\"big\"><testcase classname=\"t\" name=\"a\" time=\"1\"><system-out>")
        .unwrap();
    let block = line.repeat(1000);
    let blocks = 300 * 1024 * 1024 / block.len() + 1;
    for _ in 0..blocks {
        file.write_all(block.as_bytes()).unwrap();
    }
    file.write_all(b"</system-out></testcase><testcase name=\"b\"/></testsuite></testsuites>\n")
        .unwrap();
    file.into_inner().unwrap().sync_all().unwrap();
    assert!(fs::metadata(&input).unwrap().len() > 300 * 1024 * 1024);

    let output = dir.path().join("merged.xml");
    let timed = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kb=%M"])
        .arg(env!("CARGO_BIN_EXE_shard-merge"))
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .env_clear()
        .output()
        .expect("GNU time (Debian package `time`) runs the memory check");
    let stderr = String::from_utf8_lossy(&timed.stderr);
    assert_eq!(timed.status.code(), Some(0), "{stderr}");
    let peak: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb="))
        .expect("peak RSS")
        .trim()
        .parse()
        .unwrap();
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB for a 300 MB text");

    let cases = cases_of(&fs::read(&output).unwrap()[..]);
    assert_eq!(cases.len(), 2);
    // The text arrived whole, its escapes kept and ESC made visible.
    let merged_len = fs::metadata(&output).unwrap().len();
    // ESC (1 byte) becomes U+241B (3 bytes), twice a line.
    let escape_growth = (blocks * 1000 * 4) as u64;
    let input_len = fs::metadata(&input).unwrap().len();
    assert!(
        merged_len > input_len + escape_growth && merged_len < input_len + escape_growth + 1024,
        "{merged_len} vs {input_len}"
    );
}
