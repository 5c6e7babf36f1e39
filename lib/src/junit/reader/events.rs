//! What the reader yields: the kinds of JUnit elements, the events of a report, and where the
//! tags and runs of character data behind them stand in the input.

use super::Attr;

/// What a JUnit element is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Suites,
    Suite,
    Case,
    Properties,
    Property,
    Failure,
    Error,
    Skipped,
    FlakyFailure,
    FlakyError,
    RerunFailure,
    RerunError,
    SystemOut,
    SystemErr,
    /// Anything else, carried through as it is.
    Other,
}

impl Kind {
    /// The kind of an element called `name`.
    pub(crate) fn of(name: &str) -> Kind {
        match name {
            "testsuites" => Kind::Suites,
            "testsuite" => Kind::Suite,
            "testcase" => Kind::Case,
            "properties" => Kind::Properties,
            "property" => Kind::Property,
            "failure" => Kind::Failure,
            "error" => Kind::Error,
            "skipped" => Kind::Skipped,
            "flakyFailure" => Kind::FlakyFailure,
            "flakyError" => Kind::FlakyError,
            "rerunFailure" => Kind::RerunFailure,
            "rerunError" => Kind::RerunError,
            "system-out" => Kind::SystemOut,
            "system-err" => Kind::SystemErr,
            _ => Kind::Other,
        }
    }
}

/// One step through a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// An element opens; `empty` when it closes at once (`<x/>`), with no `End` to follow.
    Start {
        kind: Kind,
        name: &'a str,
        attrs: &'a [Attr],
        empty: bool,
        /// Where the tag stands in the input.
        span: Span,
        /// The tag cannot be copied byte for byte: an attribute value must be written again
        /// to be valid XML 1.0 (a character reference to a forbidden character, a raw control
        /// character), or a name has a prefix (`<j:testsuite>`, `j:name="..."`: `name` and
        /// `attrs` have the local names) or the tag declares a default namespace (left out
        /// of `attrs`).
        dirty: bool,
        /// A value was longer than [`VALUE_CAP`](super::VALUE_CAP) bytes: `attrs` has its
        /// first ones, the tag as written holds it whole.
        cut: bool,
    },
    /// An element closes; `name` is its local name.
    End {
        kind: Kind,
        name: &'a str,
        span: Span,
        /// The tag's name has a prefix: it cannot be copied byte for byte.
        dirty: bool,
    },
    /// A chunk of character data, escaped and valid XML 1.0, ready to be written as it is: at
    /// most [`CHUNK`](super::CHUNK) bytes of input, so at most five times that (CDATA gets escaped).
    Text(&'a str),
    /// The end of the document.
    Eof,
}

/// A run of character data as it stands in the input, `start..end` in bytes: text, CDATA
/// sections and the comments and processing instructions among them, up to the next tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRun {
    pub start: u64,
    pub end: u64,
    /// The run cannot be copied as it is: the sanitizer changed something, or it holds a CDATA
    /// section, a comment or a processing instruction.
    pub dirty: bool,
}

/// Where a tag stands in the input: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}
