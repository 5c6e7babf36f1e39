//! The inputs shard-merge meets: bad ones exit 2 naming the place and leave the output alone,
//! odd values are fixed with a warning that says where, `--salvage` keeps every complete case
//! of a cut or empty report, reports come from folders, stdin and labels, and a 300 MB
//! system-out streams in bounded memory.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use shardkit::junit::cases::{Case, Status};

use super::{cases_of, expect, merge, merge_cmd, merge_in, refused};
use crate::support::{path_str, testdata, with_stdin};

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
        .map(|c| (&*c.suite, c.property("shard.node")))
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
