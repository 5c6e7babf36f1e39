//! Reports in the encodings producers declare (what an XML parser reads, the merge reads): each
//! is merged into UTF-8 with its cases' names and output as they were written, to a writer and
//! into a file, with and without a run long enough to go from file to file.

use shardkit::junit::cases::{Status, read_cases};
use shardkit::merge::{self, Input, Options};

mod support {
    pub mod merged;
}

/// A report holding a case named `name` whose output is `output`, declared in `encoding`.
fn report(encoding: &str, name: &str, output: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<testsuites name=\"run\"><testsuite name=\"s\" tests=\"2\">\
         <testcase classname=\"c\" name=\"{name}\"><system-out>{output}</system-out></testcase>\
         <testcase classname=\"c\" name=\"second\"><failure message=\"{name}\">{output}</failure></testcase>\
         </testsuite></testsuites>\n"
    )
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut units: Vec<u16> = text.encode_utf16().collect();
    if bom {
        units.insert(0, 0xfeff);
    }
    units
        .into_iter()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// Latin-1's bytes of `text` (every character below U+0100).
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect()
}

/// Merges `bytes` as node-1 to a writer and into a file; both must be the same UTF-8.
fn merged(dir: &std::path::Path, bytes: &[u8], options: &Options<'_>) -> String {
    String::from_utf8(support::merged::both_ways(dir, bytes, options))
        .expect("the merged report is UTF-8")
}

/// The names and statuses of the merged report's cases, read back.
fn cases_of(merged: &str) -> Vec<(String, Status)> {
    read_cases(merged.as_bytes())
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.status))
        .collect()
}

#[test]
fn every_encoding_a_producer_declares_is_merged_into_utf8_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let (name, output) = ("café_ñ", "Grüße, naïve");
    let short = "x".repeat(10);
    let long = "an unchanged line\n".repeat(70_000);
    for output_text in [
        output.to_string(),
        format!("{output}{short}"),
        format!("{output}{long}"),
    ] {
        let variants: Vec<(&str, Vec<u8>)> = vec![
            ("UTF-8", report("UTF-8", name, &output_text).into_bytes()),
            ("UTF-8 with BOM", {
                let mut b = "\u{feff}".as_bytes().to_vec();
                b.extend(report("UTF-8", name, &output_text).into_bytes());
                b
            }),
            (
                "ISO-8859-1",
                latin1(&report("ISO-8859-1", name, &output_text)),
            ),
            (
                "windows-1252",
                latin1(&report("windows-1252", name, &output_text)),
            ),
            (
                "ISO-8859-15",
                latin1(&report("ISO-8859-15", name, &output_text)),
            ),
            (
                "UTF-16LE with BOM",
                utf16(&report("UTF-16", name, &output_text), false, true),
            ),
            (
                "UTF-16BE with BOM",
                utf16(&report("UTF-16", name, &output_text), true, true),
            ),
            (
                "UTF-16LE",
                utf16(&report("UTF-16LE", name, &output_text), false, false),
            ),
            (
                "UTF-16BE",
                utf16(&report("UTF-16BE", name, &output_text), true, false),
            ),
        ];
        for (encoding, bytes) in variants {
            let out = merged(dir.path(), &bytes, &Options::default());
            assert!(
                out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
                "{encoding}"
            );
            let cases = cases_of(&out);
            assert_eq!(cases.len(), 2, "{encoding}: {out:.300}");
            assert_eq!(cases[0].0, name, "{encoding}");
            assert_eq!(cases[1], ("second".into(), Status::Failed), "{encoding}");
            assert!(
                out.contains(&format!("<failure message=\"{name}\">")),
                "{encoding}"
            );
            assert_eq!(out.matches(output_text.as_str()).count(), 2, "{encoding}");
            assert!(
                out.contains("name=\"shard.node\" value=\"node-1\""),
                "{encoding}"
            );
        }
    }
}

#[test]
fn a_us_ascii_report_is_read_as_the_ascii_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = merged(
        dir.path(),
        report("US-ASCII", "plain", "text").as_bytes(),
        &Options::default(),
    );
    assert_eq!(cases_of(&out)[0].0, "plain");
}

#[test]
fn a_broken_latin1_report_is_salvaged_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let text = report("ISO-8859-1", "café", "Grüße");
    let cut = text
        .find("<testcase classname=\"c\" name=\"second\"")
        .unwrap()
        + 20;
    let options = Options {
        salvage: true,
        ..Options::default()
    };
    let out = merged(dir.path(), &latin1(&text[..cut]), &options);
    let cases = cases_of(&out);
    assert_eq!(cases[0].0, "café");
    assert_eq!(
        cases.len(),
        2,
        "the kept case and the one that stands for what was lost"
    );
}

#[test]
fn an_encoding_no_reader_knows_is_an_error_that_names_it_and_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node-1.xml");
    std::fs::write(&path, report("EBCDIC-US", "a", "b")).unwrap();
    let input = Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let error = merge::scan(vec![input], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("node-1.xml:1:1: ") && error.contains("encoding=\"EBCDIC-US\""),
        "{error}"
    );
}

#[test]
fn bytes_malformed_in_the_declared_encoding_are_read_as_replacement_characters_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = utf16(&report("UTF-16", "before", "out"), false, true);
    // An unpaired high surrogate where the case's name begins ("before" -> "\u{fffd}efore").
    let at = bytes
        .windows(12)
        .position(|w| w == utf16("before", false, false).as_slice())
        .unwrap();
    bytes[at..at + 2].copy_from_slice(&0xd800u16.to_le_bytes());
    let path = dir.path().join("node-1.xml");
    std::fs::write(&path, &bytes).unwrap();
    let input = Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let merge = merge::scan(vec![input], &Options::default()).unwrap();
    let warnings: Vec<_> = merge.report().warnings.iter().map(|w| &w.message).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("bytes that are not UTF-16LE were read as U+FFFD"));
    let mut out = Vec::new();
    merge.write(&mut out).unwrap();
    let cases = cases_of(std::str::from_utf8(&out).unwrap());
    assert_eq!(cases[0].0, "\u{fffd}efore");
}
