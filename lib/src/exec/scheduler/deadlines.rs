//! When a process's group gets its signals: SIGTERM when its timeout is up, SIGKILL a grace
//! period after that SIGTERM (or after a signal passed on from the runner). Tests and the
//! `--setup` and `--teardown` fixtures keep their deadlines the same way.

use std::time::{Duration, Instant};

/// The signals a process's group has still to get, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Deadlines {
    /// When SIGTERM goes to its group (its timeout).
    term_at: Option<Instant>,
    /// When SIGKILL goes to its group.
    kill_at: Option<Instant>,
}

/// What is due at a look at the clock, to be sent in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Due {
    /// SIGTERM: the timeout is up (or the process is to be stopped at once).
    pub(super) term: bool,
    /// SIGKILL: the grace period is up.
    pub(super) kill: bool,
}

impl Deadlines {
    /// The deadlines of a process started at `started`: SIGTERM after `timeout`, if any.
    pub(super) fn new(started: Instant, timeout: Option<Duration>) -> Self {
        Deadlines {
            term_at: timeout.map(|t| started + t),
            kill_at: None,
        }
    }

    /// The first deadline to come, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        [self.term_at, self.kill_at].into_iter().flatten().min()
    }

    /// SIGTERM is due at once (a process started just as a signal came).
    pub(super) fn term_now(&mut self, now: Instant) {
        self.term_at = Some(now);
    }

    /// A signal was passed on to the group at `now`: SIGKILL follows after `grace`; the
    /// timeout still counts.
    pub(super) fn kill_after(&mut self, now: Instant, grace: Duration) {
        self.kill_at = Some(now + grace);
    }

    /// A signal was passed on to the group at `now` in place of its timeout: SIGKILL follows
    /// after `grace`, and no SIGTERM.
    pub(super) fn stop_after(&mut self, now: Instant, grace: Duration) {
        self.term_at = None;
        self.kill_after(now, grace);
    }

    /// SIGKILL went to the group: nothing more is due.
    pub(super) fn clear(&mut self) {
        *self = Deadlines::default();
    }

    /// What is due at `now`. A timeout that is up sends SIGTERM only to a process still
    /// `running`, and starts its grace period; a grace period that is up sends SIGKILL
    /// whether or not the process ended (what it left in its group goes too). What is due is
    /// taken off.
    pub(super) fn due(&mut self, now: Instant, running: bool, grace: Duration) -> Due {
        let mut due = Due::default();
        if self.term_at.is_some_and(|t| t <= now) {
            self.term_at = None;
            if running {
                due.term = true;
                self.kill_after(now, grace);
            }
        }
        if self.kill_at.is_some_and(|t| t <= now) {
            self.kill_at = None;
            due.kill = true;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_process_without_a_timeout_has_nothing_due() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, None);
        assert_eq!(deadlines.next(), None);
        assert_eq!(
            deadlines.due(start + 100 * SECOND, true, SECOND),
            Due::default()
        );
    }

    #[test]
    fn a_timeout_sends_sigterm_then_sigkill_after_the_grace_period() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, Some(10 * SECOND));
        assert_eq!(deadlines.next(), Some(start + 10 * SECOND));
        assert_eq!(
            deadlines.due(start + 9 * SECOND, true, 2 * SECOND),
            Due::default()
        );
        let at = start + 10 * SECOND;
        let due = deadlines.due(at, true, 2 * SECOND);
        assert_eq!(
            due,
            Due {
                term: true,
                kill: false
            }
        );
        assert_eq!(deadlines.next(), Some(at + 2 * SECOND));
        let due = deadlines.due(at + 2 * SECOND, true, 2 * SECOND);
        assert_eq!(
            due,
            Due {
                term: false,
                kill: true
            }
        );
        assert_eq!(deadlines.next(), None);
    }

    #[test]
    fn no_grace_period_sends_both_signals_at_once() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, Some(SECOND));
        let due = deadlines.due(start + SECOND, true, Duration::ZERO);
        assert_eq!(
            due,
            Due {
                term: true,
                kill: true
            }
        );
    }

    #[test]
    fn a_timeout_after_the_process_ended_sends_nothing() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, Some(SECOND));
        assert_eq!(deadlines.due(start + SECOND, false, SECOND), Due::default());
        assert_eq!(deadlines.next(), None);
    }

    #[test]
    fn a_grace_period_kills_even_a_process_that_ended() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, Some(10 * SECOND));
        deadlines.stop_after(start, SECOND);
        assert_eq!(deadlines.next(), Some(start + SECOND));
        let due = deadlines.due(start + SECOND, false, SECOND);
        assert_eq!(
            due,
            Due {
                term: false,
                kill: true
            }
        );
        assert_eq!(deadlines.next(), None);
    }

    #[test]
    fn a_signal_passed_on_keeps_the_timeout_unless_it_replaces_it() {
        let start = Instant::now();
        let mut kept = Deadlines::new(start, Some(SECOND));
        kept.kill_after(start, 5 * SECOND);
        assert_eq!(kept.next(), Some(start + SECOND));
        let mut replaced = Deadlines::new(start, Some(SECOND));
        replaced.stop_after(start, 5 * SECOND);
        assert_eq!(replaced.next(), Some(start + 5 * SECOND));
    }

    #[test]
    fn a_process_stopped_at_once_gets_sigterm_at_the_next_look() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, None);
        deadlines.term_now(start);
        assert!(deadlines.due(start, true, SECOND).term);
        assert_eq!(deadlines.next(), Some(start + SECOND));
    }

    #[test]
    fn a_kill_clears_every_deadline() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, Some(SECOND));
        deadlines.kill_after(start, SECOND);
        deadlines.clear();
        assert_eq!(deadlines.next(), None);
    }
}
