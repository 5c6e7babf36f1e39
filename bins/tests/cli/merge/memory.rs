//! Memory that does not grow with the number of inputs: many small reports (a report per class,
//! as Surefire writes them) merge within a bound, read by GNU time (never a wall-time check).

use std::fs;
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
