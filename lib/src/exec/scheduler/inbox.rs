//! Where a run's notes arrive: the watcher's, about every process, and the signal
//! forwarder's, so that the scheduler waits on one thing only.

use std::io::{self, PipeReader, Read};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Instant;

use super::super::Interrupter;
use super::super::process::{Note, Watcher};

/// Where a run's notes arrive: made before the run so that a signal handler can hold the
/// [`Interrupter`] from the start.
#[derive(Debug)]
pub struct Inbox {
    /// Kept so that the channel cannot close while it is read.
    _sender: Sender<Note>,
    receiver: Receiver<Note>,
    /// Readable when the interrupter sent a note: it wakes the watcher's wait.
    woken: PipeReader,
    watcher: Watcher,
}

/// A new inbox and the interrupter that writes to it.
pub fn inbox() -> io::Result<(Inbox, Interrupter)> {
    let (sender, receiver) = mpsc::channel();
    let (woken, wake) = io::pipe()?;
    let interrupter = Interrupter {
        notes: sender.clone(),
        wake: Arc::new(wake),
    };
    let inbox = Inbox {
        _sender: sender,
        receiver,
        woken,
        watcher: Watcher::default(),
    };
    Ok((inbox, interrupter))
}

impl Inbox {
    /// What watches the processes of the run: each is started with it.
    pub(super) fn watcher(&mut self) -> &mut Watcher {
        &mut self.watcher
    }

    /// The next note, waiting for it until `wake` (for ever without one); none when `wake`
    /// comes first.
    pub(super) fn next(&mut self, wake: Option<Instant>) -> io::Result<Option<Note>> {
        loop {
            match self.receiver.try_recv() {
                Ok(note) => return Ok(Some(note)),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    return Err(io::Error::other("the run's note channel closed"));
                }
            }
            if let Some(note) = self.watcher.take() {
                return Ok(Some(note));
            }
            if wake.is_some_and(|at| at <= Instant::now()) {
                return Ok(None);
            }
            if self.watcher.wait(Some(self.woken.as_fd()), wake)? {
                // One byte a note; what is left wakes the next wait at once.
                let mut bytes = [0u8; 64];
                let _ = self.woken.read(&mut bytes);
            }
        }
    }
}
