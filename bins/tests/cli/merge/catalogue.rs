//! The catalogue of odd but readable reports (encodings, namespaces): for each, the JDK's parser
//! (Jenkins' parser family, `scripts/check-junit --cases`) reads the same cases in the report and
//! in what shard-merge made of it (classname, name, status), and the merged report passes the
//! readability check (no JUnit element in a foreign namespace: the output profile has none).

use std::fs;
use std::path::{Path, PathBuf};

use super::merge_in;
use crate::support::{check_junit, path_str, run_check_junit};

/// A report with a case of each status, named with `word`, declared in `encoding`.
fn report(encoding: &str, word: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n\
         <testsuites name=\"run\">\n\
         <testsuite name=\"suite {word}\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">\n\
         <testcase classname=\"pkg.{word}\" name=\"passes {word}\"><system-out>{word}</system-out></testcase>\n\
         <testcase classname=\"pkg.{word}\" name=\"fails\"><failure message=\"{word}\">{word}</failure></testcase>\n\
         <testcase classname=\"pkg\" name=\"errs {word}\"><error message=\"x\"/></testcase>\n\
         <testcase classname=\"pkg\" name=\"is skipped\"><skipped/></testcase>\n\
         </testsuite>\n</testsuites>\n"
    )
}

/// Single-byte encodings: each character is the byte of its code point, or (`€`) `euro`.
fn single_byte(text: &str, euro: u8) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => euro,
            c => u8::try_from(u32::from(c)).expect("a Latin-1 character"),
        })
        .collect()
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let units = bom.then_some(0xfeff).into_iter().chain(text.encode_utf16());
    units
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// The catalogue: a file name and its bytes.
fn catalogue() -> Vec<(&'static str, Vec<u8>)> {
    let mut utf8_bom = "\u{feff}".as_bytes().to_vec();
    utf8_bom.extend(report("UTF-8", "naïve").into_bytes());
    vec![
        // 0x93 is U+0093 in ISO-8859-1 (a quote only in windows-1252).
        (
            "latin1",
            single_byte(&report("ISO-8859-1", "café\u{93}"), 0),
        ),
        ("cp1252", single_byte(&report("windows-1252", "€uro"), 0x80)),
        ("latin9", single_byte(&report("ISO-8859-15", "€uro"), 0xa4)),
        ("ascii", report("US-ASCII", "plain").into_bytes()),
        ("utf8-bom", utf8_bom),
        (
            "utf16le-bom",
            utf16(&report("UTF-16", "Grüße"), false, true),
        ),
        ("utf16be-bom", utf16(&report("UTF-16", "Grüße"), true, true)),
        ("utf16le", utf16(&report("UTF-16", "ñandú"), false, false)),
        ("utf16be", utf16(&report("UTF-16BE", "ñandú"), true, false)),
        ("namespaced", namespaced()),
    ]
}

/// A report whose JUnit elements carry namespaces: a default one on a suite, a prefixed root,
/// prefixed elements and attributes (Jenkins reads elements and attributes by their local
/// names), a foreign attribute in a namespace of its own, and a prefixed name after a plain one.
fn namespaced() -> Vec<u8> {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
     <j:testsuites xmlns:j=\"urn:j\" xmlns:r=\"urn:r\" name=\"run\">\n\
     <testsuite xmlns=\"urn:default\" name=\"in a default namespace\" tests=\"2\" r:owner=\"team\">\
     <testcase classname=\"ns.default\" name=\"passes\"/>\
     <testcase classname=\"ns.default\" name=\"fails\"><failure message=\"m\">boom</failure></testcase>\
     </testsuite>\n\
     <j:testsuite j:name=\"prefixed\" xmlns:x=\"urn:x\" x:extra=\"kept\">\
     <j:properties><j:property j:name=\"k\" j:value=\"v\"/></j:properties>\
     <j:testcase j:classname=\"ns.prefixed\" j:name=\"errs\" x:extra=\"kept\"><j:error j:message=\"m\"/></j:testcase>\
     <j:testcase classname=\"ns.prefixed\" name=\"skipped first\" j:name=\"second\"><j:skipped/></j:testcase>\
     </j:testsuite>\n\
     </j:testsuites>\n"
        .as_bytes()
        .to_vec()
}

/// What the JDK's parser reads in `files`, one line per case.
fn jdk_cases(files: &[PathBuf]) -> Vec<String> {
    let mut args = vec![Path::new("--cases")];
    args.extend(files.iter().map(PathBuf::as_path));
    let run = run_check_junit(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.stdout.lines().map(str::to_string).collect()
}

#[test]
fn every_report_of_the_catalogue_merges_to_the_cases_the_jdk_reads_in_it() {
    let work = tempfile::tempdir().unwrap();
    let (mut inputs, mut merged) = (Vec::new(), Vec::new());
    for (name, bytes) in catalogue() {
        let input = work.path().join(format!("{name}.xml"));
        fs::write(&input, &bytes).unwrap();
        let out = work.path().join(format!("{name}.merged.xml"));
        let run = merge_in(work.path(), &[path_str(&input), "-o", path_str(&out)]);
        assert_eq!(
            run.code, 1,
            "{name}: one failed case, one errored: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("4 tests, 1 failed, 1 errors, 1 skipped"),
            "{name}: {}",
            run.stderr
        );
        inputs.push(input);
        merged.push(out);
    }
    let read = jdk_cases(&inputs);
    assert_eq!(read.len(), 4 * inputs.len(), "{read:#?}");
    for case in [
        "ns.prefixed\terrs\terrored",
        "ns.prefixed\tskipped first\tskipped",
    ] {
        assert!(read.iter().any(|l| l == case), "{case}: {read:#?}");
    }
    for word in ["café", "€uro", "naïve", "Grüße", "ñandú"] {
        assert!(read.iter().any(|l| l.contains(word)), "{word}: {read:#?}");
    }
    assert_eq!(jdk_cases(&merged), read);
    let merged: Vec<&Path> = merged.iter().map(PathBuf::as_path).collect();
    check_junit(&merged);
}
