//! The end of a run, as people and scripts see it: the node's JUnit report written (or where
//! its results are when it cannot be), the ids that did not pass on stdout, the summary table
//! on stderr, and the exit status.

use std::io::{self, Write};

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use shardkit::exec::journal::ReportFile;
use shardkit::exec::report::{Counts, Identity};
use shardkit::exec::scheduler::signal_name;
use shardkit::exec::{Outcome, RunResult};

use super::cli::FlakyResult;
use super::request::Request;
use super::signals;
use crate::exit::Exit;
use crate::{say, say_raw, warn};

/// Whether the node's report is where it was asked to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// Written, or none was asked for.
    Done,
    /// It could not be written: the journal keeps the results.
    Failed,
}

/// Writes the node's report, if one was asked for, and removes its journal; on failure says
/// where the results of the tests that finished are.
pub(super) fn write(
    report_file: Option<ReportFile>,
    result: &RunResult,
    who: &Identity<'_>,
) -> Written {
    let Some(mut file) = report_file else {
        return Written::Done;
    };
    match file.write(result, who) {
        Err(e) => {
            say(&format!("error: {}", anyhow::Error::from(e)));
            if let Some(journal) = file.journal_path() {
                say(&format!(
                    "the results of the tests that finished are in {} (`shard-merge --salvage` reads it)",
                    journal.display()
                ));
            }
            Written::Failed
        }
        Ok(()) => {
            if let Err(e) = file.finish() {
                warn(&format!("cannot remove the journal: {e}"));
            }
            Written::Done
        }
    }
}

/// Puts the ids that did not pass on stdout, then tells people on stderr how the run went.
pub(super) fn tell(request: &Request, result: &RunResult) -> Result<Counts> {
    let flaky_fails = request.flaky_result == FlakyResult::Fail;
    let mut out = io::stdout().lock();
    for r in &result.results {
        let outcome = r.outcome();
        if outcome.is_failure() || outcome == Outcome::NotRun || (flaky_fails && r.flaky()) {
            writeln!(out, "{}", r.id)?;
        }
    }
    out.flush()?;

    let counts = Counts::of(result);
    if !request.quiet {
        summary(result, &counts);
    }
    if let Some(why) = &result.setup_failed {
        say(&format!("error: --setup failed: {why}"));
    }
    if let Some(why) = &result.teardown_failed {
        warn(&format!("--teardown failed: {why}"));
    }
    Ok(counts)
}

/// How the run ends: interrupted by `interrupted`, unverified (the setup failed or the
/// report is missing), failed, or passed.
pub(super) fn exit(
    request: &Request,
    result: &RunResult,
    counts: &Counts,
    written: Written,
    interrupted: Option<i32>,
) -> Exit {
    let flaky_fails = request.flaky_result == FlakyResult::Fail;
    if let Some(sig) = interrupted {
        signals::exit_for(sig)
    } else if result.setup_failed.is_some() || written == Written::Failed {
        Exit::Unverified
    } else if counts.failed + counts.errors + counts.not_run > 0
        || (flaky_fails && counts.flaky > 0)
    {
        Exit::TestsFailed
    } else {
        Exit::Success
    }
}

/// The table at the end: counts, time, and the ids that did not pass.
fn summary(result: &RunResult, counts: &Counts) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "tests", "passed", "failed", "errors", "skipped", "not run", "flaky", "time",
    ]);
    table.add_row(
        [
            counts.tests,
            counts.passed,
            counts.failed,
            counts.errors,
            counts.skipped,
            counts.not_run,
            counts.flaky,
        ]
        .iter()
        .map(|n| Cell::new(n).set_alignment(CellAlignment::Right))
        .chain([Cell::new(format!("{:.2}s", result.seconds)).set_alignment(CellAlignment::Right)]),
    );
    say_raw(&table.to_string());
    let bad: Vec<_> = result
        .results
        .iter()
        .filter(|r| r.outcome().is_failure() || r.outcome() == Outcome::NotRun)
        .collect();
    for r in bad.iter().take(20) {
        say_raw(&format!("  {:<7} {}", r.outcome().as_str(), r.id));
    }
    if bad.len() > 20 {
        say_raw(&format!(
            "  ... and {} more (the ids are on stdout)",
            bad.len() - 20
        ));
    }
    if let Some(sig) = result.interrupted {
        say(&format!("interrupted by {}", signal_name(sig)));
    }
}
