//! Per-test results of a batch, from the report the command wrote to `{junit}`.
//!
//! Each id takes the case that names it (its `shard.id` property, else pytest's rule, else
//! `classname::name`: the matching of [`crate::junit::matching`]). The case is kept as the
//! command wrote it, sanitized: its attributes, children and time, so that shard-exec's report
//! loses nothing the runner said; shard-exec only adds its properties (into the case's own
//! `<properties>` block when it has one).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::junit::cases::{CaseTracker, Status};
use crate::junit::matching::{ID_PROPERTY, Matcher};
use crate::junit::reader::{Attr, Event, JunitReader, Kind};
use crate::junit::writer::start_tag;

use super::Outcome;

/// A `<testcase>` from a command's own report, as XML ready to be written back.
#[derive(Debug, Clone)]
pub struct ChildCase {
    pub classname: Option<String>,
    pub name: String,
    pub outcome: Outcome,
    /// The case's own `time`, in seconds.
    pub time: Option<f64>,
    /// The `message` of its failure, error or skipped element.
    pub message: Option<String>,
    /// The start tag, and when `has_properties` also the case's `<properties>` start tag:
    /// what comes before shard-exec's properties.
    pub head: String,
    /// Whether the case has a `<properties>` block of its own (`head` ends inside it).
    pub has_properties: bool,
    /// Everything after the properties, up to (not including) `</testcase>`.
    pub body: String,
}

/// What a batch's report said about its ids.
#[derive(Debug, Default)]
pub struct BatchResults {
    /// Per id of the batch, in its order: the case that names it.
    pub cases: Vec<Option<Arc<ChildCase>>>,
    /// Cases that name no id of the batch (or one named already).
    pub unmatched: Vec<Arc<ChildCase>>,
}

/// Reads the report at `path` for a batch of `ids`. Errors (a missing, truncated or
/// unreadable report) come back as a sentence; the caller decides what they mean. Cases read
/// before a truncation are still returned with the error.
pub fn read(path: &Path, ids: &[&str]) -> (BatchResults, Option<String>) {
    let mut results = BatchResults {
        cases: vec![None; ids.len()],
        unmatched: Vec::new(),
    };
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
                    fragment = Fragment::default();
                    fragment.depth = depth;
                    start_tag(name, attrs, false, &mut fragment.buf);
                    fragment.insert_at = fragment.buf.len();
                } else if was_in_case {
                    fragment.child(kind, name, attrs, empty, depth);
                }
                done
            }
            Event::End { kind, name, .. } => {
                let done = tracker.end(kind, depth - 1);
                if done.is_none() && tracker.in_case() {
                    fragment.buf.push_str("</");
                    fragment.buf.push_str(name);
                    fragment.buf.push('>');
                }
                done
            }
        };
        let Some(case) = done else { continue };
        let fragment = std::mem::take(&mut fragment);
        let body = fragment.buf[fragment.insert_at..].to_string();
        let mut head = fragment.buf;
        head.truncate(fragment.insert_at);
        let child = Arc::new(ChildCase {
            outcome: match case.status {
                Status::Passed => Outcome::Passed,
                Status::Failed => Outcome::Failed,
                Status::Errored => Outcome::Errored,
                Status::Skipped => Outcome::Skipped,
            },
            time: case.time,
            message: fragment.message,
            head,
            has_properties: fragment.has_properties,
            body,
            classname: case.classname.clone(),
            name: case.name.clone(),
        });
        let named = matcher.find(
            case.property(ID_PROPERTY),
            case.classname.as_deref(),
            &case.name,
        );
        match named {
            Some(i) if results.cases[i].is_none() => results.cases[i] = Some(child),
            _ => results.unmatched.push(child),
        }
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

/// What [`read_go_json`] keeps of one test's events.
#[derive(Debug)]
struct GoTest {
    /// At most 1 MiB of its output, head and tail.
    output: super::capture::Capture,
    action: Option<String>,
    elapsed: Option<f64>,
}

impl GoTest {
    fn new() -> Self {
        GoTest {
            output: super::capture::Capture::new(1 << 20),
            action: None,
            elapsed: None,
        }
    }
}

/// Per-test results of a batch from `go test -json` output saved at `path`: shardkit turns
/// the events of each top-level test (its subtests' output included) into a `<testcase>`
/// with classname the package and name the test, as go-junit-report and gotestsum do.
pub fn read_go_json(path: &Path, ids: &[&str]) -> (BatchResults, Option<String>) {
    let mut results = BatchResults {
        cases: vec![None; ids.len()],
        unmatched: Vec::new(),
    };
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (
                results,
                Some("it wrote no `go test -json` output".to_string()),
            );
        }
        Err(e) => return (results, Some(format!("cannot read its output: {e}"))),
    };
    // (package, test) in order of first appearance.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut tests: std::collections::HashMap<(String, String), GoTest> =
        std::collections::HashMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| event.get(name).and_then(|v| v.as_str());
        let (Some(package), Some(test)) = (field("Package"), field("Test")) else {
            continue;
        };
        let top = test.split('/').next().unwrap_or(test).to_string();
        let key = (package.to_string(), top);
        let entry = tests.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            GoTest::new()
        });
        match field("Action") {
            Some("output") => entry.output.push(field("Output").unwrap_or("").as_bytes()),
            Some(action @ ("pass" | "fail" | "skip")) if test == key.1 => {
                entry.action = Some(action.to_string());
                entry.elapsed = event.get("Elapsed").and_then(|v| v.as_f64());
            }
            _ => {}
        }
    }
    let matcher = Matcher::new(ids.iter().copied());
    for key in order {
        let test = &tests[&key];
        // A test that never ended (the process died first) has no result.
        let Some(action) = test.action.as_deref() else {
            continue;
        };
        let (package, name) = &key;
        let outcome = match action {
            "pass" => Outcome::Passed,
            "skip" => Outcome::Skipped,
            _ => Outcome::Failed,
        };
        let seconds = test.elapsed.unwrap_or(0.0);
        let mut head = String::new();
        start_tag(
            "testcase",
            &[
                Attr {
                    name: "classname".into(),
                    value: package.clone(),
                },
                Attr {
                    name: "name".into(),
                    value: name.clone(),
                },
                Attr {
                    name: "time".into(),
                    value: crate::junit::time::format(seconds),
                },
            ],
            false,
            &mut head,
        );
        let output = test.output.text();
        let mut body = String::new();
        let message = match outcome {
            Outcome::Failed => Some(format!("{name} failed")),
            Outcome::Skipped => Some(format!("{name} skipped")),
            _ => None,
        };
        if let Some(message) = &message {
            let element = if outcome == Outcome::Skipped {
                "skipped"
            } else {
                "failure"
            };
            start_tag(
                element,
                &[Attr {
                    name: "message".into(),
                    value: message.clone(),
                }],
                true,
                &mut body,
            );
        }
        if !output.is_empty() {
            body.push_str("<system-out>");
            crate::junit::writer::escape_text(&output, &mut body);
            body.push_str("</system-out>");
        }
        let child = Arc::new(ChildCase {
            classname: Some(package.clone()),
            name: name.clone(),
            outcome,
            time: Some(seconds),
            message,
            head,
            has_properties: false,
            body,
        });
        match matcher.find(None, Some(package), name) {
            Some(i) if results.cases[i].is_none() => results.cases[i] = Some(child),
            _ => results.unmatched.push(child),
        }
    }
    (results, None)
}

#[cfg(test)]
mod go_tests {
    use super::*;

    #[test]
    fn go_test_json_becomes_one_case_per_top_level_test() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let events = [
            r#"{"Action":"run","Package":"ex.com/m/calc","Test":"TestAdd"}"#,
            r#"{"Action":"output","Package":"ex.com/m/calc","Test":"TestAdd","Output":"=== RUN   TestAdd\n"}"#,
            r#"{"Action":"pass","Package":"ex.com/m/calc","Test":"TestAdd","Elapsed":0.25}"#,
            r#"{"Action":"run","Package":"ex.com/m/calc","Test":"TestSub"}"#,
            r#"{"Action":"run","Package":"ex.com/m/calc","Test":"TestSub/neg"}"#,
            r#"{"Action":"output","Package":"ex.com/m/calc","Test":"TestSub/neg","Output":"    calc_test.go:9: got 1 <want> 2 & more\n"}"#,
            r#"{"Action":"fail","Package":"ex.com/m/calc","Test":"TestSub/neg","Elapsed":0}"#,
            r#"{"Action":"fail","Package":"ex.com/m/calc","Test":"TestSub","Elapsed":0.5}"#,
            r#"{"Action":"skip","Package":"ex.com/m/calc","Test":"TestSkip","Elapsed":0}"#,
            r#"{"Action":"run","Package":"ex.com/m/calc","Test":"TestHang"}"#,
            "not json",
            r#"{"Action":"fail","Package":"ex.com/m/calc","Elapsed":1}"#,
        ];
        std::fs::write(&path, events.join("\n")).unwrap();
        let ids = [
            "ex.com/m/calc::TestAdd",
            "ex.com/m/calc::TestSub",
            "ex.com/m/calc::TestSkip",
            "ex.com/m/calc::TestHang",
        ];
        let (results, error) = read_go_json(&path, &ids);
        assert_eq!(error, None);
        let add = results.cases[0].as_ref().unwrap();
        assert_eq!((add.outcome, add.time), (Outcome::Passed, Some(0.25)));
        assert_eq!(
            add.head,
            r#"<testcase classname="ex.com/m/calc" name="TestAdd" time="0.25">"#
        );
        let sub = results.cases[1].as_ref().unwrap();
        assert_eq!(sub.outcome, Outcome::Failed);
        assert!(
            sub.body
                .starts_with(r#"<failure message="TestSub failed"/><system-out>"#),
            "{}",
            sub.body
        );
        assert!(
            sub.body.contains("got 1 &lt;want&gt; 2 &amp; more"),
            "{}",
            sub.body
        );
        assert_eq!(results.cases[2].as_ref().unwrap().outcome, Outcome::Skipped);
        assert!(
            results.cases[3].is_none(),
            "a test that never ended has no result"
        );
        assert!(results.unmatched.is_empty());
    }
}
