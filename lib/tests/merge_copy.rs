//! The merge copies each report's bytes as they stand except where it must change them: these
//! are the places where copying as it stands would lose something or write invalid XML.

use shardkit::junit::cases::{Case, read_cases};
use shardkit::junit::reader::{Event, JunitReader};
use shardkit::merge::{self, Input, Options};

mod support {
    pub mod merged;
}

/// Merges `xml` (as node-1) and returns the merged report, checked to read back whole: to a
/// writer and into a file, as it is and with an unchanged run long enough to be copied from
/// file to file, and the same bytes every way.
fn merged(xml: &str) -> String {
    merged_with(xml, &Options::default())
}

fn merged_with(xml: &str, options: &Options<'_>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = both_ways(dir.path(), xml, options);
    // The same with an unchanged run long enough to go from file to file directly.
    if let Some(at) = xml.rfind("</testsuite>") {
        let long = "an unchanged line of test output\n".repeat(48_000);
        assert!(
            long.len() > 3 << 19,
            "more than the 1 MiB of a file-to-file copy"
        );
        let case = format!("<testcase name=\"long\"><system-out>{long}</system-out></testcase>");
        let with_long = format!("{}{case}{}", &xml[..at], &xml[at..]);
        let merged = both_ways(dir.path(), &with_long, options);
        assert_eq!(merged.matches(long.as_str()).count(), 1);
    }
    out
}

/// Merges `xml` (as node-1) both to a writer and into a file (the path that copies long runs
/// from file to file), and returns what they both wrote.
/// Every merged report reads back with no error, and holds nothing XML 1.0 forbids.
fn both_ways(dir: &std::path::Path, xml: &str, options: &Options<'_>) -> String {
    let out = String::from_utf8(support::merged::both_ways(dir, xml.as_bytes(), options)).unwrap();
    let mut reader = JunitReader::new(out.as_bytes());
    loop {
        match reader.next_event() {
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "merged report unreadable at {}: {}\n{out}",
                e.offset, e.message
            ),
        }
    }
    assert!(
        !out.chars()
            .any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}'),
        "forbidden character in {out:?}"
    );
    out
}

fn cases(xml: &str) -> Vec<Case> {
    read_cases(xml.as_bytes()).unwrap()
}

#[test]
fn a_comment_that_splits_a_cdata_end_leaves_no_cdata_end() {
    let out = merged(
        "<testsuite name=\"s\"><testcase name=\"a\"><system-out>x]]<!-- between -->>y</system-out></testcase></testsuite>",
    );
    assert!(out.contains("<system-out>x]]&gt;y</system-out>"), "{out}");
    assert!(!out.contains("between"), "{out}");
}

#[test]
fn comments_and_instructions_are_left_out() {
    let out = merged(
        "<?xml version=\"1.0\"?><!-- top --><testsuites><!-- a --><testsuite name=\"s\"><?pi data?><testcase name=\"a\"/><!-- b\u{1b} --></testsuite></testsuites><!-- end -->",
    );
    assert!(!out.contains("<!--") && !out.contains("<?pi"), "{out}");
    assert_eq!(cases(&out).len(), 1);
}

#[test]
fn cdata_becomes_escaped_sanitized_text() {
    let out = merged(
        "<testsuite name=\"s\"><testcase name=\"a\"><system-out><![CDATA[1 < 2 & \u{1b}[31m]]></system-out></testcase></testsuite>",
    );
    assert!(
        out.contains("<system-out>1 &lt; 2 &amp; \u{241b}[31m</system-out>"),
        "{out}"
    );
}

#[test]
fn text_with_forbidden_characters_is_sanitized_and_clean_text_kept_as_it_is() {
    let out = merged(
        "<testsuite name=\"s\"><testcase name=\"a\"><failure message=\"m\">bad &#27;[0m \u{0}</failure><system-err>fine &amp; &#65; &#x20AC;</system-err></testcase></testsuite>",
    );
    assert!(out.contains(">bad \u{241b}[0m \u{2400}</failure>"), "{out}");
    assert!(
        out.contains("<system-err>fine &amp; &#65; &#x20AC;</system-err>"),
        "{out}"
    );
}

#[test]
fn attributes_with_forbidden_characters_are_written_again() {
    let out = merged(
        "<testsuite name=\"s\"><testcase name='a&#27;b' classname=\"c\u{1}\"><failure message=\"x&#0;y\"/></testcase></testsuite>",
    );
    let case = &cases(&out)[0];
    assert_eq!(case.name, "a\u{241b}b");
    assert_eq!(case.classname.as_deref(), Some("c\u{2401}"));
    assert!(out.contains("message=\"x\u{2400}y\""), "{out}");
}

#[test]
fn odd_suites_are_fixed_and_the_rest_of_the_tag_kept() {
    let out = merged(
        "<testsuites><testsuite tests=\"many\" time=\"1,234.5\" x='1'><testcase name=\"a\" time=\"-2\"/></testsuite></testsuites>",
    );
    assert!(
        out.contains("<testsuite name=\"unnamed\" tests=\"1\" time=\"1234.5\" x=\"1\">"),
        "{out}"
    );
    assert!(out.contains("<testcase name=\"a\" time=\"0\">"), "{out}");
}

#[test]
fn root_properties_anywhere_go_into_the_first_suite_once() {
    let out = merged(
        "<testsuites name=\"all\"><testsuite name=\"one\"><testcase name=\"a\"/></testsuite><properties><property name=\"ci\" value=\"1\"/></properties><testsuite name=\"two\"/></testsuites>",
    );
    assert_eq!(out.matches("name=\"ci\"").count(), 1, "{out}");
    let one = out.find("name=\"one\"").unwrap();
    let ci = out.find("name=\"ci\"").unwrap();
    let two = out.find("name=\"two\"").unwrap();
    assert!(one < ci && ci < two, "{out}");
    assert!(
        out.contains("name=\"testsuites.name\" value=\"all\""),
        "{out}"
    );
    // The empty second suite is opened for its provenance and closed.
    assert!(
        out.contains("<testsuite name=\"two\"><properties><property name=\"shard.node\" value=\"node-1\"/><property name=\"shard.source\" value=\"node-1.xml\"/></properties></testsuite>"),
        "{out}"
    );
}

#[test]
fn cases_outside_any_suite_get_a_suite() {
    let out = merged(
        "<testsuites name=\"loose\"><testcase name=\"a\"/><testcase name=\"b\"/><testsuite name=\"s\"><testcase name=\"c\"/></testsuite></testsuites>",
    );
    let all = cases(&out);
    assert_eq!(all.len(), 3);
    assert_eq!(&*all[0].suite, "loose");
    assert_eq!(&*all[1].suite, "loose");
    assert_eq!(&*all[2].suite, "s");
}

#[test]
fn provenance_goes_into_an_existing_block_even_an_empty_one() {
    let out = merged(
        "<testsuite name=\"s\"><properties/><testcase name=\"a\"><properties><property name=\"k\" value=\"v\"/></properties></testcase><testcase name=\"b\"><properties /></testcase><testcase name=\"c\"><properties><property name=\"shard.node\" value=\"7\"/></properties></testcase></testsuite>",
    );
    assert_eq!(out.matches("<properties").count(), 4, "{out}");
    let all = cases(&out);
    assert_eq!(all[0].property("k"), Some("v"));
    assert_eq!(all[0].property("shard.node"), Some("node-1"));
    assert_eq!(all[1].property("shard.node"), Some("node-1"));
    assert_eq!(all[2].property("shard.node"), Some("7"));
    assert_eq!(out.matches("name=\"shard.node\"").count(), 4, "{out}");
}

#[test]
fn an_empty_root_suite_and_an_empty_root() {
    let out = merged("<testsuite name=\"s\" tests=\"0\"/>");
    assert!(
        out.contains("<testsuite name=\"s\" tests=\"0\"><properties>"),
        "{out}"
    );
    let out = merged("<testsuites name=\"none\"/>");
    assert!(out.contains("<testsuite name=\"none\""), "{out}");
}

#[test]
fn salvage_closes_what_was_open_and_keeps_provenance() {
    let options = Options {
        salvage: true,
        ..Options::default()
    };
    // Broken inside a suite's own properties: the suite still gets its provenance.
    let out = merged_with(
        "<testsuites><testsuite name=\"s\"><properties><property name=\"k\" value=\"v\"/><property name=\"x\" value=\"&bad;\"/>",
        &options,
    );
    assert!(
        out.contains("<property name=\"k\" value=\"v\"/><property name=\"shard.node\" value=\"node-1\"/><property name=\"shard.source\" value=\"node-1.xml\"/></properties></testsuite>"),
        "{out}"
    );
    // Broken inside a case: the case is left out, the one before kept.
    let out = merged_with(
        "<testsuite name=\"s\"><testcase name=\"a\"/><testcase name=\"b\"><system-out>half",
        &options,
    );
    let names: Vec<String> = cases(&out).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "node-1.xml"]);
    // Broken inside the root's properties: what was read of them goes into the first suite,
    // and the broken block is not copied.
    let out = merged_with(
        "<testsuites><testsuite name=\"s\"/><properties><property name=\"k\" value=\"v\"/>",
        &options,
    );
    assert_eq!(out.matches("name=\"k\"").count(), 1, "{out}");
    assert!(
        out.contains("<testsuite name=\"s\"><properties><property name=\"k\" value=\"v\"/><property name=\"shard.node\""),
        "{out}"
    );
}

#[test]
fn a_report_that_changes_between_the_passes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node-1.xml");
    std::fs::write(
        &path,
        "<testsuite name=\"s\"><testcase name=\"a\"/></testsuite>",
    )
    .unwrap();
    let input = Input {
        path: path.clone(),
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let merge = merge::scan(vec![input], &Options::default()).unwrap();
    std::fs::write(
        &path,
        "<testsuite name=\"s\"><testcase name=\"a\"/><testcase name=\"b\"/></testsuite>",
    )
    .unwrap();
    let error = merge.write(Vec::new()).unwrap_err();
    assert!(error.to_string().contains("changed"), "{error}");
}

#[test]
fn a_report_rewritten_with_its_size_and_time_kept_is_still_an_error_where_text_was_sanitized() {
    // The text "ab\u{1}cd" must be written sanitized; between the passes it becomes a tag, or an
    // entity no reader knows, with the file's length and modification time as they were.
    for (now, why) in [
        ("<b/>d", "a tag where only text was expected"),
        ("&zz;d", "is not defined"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.xml");
        let xml = |text: &str| {
            format!(
                "<testsuite name=\"s\"><testcase name=\"a\"><system-out>{text}</system-out></testcase></testsuite>"
            )
        };
        std::fs::write(&path, xml("ab\u{1}cd")).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let input = Input {
            path: path.clone(),
            source: "node-1.xml".into(),
            label: "node-1".into(),
        };
        let merge = merge::scan(vec![input], &Options::default()).unwrap();
        std::fs::write(&path, xml(now)).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(modified).unwrap();
        drop(file);
        let error = merge.write(Vec::new()).unwrap_err().to_string();
        assert!(
            error.contains("node-1.xml") && error.contains("changed while it was being merged"),
            "{error}"
        );
        assert!(error.contains(why), "{error}");
    }
}

#[test]
fn salvage_closes_the_suite_made_for_cases_outside_any_suite() {
    let options = Options {
        salvage: true,
        ..Options::default()
    };
    // Broken among cases the root holds outside any suite: the suite made for them is closed,
    // then the one that stands for what was lost follows.
    let out = merged_with(
        "<testsuites name=\"run\"><testcase name=\"a\"/><testcase name=\"b\"><system-out>half",
        &options,
    );
    let names: Vec<String> = cases(&out).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "node-1.xml"]);
    assert_eq!(out.matches("<testsuite ").count(), 2, "{out}");
    assert!(
        out.contains("<testsuite name=\"run\"><properties>"),
        "{out}"
    );
}

/// A writer that takes nothing.
struct Refusing;

impl std::io::Write for Refusing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("the disk is full"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_output_that_cannot_be_written_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node-1.xml");
    let long = "output\n".repeat(300_000);
    std::fs::write(
        &path,
        format!("<testsuite name=\"s\"><testcase name=\"a\"><system-out>{long}</system-out></testcase></testsuite>"),
    )
    .unwrap();
    let input = Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let merge = merge::scan(vec![input], &Options::default()).unwrap();
    let error = merge.write(Refusing).unwrap_err();
    assert_eq!(error.to_string(), "cannot write the merged report");
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("the disk is full"));
    // Into a file that cannot be written (opened to read only), past the first buffer and
    // through the file-to-file copy.
    let out = dir.path().join("merged.xml");
    std::fs::write(&out, "").unwrap();
    let read_only = std::fs::File::open(&out).unwrap();
    let error = merge.write_file(&read_only).unwrap_err();
    assert_eq!(error.to_string(), "cannot write the merged report");
}

#[test]
fn namespaced_elements_and_attributes_are_written_with_their_local_names() {
    let out = merged(
        "<j:testsuites xmlns:j=\"urn:j\"><testsuite xmlns=\"urn:d\" name=\"d\"><testcase name=\"a\"/></testsuite>\
         <j:testsuite j:name=\"p\" xmlns:x=\"urn:x\" x:extra=\"kept\"><j:properties><j:property j:name=\"k\" j:value=\"v\"/></j:properties>\
         <j:testcase j:classname=\"c\" j:name=\"b\"><j:failure j:message=\"m\">text</j:failure></j:testcase>\
         <j:testcase name=\"first\" j:name=\"second\"/></j:testsuite></j:testsuites>",
    );
    assert!(
        !out.contains("j:") || out.contains("testsuites.xmlns:j"),
        "{out}"
    );
    assert!(!out.contains("urn:d"), "{out}");
    assert!(
        // The root's declaration goes with each suite it held.
        out.contains("<testsuite name=\"p\" xmlns:x=\"urn:x\" x:extra=\"kept\" xmlns:j=\"urn:j\"><properties><property name=\"k\" value=\"v\"/><property name=\"shard.node\""),
        "{out}"
    );
    assert!(
        out.contains("<testcase classname=\"c\" name=\"b\"><properties><property name=\"shard.node\" value=\"node-1\"/></properties><failure message=\"m\">text</failure></testcase>"),
        "{out}"
    );
    let names: Vec<String> = cases(&out).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "b", "first"]);
}

/// Found by the merge fuzz target: a case inside the root's `<properties>` (cut with them) was
/// counted in the totals, and salvage said it was kept, yet it was not written.
#[test]
fn a_case_inside_the_roots_properties_is_neither_written_nor_counted() {
    let xml = "<testsuites><properties><testcase name=\"lost\"/><property name=\"k\" value=\"v\"/></properties><testsuite name=\"s\"><testcase name=\"a\"/></testsuite></testsuites>";
    let dir = tempfile::tempdir().unwrap();
    let out = both_ways(dir.path(), xml, &Options::default());
    let names: Vec<String> = cases(&out).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a"]);
    assert!(out.contains("<testsuites tests=\"1\""), "{out}");
    // Broken while the root's properties are open: what they held is not said to be kept.
    let options = Options {
        salvage: true,
        ..Options::default()
    };
    let broken = "<testsuites><testsuite name=\"s\"><testcase name=\"a\"/></testsuite><properties><testcase name=\"lost\"/><testcase name=\"b\" x";
    let out = both_ways(dir.path(), broken, &options);
    let names: Vec<String> = cases(&out).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "node-1.xml"]);
    assert!(out.contains("<testsuites tests=\"2\""), "{out}");
    assert!(out.contains("1 complete test cases kept"), "{out}");
}
