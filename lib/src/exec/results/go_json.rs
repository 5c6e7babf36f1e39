//! A batch's results from the events `go test -json` wrote (the JSON of `go tool test2json`).
//!
//! shardkit turns the events of each top-level test (its subtests' output included) into a
//! `<testcase>` with classname the package and name the test, as go-junit-report and
//! gotestsum do.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::exec::capture::Capture;
use crate::junit::matching::Matcher;
use crate::junit::reader::Attr;
use crate::junit::writer::{escape_text, start_tag};

use super::{BatchResults, ChildCase, Outcome};

/// The output kept of one test: at most 1 MiB, head and tail.
const OUTPUT_LIMIT: usize = 1 << 20;

/// A top-level test: its package and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TestKey {
    package: String,
    test: String,
}

/// What [`read_go_json`] keeps of one test's events.
#[derive(Debug)]
struct GoTest {
    /// At most [`OUTPUT_LIMIT`] bytes of its output, head and tail.
    output: Capture,
    action: Option<String>,
    elapsed: Option<f64>,
    /// The `Time` of its `run` event: when it started, as `go test` wrote it (RFC 3339).
    started: Option<String>,
}

impl GoTest {
    fn new() -> Self {
        GoTest {
            output: Capture::new(OUTPUT_LIMIT),
            action: None,
            elapsed: None,
            started: None,
        }
    }
}

/// Per-test results of a batch from `go test -json` output saved at `path`: shardkit turns
/// the events of each top-level test (its subtests' output included) into a `<testcase>`
/// with classname the package and name the test, as go-junit-report and gotestsum do.
pub(crate) fn read_go_json(path: &Path, ids: &[&str]) -> (BatchResults, Option<String>) {
    let mut results = BatchResults::new(ids.len());
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
    let matcher = Matcher::new(ids.iter().copied());
    for (key, test) in top_level_tests(&text) {
        // A test that never ended (the process died first) has no result.
        let Some(child) = test_case(&key, &test) else {
            continue;
        };
        let named = matcher.find(None, Some(&key.package), &key.test);
        results.keep(named, Arc::new(child));
    }
    (results, None)
}

/// The events of `text` gathered per top-level test, in order of first appearance; lines
/// that are not a test's event are skipped.
fn top_level_tests(text: &str) -> Vec<(TestKey, GoTest)> {
    let mut order: Vec<TestKey> = Vec::new();
    let mut tests: HashMap<TestKey, GoTest> = HashMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| event.get(name).and_then(|v| v.as_str());
        let (Some(package), Some(test)) = (field("Package"), field("Test")) else {
            continue;
        };
        let key = TestKey {
            package: package.to_string(),
            test: test.split('/').next().unwrap_or(test).to_string(),
        };
        let entry = tests.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            GoTest::new()
        });
        match field("Action") {
            Some("output") => entry.output.push(field("Output").unwrap_or("").as_bytes()),
            Some("run") if test == key.test => {
                entry.started = field("Time").map(str::to_string);
            }
            Some(action @ ("pass" | "fail" | "skip")) if test == key.test => {
                entry.action = Some(action.to_string());
                entry.elapsed = event.get("Elapsed").and_then(|v| v.as_f64());
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .map(|key| {
            let test = tests.remove(&key).unwrap_or_else(GoTest::new);
            (key, test)
        })
        .collect()
}

/// The `<testcase>` of a test that ended; `None` for one that never did.
fn test_case(key: &TestKey, test: &GoTest) -> Option<ChildCase> {
    let action = test.action.as_deref()?;
    let TestKey {
        package,
        test: name,
    } = key;
    let outcome = match action {
        "pass" => Outcome::Passed,
        "skip" => Outcome::Skipped,
        _ => Outcome::Failed,
    };
    let seconds = test.elapsed.unwrap_or(0.0);
    let mut head = String::new();
    let mut attrs = vec![
        attr("classname", package.clone()),
        attr("name", name.clone()),
        attr("time", crate::junit::time::format(seconds)),
    ];
    // Its own start, as nextest writes it on its cases.
    if let Some(started) = &test.started {
        attrs.push(attr("timestamp", started.clone()));
    }
    start_tag("testcase", &attrs, false, &mut head);
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
            &[attr("message", message.clone())],
            true,
            &mut body,
        );
    }
    if !output.is_empty() {
        body.push_str("<system-out>");
        escape_text(&output, &mut body);
        body.push_str("</system-out>");
    }
    Some(ChildCase {
        classname: Some(package.clone()),
        name: name.clone(),
        outcome,
        time: Some(seconds),
        message,
        head,
        has_properties: false,
        body,
    })
}

fn attr(name: &str, value: String) -> Attr {
    Attr {
        name: name.into(),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_test_json_becomes_one_case_per_top_level_test() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let events = [
            r#"{"Time":"2026-12-02T10:00:00.125Z","Action":"run","Package":"ex.com/m/calc","Test":"TestAdd"}"#,
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
            r#"<testcase classname="ex.com/m/calc" name="TestAdd" time="0.25" timestamp="2026-12-02T10:00:00.125Z">"#
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
