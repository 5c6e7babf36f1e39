//! The test cases of a report, read in one streaming pass: who they are, how they ended, how
//! long they took. What shard-merge counts and verifies, and where durations come from.

use std::io::Read;
use std::sync::Arc;

use super::reader::{Attr, Event, JunitReader, Kind, ReadError};
use super::time;

/// How a test case ended, with Jenkins' precedence: a `<skipped>` child wins, then an
/// `<error>`, then a `<failure>`; a case with none of them passed (GoogleTest's
/// `status="notrun"` without `<skipped>` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Passed,
    Failed,
    Errored,
    Skipped,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The name of the innermost suite around it (`""` when it has none), shared by the
    /// suite's cases.
    pub suite: Arc<str>,
    pub classname: Option<String>,
    pub name: String,
    pub status: Status,
    /// Seconds, when the `time` attribute is there and readable.
    pub time: Option<f64>,
    /// A `time` attribute that could not be read, as written.
    pub bad_time: Option<String>,
    /// Passed after failing first (`<flakyFailure>`/`<flakyError>` children).
    pub flaky: bool,
    /// Earlier failed attempts of a case that failed in the end (`<rerunFailure>`/`<rerunError>`).
    pub reruns: usize,
    /// The case's own `<property>`s (`shard.id`, `shard.node`, ...), in order.
    pub properties: Vec<(String, String)>,
    /// Byte offset of the `<testcase>` tag in the input.
    pub offset: u64,
}

impl Case {
    /// The value of the case's property `name`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The case being read, and what its children said so far.
#[derive(Debug, Default)]
struct Open {
    case: Option<Case>,
    skipped: bool,
    errored: bool,
    failed: bool,
    flaky: bool,
    reruns: usize,
    /// Inside the `<properties>` directly in the case.
    in_properties: bool,
}

/// Turns a report's events into its test cases, one event at a time: what [`read_cases`] does
/// for a whole report, for callers that need the events too.
#[derive(Debug, Default)]
pub struct CaseTracker {
    /// Suite names, innermost last.
    suites: Vec<Arc<str>>,
    open: Open,
    /// Depth of the open `<testcase>`'s children, to tell them from deeper elements.
    case_depth: usize,
}

impl CaseTracker {
    /// A tracker outside any suite or case.
    pub fn new() -> Self {
        CaseTracker::default()
    }

    /// Whether a `<testcase>` is open.
    pub fn in_case(&self) -> bool {
        self.open.case.is_some()
    }

    /// An element opens at `depth` (the reader's depth before it), at byte `offset`. Returns
    /// the case when it is an empty `<testcase/>`, which is complete at once.
    pub fn start(
        &mut self,
        kind: Kind,
        attrs: &[Attr],
        empty: bool,
        depth: usize,
        offset: u64,
    ) -> Option<Case> {
        let value = |name: &str| attrs.iter().find(|a| a.name == name).map(|a| &*a.value);
        let attr = |name: &str| value(name).map(str::to_string);
        let open = &mut self.open;
        match kind {
            Kind::Suite if open.case.is_none() && !empty => {
                self.suites.push(value("name").unwrap_or_default().into());
            }
            Kind::Case if open.case.is_none() => {
                // The time as written is kept only when it is no time.
                let raw_time = value("time");
                let parsed = raw_time.map(time::parse);
                let case = Case {
                    suite: self.suites.last().cloned().unwrap_or_else(|| "".into()),
                    classname: attr("classname"),
                    name: attr("name").unwrap_or_default(),
                    status: Status::Passed,
                    time: parsed.as_ref().and_then(|t| t.clone().ok()),
                    bad_time: match parsed {
                        Some(Err(_)) => raw_time.map(str::to_string),
                        _ => None,
                    },
                    flaky: false,
                    reruns: 0,
                    properties: Vec::new(),
                    offset,
                };
                if empty {
                    return Some(case);
                }
                *open = Open {
                    case: Some(case),
                    ..Open::default()
                };
                self.case_depth = depth + 1;
            }
            _ if open.case.is_some() && depth == self.case_depth => match kind {
                Kind::Skipped => open.skipped = true,
                Kind::Error => open.errored = true,
                Kind::Failure => open.failed = true,
                Kind::FlakyFailure | Kind::FlakyError => open.flaky = true,
                Kind::RerunFailure | Kind::RerunError => open.reruns += 1,
                Kind::Properties if !empty => open.in_properties = true,
                _ => {}
            },
            Kind::Property if open.in_properties && depth == self.case_depth + 1 => {
                if let (Some(case), Some(name)) = (open.case.as_mut(), attr("name")) {
                    case.properties
                        .push((name, attr("value").unwrap_or_default()));
                }
            }
            _ => {}
        }
        None
    }

    /// An element closes; `depth` is the reader's depth after it. Returns the case it
    /// completes, if any.
    pub fn end(&mut self, kind: Kind, depth: usize) -> Option<Case> {
        match kind {
            Kind::Case if self.open.case.is_some() && depth + 1 == self.case_depth => {
                let finished = std::mem::take(&mut self.open);
                let mut case = finished.case?;
                case.status = if finished.skipped {
                    Status::Skipped
                } else if finished.errored {
                    Status::Errored
                } else if finished.failed {
                    Status::Failed
                } else {
                    Status::Passed
                };
                case.flaky = finished.flaky && case.status == Status::Passed;
                case.reruns = finished.reruns;
                Some(case)
            }
            Kind::Properties if self.open.in_properties && depth == self.case_depth => {
                self.open.in_properties = false;
                None
            }
            Kind::Suite if self.open.case.is_none() => {
                self.suites.pop();
                None
            }
            _ => None,
        }
    }
}

/// Reads every test case of a report.
pub fn read_cases(input: impl Read) -> Result<Vec<Case>, ReadError> {
    let mut cases = Vec::new();
    for_each_case(input, |case| cases.push(case))?;
    Ok(cases)
}

/// Hands every test case of a report to `found`, one at a time, holding none.
pub fn for_each_case(input: impl Read, mut found: impl FnMut(Case)) -> Result<(), ReadError> {
    let mut reader = JunitReader::new(input);
    let mut tracker = CaseTracker::new();
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let done = match reader.next_event()? {
            Event::Eof => return Ok(()),
            Event::Text(_) => None,
            Event::Start {
                kind, attrs, empty, ..
            } => tracker.start(kind, attrs, empty, depth, offset),
            Event::End { kind, .. } => tracker.end(kind, depth - 1),
        };
        if let Some(case) = done {
            found(case);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(dialect: &str) -> Vec<Case> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/junit")
            .join(dialect)
            .join("report.xml");
        let file = std::fs::File::open(&path).unwrap();
        read_cases(file)
            .unwrap_or_else(|e| panic!("{}: {} at {}", path.display(), e.message, e.offset))
    }

    /// (tests, failed, errored, skipped, flaky)
    fn counts(cases: &[Case]) -> (usize, usize, usize, usize, usize) {
        let n = |s| cases.iter().filter(|c| c.status == s).count();
        (
            cases.len(),
            n(Status::Failed),
            n(Status::Errored),
            n(Status::Skipped),
            cases.iter().filter(|c| c.flaky).count(),
        )
    }

    #[test]
    fn every_dialect_is_counted_from_its_cases() {
        for (dialect, expected) in [
            ("pytest", (6, 1, 1, 2, 0)),
            ("nextest", (4, 1, 0, 0, 1)),
            ("gotestsum", (4, 2, 0, 0, 0)),
            ("surefire", (3, 0, 0, 1, 1)),
            ("gtest", (3, 1, 0, 0, 0)),
            ("phpunit", (3, 1, 0, 0, 0)),
            ("bazel", (1, 0, 1, 0, 0)),
            ("jest", (3, 1, 0, 1, 0)),
        ] {
            assert_eq!(counts(&fixture(dialect)), expected, "{dialect}");
        }
    }

    #[test]
    fn cases_keep_their_identity_time_and_suite() {
        let pytest = fixture("pytest");
        let list = &pytest[1];
        assert_eq!(list.classname.as_deref(), Some("tests.test_api.TestUsers"));
        assert_eq!(list.name, "test_list[page 1]");
        assert_eq!(&*list.suite, "pytest");
        assert_eq!(list.time, Some(0.02));
        assert_eq!(pytest[5].name, "test_slugify[Ça va-ca-va]");

        let surefire = fixture("surefire");
        assert_eq!(surefire[0].time, Some(1001.5));
        assert_eq!(&*surefire[0].suite, "com.example.AppTest");

        let nextest = fixture("nextest");
        let fails = nextest
            .iter()
            .find(|c| c.name == "plan::tests::always_fails")
            .unwrap();
        assert_eq!((fails.status, fails.reruns), (Status::Failed, 1));

        let phpunit = fixture("phpunit");
        assert_eq!(&*phpunit[1].suite, "Tests\\Unit\\CartTest::testDiscount");
        assert_eq!(&*phpunit[0].suite, "Tests\\Unit\\CartTest");

        let gtest = fixture("gtest");
        assert_eq!(
            gtest[2].status,
            Status::Passed,
            "notrun without <skipped> passed"
        );
    }

    #[test]
    fn properties_and_bad_times() {
        let xml = br#"<testsuite name="s"><testcase name="a" time="NaN"><properties><property name="shard.id" value="t.py::a"/><property name="shard.node" value="2"/></properties><system-out><properties><property name="deep" value="x"/></properties></system-out></testcase><testcase name="b" time="-1"/><testcase name="c"/></testsuite>"#;
        let cases = read_cases(&xml[..]).unwrap();
        assert_eq!(cases[0].property("shard.id"), Some("t.py::a"));
        assert_eq!(cases[0].property("shard.node"), Some("2"));
        assert_eq!(cases[0].property("deep"), None);
        assert_eq!(
            (cases[0].time, cases[0].bad_time.as_deref()),
            (None, Some("NaN"))
        );
        assert_eq!(cases[1].bad_time.as_deref(), Some("-1"));
        assert_eq!((cases[2].time, cases[2].bad_time.as_deref()), (None, None));
    }
}
