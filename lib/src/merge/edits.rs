//! What the first pass finds in one input for the second: the suites and cases it holds, its
//! node, and the edits, the places where its bytes cannot be copied as they stand.

use std::ops::Range;
use std::time::SystemTime;

use crate::junit::reader::Kind;

use super::report::Totals;

/// What the first pass knows of a suite or case, by its number in document order.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Element {
    pub is_suite: bool,
    /// It has a `<properties>` of its own: provenance goes into that one.
    pub has_properties: bool,
    /// It has a `shard.node` property.
    pub has_node: bool,
    /// A `shard.source` property of a suite.
    pub has_source: bool,
}

/// Where a broken input stops being usable.
#[derive(Debug, Clone)]
pub(super) struct Broken {
    /// The synthetic case's message.
    pub message: String,
}

/// Which suite gets the properties of the input's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CarryTo {
    /// No suite yet: a suite made for an input with none gets them.
    Nowhere,
    /// The suite made for content the root holds outside any suite.
    Holder,
    /// The first suite at the top level, by element number.
    Suite(usize),
}

/// An element left open where a broken input stops, closed by the second pass.
#[derive(Debug, Clone)]
pub(super) struct Closer {
    pub name: String,
    /// The suite or case whose provenance goes in before it closes (a `<properties>`).
    pub owner: Option<u32>,
}

/// A file's length and modification time, to tell whether it changed between the passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub len: u64,
    pub modified: SystemTime,
}

/// The first pass's findings about one input, for the second.
#[derive(Debug, Clone)]
pub(super) struct InputScan {
    /// Per suite and case, in document order.
    pub elements: Vec<Element>,
    /// Per suite whose counts are recounted, in document order: its cases and those of the
    /// suites in it.
    pub suites: Vec<Totals>,
    /// The node label: the first `shard.node` property of a suite or the root, else the file's.
    pub label: String,
    /// Properties that go into the first top-level suite: the root's own, then its attributes.
    pub carried: Vec<(String, String)>,
    /// The namespace declarations (`xmlns:x`) of a dissolved `<testsuites>` root: each suite
    /// written again declares them, so that its prefixed attributes stay bound.
    pub namespaces: Vec<(String, String)>,
    /// The name of the root `<testsuites>`, for the suites made for content outside any suite.
    pub root_name: Option<String>,
    /// Cases outside any `<testcase>` (nested cases are not counted).
    pub cases: u64,
    pub broken: Option<Broken>,
    /// What the second pass changes, in input order.
    pub edits: Vec<Edit>,
    /// The bytes of the input that go into the merge (edited): the content of a `<testsuites>`
    /// root, or the whole `<testsuite>` root.
    pub copy: Range<u64>,
    /// The elements left open where a broken input stops, innermost first.
    pub closers: Vec<Closer>,
    pub carry_to: CarryTo,
    /// Whether the input has a suite at the top level.
    pub top_level: bool,
    /// The input when it was read.
    pub stamp: Option<Stamp>,
    /// A suite or the root says it is a shard-exec journal (`shard.journal`).
    pub journal: bool,
    /// The input is not UTF-8: it is decoded, and its offsets are offsets in the decoded text.
    pub decoded: bool,
}

impl InputScan {
    pub fn new() -> InputScan {
        InputScan {
            elements: Vec::new(),
            suites: Vec::new(),
            label: String::new(),
            carried: Vec::new(),
            namespaces: Vec::new(),
            root_name: None,
            cases: 0,
            broken: None,
            edits: Vec::new(),
            copy: 0..0,
            closers: Vec::new(),
            carry_to: CarryTo::Nowhere,
            top_level: false,
            stamp: None,
            journal: false,
            decoded: false,
        }
    }

    /// Puts the edits in input order and keeps those that apply: inside the part copied, and
    /// not inside a part left out.
    pub fn finish_edits(&mut self) {
        let Range { start, end } = self.copy;
        self.edits.sort_by_key(|e| e.at);
        let mut covered = start;
        self.edits.retain(|e| {
            let keep = e.at >= covered && e.at + e.len <= end;
            if keep {
                covered = e.at + e.len;
            }
            keep
        });
        // Kept until the second pass, for every input: no room to spare.
        self.elements.shrink_to_fit();
        self.suites.shrink_to_fit();
        self.edits.shrink_to_fit();
        self.carried.shrink_to_fit();
    }
}

/// A change the second pass makes at a place in an input, found by the first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edit {
    /// Where, as a byte offset.
    pub at: u64,
    /// How many bytes of the input it stands for (0: an insertion).
    pub len: u64,
    pub op: Op,
}

impl Edit {
    /// An insertion at `at`.
    pub fn insert(at: u64, op: Op) -> Edit {
        Edit { at, len: 0, op }
    }

    /// A change of the bytes `range`.
    pub fn replace(range: Range<u64>, op: Op) -> Edit {
        Edit {
            at: range.start,
            len: range.end - range.start,
            op,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// Left out.
    Cut,
    /// A run of character data, written sanitized.
    Text,
    /// The start tag of suite or case number `element` (`suite`: a suite's number among the
    /// suites whose counts are recounted): written again when `rewrite` (a name, a time or a count to fix, a forbidden
    /// character), then its provenance unless it has a `<properties>` of its own.
    Start {
        element: u32,
        suite: Option<u32>,
        rewrite: bool,
        empty: bool,
    },
    /// Another start tag, written again.
    Tag { kind: Kind },
    /// An end tag whose name has a prefix, written with its local name.
    EndTag,
    /// The empty `<properties/>` of suite or case `owner`: opened for its provenance.
    EmptyProperties { owner: u32, rewrite: bool },
    /// Before the `</properties>` of suite or case `owner`: its provenance.
    Append { owner: u32 },
    /// Opens the suite made for content the root holds outside any suite.
    HolderOpen,
    /// Closes it.
    HolderClose,
}

/// A suite's or case's number as the edits store it. No input has 2^32 of them (their
/// elements alone would take 16 GiB): past that, a number names no element and gets no
/// provenance.
pub(super) fn number(element: usize) -> u32 {
    u32::try_from(element).unwrap_or(u32::MAX)
}
