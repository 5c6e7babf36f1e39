//! The terminal side of a run: a progress bar with the running tests on a terminal, one line
//! per finished unit otherwise, and a failure's output when it happens.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shardkit::exec::scheduler::shown_ids;
use shardkit::exec::{Finished, Observer, Outcome};

use crate::say_raw;

/// The terminal side of a run: a progress bar with the running tests on a terminal, one line
/// per finished unit otherwise; a failure's output when it happens.
pub(super) struct Terminal {
    bar: Option<ProgressBar>,
    running: BTreeMap<usize, String>,
    quiet: bool,
}

impl Terminal {
    pub(super) fn new(total: usize, quiet: bool) -> Self {
        let bar = (io::stderr().is_terminal() && !quiet).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Terminal {
            bar,
            running: BTreeMap::new(),
            quiet,
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => say_raw(text),
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            let names: Vec<&str> = self.running.values().map(String::as_str).collect();
            bar.set_message(names.join(", "));
        }
    }

    pub(super) fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Terminal {
    fn started(&mut self, ids: &[&str], slot: usize, _attempt: u32) {
        self.running.insert(slot, shown_ids(ids));
        self.refresh();
    }

    fn finished(&mut self, f: &Finished<'_>) {
        self.running.remove(&f.slot);
        let retry_note = |id: &str| {
            if f.retrying.contains(&id) {
                " (will retry)"
            } else {
                ""
            }
        };
        let mut failed_any = false;
        for (id, outcome, message) in &f.ids {
            let label = match outcome {
                Outcome::Passed if f.attempt > 1 => "FLAKY",
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::Errored => "ERROR",
                Outcome::Skipped => "SKIP",
                Outcome::NotRun => "NOT RUN",
            };
            let bad = outcome.is_failure() || *outcome == Outcome::NotRun;
            failed_any |= bad;
            if self.quiet && !bad {
                continue;
            }
            // Passing batches get one line, not one per id.
            if !bad && f.ids.len() > 1 {
                continue;
            }
            let why = message
                .and_then(|m| m.lines().next())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            self.line(&format!(
                "{label:>7} [{:>7.3}s] {id}{why}{}",
                f.seconds,
                retry_note(id)
            ));
        }
        if f.ids.len() > 1 && !self.quiet {
            let passed = f
                .ids
                .iter()
                .filter(|(_, o, _)| !o.is_failure() && *o != Outcome::NotRun)
                .count();
            self.line(&format!(
                "{:>7} [{:>7.3}s] {passed} of {} in one process (slot {}, {})",
                "BATCH",
                f.seconds,
                f.ids.len(),
                f.slot,
                f.status
            ));
        }
        if failed_any {
            for (name, text) in [("stdout", &f.output.stdout), ("stderr", &f.output.stderr)] {
                let text = text.trim_end();
                if !text.is_empty() {
                    self.line(&format!(
                        "--- {name} of {} ---\n{text}",
                        shown_ids(&f.ids.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
                    ));
                }
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(f.ids.len().saturating_sub(f.retrying.len()) as u64);
        }
        self.refresh();
    }

    fn warning(&mut self, message: &str) {
        self.line(&format!("shard-exec: warning: {message}"));
    }
}
