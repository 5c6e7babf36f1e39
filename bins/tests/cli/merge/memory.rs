//! Memory that does not grow with the input: many small reports (a report per class, as
//! Surefire writes them) and one attribute value of 200 MB merge within a bound, read by GNU
//! time (never a wall-time check).

use std::fs;
use std::io::Write;
use std::process::Command;

use super::cases_of;

/// Runs shard-merge with `args` under GNU time: its exit code and peak RSS in KiB.
fn peak_rss_kb(args: &[&std::ffi::OsStr]) -> (Option<i32>, u64, String) {
    let timed = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kb=%M"])
        .arg(env!("CARGO_BIN_EXE_shard-merge"))
        .args(args)
        .env_clear()
        .output()
        .expect("GNU time (Debian package `time`) runs the memory check");
    let stderr = String::from_utf8_lossy(&timed.stderr).into_owned();
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb="))
        .expect("peak RSS")
        .trim()
        .parse()
        .unwrap();
    (timed.status.code(), peak, stderr)
}

#[test]
fn twenty_thousand_small_reports_merge_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    for node in 1..=4 {
        let node_dir = reports.join(format!("node-{node}"));
        fs::create_dir_all(&node_dir).unwrap();
        for class in 0..5000 {
            let cases: String = (0..10)
                .map(|t| format!("<testcase classname=\"com.example.C{class}\" name=\"test{t}\" time=\"0.010\"/>"))
                .collect();
            fs::write(
                node_dir.join(format!("TEST-com.example.C{class}.xml")),
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"com.example.C{class}\" tests=\"10\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.1\">{cases}</testsuite>\n"
                ),
            )
            .unwrap();
        }
    }
    let output = dir.path().join("merged.xml");
    let (code, peak, stderr) = peak_rss_kb(&[
        "--node-label".as_ref(),
        "parent".as_ref(),
        "--expect-nodes".as_ref(),
        "4".as_ref(),
        reports.as_os_str(),
        "-o".as_ref(),
        output.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("merged 20000 reports from 4 nodes: 200000 tests"),
        "{stderr}"
    );
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB for 20,000 reports");
    let cases = cases_of(&fs::read(&output).unwrap());
    assert_eq!(cases.len(), 200_000);
    assert_eq!(cases[0].property("shard.node"), Some("node-1"));
    assert_eq!(cases[199_999].property("shard.node"), Some("node-4"));
}

#[test]
fn a_200_mb_attribute_value_merges_whole_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("node-1.xml");
    // Each `&#27;` (ESC) becomes its stand-in, `␛`, 2 bytes shorter: the tag is written
    // again, its value streamed.
    let piece = "x &amp; y &#27;[0m\t";
    let pieces = 200 * 1024 * 1024 / piece.len();
    let head = "<testsuite name=\"s\"><testcase classname=\"c\" name=\"a\"><failure message=\"";
    let tail = "\">boom</failure></testcase></testsuite>\n";
    let mut file = std::io::BufWriter::new(fs::File::create(&report).unwrap());
    file.write_all(head.as_bytes()).unwrap();
    let block = piece.repeat(4096);
    for _ in 0..pieces / 4096 {
        file.write_all(block.as_bytes()).unwrap();
    }
    file.write_all(piece.repeat(pieces % 4096).as_bytes())
        .unwrap();
    file.write_all(tail.as_bytes()).unwrap();
    drop(file);
    let output = dir.path().join("merged.xml");
    let (code, peak, stderr) =
        peak_rss_kb(&[report.as_os_str(), "-o".as_ref(), output.as_os_str()]);
    assert_eq!(code, Some(1), "one test failed: {stderr}");
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB for a 200 MB attribute"
    );
    let merged = fs::read(&output).unwrap();
    // The value, whole: every piece is there, each 2 bytes shorter.
    let value_start = merged
        .windows(17)
        .position(|w| w == b"<failure message=")
        .expect("the failure")
        + 18;
    let value_len = memchr_quote(&merged[value_start..]);
    assert_eq!(value_len, pieces * (piece.len() - 2));
    let written = piece.replace("&#27;", "\u{241b}");
    assert!(merged[value_start..].starts_with(written.repeat(3).as_bytes()));
    assert!(merged[value_start + value_len..].starts_with(b"\">boom</failure>"));
    drop(merged);
    let cases = cases_of(&fs::read(&output).unwrap());
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].property("shard.node"), Some("node-1"));
}

/// Bytes up to the first `"`.
fn memchr_quote(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'"')
        .expect("a closing quote")
}
