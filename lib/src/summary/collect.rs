//! The one streaming pass over a merged report: each case turned into a [`CaseRecord`] (for
//! the audit) and folded into the [`RunSummary`] (for the pictures), holding one case at a time.

use std::io::Read;

use crate::exec::report::{
    END_PROPERTY, OUTCOME_PROPERTY, PROCESS_END_PROPERTY, PROCESS_PROPERTY, PROCESS_START_PROPERTY,
    SLOT_PROPERTY, START_PROPERTY,
};
use crate::junit::cases::{Case, CaseTracker, Status};
use crate::junit::reader::{Attr, Event, JunitReader, Kind, ReadError};
use crate::verify::{ID_PROPERTY, NODE_PROPERTY};

use super::{CaseOutcome, CaseRecord, Earlier, RunSummary, Stamp, TEXT_KEPT};

/// The text kept of what a case's children say, and where it is being read.
#[derive(Debug, Default)]
struct Open {
    /// The reader's depth of the case's children.
    depth: usize,
    /// Its own `timestamp`, when it has one.
    timestamp: Option<String>,
    /// The `message` of its `<failure>`, `<error>` or `<skipped>`.
    message: Option<String>,
    /// The start of that element's text, else of its `<system-out>` and `<system-err>`.
    failure_text: String,
    output_text: String,
    /// Which text the reader is in: `Some(true)` a failure's, `Some(false)` output.
    reading: Option<bool>,
    earlier: Vec<Earlier>,
}

/// What a suite's `<properties>` say of when its node ran.
#[derive(Debug, Default)]
pub(super) struct SuiteClock {
    pub(super) node: Option<String>,
    pub(super) start: Option<Stamp>,
    pub(super) end: Option<Stamp>,
}

fn attr<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

/// Appends `text` (escaped XML character data) to `kept`, unescaped, up to [`TEXT_KEPT`] bytes.
fn keep_text(kept: &mut String, text: &str) {
    if kept.len() >= TEXT_KEPT {
        return;
    }
    let plain = quick_xml::escape::unescape(text).unwrap_or_else(|_| text.into());
    let room = TEXT_KEPT - kept.len();
    let mut cut = plain.len().min(room);
    while !plain.is_char_boundary(cut) {
        cut -= 1;
    }
    kept.push_str(&plain[..cut]);
}

/// Reads the report `input` (named `source` in errors) to its end: every case is handed to
/// `each` in the report's order, and folded into the summary returned.
pub fn summarize(
    input: impl Read,
    slowest: usize,
    mut each: impl FnMut(&CaseRecord<'_>) -> std::io::Result<()>,
) -> Result<RunSummary, SummaryError> {
    let mut reader = JunitReader::new(input);
    let mut tracker = CaseTracker::new();
    let mut summary = RunSummary::new(slowest);
    let mut open = Open::default();
    let mut suite = SuiteClock::default();
    let mut suite_properties_depth = None;
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let done = match reader.next_event().map_err(SummaryError::Read)? {
            Event::Eof => return Ok(summary),
            Event::Text(text) => {
                match open.reading {
                    Some(true) => keep_text(&mut open.failure_text, text),
                    Some(false) => keep_text(&mut open.output_text, text),
                    None => {}
                }
                None
            }
            Event::Start {
                kind, attrs, empty, ..
            } => {
                let in_case = tracker.in_case();
                if !in_case {
                    match kind {
                        Kind::Case => {
                            open = Open {
                                depth: depth + 1,
                                timestamp: attr(attrs, "timestamp").map(str::to_string),
                                ..Open::default()
                            };
                        }
                        Kind::Suite => suite = SuiteClock::default(),
                        Kind::Properties if !empty => suite_properties_depth = Some(depth),
                        Kind::Property if suite_properties_depth.is_some() => {
                            suite.read(attrs);
                        }
                        _ => {}
                    }
                } else if depth == open.depth {
                    open.child(kind, attrs, empty);
                }
                tracker.start(kind, attrs, empty, depth, offset)
            }
            Event::End { kind, .. } => {
                if tracker.in_case() && depth - 1 == open.depth {
                    open.reading = None;
                }
                if kind == Kind::Properties && suite_properties_depth == Some(depth - 1) {
                    suite_properties_depth = None;
                    summary.clock(std::mem::take(&mut suite));
                }
                tracker.end(kind, depth - 1)
            }
        };
        if let Some(case) = done {
            let open = std::mem::take(&mut open);
            let record = record_of(&case, &open);
            each(&record).map_err(SummaryError::Audit)?;
            summary.add(&record);
        }
    }
}

impl Open {
    /// A child of the case opens.
    fn child(&mut self, kind: Kind, attrs: &[Attr], empty: bool) {
        match kind {
            Kind::Failure | Kind::Error | Kind::Skipped => {
                if self.message.is_none() {
                    self.message = attr(attrs, "message").map(str::to_string);
                }
                self.reading = (!empty).then_some(true);
            }
            Kind::SystemOut | Kind::SystemErr if !empty => self.reading = Some(false),
            Kind::FlakyFailure | Kind::FlakyError | Kind::RerunFailure | Kind::RerunError => {
                let number = |name| attr(attrs, name).and_then(|v| v.parse().ok());
                self.earlier.push(Earlier {
                    attempt: number("attempt").unwrap_or(self.earlier.len() as u64 + 1) as u32,
                    message: attr(attrs, "message").unwrap_or_default().to_string(),
                    slot: number("slot").map(|s| s as usize),
                    process: number("process"),
                    start: attr(attrs, "start").and_then(Stamp::parse),
                    end: attr(attrs, "end").and_then(Stamp::parse),
                });
            }
            _ => {}
        }
    }
}

impl SuiteClock {
    fn read(&mut self, attrs: &[Attr]) {
        let (Some(name), Some(value)) = (attr(attrs, "name"), attr(attrs, "value")) else {
            return;
        };
        match name {
            NODE_PROPERTY if self.node.is_none() => self.node = Some(value.to_string()),
            START_PROPERTY => self.start = Stamp::parse(value),
            END_PROPERTY => self.end = Stamp::parse(value),
            _ => {}
        }
    }
}

/// One case as the audit and the summary see it.
fn record_of<'a>(case: &'a Case, open: &'a Open) -> CaseRecord<'a> {
    let property = |name| case.property(name);
    let outcome = if property(OUTCOME_PROPERTY) == Some("not-run") {
        CaseOutcome::NotRun
    } else {
        match case.status {
            Status::Passed if case.flaky => CaseOutcome::Flaky,
            Status::Passed => CaseOutcome::Passed,
            Status::Failed => CaseOutcome::Failed,
            Status::Errored => CaseOutcome::Errored,
            Status::Skipped => CaseOutcome::Skipped,
        }
    };
    let timed_out = open
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("timed out"));
    let start = property(PROCESS_START_PROPERTY).and_then(Stamp::parse);
    CaseRecord {
        node: property(NODE_PROPERTY).unwrap_or(""),
        id: property(ID_PROPERTY).map_or_else(
            || match case.classname.as_deref() {
                Some(c) if !c.is_empty() => format!("{c}::{}", case.name).into(),
                _ => case.name.as_str().into(),
            },
            Into::into,
        ),
        outcome,
        timed_out,
        time: case.time.unwrap_or(0.0),
        attempts: 1 + open.earlier.len() as u32,
        slot: property(SLOT_PROPERTY).and_then(|v| v.parse().ok()),
        process: property(PROCESS_PROPERTY).and_then(|v| v.parse().ok()),
        process_start: start,
        process_end: property(PROCESS_END_PROPERTY).and_then(Stamp::parse),
        own_start: open.timestamp.as_deref(),
        message: open.message.as_deref(),
        text: if open.failure_text.trim().is_empty() {
            &open.output_text
        } else {
            &open.failure_text
        },
        earlier: &open.earlier,
    }
}

/// Why a report could not be summarized.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("byte {}: {}", .0.offset, .0.message)]
    Read(ReadError),
    #[error("cannot write the audit: {0}")]
    Audit(std::io::Error),
}
