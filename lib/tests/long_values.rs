//! Attribute values longer than any buffer (a `message=` of a failure's whole log): a tag that
//! does not fit the reader's lookahead is streamed, not held, and reads as a held one does; the
//! merge writes such a tag as it stands or again, and the value comes out whole.

use std::path::Path;

use quick_xml::events::Event as XmlEvent;
use shardkit::junit::cases::{Status, read_cases};
use shardkit::junit::reader::{Event, JunitReader, VALUE_CAP};
use shardkit::merge::Options;
use walkdir::WalkDir;

mod support {
    pub mod merged;
}

/// Every event of `xml` as text (spans, flags and all), or that it is refused.
fn events(xml: &[u8], streamed: bool) -> Result<Vec<String>, String> {
    let mut reader = JunitReader::new(xml);
    if streamed {
        reader = reader.streaming_tags_over(0);
    }
    let mut out = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Event::Eof) => return Ok(out),
            Ok(event) => out.push(format!("{event:?}")),
            Err(e) => return Err(e.message),
        }
    }
}

#[test]
fn every_tag_reads_the_same_streamed_as_held() {
    let crafted: &[&str] = &[
        "<a b=\"1\"c=\"2\"/>",
        "<a b = '1' \n c\t=\"x > y\" />",
        "<j:testsuite xmlns=\"u\" xmlns:j=\"v\" j:name=\"x\" name=\"y\"><j:testcase/></j:testsuite>",
        "<a b=\"&#0;&#27;&amp;&#10;\t\r\n\"/>",
        "<a b='say \"hi\"' c=\"it's\"/>",
        "<a b=\"x<y\"/>",
        "<a b/>",
        "<a b=1/>",
        "<a b=\"1\" b=\"2\"/>",
        "<a b=\"1\"/ >",
        "<a b=\"&undefined;\"/>",
        "<a b=\"\u{e9}\u{1F600}\"/>",
        "<1a/>",
        "<a 1b=\"x\"/>",
        "<a b=\"x\"",
        "<a><b c=\"d\"></b></a>",
    ];
    let mut reports: Vec<(String, Vec<u8>)> = crafted
        .iter()
        .map(|x| (x.to_string(), x.as_bytes().to_vec()))
        .collect();

    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/junit");
    for entry in WalkDir::new(&testdata).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            reports.push((entry.path().display().to_string(), bytes));
        }
    }
    assert!(reports.len() > 30, "the reports under testdata/junit");
    let mut refused = 0;
    for (name, xml) in &reports {
        let held = events(xml, false);
        let streamed = events(xml, true);
        match (&held, &streamed) {
            (Ok(h), Ok(s)) => assert_eq!(h, s, "{name}"),
            (Err(_), Err(_)) => refused += 1,
            _ => panic!("{name}: held {held:?}, streamed {streamed:?}"),
        }
    }
    assert!(
        refused >= 9,
        "the crafted tags that are no XML are refused both ways"
    );
}

/// Found by the junit fuzz target: a second `name` (prefixed) is left out, its value never
/// decoded; a held tag is still refused for bytes that are not UTF-8 in it, and so must a
/// streamed one be.
#[test]
fn a_value_left_out_of_a_streamed_tag_must_still_be_utf8() {
    let bad = b"<testsuites name=\"a\" time=\"8\" clas:name=\"a<?x \xff?\xc6[\"/>";
    assert!(events(bad, false).is_err());
    let err = events(bad, true).unwrap_err();
    assert!(
        err.contains("attribute clas:name: not valid UTF-8"),
        "{err}"
    );
    // Longer than the lookahead, the value comes in pieces, the first cut inside an `é`
    // (21 bytes before the value, 65,536 in the lookahead).
    let long = format!(
        "<a name=\"b\"  x:name=\"{}\"/>",
        "\u{e9}\u{1F600}".repeat(20_000)
    );
    assert_eq!(events(long.as_bytes(), false).unwrap().len(), 1);
}

/// A value of `pieces` times `piece` (as written), and what a parser reads it as.
fn long_value(piece: &str, read_as: &str, pieces: usize) -> (String, String) {
    (piece.repeat(pieces), read_as.repeat(pieces))
}

/// The value of attribute `key` of the first element called `element` (local names), as an
/// XML parser that holds it whole reads it.
fn attribute_of(xml: &str, element: &str, key: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().expect("the merged report is XML") {
            XmlEvent::Start(tag) | XmlEvent::Empty(tag) if tag.local_name().as_ref() == element => {
                let attr = tag
                    .attributes()
                    .map(Result::unwrap)
                    .find(|a| a.key.local_name().as_ref() == key)?;
                return Some(
                    attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                );
            }
            XmlEvent::Eof => return None,
            _ => {}
        }
    }
}

#[test]
fn a_value_longer_than_any_buffer_is_read_cut_and_merged_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Far longer than the lookahead (64 KiB) and the copy's buffer (256 KiB).
    let pieces = 40_000;
    let (plain, plain_read) = long_value("x &amp; y ", "x & y ", pieces);
    let (dirty, dirty_read) = long_value("esc &#27;[0m&#10;", "esc \u{241b}[0m\n", pieces);
    let (quoted, quoted_read) = long_value("say \"hi\" \u{e9} ", "say \"hi\" \u{e9} ", pieces);
    let reports = [
        // As it stands: copied, never held.
        (
            format!(
                "<testsuite name=\"s\"><testcase classname=\"c\" name=\"plain\"><failure message=\"{plain}\">boom</failure></testcase></testsuite>"
            ),
            "failure",
            "message",
            plain_read,
        ),
        // A reference to a forbidden character: written again, streamed.
        (
            format!(
                "<testsuite name=\"s\"><testcase classname=\"c\" name=\"dirty\"><failure message=\"{dirty}\"/></testcase></testsuite>"
            ),
            "failure",
            "message",
            dirty_read,
        ),
        // A case in a namespace, its name in single quotes holding double ones, its time to
        // normalize, its provenance to add: written again, streamed.
        (
            format!(
                "<testsuite name='s'><j:testcase xmlns:j='urn:x' classname='c' time='1,5' j:name='{quoted}'/></testsuite>"
            ),
            "testcase",
            "name",
            quoted_read,
        ),
    ];
    for (report, element, key, whole) in reports {
        let mut reader = JunitReader::new(report.as_bytes());
        let cut = loop {
            match reader.next_event().unwrap() {
                Event::Start {
                    name, attrs, cut, ..
                } if name == element => {
                    let value = &attrs.iter().find(|a| a.name == key).unwrap().value;
                    break (value.clone(), cut);
                }
                Event::Eof => panic!("no <{element}>"),
                _ => {}
            }
        };
        assert!(cut.1, "<{element}> {key}= is given cut");
        assert!(
            cut.0.len() <= VALUE_CAP && cut.0.len() > VALUE_CAP / 2 && whole.starts_with(&cut.0),
            "<{element}> {key}= is its first bytes"
        );
        let out = support::merged::both_ways(dir.path(), report.as_bytes(), &Options::default());
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            attribute_of(&out, element, key).as_deref(),
            Some(whole.as_str()),
            "<{element}> {key}= comes out whole"
        );
        let cases = read_cases(out.as_bytes()).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].property("shard.node"), Some("node-1"));
        if element == "testcase" {
            assert_eq!(cases[0].status, Status::Passed);
            assert_eq!(
                attribute_of(&out, "testcase", "time").as_deref(),
                Some("15")
            );
            assert!(
                out.contains("name=\"say &quot;hi&quot; \u{e9} say"),
                "{:.300}",
                out
            );
        } else {
            assert_eq!(cases[0].status, Status::Failed);
        }
    }
}

#[test]
fn a_long_value_the_root_carries_into_each_suite_is_cut_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let long = "r".repeat(VALUE_CAP * 2);
    let report = format!(
        "<testsuites build=\"{long}\"><properties><property name=\"log\" value=\"{long}\"/></properties>\
         <testsuite name=\"s\"><testcase classname=\"c\" name=\"t\"/></testsuite></testsuites>"
    );
    let path = dir.path().join("node-1.xml");
    std::fs::write(&path, &report).unwrap();
    let input = shardkit::merge::Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let merge = shardkit::merge::scan(vec![input], &Options::default()).unwrap();
    let warnings: Vec<_> = merge
        .report()
        .warnings
        .iter()
        .map(|w| (w.line, w.column, w.message.clone()))
        .collect();
    let cut = format!("longer than {VALUE_CAP} bytes: each suite gets its first {VALUE_CAP}");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].2.starts_with("<testsuites> has a value") && warnings[0].2.ends_with(&cut));
    assert!(warnings[1].2.starts_with("<property> has a value") && warnings[1].2.ends_with(&cut));
    let mut out = Vec::new();
    merge.write(&mut out).unwrap();
    let cases = read_cases(&out[..]).unwrap();
    assert_eq!(cases.len(), 1);
    let log = attribute_of(std::str::from_utf8(&out).unwrap(), "property", "value");
    assert_eq!(log.map(|v| v.len()), Some(VALUE_CAP));
}

/// For each `<testsuite>` of `xml`, read with namespaces, the namespace its `owner` attribute
/// is in (`None`: the attribute or its namespace is missing).
fn owner_namespaces(xml: &str) -> Vec<Option<String>> {
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut found = Vec::new();
    loop {
        match reader
            .read_resolved_event()
            .expect("namespace-well-formed")
            .1
        {
            XmlEvent::Start(tag) | XmlEvent::Empty(tag)
                if tag.local_name().as_ref() == "testsuite" =>
            {
                let owner = tag.attributes().map(Result::unwrap).find_map(|a| {
                    match reader.resolver().resolve_attribute(a.key) {
                        (ResolveResult::Bound(ns), local) if local.as_ref() == "owner" => {
                            Some(ns.as_ref().to_string())
                        }
                        _ => None,
                    }
                });
                found.push(owner);
            }
            XmlEvent::Eof => return found,
            _ => {}
        }
    }
}

#[test]
fn suites_out_of_a_dissolved_root_declare_its_namespaces_held_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let long = "o".repeat(VALUE_CAP + 10);
    let report = format!(
        "<testsuites xmlns:r=\"urn:r\" name=\"run\">\
         <testsuite name=\"short\" r:owner=\"team\"><testcase name=\"a\"/></testsuite>\
         <testsuite name=\"long\" r:owner=\"{long}\"><testcase name=\"b\"/></testsuite>\
         <testsuite name=\"own\" xmlns:r=\"urn:own\" r:owner=\"x\"/></testsuites>"
    );
    let out = support::merged::both_ways(dir.path(), report.as_bytes(), &Options::default());
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        owner_namespaces(&out),
        [
            Some("urn:r".into()),
            Some("urn:r".into()),
            Some("urn:own".into())
        ]
    );
}
