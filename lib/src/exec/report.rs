//! The node's JUnit report: exactly one `<testcase>` per input id, each with its `shard.id`,
//! whatever happened to it; retries as `<flakyFailure>`/`<rerunFailure>`; every text
//! sanitized to XML 1.0.

use std::io::{self, Write};
use std::time::SystemTime;

use crate::junit::matching::pytest_case;
use crate::junit::reader::Attr;
use crate::junit::time;
use crate::junit::writer::JunitWriter;
use crate::merge::PLAN_PROPERTY;
use crate::verify::{ID_PROPERTY, NODE_PROPERTY};

use super::results::ChildCase;
use super::{Attempt, Outcome, ProcessSpan, RunResult, TestResult};

/// The suite property with the number of nodes.
pub const NODES_PROPERTY: &str = "shard.nodes";
/// A case property: how many times the id ran, when more than once.
pub const ATTEMPTS_PROPERTY: &str = "shard.attempts";
/// A case property: `not-run` for an id that never ran to its end.
pub const OUTCOME_PROPERTY: &str = "shard.outcome";
/// A case property on a case of a command's report that named none of its batch's ids.
pub const UNMATCHED_PROPERTY: &str = "shard.unmatched";
/// A case property: the slot (from 1) its last attempt ran on.
pub const SLOT_PROPERTY: &str = "shard.slot";
/// A case property: the number of the process its last attempt ran in (from 1 per node, in
/// the order they started; a batch's cases share it).
pub const PROCESS_PROPERTY: &str = "shard.process";
/// A case property: when that process started (UTC, milliseconds: [`timestamp_ms`]).
pub const PROCESS_START_PROPERTY: &str = "shard.process.start";
/// A case property: when that process ended.
pub const PROCESS_END_PROPERTY: &str = "shard.process.end";
/// A suite property: when the node's run started (UTC, milliseconds).
pub const START_PROPERTY: &str = "shard.start";
/// A suite property: when the node's run ended.
pub const END_PROPERTY: &str = "shard.end";

/// Who wrote the report.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    pub node: u32,
    pub nodes: u32,
    /// The manifest's fingerprint (`sha256:...`), when the ids came from one.
    pub plan: Option<&'a str>,
    pub hostname: String,
}

/// The counts of a run, as the report gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Skipped by the test itself.
    pub skipped: usize,
    pub not_run: usize,
    pub flaky: usize,
}

impl Counts {
    pub fn of(run: &RunResult) -> Self {
        let mut c = Counts {
            tests: run.results.len() + run.unmatched.len(),
            ..Counts::default()
        };
        let outcomes = run
            .results
            .iter()
            .map(TestResult::outcome)
            .chain(run.unmatched.iter().map(|u| u.outcome));
        for outcome in outcomes {
            match outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Errored => c.errors += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::NotRun => c.not_run += 1,
            }
        }
        c.flaky = run.results.iter().filter(|r| r.flaky()).count();
        c
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<Attr> {
    pairs
        .iter()
        .map(|(name, value)| Attr {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// Writes the report of `run` to `out`.
pub fn write(run: &RunResult, who: &Identity<'_>, out: impl Write) -> io::Result<()> {
    let counts = Counts::of(run);
    let (tests, failures, errors, skipped) = (
        counts.tests.to_string(),
        counts.failed.to_string(),
        counts.errors.to_string(),
        (counts.skipped + counts.not_run).to_string(),
    );
    let seconds = time::format(run.seconds);
    let stamp = timestamp(run.started);
    let node = who.node.to_string();
    let mut w = JunitWriter::new(out)?;
    // The root and the one suite count the same cases.
    let counted = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", errors.as_str()),
        ("skipped", skipped.as_str()),
        ("time", seconds.as_str()),
        ("timestamp", stamp.as_str()),
    ];
    let start = timestamp_ms(run.started);
    let end = timestamp_ms(run.started + std::time::Duration::from_secs_f64(run.seconds.max(0.0)));
    write_head(
        &mut w,
        who,
        &counted,
        &stamp,
        &[(START_PROPERTY, &start), (END_PROPERTY, &end)],
    )?;
    for result in &run.results {
        write_case(&mut w, result, &node)?;
    }
    for case in &run.unmatched {
        write_unmatched(&mut w, case, &node)?;
    }
    w.finish()?;
    Ok(())
}

/// Opens the root and the node's one suite, and writes the suite's properties that name the
/// node: `counted` are the attributes with the counts and times (none in a journal, which
/// is written before they are known), `extra` more properties.
pub(crate) fn write_head<W: Write>(
    w: &mut JunitWriter<W>,
    who: &Identity<'_>,
    counted: &[(&str, &str)],
    stamp: &str,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    let suite = format!("shard-exec node {} of {}", who.node, who.nodes);
    let mut root = vec![("name", "shard-exec")];
    root.extend(counted);
    w.start("testsuites", &attrs(&root), false)?;
    let mut one = vec![("name", suite.as_str())];
    one.extend(counted);
    one.push(("hostname", who.hostname.as_str()));
    w.start("testsuite", &attrs(&one), false)?;
    w.start("properties", &[], false)?;
    w.property(NODE_PROPERTY, &who.node.to_string())?;
    w.property(NODES_PROPERTY, &who.nodes.to_string())?;
    if let Some(plan) = who.plan {
        w.property(PLAN_PROPERTY, plan)?;
    }
    w.property("hostname", &who.hostname)?;
    w.property("timestamp", stamp)?;
    for (name, value) in extra {
        w.property(name, value)?;
    }
    w.end()
}

/// A case of a command's report that named none of its batch's ids: kept, flagged.
pub(crate) fn write_unmatched<W: Write>(
    w: &mut JunitWriter<W>,
    case: &ChildCase,
    node: &str,
) -> io::Result<()> {
    w.escaped_text(&case.head)?;
    if !case.has_properties {
        w.escaped_text("<properties>")?;
    }
    w.property(NODE_PROPERTY, node)?;
    w.property(UNMATCHED_PROPERTY, "true")?;
    if !case.has_properties {
        w.escaped_text("</properties>")?;
    }
    w.escaped_text(&case.body)?;
    w.escaped_text("</testcase>")
}

/// The `<testcase>` of one id, with its earlier attempts.
pub(crate) fn write_case<W: Write>(
    w: &mut JunitWriter<W>,
    result: &TestResult,
    node: &str,
) -> io::Result<()> {
    let last = result.attempts.last();
    let attempts = result.attempts.len().to_string();
    let mut properties: Vec<(&str, &str)> = vec![(ID_PROPERTY, &result.id), (NODE_PROPERTY, node)];
    if result.attempts.len() > 1 {
        properties.push((ATTEMPTS_PROPERTY, &attempts));
    }
    let not_run = last.is_none_or(|a| a.outcome == Outcome::NotRun);
    if not_run {
        properties.push((OUTCOME_PROPERTY, "not-run"));
    }
    let span = last.and_then(|a| a.process).map(SpanValues::of);
    if let Some(span) = &span {
        properties.extend([
            (SLOT_PROPERTY, span.slot.as_str()),
            (PROCESS_PROPERTY, span.process.as_str()),
            (PROCESS_START_PROPERTY, span.start.as_str()),
            (PROCESS_END_PROPERTY, span.end.as_str()),
        ]);
    }
    if let Some(case) = last.and_then(|a| a.case.as_ref()) {
        w.escaped_text(&case.head)?;
        if !case.has_properties {
            w.escaped_text("<properties>")?;
        }
        for (name, value) in &properties {
            w.property(name, value)?;
        }
        if !case.has_properties {
            w.escaped_text("</properties>")?;
        }
        w.escaped_text(&case.body)?;
        write_earlier(w, result)?;
        return w.escaped_text("</testcase>");
    }
    let (classname, name) = match pytest_case(&result.id) {
        Some((classname, name)) => (Some(classname), name.to_string()),
        None => (None, result.id.clone()),
    };
    let seconds = time::format(last.map_or(0.0, |a| a.seconds));
    let mut case_attrs = Vec::new();
    if let Some(classname) = &classname {
        case_attrs.push(("classname", classname.as_str()));
    }
    case_attrs.push(("name", name.as_str()));
    case_attrs.push(("time", seconds.as_str()));
    w.start("testcase", &attrs(&case_attrs), false)?;
    w.start("properties", &[], false)?;
    for (name, value) in &properties {
        w.property(name, value)?;
    }
    w.end()?;
    let message = match last {
        None => format!(
            "not run: {}",
            result.not_run.as_deref().unwrap_or("the run ended first")
        ),
        Some(a) if a.outcome == Outcome::NotRun => format!(
            "not run: {}",
            a.message.as_deref().unwrap_or("the run ended first")
        ),
        Some(a) => a.message.clone().unwrap_or_default(),
    };
    let element = match last.map_or(Outcome::NotRun, |a| a.outcome) {
        Outcome::Passed => None,
        Outcome::Failed => Some("failure"),
        Outcome::Errored => Some("error"),
        Outcome::Skipped | Outcome::NotRun => Some("skipped"),
    };
    if let Some(element) = element {
        w.start(element, &attrs(&[("message", &message)]), true)?;
    }
    write_earlier(w, result)?;
    if let Some(last) = last
        && last.outcome != Outcome::Passed
    {
        write_output(w, last)?;
    }
    w.end()
}

/// The attempts before the last: `<flakyFailure>` (or `<flakyError>`) each when the id passed
/// in the end, `<rerunFailure>` (or `<rerunError>`) each when it did not.
fn write_earlier<W: Write>(w: &mut JunitWriter<W>, result: &TestResult) -> io::Result<()> {
    let Some((_, earlier)) = result.attempts.split_last() else {
        return Ok(());
    };
    let passed = result.outcome() == Outcome::Passed;
    for attempt in earlier {
        let element = match (passed, attempt.outcome) {
            (true, Outcome::Errored) => "flakyError",
            (true, _) => "flakyFailure",
            (false, Outcome::Errored) => "rerunError",
            (false, _) => "rerunFailure",
        };
        let number = attempt.number.to_string();
        let seconds = time::format(attempt.seconds);
        let message = attempt.message.clone().unwrap_or_default();
        let mut pairs = vec![
            ("message", message.as_str()),
            ("type", attempt.outcome.as_str()),
            ("attempt", &number),
            ("time", &seconds),
        ];
        // Where and when its process ran, as the last attempt's properties say it.
        let span = attempt.process.map(SpanValues::of);
        if let Some(span) = &span {
            pairs.extend([
                ("slot", span.slot.as_str()),
                ("process", span.process.as_str()),
                ("start", span.start.as_str()),
                ("end", span.end.as_str()),
            ]);
        }
        w.start(element, &attrs(&pairs), false)?;
        write_output(w, attempt)?;
        w.end()?;
    }
    Ok(())
}

/// The output of an attempt's process, when it ran without a report of its own.
fn write_output<W: Write>(w: &mut JunitWriter<W>, attempt: &Attempt) -> io::Result<()> {
    if attempt.case.is_some() {
        return Ok(());
    }
    for (element, text) in [
        ("system-out", &attempt.output.stdout),
        ("system-err", &attempt.output.stderr),
    ] {
        if !text.is_empty() {
            w.start(element, &[], false)?;
            w.text(text)?;
            w.end()?;
        }
    }
    Ok(())
}

/// A [`ProcessSpan`] as the report writes it.
struct SpanValues {
    slot: String,
    process: String,
    start: String,
    end: String,
}

impl SpanValues {
    fn of(span: ProcessSpan) -> Self {
        SpanValues {
            slot: span.slot.to_string(),
            process: span.process.to_string(),
            start: timestamp_ms(span.started),
            end: timestamp_ms(span.ended),
        }
    }
}

/// This machine's name, or `localhost` when it has none that can be read.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `2024-05-01T12:00:00Z` (UTC, whole seconds).
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `2024-05-01T12:00:00.250Z` (UTC, milliseconds).
pub fn timestamp_ms(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_utc_iso_8601() {
        let at = |s: u64| timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
        let ms = |ms: u64| timestamp_ms(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(ms(1_714_564_800_007), "2024-05-01T12:00:00.007Z");
        assert_eq!(ms(999), "1970-01-01T00:00:00.999Z");
    }
}
