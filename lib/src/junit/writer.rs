//! Writing JUnit XML that every consumer reads: escaped correctly, XML 1.0 characters only.

use std::io::{self, Write};

use super::reader::Attr;
use super::sanitize::{is_xml_char, stand_in};

/// Writes elements, attributes and text to `out`, streaming.
#[derive(Debug)]
pub struct JunitWriter<W: Write> {
    out: W,
    open: Vec<String>,
    /// Reused for escaping.
    scratch: String,
}

impl<W: Write> JunitWriter<W> {
    /// Starts a document: the XML declaration.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        Ok(JunitWriter {
            out,
            open: Vec::new(),
            scratch: String::new(),
        })
    }

    /// Opens element `name`; `empty` writes `<name .../>` and leaves nothing open.
    pub fn start(&mut self, name: &str, attrs: &[Attr], empty: bool) -> io::Result<()> {
        self.scratch.clear();
        start_tag(name, attrs, empty, &mut self.scratch);
        self.out.write_all(self.scratch.as_bytes())?;
        if !empty {
            self.open.push(name.to_string());
        }
        Ok(())
    }

    /// Writes one ` name="value"`, escaping the value.
    pub fn attribute(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.out.write_all(b" ")?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(b"=\"")?;
        self.scratch.clear();
        escape_attribute(value, &mut self.scratch);
        self.out.write_all(self.scratch.as_bytes())?;
        self.out.write_all(b"\"")
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> io::Result<()> {
        let name = self
            .open
            .pop()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no element is open"))?;
        self.out.write_all(b"</")?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(b">")
    }

    /// Writes character data that is already escaped and valid XML 1.0 (the reader's text).
    pub fn escaped_text(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    /// Writes bytes that are valid XML in this place as they stand: markup and text copied
    /// from a report that was read and checked.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Writes plain text, escaping it and replacing characters XML 1.0 forbids.
    pub fn text(&mut self, text: &str) -> io::Result<()> {
        let mut escaped = String::with_capacity(text.len());
        escape_text(text, &mut escaped);
        self.out.write_all(escaped.as_bytes())
    }

    /// A `<property name=".." value=".."/>`.
    pub fn property(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.out.write_all(b"<property")?;
        self.attribute("name", name)?;
        self.attribute("value", value)?;
        self.out.write_all(b"/>")
    }

    /// The output, to write to it directly (flush nothing is pending in the writer itself).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// How many elements are open.
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// Closes every open element and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        while !self.open.is_empty() {
            self.end()?;
        }
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends the start tag `<name a="v" ...>` (or `<name .../>` when `empty`), values escaped.
pub fn start_tag(name: &str, attrs: &[Attr], empty: bool, out: &mut String) {
    out.push('<');
    out.push_str(name);
    for attr in attrs {
        out.push(' ');
        out.push_str(&attr.name);
        out.push_str("=\"");
        escape_attribute(&attr.value, out);
        out.push('"');
    }
    out.push_str(if empty { "/>" } else { ">" });
}

/// Appends `value` escaped for a double-quoted attribute: `& < > "` as entities, tab, line feed
/// and carriage return as character references (a parser would turn them into spaces
/// otherwise), forbidden characters as their stand-ins.
pub fn escape_attribute(value: &str, out: &mut String) {
    let plain = value
        .bytes()
        .position(|b| !(0x20..0x80).contains(&b) || matches!(b, b'&' | b'<' | b'>' | b'"'))
        .unwrap_or(value.len());
    out.push_str(&value[..plain]);
    for c in value[plain..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(u32::from(c)) => out.push(stand_in(u32::from(c))),
            c => out.push(c),
        }
    }
}

/// Appends `text` escaped as character data: `& < >` as entities (so `]]>` cannot appear),
/// forbidden characters as their stand-ins.
pub fn escape_text(text: &str, out: &mut String) {
    let plain = text
        .bytes()
        .position(|b| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
                || b >= 0x80
                || matches!(b, b'&' | b'<' | b'>')
        })
        .unwrap_or(text.len());
    out.push_str(&text[..plain]);
    for c in text[plain..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if !is_xml_char(u32::from(c)) => out.push(stand_in(u32::from(c))),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::{Event, JunitReader};
    use super::*;
    use proptest::prelude::*;

    /// Reads `input` and writes every event back out.
    fn copy(input: &[u8]) -> Vec<u8> {
        let mut reader = JunitReader::new(input);
        let mut writer = JunitWriter::new(Vec::new()).unwrap();
        loop {
            match reader.next_event().unwrap() {
                Event::Eof => break,
                Event::Start {
                    name, attrs, empty, ..
                } => writer.start(name, attrs, empty).unwrap(),
                Event::End { .. } => writer.end().unwrap(),
                Event::Text(t) => writer.escaped_text(t).unwrap(),
            }
        }
        writer.finish().unwrap()
    }

    /// The events of `input`, texts joined, for comparing documents.
    fn events(input: &[u8]) -> Vec<String> {
        let mut reader = JunitReader::new(input);
        let mut out = Vec::new();
        let mut text = String::new();
        loop {
            let event = reader.next_event().unwrap();
            if let Event::Text(t) = &event {
                text.push_str(t);
                continue;
            }
            if !text.is_empty() {
                out.push(std::mem::take(&mut text));
            }
            match event {
                Event::Eof => return out,
                Event::Start {
                    kind,
                    name,
                    attrs,
                    empty,
                    ..
                } => out.push(format!("{kind:?} {name} {attrs:?} {empty}")),
                Event::End { name, .. } => out.push(format!("/{name}")),
                Event::Text(_) => {}
            }
        }
    }

    #[test]
    fn attributes_and_text_are_escaped() {
        let mut w = JunitWriter::new(Vec::new()).unwrap();
        let attrs = [Attr {
            name: "message".into(),
            value: "a<b & \"c\" >\n\td\u{1b}".into(),
        }];
        w.start("failure", &attrs, false).unwrap();
        w.text("x ]]> y & \u{0}").unwrap();
        w.end().unwrap();
        w.start("properties", &[], false).unwrap();
        w.property("shard.node", "2").unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<failure message=\"a&lt;b &amp; &quot;c&quot; &gt;&#10;&#9;d␛\">x ]]&gt; y &amp; ␀</failure><properties><property name=\"shard.node\" value=\"2\"/></properties>\n"
        );
    }

    #[test]
    fn reading_then_writing_keeps_every_event() {
        let xml = br#"<?xml version="1.0"?>
<testsuites name="nextest-run">
  <testsuite name="pytest" time="1,234.5" errors="0">
    <properties><property name="k" value="a&#10;b &amp; &lt;c&gt;"/></properties>
    <testcase classname="t.test_a" name="test_x[a b]" time="0.1">
      <failure message="m">E &lt;x&gt; &#27;[31m</failure>
      <flakyFailure message="first"><system-out>o</system-out></flakyFailure>
      <system-out><![CDATA[out & <more> ]] >]]></system-out>
    </testcase>
    <testcase classname="t" name="ok"/>
    <testsuite name="nested"><testcase name="deep"/></testsuite>
  </testsuite>
</testsuites>
"#;
        let copied = copy(xml);
        assert_eq!(events(&copied), events(xml));
        // And the copy of the copy is the same bytes.
        assert_eq!(copy(&copied), copied);
    }

    proptest! {
        #[test]
        fn any_attribute_and_text_survive_a_round_trip(
            value in "\\PC{0,30}|[\\x00-\\x1f<>&\"' ]{0,10}",
            text in "\\PC{0,30}|[\\x00-\\x1f<>&\\]]{0,10}",
        ) {
            let mut w = JunitWriter::new(Vec::new()).unwrap();
            w.start("testcase", &[Attr { name: "name".into(), value: value.clone() }], false).unwrap();
            w.text(&text).unwrap();
            let out = w.finish().unwrap();
            let mut reader = JunitReader::new(&out[..]);
            let expected_value: String = value
                .chars()
                .map(|c| if is_xml_char(u32::from(c)) { c } else { stand_in(u32::from(c)) })
                .collect();
            match reader.next_event().unwrap() {
                Event::Start { attrs, .. } => prop_assert_eq!(&attrs[0].value, &expected_value),
                other => prop_assert!(false, "{:?}", other),
            }
            let mut expected_text = String::new();
            escape_text(&text, &mut expected_text);
            let mut got = String::new();
            while let Event::Text(t) = reader.next_event().unwrap() {
                got.push_str(t);
            }
            prop_assert_eq!(got, expected_text);
        }
    }
}
