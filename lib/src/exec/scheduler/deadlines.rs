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

