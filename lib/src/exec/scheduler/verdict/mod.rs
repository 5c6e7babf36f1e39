//! The verdict on a process that ended, as a pure function: from how it ended, what its
//! report said, the attempt it was and the retries left, the outcome of each of its ids,
//! which of those run again because they failed, and which run again to find the test that
//! crashed the batch. No processes and no observer: the scheduler applies it.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use super::super::results::ChildCase;
use super::super::{Config, MaxFail, Outcome, duration, process};
use super::work::{Isolation, Work};

/// How a process ended, as far as its ids' outcomes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It ended without an exit code: a signal killed it.
    Crashed,
    /// How it ended is not known: it could not be awaited.
    Unknown,
}

/// A process's end: how, how it is told, and whether the scheduler stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ending {
    pub(super) exit: Exit,
    /// `exit status 1`, `killed by signal 9 (SIGKILL)`, `could not be awaited: ...`.
    pub(super) told: String,
    /// Its timeout sent it SIGTERM.
    pub(super) timed_out: bool,
    /// A signal to the run stopped it.
    pub(super) interrupted: bool,
}

impl Ending {
    /// The end of a process whose status is `status` (none when it was not seen to end).
    pub(super) fn of(
        status: Option<&io::Result<ExitStatus>>,
        timed_out: bool,
        interrupted: bool,
    ) -> Self {
        let (exit, told) = match status {
            Some(Ok(status)) => (
                status.code().map_or(Exit::Crashed, Exit::Code),
                process::describe(status),
            ),
            Some(Err(e)) => (Exit::Unknown, format!("could not be awaited: {e}")),
            None => (Exit::Unknown, "still running".to_string()),
        };
        Ending {
            exit,
            told,
            timed_out,
            interrupted,
        }
    }

    fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    fn crashed(&self) -> bool {
        self.exit == Exit::Crashed
    }
}

/// What the command's own report said about a batch (with `{junit}` or its like).
#[derive(Debug, Clone, Copy)]
pub(super) struct Report<'a> {
    /// Per id of the batch, in its order: the case that names it.
    pub(super) cases: &'a [Option<Arc<ChildCase>>],
    /// Why the report could not be read, or not to its end.
    pub(super) error: Option<&'a str>,
}

/// What of the run's configuration a verdict follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rules {
    /// Per process: told in the message of a test that timed out.
    pub(super) timeout: Option<Duration>,
    /// The exit status with which the command says it ran none of its ids.
    pub(super) nothing_ran_status: Option<i32>,
    /// Re-runs of a failed id.
    pub(super) retries: u32,
    /// Stop starting work after this many ids failed for good.
    pub(super) max_fail: Option<MaxFail>,
}

impl Rules {
    pub(super) fn of(config: &Config) -> Self {
        Rules {
            timeout: config.timeout,
            nothing_ran_status: config.nothing_ran_status,
            retries: config.retries,
            max_fail: config.max_fail,
        }
    }

    /// Whether `failed` ids failed for good is enough to stop the run.
    pub(super) fn max_fail_reached(&self, failed: usize) -> bool {
        self.max_fail.is_some_and(|max| max.reached(failed))
    }

    /// The message of a test that timed out, when a timeout is set.
    fn timeout_message(&self, told: &str) -> Option<String> {
        self.timeout
            .map(|t| format!("timed out after {} ({told})", duration::display(t)))
    }
}

/// One attempt's result for one id.
#[derive(Debug, Clone)]
pub(super) struct Decision {
    pub(super) outcome: Outcome,
    /// Why, in one line, when it did not pass.
    pub(super) message: Option<String>,
    /// The case as the command's own report wrote it.
    pub(super) case: Option<Arc<ChildCase>>,
}

impl Decision {
    fn new(outcome: Outcome, message: Option<String>) -> Self {
        Decision {
            outcome,
            message,
            case: None,
        }
    }

    /// What a case of the command's report says: its outcome and, when it did not pass,
    /// its message (or its outcome's name).
    fn of_case(case: &Arc<ChildCase>) -> Self {
        let message = match case.outcome {
            Outcome::Passed => None,
            outcome => Some(
                case.message
                    .clone()
                    .unwrap_or_else(|| outcome.as_str().to_string()),
            ),
        };
        Decision {
            outcome: case.outcome,
            message,
            case: Some(Arc::clone(case)),
        }
    }
}

/// An id given its result by this attempt.
#[derive(Debug, Clone)]
pub(super) struct Given {
    /// Its index into the run's ids.
    pub(super) id: usize,
    pub(super) decision: Decision,
    /// It failed and runs again, as the next attempt.
    pub(super) retry: bool,
}

/// Why a batch left ids without a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    TimedOut,
    Crashed,
}

impl Fault {
    fn as_str(self) -> &'static str {
        match self {
            Fault::TimedOut => "timed out",
            Fault::Crashed => "crashed",
        }
    }
}

/// The ids a batch that crashed (or timed out) left without a result, with nothing to tell
/// which of them did it: they run again, in the same attempt, to find out (see
/// [`Isolation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rerun {
    pub(super) ids: Vec<usize>,
    pub(super) fault: Fault,
    /// How far the batch that left them had been narrowed down.
    pub(super) after: Isolation,
    pub(super) attempt: u32,
}

impl Rerun {
    /// The work they run again as, in the order it runs: together after a batch's first
    /// crash, each alone after the second.
    pub(super) fn batches(&self) -> Vec<Work> {
        let isolation = self.after.narrowed();
        let groups = match self.after {
            Isolation::Batch => vec![self.ids.clone()],
            Isolation::Again | Isolation::Alone => self.ids.iter().map(|&i| vec![i]).collect(),
        };
        groups
            .into_iter()
            .map(|ids| Work {
                ids,
                attempt: self.attempt,
                slot: None,
                isolation,
            })
            .collect()
    }

    /// What is said of it: `shown` names the batch's ids, `told` how its process ended.
    pub(super) fn warning(&self, shown: &str, told: &str) -> String {
        let how = self.fault.as_str();
        match self.after {
            Isolation::Batch => format!(
                "the process of {shown} {how} ({told}) with {} of its ids not reported; running those again together",
                self.ids.len()
            ),
            Isolation::Again | Isolation::Alone => format!(
                "the process of {shown} {how} again ({told}); running each of its {} unreported ids alone",
                self.ids.len()
            ),
        }
    }
}

/// What an ended process means for its ids.
#[derive(Debug, Clone)]
pub(super) struct Verdict {
    /// The ids given a result, in the batch's order.
    pub(super) given: Vec<Given>,
    /// The ids that run again to find the test that crashed the batch.
    pub(super) rerun: Option<Rerun>,
}

impl Verdict {
    /// A process for `work` that could not even start: every id errors with `why`, and
    /// none is retried.
    pub(super) fn cannot_start(work: &Work, why: &str) -> Self {
        let given = work
            .ids
            .iter()
            .map(|&id| Given {
                id,
                decision: Decision::new(Outcome::Errored, Some(why.to_string())),
                retry: false,
            })
            .collect();
        Verdict { given, rerun: None }
    }
}

/// The verdict on the process of `work` that ended as `ending`, its report being `report`
/// when its command writes one: without, the process's end is every id's result. A failure
/// is retried while `rules` leave retries and the run is not `stopping`.
pub(super) fn judge(
    work: &Work,
    ending: &Ending,
    report: Option<Report<'_>>,
    rules: &Rules,
    stopping: bool,
) -> Verdict {
    let may_retry = work.attempt <= rules.retries && !stopping;
    let give = |id: usize, decision: Decision| Given {
        id,
        retry: may_retry && decision.outcome.is_failure(),
        decision,
    };
    let Some(report) = report else {
        let decision = by_status(ending, rules);
        return Verdict {
            given: work
                .ids
                .iter()
                .map(|&id| give(id, decision.clone()))
                .collect(),
            rerun: None,
        };
    };
    let told = &ending.told;
    let abnormal = ending.timed_out || ending.crashed() || ending.interrupted;
    let nothing_ran = matches!(ending.exit, Exit::Code(c) if Some(c) == rules.nothing_ran_status);
    let why_missing = match report.error {
        Some(e) => format!("no result reported ({told}; {e})"),
        None => format!("no result reported ({told})"),
    };
    let mut missing = report.cases.iter().enumerate().filter(|(_, c)| c.is_none());
    // Which test was running when the process died: the only one without a result, if
    // there is one; otherwise it is found by running the others again (see Isolation).
    let blamed = match (missing.next(), missing.next()) {
        (Some((only, _)), None) if abnormal => Some(only),
        _ => None,
    };
    let mut given = Vec::with_capacity(work.ids.len());
    let mut rerun = Vec::new();
    for (k, (case, &id)) in report.cases.iter().zip(&work.ids).enumerate() {
        let decision = if let Some(case) = case {
            Decision::of_case(case)
        } else if ending.interrupted {
            Decision::new(
                Outcome::NotRun,
                Some(format!("interrupted before it reported a result ({told})")),
            )
        } else if Some(k) == blamed {
            let message = if ending.timed_out {
                rules.timeout_message(told)
            } else {
                Some(format!("the process crashed while running it ({told})"))
            };
            Decision::new(Outcome::Errored, message)
        } else if abnormal {
            rerun.push(id);
            continue;
        } else if nothing_ran {
            Decision::new(
                Outcome::Skipped,
                Some(format!(
                    "not selected: the command ran none of its ids ({told})"
                )),
            )
        } else {
            Decision::new(Outcome::Errored, Some(why_missing.clone()))
        };
        given.push(give(id, decision));
    }
    let rerun = (!rerun.is_empty()).then_some(Rerun {
        ids: rerun,
        fault: if ending.timed_out {
            Fault::TimedOut
        } else {
            Fault::Crashed
        },
        after: work.isolation,
        attempt: work.attempt,
    });
    Verdict { given, rerun }
}

/// Every id's result when the process's end is all there is to go by.
fn by_status(ending: &Ending, rules: &Rules) -> Decision {
    let told = &ending.told;
    if ending.timed_out {
        Decision::new(Outcome::Errored, rules.timeout_message(told))
    } else if ending.interrupted && !ending.success() {
        Decision::new(
            Outcome::NotRun,
            Some(format!("interrupted while running ({told})")),
        )
    } else if ending.success() {
        Decision::new(Outcome::Passed, None)
    } else if ending.crashed() {
        Decision::new(Outcome::Errored, Some(told.clone()))
    } else {
        Decision::new(Outcome::Failed, Some(told.clone()))
    }
}

#[cfg(test)]
mod tests;
