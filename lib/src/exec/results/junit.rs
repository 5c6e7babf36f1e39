//! A batch's results from the JUnit report the command wrote to `{junit}`.
//!
//! Each id takes the case that names it (its `shard.id` property, else pytest's rule, else
//! `classname::name`: the matching of [`crate::junit::matching`]). The case is kept as the
//! command wrote it, sanitized: its attributes, children and time, so that shard-exec's report
//! loses nothing the runner said; shard-exec only adds its properties (into the case's own
//! `<properties>` block when it has one).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::junit::cases::{Case, CaseTracker, Status};
use crate::junit::matching::{ID_PROPERTY, Matcher};
use crate::junit::reader::{Attr, Event, JunitReader, Kind};
use crate::junit::writer::start_tag;

use super::{BatchResults, ChildCase, Outcome};

/// Reads the report at `path` for a batch of `ids`. Errors (a missing, truncated or
/// unreadable report) come back as a sentence; the caller decides what they mean. Cases read
/// before a truncation are still returned with the error.
pub(crate) fn read(path: &Path, ids: &[&str]) -> (BatchResults, Option<String>) {
    let mut results = BatchResults::new(ids.len());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (results, Some("it wrote no report to {junit}".to_string()));
        }
        Err(e) => return (results, Some(format!("cannot read its report: {e}"))),
    };
    let matcher = Matcher::new(ids.iter().copied());
    let mut reader = JunitReader::new(file);
    let mut tracker = CaseTracker::new();
    let mut fragment = Fragment::default();
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let event = match reader.next_event() {
            Ok(event) => event,
            Err(e) => {
                return (
                    results,
                    Some(format!(
                        "its report is unreadable at byte {}: {}",
                        e.offset, e.message
                    )),
                );
            }
        };
        let done = match event {
            Event::Eof => return (results, None),
            Event::Text(text) => {
                if tracker.in_case() {
                    fragment.buf.push_str(text);
                }
                None
            }
            Event::Start {
                kind,
                name,
                attrs,
                empty,
                ..
            } => {
                let was_in_case = tracker.in_case();
                let done = tracker.start(kind, attrs, empty, depth, offset);
                if kind == Kind::Case && !was_in_case {
                    fragment = Fragment::open(name, attrs, depth);
                } else if was_in_case {
                    fragment.child(kind, name, attrs, empty, depth);
                }
                done
            }
            Event::End { kind, name, .. } => {
                let done = tracker.end(kind, depth - 1);
                if done.is_none() && tracker.in_case() {
                    fragment.close(name);
                }
                done
            }
        };
        let Some(case) = done else { continue };
        let child = std::mem::take(&mut fragment).into_child(&case);
        let named = matcher.find(
            case.property(ID_PROPERTY),
            case.classname.as_deref(),
            &case.name,
        );
        results.keep(named, Arc::new(child));
    }
}

/// The case being copied.
#[derive(Debug, Default)]
struct Fragment {
    buf: String,
    /// Where shard-exec's properties go.
    insert_at: usize,
    has_properties: bool,
    /// The reader's depth before the `<testcase>`.
    depth: usize,
    message: Option<String>,
}

impl Fragment {
    /// A case whose `<testcase>` start tag was just read at `depth`.
    fn open(name: &str, attrs: &[Attr], depth: usize) -> Self {
        let mut fragment = Fragment {
            depth,
            ..Fragment::default()
        };
        start_tag(name, attrs, false, &mut fragment.buf);
        fragment.insert_at = fragment.buf.len();
        fragment
    }

    fn child(&mut self, kind: Kind, name: &str, attrs: &[Attr], empty: bool, depth: usize) {
        let direct = depth == self.depth + 1;
        if direct && kind == Kind::Properties && !self.has_properties {
            // The case's own block takes shard-exec's properties; an empty one is opened up.
            start_tag(name, attrs, false, &mut self.buf);
            self.insert_at = self.buf.len();
            self.has_properties = true;
            if empty {
                self.buf.push_str("</properties>");
            }
            return;
        }
        if direct
            && self.message.is_none()
            && matches!(kind, Kind::Failure | Kind::Error | Kind::Skipped)
        {
            self.message = attrs
                .iter()
                .find(|a| a.name == "message")
                .map(|a| a.value.clone());
        }
        start_tag(name, attrs, empty, &mut self.buf);
    }

    /// An end tag inside the case.
    fn close(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// The copied case, split where shard-exec's properties go, with what the reader made of it.
    fn into_child(self, case: &Case) -> ChildCase {
        let body = self.buf[self.insert_at..].to_string();
        let mut head = self.buf;
        head.truncate(self.insert_at);
        ChildCase {
            outcome: match case.status {
                Status::Passed => Outcome::Passed,
                Status::Failed => Outcome::Failed,
                Status::Errored => Outcome::Errored,
                Status::Skipped => Outcome::Skipped,
            },
            time: case.time,
            message: self.message,
            head,
            has_properties: self.has_properties,
            body,
            classname: case.classname.clone(),
            name: case.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(xml: &str, ids: &[&str]) -> (BatchResults, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        std::fs::write(&path, xml).unwrap();
        read(&path, ids)
    }

    #[test]
    fn each_id_takes_the_case_that_names_it_kept_as_written() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="t.test_a.TestA" name="test_x" time="0.5"><properties><property name="k" value="v"/></properties><failure message="boom &amp; more">trace &lt;1&gt;</failure></testcase>
<testcase classname="t.test_a" name="test_f[a b]" time="0.25"/>
<testcase classname="other" name="stray" time="1"><skipped message="why"/><properties/></testcase>
<testcase name="by id" time="2"><system-out>hi</system-out><properties><property name="shard.id" value="t/test_a.py::TestA::test_y"/></properties></testcase>
</testsuite></testsuites>"#;
        let ids = [
            "t/test_a.py::TestA::test_x",
            "t/test_a.py::test_f[a b]",
            "t/test_a.py::TestA::test_y",
            "t/test_a.py::TestA::test_missing",
        ];
        let (results, error) = read_text(xml, &ids);
        assert_eq!(error, None);
        let x = results.cases[0].as_ref().unwrap();
        assert_eq!(x.outcome, Outcome::Failed);
        assert_eq!(x.message.as_deref(), Some("boom & more"));
        assert_eq!(x.time, Some(0.5));
        assert!(x.has_properties);
        assert_eq!(
            x.head,
            r#"<testcase classname="t.test_a.TestA" name="test_x" time="0.5"><properties>"#
        );
        assert_eq!(
            x.body,
            r#"<property name="k" value="v"/></properties><failure message="boom &amp; more">trace &lt;1&gt;</failure>"#
        );
        let f = results.cases[1].as_ref().unwrap();
        assert_eq!(f.outcome, Outcome::Passed);
        assert!(!f.has_properties);
        assert_eq!(f.body, "");
        let y = results.cases[2].as_ref().unwrap();
        assert_eq!(y.name, "by id");
        assert!(y.has_properties);
        assert_eq!(
            y.head,
            r#"<testcase name="by id" time="2"><system-out>hi</system-out><properties>"#
        );
        assert!(results.cases[3].is_none());
        assert_eq!(results.unmatched.len(), 1);
        let stray = &results.unmatched[0];
        assert_eq!(stray.outcome, Outcome::Skipped);
        assert_eq!(
            stray.head,
            r#"<testcase classname="other" name="stray" time="1"><skipped message="why"/><properties>"#
        );
        assert_eq!(stray.body, "</properties>");
    }

    #[test]
    fn a_missing_or_truncated_report_says_so_and_keeps_what_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let (results, error) = read(&dir.path().join("none.xml"), &["a"]);
        assert!(error.unwrap().contains("no report"));
        assert!(results.cases[0].is_none());
        let (results, error) = read_text(
            r#"<testsuite><testcase classname="m" name="a"/><testcase classname="m" name="b"><system-out>par"#,
            &["m::a", "m::b"],
        );
        assert!(error.unwrap().contains("unreadable"));
        assert!(results.cases[0].is_some());
        assert!(results.cases[1].is_none());
    }
}
