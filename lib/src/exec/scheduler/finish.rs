//! A process that ended, judged and applied: its report read, its verdict's results recorded
//! as attempts, its failures queued to run again or counted against `--max-fail`, and the
//! observer told.

use std::collections::VecDeque;
use std::sync::Arc;

use std::time::SystemTime;

use super::super::{
    Attempt, Finished, Observer, Outcome, Output, ProcessSpan, ReportFormat, results,
};
use super::job::Job;
use super::verdict::{self, Ending, Given, Report, Verdict};
use super::wording::shown_ids;
use super::work::{Isolation, Work};
use super::{State, Stop};

/// What the observer is told of a process besides its ids' results.
pub(super) struct Ran<'a> {
    pub(super) slot: usize,
    pub(super) attempt: u32,
    pub(super) seconds: f64,
    /// How the process ended.
    pub(super) status: &'a str,
    pub(super) output: &'a Output,
    /// Where and when its process ran; `None` when it could not start.
    pub(super) process: Option<ProcessSpan>,
}

impl State<'_> {
    /// A process ended and its pipes closed (or were given up on): its ids get results.
    pub(super) fn finish(
        &mut self,
        job: Job,
        queue: &mut VecDeque<Work>,
        observer: &mut dyn Observer,
    ) {
        job.release();
        let seconds = job.started.elapsed().as_secs_f64();
        let mut output = job.output();
        let ending = Ending::of(job.status.as_ref(), job.timed_out, job.interrupted);
        let mut status = ending.told.clone();
        if job.leaked {
            status.push_str("; a process it left behind kept its output open and was killed");
            output
                .stderr
                .push_str("\n[shard-exec: a process left behind kept this output open; its group was killed]\n");
        }
        let ran = Ran {
            slot: job.slot,
            attempt: job.work.attempt,
            seconds,
            status: &status,
            output: &output,
            process: job.span(SystemTime::now()),
        };
        let stopping = self.stop.is_some();
        // Without {junit}, the process's end is every id's result.
        let Some(path) = job.junit.as_deref() else {
            let verdict = verdict::judge(&job.work, &ending, None, &self.rules, stopping);
            self.settle(&ran, verdict.given, queue, observer);
            return;
        };
        let ids: Vec<&str> = job.work.ids.iter().map(|&i| self.ids[i].as_str()).collect();
        let (batch, report_error) = match self.config.report {
            ReportFormat::Junit => results::read(path, &ids),
            ReportFormat::GoTestJson => results::read_go_json(path, &ids),
        };
        let _ = std::fs::remove_file(path);
        let report = Report {
            cases: &batch.cases,
            error: report_error.as_deref(),
        };
        let Verdict { given, rerun } =
            verdict::judge(&job.work, &ending, Some(report), &self.rules, stopping);
        let shown = shown_ids(&ids);
        for case in batch.unmatched {
            observer.warning(&format!(
                "the report of {shown} holds a case that names none of its ids: {}; kept in the report, flagged",
                crate::junit::matching::fallback_id(case.classname.as_deref(), &case.name)
            ));
            observer.unmatched(&case);
            self.unmatched.push(case);
        }
        if let Some(rerun) = rerun {
            observer.warning(&rerun.warning(&shown, &ending.told));
            for work in rerun.batches().into_iter().rev() {
                queue.push_front(work);
            }
        }
        self.settle(&ran, given, queue, observer);
    }

    /// Records the attempt of every id `given` a result, queues retries, counts failures for
    /// `--max-fail`, and tells the observer.
    pub(super) fn settle(
        &mut self,
        ran: &Ran<'_>,
        given: Vec<Given>,
        queue: &mut VecDeque<Work>,
        observer: &mut dyn Observer,
    ) {
        // Output is kept for the attempts whose report shows it (those that did not pass), so
        // that a long run of passing, chatty processes does not pile up in memory.
        let kept = Arc::new(ran.output.clone());
        let none = Arc::new(Output::default());
        let mut retry = Vec::new();
        let mut settled = Vec::with_capacity(given.len());
        for Given {
            id,
            decision,
            retry: again,
        } in given
        {
            let outcome = decision.outcome;
            self.results[id].attempts.push(Attempt {
                number: ran.attempt,
                outcome,
                message: decision.message,
                seconds: decision
                    .case
                    .as_ref()
                    .and_then(|c| c.time)
                    .unwrap_or(ran.seconds),
                output: if matches!(outcome, Outcome::Passed | Outcome::Skipped) {
                    Arc::clone(&none)
                } else {
                    Arc::clone(&kept)
                },
                case: decision.case,
                process: ran.process,
            });
            if again {
                retry.push(id);
            } else if outcome.is_failure() {
                self.failed += 1;
            }
            settled.push(id);
        }
        let finished = Finished {
            slot: ran.slot + 1,
            attempt: ran.attempt,
            ids: settled
                .iter()
                .map(|&i| {
                    let last = self.results[i].attempts.last();
                    (
                        self.ids[i].as_str(),
                        last.map_or(Outcome::NotRun, |a| a.outcome),
                        last.and_then(|a| a.message.as_deref()),
                    )
                })
                .collect(),
            retrying: retry.iter().map(|&i| self.ids[i].as_str()).collect(),
            seconds: ran.seconds,
            status: ran.status,
            output: ran.output,
        };
        observer.finished(&finished);
        for &i in settled.iter().filter(|i| !retry.contains(i)) {
            observer.settled(&self.results[i]);
        }
        if !retry.is_empty() {
            queue.push_front(Work {
                ids: retry,
                attempt: ran.attempt + 1,
                slot: Some(ran.slot),
                isolation: Isolation::Batch,
            });
        }
        if self.rules.max_fail_reached(self.failed) && self.stop.is_none() {
            self.stop = Some(Stop::MaxFail(self.failed));
        }
    }
}
