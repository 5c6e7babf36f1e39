//! Any bytes as a JUnit report: the reader never panics, hands out valid XML 1.0 text, and
//! ends with an event or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardkit::junit::reader::{Event, JunitReader};
use shardkit::junit::sanitize::is_xml_char;

fuzz_target!(|data: &[u8]| {
    let mut reader = JunitReader::new(data);
    while let Ok(event) = reader.next_event() {
        match event {
            Event::Eof => break,
            Event::Text(text) => assert!(text.chars().all(|c| is_xml_char(u32::from(c)))),
            Event::Start { attrs, .. } => {
                for a in attrs {
                    assert!(a.value.chars().all(|c| is_xml_char(u32::from(c))));
                }
            }
            Event::End { .. } => {}
        }
    }
});
