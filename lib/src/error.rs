//! The one error type of the library: every message says what was wrong and where.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a test id was read: the input's name (a path, or `<stdin>`) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {source_name}")]
    Read {
        source_name: String,
        #[source]
        source: io::Error,
    },

    #[error("{at}:{column}: test id is not valid UTF-8")]
    InvalidUtf8 { at: Location, column: u64 },

    #[error(
        "{at}:{column}: test id contains the control character U+{code:04X}; ids must be printable text"
    )]
    ControlCharacter {
        at: Location,
        column: u64,
        code: u32,
    },

    #[error("duplicate test id `{id}`: first at {first}, again at {second}")]
    DuplicateId {
        id: String,
        first: Location,
        second: Location,
    },

    #[error("no test ids in {sources}: nothing to plan")]
    NoIds { sources: String },

    #[error("invalid {what} `{value}`: {reason}")]
    InvalidParameter {
        what: &'static str,
        value: String,
        reason: String,
    },

    /// The node to plan for could not be settled; `origin` names the flag or variable.
    #[error("{origin}: {reason}")]
    NodeSelection { origin: String, reason: String },

    #[error("{at}: {reason}")]
    Manifest { at: Location, reason: String },

    /// A report that cannot be read, and where: 1-based line and column (in bytes).
    #[error("{source_name}:{line}:{column}: {message}")]
    Report {
        source_name: String,
        line: u64,
        column: u64,
        message: String,
    },

    /// A runner's listing of its tests failed.
    #[error("collecting tests with `{command}`: {reason}")]
    Collect { command: String, reason: String },

    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A node's share cannot be taken from a manifest.
    #[error(transparent)]
    Share(#[from] crate::exec::share::ShareError),

    #[error("cannot touch the shard status file {}", path.display())]
    StatusFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
