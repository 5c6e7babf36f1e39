//! The `--setup` and `--teardown` commands: each run to its end in its own process group,
//! its output passed through to stderr, under the same deadlines as a test.

use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;
use std::time::Instant;

use nix::sys::signal::Signal;

use super::super::process::{self, Note};
use super::super::{Observer, duration};
use super::deadlines::Deadlines;
use super::inbox::Inbox;
use super::job::JobId;
use super::wording::signal_name;
use super::{State, Stop};

/// A command run once before any test or once after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fixture {
    Setup,
    Teardown,
}

impl Fixture {
    /// The flag that names it in messages.
    pub(super) fn flag(self) -> &'static str {
        match self {
            Fixture::Setup => "--setup",
            Fixture::Teardown => "--teardown",
        }
    }
}

/// How a fixture's process ended.
struct Ended {
    status: io::Result<ExitStatus>,
    timed_out: bool,
}

impl State<'_> {
    /// Runs a `--setup` or `--teardown` command to its end, in its own process group, its
    /// output passed through to stderr as it comes (a server it starts may go on writing
    /// there). `--timeout` applies; a signal stops it as it stops tests (and stops the run);
    /// one that comes while a stop is under way kills it at once. Whatever it leaves running
    /// (a server for the tests) is left alone. Errors say how it ended.
    pub(super) fn fixture(
        &mut self,
        fixture: Fixture,
        argv: &[String],
        inbox: &mut Inbox,
        observer: &mut dyn Observer,
    ) -> Result<(), String> {
        let config = self.config;
        let shown = argv.join(" ");
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let env = [
            ("SHARD_NODE", config.node.to_string()),
            ("SHARD_NODES", config.nodes.to_string()),
        ];
        let child = process::spawn(
            JobId::Fixture(fixture).tag(),
            &argv,
            &env,
            process::Output::Stderr,
            self.guard.as_ref(),
            inbox.watcher(),
        )
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
        let deadlines = Deadlines::new(Instant::now(), config.timeout);
        if matches!(self.stop, Some(Stop::Signal(_))) {
            // The run was interrupted: the teardown runs, but a signal now kills it.
            self.second_signal = true;
        }
        let ended = self.watch(fixture, child.pgid, deadlines, inbox, observer);
        let told = match &ended.status {
            Ok(s) if s.success() && !ended.timed_out => {
                child.reap();
                return Ok(());
            }
            Ok(s) => process::describe(s),
            Err(e) => format!("could not be awaited: {e}"),
        };
        if ended.timed_out || self.stop.is_some() {
            // What is left of a fixture that was stopped goes too.
            process::kill_group(child.pgid, Signal::SIGKILL);
        }
        child.reap();
        Err(match (ended.timed_out, config.timeout) {
            (true, Some(t)) => format!(
                "`{shown}`: timed out after {} ({told})",
                duration::display(t)
            ),
            _ => format!("`{shown}`: {told}"),
        })
    }

    /// Waits for the fixture's process (group `pgid`) to end, sending its group the signals
    /// its deadlines and the run's signals call for.
    fn watch(
        &mut self,
        fixture: Fixture,
        pgid: i32,
        mut deadlines: Deadlines,
        inbox: &mut Inbox,
        observer: &mut dyn Observer,
    ) -> Ended {
        let config = self.config;
        let tag = JobId::Fixture(fixture).tag();
        let mut timed_out = false;
        loop {
            match inbox.next(deadlines.next()).ok().flatten() {
                Some(Note::Done { job, status } | Note::Exited { job, status }) if job == tag => {
                    return Ended { status, timed_out };
                }
                Some(Note::Signal(sig)) => {
                    if self.second_signal || matches!(self.stop, Some(Stop::Signal(_))) {
                        process::kill_group(pgid, Signal::SIGKILL);
                    } else {
                        observer.warning(&format!(
                            "{}: stopping {} and the run (SIGKILL after {}; again to kill now)",
                            signal_name(sig),
                            fixture.flag(),
                            duration::display(config.grace)
                        ));
                        self.stop = Some(Stop::Signal(sig));
                        let signal = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
                        process::kill_group(pgid, signal);
                        deadlines.kill_after(Instant::now(), config.grace);
                    }
                    self.second_signal = true;
                }
                _ => {}
            }
            let due = deadlines.due(Instant::now(), true, config.grace);
            if due.term {
                timed_out = true;
                process::kill_group(pgid, Signal::SIGTERM);
            }
            if due.kill {
                process::kill_group(pgid, Signal::SIGKILL);
            }
        }
    }
}
