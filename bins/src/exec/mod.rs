//! shard-exec: run one node's share of the tests in parallel processes and write its
//! complete JUnit report.
//!
//! A run reads as its parts: [`Cli`] is what was typed; the request resolves it against the
//! environment and the inputs into the node's share and the library's `Config`; the call
//! runs the share with the signals watched and the terminal told; the report writes the
//! node's JUnit file, the ids that did not pass, the summary, and picks the exit status.

mod cli;
mod report;
mod request;
mod signals;
mod terminal;

use std::time::SystemTime;

use anyhow::{Context, Result};
use shardkit::exec::RunResult;
use shardkit::exec::journal::{Recorder, ReportFile};
use shardkit::exec::scheduler::{self, Inbox};

pub use cli::{Cli, FlakyResult};

use self::request::Request;
use self::signals::SignalWatch;
use self::terminal::Terminal;
use crate::common::{env, plural};
use crate::exit::Exit;
use crate::say;

/// Runs shard-exec.
pub fn run(cli: Cli) -> Result<Exit> {
    let request = Request::resolve(cli, &env)?;
    let who = request.identity();
    // Each result goes to the journal beside the report as it becomes final: a shard-exec
    // killed hard leaves those for `shard-merge --salvage`.
    let mut report_file = match &request.junit {
        Some(path) => Some(ReportFile::open(path, &who, SystemTime::now())?),
        None => None,
    };
    let (inbox, interrupter) = scheduler::inbox().context("cannot make the run's inbox")?;
    let signals = SignalWatch::start(interrupter)?;
    let result = call(&request, report_file.as_mut(), inbox)?;
    let written = report::write(report_file, &result, &who);
    let counts = report::tell(&request, &result)?;
    // A signal that came after the run still ends it as interrupted, once the report is out.
    let late = signals.stop();
    let interrupted = result.interrupted.or(late);
    Ok(report::exit(
        &request,
        &result,
        &counts,
        written,
        interrupted,
    ))
}

/// Runs the share, with the terminal (and the journal, when there is a report) told as it
/// goes.
fn call(
    request: &Request,
    report_file: Option<&mut ReportFile>,
    inbox: Inbox,
) -> Result<RunResult> {
    let (ids, jobs) = (&request.share.ids, request.config.jobs());
    if !request.quiet {
        say(&format!(
            "running {} test{} of node {} of {} with {jobs} job{}",
            ids.len(),
            plural(ids.len()),
            request.share.node,
            request.share.nodes,
            plural(jobs)
        ));
    }
    let mut terminal = Terminal::new(ids.len(), request.quiet);
    let journal = report_file.and_then(ReportFile::journal);
    let mut recorder = Recorder::new(journal, &mut terminal);
    let result = scheduler::run(&request.config, ids, inbox, &mut recorder);
    terminal.done();
    result.context("the run failed")
}
