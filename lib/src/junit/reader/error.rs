//! The reader's error: a message and the byte offset it belongs to, and whether the input
//! merely ended early.

use std::io;

/// What went wrong, and the byte offset in the input where.
#[derive(Debug)]
pub struct ReadError {
    pub offset: u64,
    pub message: String,
    /// The input ended early (a truncated file): what a salvage can recover from.
    pub truncated: bool,
}

impl ReadError {
    pub(super) fn new(offset: u64, message: impl Into<String>) -> Self {
        ReadError {
            offset,
            message: message.into(),
            truncated: false,
        }
    }

    /// The input ends early at `offset`: an error a salvage can recover from.
    pub(super) fn truncated(offset: u64, message: impl Into<String>) -> Self {
        ReadError {
            truncated: true,
            ..ReadError::new(offset, message)
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::new(0, format!("cannot read: {e}"))
    }
}
