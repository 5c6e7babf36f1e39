//! SIGINT, SIGTERM and SIGHUP during a run: each is passed on to the scheduler, which stops
//! the run, and the last one is kept, also one that comes after the run (while the report is
//! written), so that the run still ends as interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use shardkit::exec::Interrupter;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::exit::Exit;

/// The signals being watched, from the start of the run until [`stop`](Self::stop).
pub(super) struct SignalWatch {
    handle: Handle,
    forwarder: JoinHandle<()>,
    /// The last signal seen; 0 for none (no signal has the number 0).
    last: Arc<AtomicI32>,
}

impl SignalWatch {
    /// Starts passing the signals on to `interrupter`.
    pub(super) fn start(interrupter: Interrupter) -> Result<Self> {
        let mut signals =
            Signals::new([SIGINT, SIGTERM, SIGHUP]).context("cannot handle signals")?;
        let handle = signals.handle();
        let last = Arc::new(AtomicI32::new(0));
        let seen = Arc::clone(&last);
        let forwarder = std::thread::spawn(move || {
            for sig in signals.forever() {
                seen.store(sig, Ordering::SeqCst);
                interrupter.interrupt(sig);
            }
        });
        Ok(SignalWatch {
            handle,
            forwarder,
            last,
        })
    }

    /// Stops watching: the last signal that came, if one did.
    pub(super) fn stop(self) -> Option<i32> {
        self.handle.close();
        let _ = self.forwarder.join();
        let last = self.last.load(Ordering::SeqCst);
        (last != 0).then_some(last)
    }
}

/// The exit status of a run interrupted by `signal`.
pub(super) fn exit_for(signal: i32) -> Exit {
    match signal {
        SIGHUP => Exit::Hangup,
        SIGTERM => Exit::Terminated,
        _ => Exit::Interrupted,
    }
}
