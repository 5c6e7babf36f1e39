//! What the first pass found in each input, packed for the second: one buffer for all inputs,
//! each input's [`InputScan`] written as varints and strings, unpacked again when its turn to
//! be copied comes. 100,000 small reports are 100,000 scans kept between the passes; held as
//! structs (each with its vectors and strings on the heap) they took about 0.5 KB each,
//! packed they take a few dozen bytes.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use crate::junit::reader::Kind;

use super::edits::{Broken, CarryTo, Closer, Edit, Element, InputScan, Op, Stamp};
use super::report::Totals;

/// Bytes of one block of packed scans: blocks are added, never grown past this, so that no
/// copy of all of them is ever made.
const BLOCK: usize = 1 << 20;

/// Every input's scan, in input order.
#[derive(Debug, Default)]
pub(super) struct Packed {
    blocks: Vec<Vec<u8>>,
    /// Per input, its block and where its scan ends in it (it starts where the one before
    /// ends, or at 0 in a new block).
    ends: Vec<(u32, u32)>,
    /// The scan being packed.
    scratch: Vec<u8>,
}

impl Packed {
    /// Adds the next input's scan.
    pub(super) fn push(&mut self, scan: &InputScan) {
        self.scratch.clear();
        pack(scan, &mut self.scratch);
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.len() + self.scratch.len() <= b.capacity());
        if !fits {
            self.blocks
                .push(Vec::with_capacity(BLOCK.max(self.scratch.len())));
        }
        let block = self.blocks.len() - 1;
        let bytes = &mut self.blocks[block];
        bytes.extend_from_slice(&self.scratch);
        let end = u32::try_from(bytes.len()).expect("a block of packed scans under 4 GiB");
        self.ends.push((block as u32, end));
        if self.scratch.capacity() > BLOCK {
            self.scratch = Vec::new();
        }
    }

    /// The scans, unpacked one by one.
    pub(super) fn iter(&self) -> impl Iterator<Item = InputScan> + '_ {
        (0..self.ends.len()).map(|i| {
            let (block, end) = self.ends[i];
            let start = match i.checked_sub(1).map(|j| self.ends[j]) {
                Some((before, at)) if before == block => at,
                _ => 0,
            };
            unpack(&self.blocks[block as usize][start as usize..end as usize])
        })
    }

    /// Drops the room kept for more.
    pub(super) fn shrink_to_fit(&mut self) {
        if let Some(last) = self.blocks.last_mut() {
            last.shrink_to_fit();
        }
        self.ends.shrink_to_fit();
        self.scratch = Vec::new();
    }
}

/// The element kinds, by their number in the packing.
const KINDS: [Kind; 15] = [
    Kind::Suites,
    Kind::Suite,
    Kind::Case,
    Kind::Properties,
    Kind::Property,
    Kind::Failure,
    Kind::Error,
    Kind::Skipped,
    Kind::FlakyFailure,
    Kind::FlakyError,
    Kind::RerunFailure,
    Kind::RerunError,
    Kind::SystemOut,
    Kind::SystemErr,
    Kind::Other,
];

/// Writes the packing.
struct Out<'b>(&'b mut Vec<u8>);

impl Out<'_> {
    fn number(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn size(&mut self, n: usize) {
        self.number(n as u64);
    }

    fn flag(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }

    fn text(&mut self, s: &str) {
        self.size(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn maybe_text(&mut self, s: Option<&str>) {
        self.flag(s.is_some());
        if let Some(s) = s {
            self.text(s);
        }
    }

    /// `None` as 0, a number as itself plus one.
    fn maybe_number(&mut self, n: Option<u32>) {
        self.number(n.map_or(0, |n| u64::from(n) + 1));
    }
}

/// Reads the packing; what it reads was written by [`pack`], so it cannot be short.
struct In<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl In<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes[self.at];
        self.at += 1;
        b
    }

    fn number(&mut self) -> u64 {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return n;
            }
            shift += 7;
        }
    }

    fn size(&mut self) -> usize {
        usize::try_from(self.number()).unwrap_or(usize::MAX)
    }

    fn small(&mut self) -> u32 {
        u32::try_from(self.number()).unwrap_or(u32::MAX)
    }

    fn flag(&mut self) -> bool {
        self.byte() != 0
    }

    fn text(&mut self) -> String {
        let len = self.size();
        let text = String::from_utf8_lossy(&self.bytes[self.at..self.at + len]).into_owned();
        self.at += len;
        text
    }

    fn maybe_text(&mut self) -> Option<String> {
        self.flag().then(|| self.text())
    }

    fn maybe_number(&mut self) -> Option<u32> {
        self.small().checked_sub(1)
    }
}

fn pack(scan: &InputScan, bytes: &mut Vec<u8>) {
    let mut out = Out(bytes);
    out.size(scan.elements.len());
    for e in &scan.elements {
        let bits = [e.is_suite, e.has_properties, e.has_node, e.has_source];
        out.0.push(
            bits.iter()
                .enumerate()
                .fold(0, |b, (i, &on)| b | (u8::from(on) << i)),
        );
    }
    out.size(scan.suites.len());
    for t in &scan.suites {
        for n in [t.tests, t.failures, t.errors, t.skipped, t.flaky] {
            out.number(n);
        }
        out.number(t.time.to_bits());
    }
    out.text(&scan.label);
    for pairs in [&scan.carried, &scan.namespaces] {
        out.size(pairs.len());
        for (name, value) in pairs {
            out.text(name);
            out.text(value);
        }
    }
    out.maybe_text(scan.root_name.as_deref());
    out.number(scan.cases);
    out.maybe_text(scan.broken.as_ref().map(|b| b.message.as_str()));
    out.size(scan.edits.len());
    let mut last = 0;
    for edit in &scan.edits {
        // Edits are in order: each from the one before.
        out.number(edit.at.wrapping_sub(last));
        last = edit.at;
        out.number(edit.len);
        pack_op(&edit.op, &mut out);
    }
    out.number(scan.copy.start);
    out.number(scan.copy.end);
    out.size(scan.closers.len());
    for closer in &scan.closers {
        out.text(&closer.name);
        out.maybe_number(closer.owner);
    }
    match scan.carry_to {
        CarryTo::Nowhere => out.number(0),
        CarryTo::Holder => out.number(1),
        CarryTo::Suite(i) => out.number(i as u64 + 2),
    }
    out.flag(scan.top_level);
    out.flag(scan.journal);
    out.flag(scan.decoded);
    out.flag(scan.stamp.is_some());
    if let Some(stamp) = scan.stamp {
        out.number(stamp.len);
        // A time before 1970 is kept as 1970: a stamp only tells a file changed.
        let since = stamp
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        out.number(since.as_secs());
        out.number(u64::from(since.subsec_nanos()));
    }
}

fn pack_op(op: &Op, out: &mut Out<'_>) {
    match *op {
        Op::Cut => out.0.push(0),
        Op::Text => out.0.push(1),
        Op::Start {
            element,
            suite,
            rewrite,
            empty,
        } => {
            out.0
                .push(2 | u8::from(rewrite) << 4 | u8::from(empty) << 5);
            out.number(u64::from(element));
            out.maybe_number(suite);
        }
        Op::Tag { kind } => {
            out.0.push(3);
            let number = KINDS.iter().position(|&k| k == kind).unwrap_or(14);
            out.size(number);
        }
        Op::EndTag => out.0.push(4),
        Op::EmptyProperties { owner, rewrite } => {
            out.0.push(5 | u8::from(rewrite) << 4);
            out.number(u64::from(owner));
        }
        Op::Append { owner } => {
            out.0.push(6);
            out.number(u64::from(owner));
        }
        Op::HolderOpen => out.0.push(7),
        Op::HolderClose => out.0.push(8),
    }
}

fn unpack(bytes: &[u8]) -> InputScan {
    let mut at = In { bytes, at: 0 };
    let mut scan = InputScan::new();
    scan.elements = (0..at.size())
        .map(|_| {
            let b = at.byte();
            Element {
                is_suite: b & 1 != 0,
                has_properties: b & 2 != 0,
                has_node: b & 4 != 0,
                has_source: b & 8 != 0,
            }
        })
        .collect();
    scan.suites = (0..at.size())
        .map(|_| Totals {
            tests: at.number(),
            failures: at.number(),
            errors: at.number(),
            skipped: at.number(),
            flaky: at.number(),
            time: f64::from_bits(at.number()),
        })
        .collect();
    scan.label = at.text();
    scan.carried = (0..at.size()).map(|_| (at.text(), at.text())).collect();
    scan.namespaces = (0..at.size()).map(|_| (at.text(), at.text())).collect();
    scan.root_name = at.maybe_text();
    scan.cases = at.number();
    scan.broken = at.maybe_text().map(|message| Broken { message });
    let mut last = 0u64;
    scan.edits = (0..at.size())
        .map(|_| {
            last = last.wrapping_add(at.number());
            let len = at.number();
            Edit {
                at: last,
                len,
                op: unpack_op(&mut at),
            }
        })
        .collect();
    scan.copy = Range {
        start: at.number(),
        end: at.number(),
    };
    scan.closers = (0..at.size())
        .map(|_| Closer {
            name: at.text(),
            owner: at.maybe_number(),
        })
        .collect();
    scan.carry_to = match at.size() {
        0 => CarryTo::Nowhere,
        1 => CarryTo::Holder,
        i => CarryTo::Suite(i - 2),
    };
    scan.top_level = at.flag();
    scan.journal = at.flag();
    scan.decoded = at.flag();
    if at.flag() {
        let len = at.number();
        let since = Duration::new(at.number(), at.small());
        scan.stamp = Some(Stamp {
            len,
            modified: SystemTime::UNIX_EPOCH + since,
        });
    }
    scan
}

fn unpack_op(at: &mut In<'_>) -> Op {
    let tag = at.byte();
    let (rewrite, empty) = (tag & 0x10 != 0, tag & 0x20 != 0);
    match tag & 0x0f {
        0 => Op::Cut,
        1 => Op::Text,
        2 => Op::Start {
            element: at.small(),
            suite: at.maybe_number(),
            rewrite,
            empty,
        },
        3 => Op::Tag {
            kind: KINDS[at.size().min(14)],
        },
        4 => Op::EndTag,
        5 => Op::EmptyProperties {
            owner: at.small(),
            rewrite,
        },
        6 => Op::Append { owner: at.small() },
        7 => Op::HolderOpen,
        _ => Op::HolderClose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan with something in every field and every kind of edit.
    fn full_scan() -> InputScan {
        let mut scan = InputScan::new();
        scan.elements = vec![
            Element {
                is_suite: true,
                has_properties: false,
                has_node: true,
                has_source: false,
            },
            Element::default(),
        ];
        scan.suites = vec![Totals {
            tests: 300,
            failures: 1,
            errors: 2,
            skipped: 3,
            flaky: 4,
            time: 12.345,
        }];
        scan.label = "node-7".into();
        scan.carried = vec![("testsuites.name".into(), "run \u{e9}".into())];
        scan.root_name = Some("run".into());
        scan.namespaces = vec![("xmlns:x".into(), "urn:x".into())];
        scan.cases = u64::MAX;
        scan.broken = Some(Broken {
            message: "the file ends inside <testcase>".into(),
        });
        let ops = [
            Op::Cut,
            Op::Text,
            Op::Start {
                element: 1,
                suite: Some(0),
                rewrite: true,
                empty: false,
            },
            Op::Start {
                element: u32::MAX,
                suite: None,
                rewrite: false,
                empty: true,
            },
            Op::Tag { kind: Kind::Other },
            Op::Tag {
                kind: Kind::RerunError,
            },
            Op::EndTag,
            Op::EmptyProperties {
                owner: 3,
                rewrite: true,
            },
            Op::Append { owner: 9 },
            Op::HolderOpen,
            Op::HolderClose,
        ];
        scan.edits = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| Edit {
                at: 1 << (i * 5),
                len: i as u64 * 1000,
                op,
            })
            .collect();
        scan.copy = 39..1 << 60;
        scan.closers = vec![
            Closer {
                name: "testsuite".into(),
                owner: Some(0),
            },
            Closer {
                name: "x".into(),
                owner: None,
            },
        ];
        scan.carry_to = CarryTo::Suite(5);
        scan.top_level = true;
        scan.decoded = true;
        scan.stamp = Some(Stamp {
            len: 4096,
            modified: SystemTime::UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789),
        });
        scan
    }

    #[test]
    fn a_scan_unpacks_as_it_was_packed() {
        let mut packed = Packed::default();
        let full = full_scan();
        let empty = InputScan::new();
        let mut holder = InputScan::new();
        holder.carry_to = CarryTo::Holder;
        holder.journal = true;
        for scan in [&full, &empty, &holder, &full] {
            packed.push(scan);
        }
        packed.shrink_to_fit();
        let unpacked: Vec<String> = packed.iter().map(|s| format!("{s:?}")).collect();
        let wanted: Vec<String> = [&full, &empty, &holder, &full]
            .iter()
            .map(|s| format!("{s:?}"))
            .collect();
        assert_eq!(unpacked, wanted);
        // An empty scan is a few bytes.
        assert!(packed.ends[1].1 - packed.ends[0].1 < 20);
    }

    #[test]
    fn scans_past_a_block_go_into_the_next() {
        let mut packed = Packed::default();
        let full = full_scan();
        let many = 2 * BLOCK / 150;
        for _ in 0..many {
            packed.push(&full);
        }
        packed.shrink_to_fit();
        assert!(packed.blocks.len() >= 2);
        let wanted = format!("{full:?}");
        assert_eq!(packed.iter().count(), many);
        assert!(packed.iter().all(|s| format!("{s:?}") == wanted));
    }
}
