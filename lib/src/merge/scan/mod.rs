//! The first pass over one input: a scanner that owns what the pass has seen so far and takes
//! the reader's events one at a time, a method per kind of event. It counts the cases (handing
//! each complete one on), finds the input's node and plan, warns, and records the edits the
//! second pass makes; where the input breaks, it says how much of it can be kept.

use std::io::Read;

use crate::exec::journal::JOURNAL_PROPERTY;
use crate::junit::cases::{Case, CaseTracker};
use crate::junit::reader::{Attr, Event, JunitReader, Kind, ReadError, Span};
use crate::verify::NODE_PROPERTY;

use super::edits::{CarryTo, Closer, Edit, Element, InputScan, Op, number};
use super::report::Totals;

mod values;
use super::{PLAN_PROPERTY, ROOT_ATTRIBUTE_PREFIX, SOURCE_PROPERTY, UNNAMED};

/// Where an input broke, and what the first pass had found up to there.
pub(super) type ScanFailure = Box<(ReadError, InputScan)>;

/// What the first pass hands on as it reads one input.
pub(super) struct Sinks<'a> {
    /// Each complete case.
    pub on_case: &'a mut dyn FnMut(Case),
    /// A warning at a byte offset.
    pub warn: &'a mut dyn FnMut(u64, String),
    /// The `shard.plan` fingerprints of its suites.
    pub fingerprints: &'a mut Vec<String>,
}

/// The first pass over one input.
pub(super) fn scan_input(
    input: impl Read,
    sinks: Sinks<'_>,
) -> std::result::Result<InputScan, ScanFailure> {
    let mut reader = JunitReader::new(input);
    let mut scanner = Scanner::new(sinks);
    loop {
        let offset = reader.position();
        let depth = reader.depth();
        let event = match reader.next_event() {
            Ok(event) => event,
            Err(error) => {
                scanner.scan.decoded = reader.encoding().is_some();
                return Err(scanner.broken(error, &reader.open_elements()));
            }
        };
        let finished = match event {
            Event::Eof => break,
            Event::Text(text) => {
                scanner.text(offset, text);
                None
            }
            Event::Start {
                kind,
                name,
                attrs,
                empty,
                span,
                dirty,
                cut,
            } => {
                let tag = StartTag {
                    kind,
                    name,
                    attrs,
                    empty,
                    span,
                    dirty,
                    cut,
                    offset,
                    depth,
                };
                scanner.start(&tag)?
            }
            Event::End {
                kind, span, dirty, ..
            } => {
                let done = scanner.end(kind, span, depth);
                // After what goes in before the tag (provenance, the holder's end), so that
                // the edits keep that order.
                if dirty {
                    let edit = Edit::replace(span.start..span.end, Op::EndTag);
                    scanner.scan.edits.push(edit);
                }
                done
            }
        };
        for span in reader.take_skipped() {
            scanner
                .scan
                .edits
                .push(Edit::replace(span.start..span.end, Op::Cut));
        }
        if let Some(run) = reader.take_run() {
            let op = if std::mem::take(&mut scanner.run_dropped) {
                Some(Op::Cut)
            } else if run.dirty {
                Some(Op::Text)
            } else {
                None
            };
            if let Some(op) = op {
                scanner
                    .scan
                    .edits
                    .push(Edit::replace(run.start..run.end, op));
            }
        }
        // A case inside the root's properties is left out with them: not counted either.
        if let Some(case) = finished
            && !scanner.in_root_properties()
        {
            scanner.case(case);
        }
        scanner.scan.decoded = reader.encoding().is_some();
    }
    if let Some(encoding) = reader.encoding()
        && reader.replaced_malformed()
    {
        let message = format!(
            "bytes that are not {encoding} were read as U+FFFD, the replacement character \
             (the JDK's parser refuses such a report)"
        );
        scanner.warn(0, message);
    }
    Ok(scanner.finish())
}

/// A start tag as the reader gave it, with where it stands.
struct StartTag<'e> {
    kind: Kind,
    name: &'e str,
    attrs: &'e [Attr],
    empty: bool,
    span: Span,
    dirty: bool,
    /// A value is given cut (it is too long to hold).
    cut: bool,
    /// Where the reader stood before it (the offset warnings name).
    offset: u64,
    /// Elements open around it.
    depth: usize,
}

impl StartTag<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// An edit that stands for the whole tag.
    fn edit(&self, op: Op) -> Edit {
        Edit::replace(self.span.start..self.span.end, op)
    }
}

/// Frame of the first pass's element stack.
#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: Kind,
    /// The element number of a suite or case.
    element: Option<usize>,
    /// The number, among the suites whose counts are recounted, of such a suite.
    suite: Option<usize>,
    /// A `<properties>` whose properties belong to the input's root.
    root_properties: bool,
    /// A `<properties>` directly in a suite or case: the element number of that suite or case.
    owner: Option<usize>,
    owner_is_suite: bool,
    /// The input's `<testsuites>` root, whose tags are not written.
    dissolved: bool,
    /// Where its start tag begins.
    tag_start: u64,
}

/// The first pass's state over one input.
struct Scanner<'a> {
    scan: InputScan,
    sinks: Sinks<'a>,
    tracker: CaseTracker,
    /// The root's attributes, as properties: carried after the root's own properties.
    root_attributes: Vec<(String, String)>,
    stack: Vec<Frame>,
    /// The top-level case being read, by element number.
    open_case: Option<usize>,
    /// Text was left out somewhere (warned about once).
    dropped_text: bool,
    /// Text of the current run that is left out (not white space, where only elements go).
    run_dropped: bool,
    /// Where the root's `<properties>` being read began: it is left out.
    cut_start: u64,
    /// The suite made for content outside any suite is open.
    holder_open: bool,
    /// Where the last tag read ends: a broken input is kept up to there.
    last_safe: u64,
}

impl<'a> Scanner<'a> {
    fn new(sinks: Sinks<'a>) -> Scanner<'a> {
        Scanner {
            scan: InputScan::new(),
            sinks,
            tracker: CaseTracker::new(),
            root_attributes: Vec::new(),
            stack: Vec::new(),
            open_case: None,
            dropped_text: false,
            run_dropped: false,
            cut_start: 0,
            holder_open: false,
            last_safe: 0,
        }
    }

    fn warn(&mut self, offset: u64, message: String) {
        (self.sinks.warn)(offset, message);
    }

    /// Character data: left out (with a warning, once) where only elements go.
    fn text(&mut self, offset: u64, text: &str) {
        if let Some(frame) = self.stack.last()
            && holds_elements_only(frame.kind)
            && !is_blank(text)
        {
            self.run_dropped = true;
            if !self.dropped_text {
                self.dropped_text = true;
                self.warn(
                    offset,
                    "text directly inside an element that holds only elements is left out".into(),
                );
            }
        }
    }

    /// A start tag: the element it opens numbered, checked and its edits recorded; a case it
    /// completes (an empty `<testcase/>`) returned.
    fn start(&mut self, tag: &StartTag<'_>) -> std::result::Result<Option<Case>, ScanFailure> {
        self.last_safe = tag.span.end;
        let parent = self.stack.last().copied();
        let dissolved_parent = parent.is_some_and(|p| p.dissolved);
        if tag.depth == 0 {
            self.root(tag)?;
        }
        let mut frame = Frame {
            kind: tag.kind,
            element: None,
            suite: None,
            root_properties: false,
            owner: None,
            owner_is_suite: false,
            dissolved: tag.depth == 0 && tag.kind == Kind::Suites,
            tag_start: tag.span.start,
        };
        if dissolved_parent && tag.kind != Kind::Properties {
            self.holder(tag);
        }
        let mut rewrite = tag.dirty;
        match tag.kind {
            Kind::Suite | Kind::Case => {
                rewrite |= self.element(tag, &mut frame, dissolved_parent);
                // A suite out of a dissolved root declares the root's namespaces itself.
                rewrite |=
                    dissolved_parent && tag.kind == Kind::Suite && !self.scan.namespaces.is_empty();
            }
            Kind::Properties => self.properties(tag, &mut frame, parent, rewrite),
            Kind::Property => self.property(tag, parent),
            _ => {}
        }
        let numbers = self.check_numbers(tag);
        rewrite |= numbers.rewrite;
        // Only a suite whose counts are recounted keeps totals of its own.
        if numbers.recount {
            frame.suite = Some(self.scan.suites.len());
            self.scan.suites.push(Totals::default());
        }
        if let Some(element) = frame.element {
            self.scan.edits.push(tag.edit(Op::Start {
                element: number(element),
                suite: frame.suite.map(number),
                rewrite,
                empty: tag.empty,
            }));
        } else if rewrite && self.written_again(tag, &frame) {
            self.scan.edits.push(tag.edit(Op::Tag { kind: tag.kind }));
        }
        let done = self
            .tracker
            .start(tag.kind, tag.attrs, tag.empty, tag.depth, tag.offset);
        if !tag.empty {
            self.stack.push(frame);
        }
        Ok(done)
    }

    /// Whether a tag to rewrite that is no suite or case is written again as a tag of its own:
    /// not the root (dissolved), not the root's properties (left out), not an empty
    /// `<properties/>` opened for provenance (written with it).
    fn written_again(&self, tag: &StartTag<'_>, frame: &Frame) -> bool {
        match tag.kind {
            Kind::Suites => tag.depth > 0,
            Kind::Properties => !(frame.root_properties || tag.empty && frame.owner.is_some()),
            _ => true,
        }
    }

    /// The root element: a `<testsuites>` (whose content is copied) or a `<testsuite>`.
    fn root(&mut self, tag: &StartTag<'_>) -> std::result::Result<(), ScanFailure> {
        match tag.kind {
            Kind::Suites => {
                self.warn_cut(tag);
                self.scan.namespaces = tag
                    .attrs
                    .iter()
                    .filter(|a| a.name.starts_with("xmlns:"))
                    .map(|a| (a.name.clone(), a.value.clone()))
                    .collect();
                self.scan.root_name = tag.attr("name").map(str::to_string);
                self.root_attributes = tag
                    .attrs
                    .iter()
                    .map(|a| {
                        (
                            format!("{ROOT_ATTRIBUTE_PREFIX}{}", a.name),
                            a.value.clone(),
                        )
                    })
                    .collect();
                self.scan.copy = tag.span.end..tag.span.end;
            }
            Kind::Suite => self.scan.copy = tag.span.start..tag.span.end,
            _ => {
                let error = ReadError {
                    offset: tag.offset,
                    message: format!(
                        "the root element is <{}>: a JUnit report has <testsuites> or <testsuite>",
                        tag.name
                    ),
                    truncated: false,
                };
                return Err(Box::new((
                    error,
                    std::mem::replace(&mut self.scan, InputScan::new()),
                )));
            }
        }
        Ok(())
    }

    /// Content the input's root holds outside any suite goes into a suite made for it: opened
    /// before such content, closed before the next suite.
    fn holder(&mut self, tag: &StartTag<'_>) {
        let at = tag.span.start;
        if tag.kind == Kind::Suite && self.holder_open {
            self.scan.edits.push(Edit::insert(at, Op::HolderClose));
            self.holder_open = false;
        } else if tag.kind != Kind::Suite && !self.holder_open {
            self.scan.edits.push(Edit::insert(at, Op::HolderOpen));
            self.holder_open = true;
            if !self.scan.top_level {
                self.scan.carry_to = CarryTo::Holder;
            }
            self.scan.top_level = true;
        }
    }

    /// A suite or a case: numbered, a missing name warned about. True when the tag must be
    /// written again.
    fn element(&mut self, tag: &StartTag<'_>, frame: &mut Frame, dissolved_parent: bool) -> bool {
        let element = self.scan.elements.len();
        frame.element = Some(element);
        self.scan.elements.push(Element {
            is_suite: tag.kind == Kind::Suite,
            ..Element::default()
        });
        let unnamed = tag.attr("name").is_none();
        if unnamed {
            self.warn(
                tag.offset,
                format!("<{}> has no name: written as name=\"{UNNAMED}\"", tag.name),
            );
        }
        if tag.kind == Kind::Suite {
            if tag.depth == 0 || dissolved_parent {
                if !self.scan.top_level {
                    self.scan.carry_to = CarryTo::Suite(element);
                }
                self.scan.top_level = true;
            }
        } else if !self.tracker.in_case() && !self.in_root_properties() {
            self.scan.cases += 1;
            if !tag.empty {
                self.open_case = Some(element);
            }
        }
        unnamed
    }

    /// A `<properties>`: the root's are left out (carried into a suite); the first of a suite
    /// or case gets its provenance.
    fn properties(
        &mut self,
        tag: &StartTag<'_>,
        frame: &mut Frame,
        parent: Option<Frame>,
        rewrite: bool,
    ) {
        let Some(parent) = parent else { return };
        if parent.kind == Kind::Suites && tag.depth == 1 {
            frame.root_properties = true;
            if tag.empty {
                self.scan.edits.push(tag.edit(Op::Cut));
            } else {
                self.cut_start = tag.span.start;
            }
            return;
        }
        let Some(owner) = parent.element else { return };
        if self.scan.elements[owner].has_properties {
            return;
        }
        self.scan.elements[owner].has_properties = true;
        frame.owner = Some(owner);
        frame.owner_is_suite = parent.kind == Kind::Suite;
        if tag.empty {
            self.scan.edits.push(tag.edit(Op::EmptyProperties {
                owner: number(owner),
                rewrite,
            }));
        }
    }

    /// A `<property>`: the root's carried; a node, a source, a plan or a journal noted.
    fn property(&mut self, tag: &StartTag<'_>, parent: Option<Frame>) {
        let (Some(p), Some(property)) = (parent, tag.attr("name")) else {
            return;
        };
        let value = tag.attr("value").unwrap_or_default();
        if p.root_properties {
            self.warn_cut(tag);
            self.scan
                .carried
                .push((property.to_string(), value.to_string()));
        }
        if let Some(owner) = p.owner {
            match property {
                NODE_PROPERTY => self.scan.elements[owner].has_node = true,
                SOURCE_PROPERTY if p.owner_is_suite => self.scan.elements[owner].has_source = true,
                _ => {}
            }
        }
        if p.root_properties || p.owner_is_suite {
            if property == NODE_PROPERTY && self.scan.label.is_empty() {
                self.scan.label = value.to_string();
            }
            if property == PLAN_PROPERTY {
                self.sinks.fingerprints.push(value.to_string());
            }
            if property == JOURNAL_PROPERTY {
                self.scan.journal = true;
            }
        }
    }

    /// An end tag: the element's provenance and cuts placed; the end of the copied part found
    /// at the root's end; a case it completes returned.
    fn end(&mut self, kind: Kind, span: Span, depth: usize) -> Option<Case> {
        self.last_safe = span.end;
        if let Some(f) = self.stack.pop() {
            if f.element == self.open_case {
                self.open_case = None;
            }
            if f.root_properties {
                self.scan
                    .edits
                    .push(Edit::replace(self.cut_start..span.end, Op::Cut));
            }
            if let Some(owner) = f.owner {
                self.scan.edits.push(Edit::insert(
                    span.start,
                    Op::Append {
                        owner: number(owner),
                    },
                ));
            }
            if self.stack.is_empty() {
                if f.dissolved {
                    if self.holder_open {
                        self.scan
                            .edits
                            .push(Edit::insert(span.start, Op::HolderClose));
                    }
                    self.scan.copy.end = span.start;
                } else {
                    self.scan.copy.end = span.end;
                }
            }
        }
        self.tracker.end(kind, depth - 1)
    }

    /// Whether the root's `<properties>` is open (it is left out, whatever it holds).
    fn in_root_properties(&self) -> bool {
        self.stack.get(1).is_some_and(|f| f.root_properties)
    }

    /// A complete case: counted in every suite it is in, and handed on.
    fn case(&mut self, case: Case) {
        for frame in &self.stack {
            if let Some(suite) = frame.suite {
                self.scan.suites[suite].add(&case);
            }
        }
        (self.sinks.on_case)(case);
    }

    /// The input broke: kept is everything before the case being read, or up to the last tag
    /// read; the elements open there (`names`, outermost first) are closed.
    fn broken(mut self, error: ReadError, names: &[&str]) -> ScanFailure {
        self.scan.carried.append(&mut self.root_attributes);
        let mut open = self.stack.len();
        let mut stop = self.last_safe;
        if let Some(case) = self.open_case
            && let Some(i) = self.stack.iter().position(|f| f.element == Some(case))
        {
            open = i;
            stop = self.stack[i].tag_start;
        }
        if let Some(i) = self.stack[..open].iter().position(|f| f.root_properties) {
            open = i;
            stop = self.cut_start;
        }
        for (frame, name) in self.stack[..open].iter().zip(names).rev() {
            if !frame.dissolved {
                self.scan.closers.push(Closer {
                    name: (*name).to_string(),
                    owner: frame.owner.map(number),
                });
            }
        }
        if !self.stack.is_empty() {
            self.scan.copy.end = stop.max(self.scan.copy.start);
        }
        self.scan.finish_edits();
        Box::new((error, self.scan))
    }

    /// The input read to its end.
    fn finish(mut self) -> InputScan {
        self.scan.carried.append(&mut self.root_attributes);
        self.scan.finish_edits();
        self.scan
    }
}

/// Elements whose content is elements only: text in them other than white space is dropped.
fn holds_elements_only(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Suites | Kind::Suite | Kind::Case | Kind::Properties
    )
}

fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}
