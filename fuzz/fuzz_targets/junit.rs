//! Any bytes as a JUnit report: the reader never panics and hands out valid XML 1.0 text, and
//! what it reads, written back out, reads back as the same events (kinds, names, attributes,
//! text; not where they stood in the input, nor whether a tag could be copied as it was). And
//! a report read with every start tag streamed (as a tag too long to hold is) reads as one
//! whose tags are held: the same events, or refused both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardkit::junit::reader::{Event, JunitReader};
use shardkit::junit::sanitize::is_xml_char;
use shardkit::junit::writer::JunitWriter;

/// The events of a document (texts joined), or `None` if it cannot be read.
fn events(data: &[u8], mut copy: Option<&mut JunitWriter<Vec<u8>>>) -> Option<Vec<String>> {
    let mut reader = JunitReader::new(data);
    let mut out = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader.next_event().ok()?;
        if let Event::Text(t) = &event {
            assert!(t.chars().all(|c| is_xml_char(u32::from(c))));
            text.push_str(t);
            if let Some(w) = copy.as_deref_mut() {
                w.escaped_text(t).unwrap();
            }
            continue;
        }
        if !text.is_empty() {
            out.push(std::mem::take(&mut text));
        }
        let seen = match &event {
            Event::Start {
                kind,
                name,
                attrs,
                empty,
                ..
            } => format!("start {kind:?} {name} {attrs:?} {empty}"),
            Event::End { kind, name, .. } => format!("end {kind:?} {name}"),
            Event::Text(_) | Event::Eof => String::new(),
        };
        match &event {
            Event::Eof => return Some(out),
            Event::Start {
                name, attrs, empty, ..
            } => {
                for a in attrs.iter() {
                    assert!(a.value.chars().all(|c| is_xml_char(u32::from(c))));
                }
                if let Some(w) = copy.as_deref_mut() {
                    w.start(name, attrs, *empty).unwrap();
                }
            }
            Event::End { .. } => {
                if let Some(w) = copy.as_deref_mut() {
                    w.end().unwrap();
                }
            }
            Event::Text(_) => {}
        }
        out.push(seen);
    }
}

/// Every event of a document as text (spans and flags too), or `None` if it is refused.
fn streamed_or_held(data: &[u8], streamed: bool) -> Option<Vec<String>> {
    let mut reader = JunitReader::new(data);
    if streamed {
        reader = reader.streaming_tags_over(0);
    }
    let mut out = Vec::new();
    loop {
        match reader.next_event().ok()? {
            Event::Eof => return Some(out),
            event => out.push(format!("{event:?}")),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(streamed_or_held(data, false), streamed_or_held(data, true));
    let mut writer = JunitWriter::new(Vec::new()).unwrap();
    let Some(original) = events(data, Some(&mut writer)) else {
        return;
    };
    let copy = writer.finish().unwrap();
    let again = events(&copy, None).expect("a written document reads back");
    assert_eq!(original, again);
});
