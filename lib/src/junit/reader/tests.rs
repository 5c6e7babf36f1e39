//! The reader's behaviour, event by event: reports as pytest writes them, raw controls, long
//! text in bounded chunks, damage told from truncation, nesting without recursion.

use super::*;

/// Every event as a line; text events joined into one.
pub(super) fn events(input: &[u8]) -> Result<Vec<String>, ReadError> {
    let mut reader = JunitReader::new(input);
    let mut out: Vec<String> = Vec::new();
    loop {
        match reader.next_event()? {
            Event::Eof => return Ok(out),
            Event::Start {
                name,
                attrs,
                empty,
                kind,
                ..
            } => {
                let attrs: Vec<String> = attrs
                    .iter()
                    .map(|a| format!("{}={}", a.name, a.value))
                    .collect();
                let slash = if empty { "/" } else { "" };
                out.push(format!("<{name}{slash} {kind:?} {}>", attrs.join(" ")));
            }
            Event::End { name, .. } => out.push(format!("</{name}>")),
            Event::Text(t) => match out.last_mut() {
                Some(last) if last.starts_with('"') => last.push_str(t),
                _ => out.push(format!("\"{t}")),
            },
        }
    }
}

#[test]
fn a_pytest_report() {
    let xml = br#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" time="1,234.5"><testcase classname="t.test_a" name="test_x[a b]" time="0.1"><failure message="assert 1 == 2">E   &lt;x&gt; &#27;[31m</failure><system-out><![CDATA[out & <more>]]></system-out></testcase><testcase classname="t" name="ok"/></testsuite></testsuites>"#;
    assert_eq!(
        events(xml).unwrap(),
        [
            "<testsuites Suites >",
            "<testsuite Suite name=pytest errors=0 time=1,234.5>",
            "<testcase Case classname=t.test_a name=test_x[a b] time=0.1>",
            "<failure Failure message=assert 1 == 2>",
            "\"E   &lt;x&gt; ␛[31m",
            "</failure>",
            "<system-out SystemOut >",
            "\"out &amp; &lt;more&gt;",
            "</system-out>",
            "</testcase>",
            "<testcase/ Case classname=t name=ok>",
            "</testsuite>",
            "</testsuites>",
        ]
    );
}

#[test]
fn raw_controls_and_a_bom_are_handled() {
    let xml = b"\xef\xbb\xbf<testsuite name=\"s\x01\"><system-out>a\x1b[0m\x00b</system-out></testsuite>\n";
    assert_eq!(
        events(xml).unwrap(),
        [
            "<testsuite Suite name=s␁>",
            "<system-out SystemOut >",
            "\"a␛[0m␀b",
            "</system-out>",
            "</testsuite>"
        ]
    );
}

#[test]
fn long_text_streams_in_bounded_chunks() {
    let body = "x&amp;y]]&gt;é\n".repeat(400_000); // about 6 MB
    let cdata = "<&>]]".repeat(300_000);
    let xml = format!(
        "<testsuite><system-out>{body}</system-out><system-err><![CDATA[{cdata}]]></system-err></testsuite>"
    );
    let mut reader = JunitReader::new(xml.as_bytes());
    let mut texts = Vec::new();
    let mut current = String::new();
    let mut largest = 0;
    loop {
        match reader.next_event().unwrap() {
            Event::Eof => break,
            Event::Text(t) => {
                largest = largest.max(t.len());
                current.push_str(t);
            }
            Event::End { .. } => texts.push(std::mem::take(&mut current)),
            Event::Start { .. } => {}
        }
    }
    // Escaping CDATA may make a chunk up to five times longer (`&` is `&amp;`).
    assert!(largest <= 5 * CHUNK, "a text event of {largest} bytes");
    assert_eq!(texts[0], body);
    assert_eq!(texts[1], "&lt;&amp;&gt;]]".repeat(300_000));
}

#[test]
fn bad_input_is_an_error_with_a_position() {
    let err = |xml: &[u8]| events(xml).unwrap_err();
    assert!(err(b"").message.contains("no root element"));
    assert!(err(b"   \n").message.contains("no root element"));
    assert!(
        err(b"hello")
            .message
            .contains("text outside the root element")
    );
    let cut = err(b"<testsuite><testcase name=\"a\">");
    assert!(
        cut.truncated && cut.message.contains("ends inside <testcase>"),
        "{}",
        cut.message
    );
    let cut = err(b"<testsuite><system-out><![CDATA[abc");
    assert!(cut.truncated, "{}", cut.message);
    let cut = err(b"<testsuite><testcase name=\"a");
    assert!(cut.truncated, "{}", cut.message);
    let utf8 = err(b"<testsuite>ab\xffc</testsuite>");
    assert_eq!(utf8.offset, 13);
    assert!(utf8.message.contains("UTF-8"));
    assert!(err(b"<a></b>").message.contains("not well-formed"));
    assert!(err(b"<\n/>").message.contains("is not an element name"));
    let e = err(b"<a 1x=\"2\"/>");
    assert!(
        e.message.contains("has an attribute named `1x`"),
        "{}",
        e.message
    );
    assert!(err(b"<a/><b/>").message.contains("a second root element"));
    let laughs = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><testsuite name=\"&lol2;\">&lol2;</testsuite>";
    let e = err(laughs);
    assert!(
        e.message.contains("lol2") && e.message.contains("never expanded"),
        "{}",
        e.message
    );
    let text_laughs = b"<!DOCTYPE l [<!ENTITY l \"x\">]><testsuite>&l;</testsuite>";
    assert!(err(text_laughs).message.contains("never expanded"));
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 200_000;
    let xml = format!(
        "{}{}",
        "<testsuite>".repeat(depth),
        "</testsuite>".repeat(depth)
    );
    let e = events(xml.as_bytes()).unwrap_err();
    assert!(
        e.message.contains(&format!("more than {MAX_DEPTH} deep")),
        "{}",
        e.message
    );
    // Many comments in a row do not recurse either.
    let xml = format!("<testsuite>{}</testsuite>", "<!-- c -->".repeat(200_000));
    assert_eq!(events(xml.as_bytes()).unwrap().len(), 2);
}

#[test]
fn text_runs_on_across_comments_and_instructions() {
    let xml = b"<?xml version=\"1.0\"?><!-- top --><s>]]<!-- c -->>x ]]<?pi x?>>y</s>";
    assert_eq!(
        events(xml).unwrap(),
        ["<s Other >", "\"]]&gt;x ]]&gt;y", "</s>"]
    );
    // A long comment is skipped in chunks.
    let xml = format!("<s>a<!--{}-->b</s>", "-x".repeat(200_000));
    assert_eq!(
        events(xml.as_bytes()).unwrap(),
        ["<s Other >", "\"ab", "</s>"]
    );
}

#[test]
fn truncation_is_told_from_damage() {
    let cut = |xml: &[u8]| events(xml).unwrap_err().truncated;
    assert!(cut(b"<testsuite><system-out>abc &am"));
    assert!(cut(b"<testsuite><system-out>abc \xc3"));
    assert!(cut(b"<testsuite><!-- unfinished"));
    assert!(cut(b"<testsuite><testcase name=\"a"));
    assert!(!cut(
        b"<testsuite name=\"a\"><!foo><testcase name=\"a\"/></testsuite>"
    ));
    assert!(!cut(b"<testsuite>a & b</testsuite>"));
}
