//! Where a run's notes arrive: every process's helper writes there, and so does the signal
//! handler, so that the scheduler waits on one thing only.

use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use super::super::Interrupter;
use super::super::process::Note;

/// Where a run's notes arrive: made before the run so that a signal handler can hold the
/// [`Interrupter`] from the start.
#[derive(Debug)]
pub struct Inbox {
    sender: Sender<Note>,
    receiver: Receiver<Note>,
}

/// A new inbox and the interrupter that writes to it.
pub fn inbox() -> (Inbox, Interrupter) {
    let (sender, receiver) = mpsc::channel();
    (
        Inbox {
            sender: sender.clone(),
            receiver,
        },
        Interrupter(sender),
    )
}

impl Inbox {
    /// Where the processes of the run send their notes.
    pub(super) fn sender(&self) -> &Sender<Note> {
        &self.sender
    }

    /// The next note, waiting for it until `wake` (for ever without one); none when `wake`
    /// comes first.
    pub(super) fn next(&self, wake: Option<Instant>) -> io::Result<Option<Note>> {
        let now = Instant::now();
        match wake {
            Some(at) if at <= now => Ok(None),
            Some(at) => match self.receiver.recv_timeout(at - now) {
                Ok(note) => Ok(Some(note)),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => closed(),
            },
            None => match self.receiver.recv() {
                Ok(note) => Ok(Some(note)),
                Err(_) => closed(),
            },
        }
    }
}

/// The inbox keeps a sender of its own, so its channel cannot close while it is read.
fn closed<T>() -> io::Result<T> {
    Err(io::Error::other("the run's note channel closed"))
}
