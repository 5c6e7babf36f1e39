//! The second pass: each input's bytes copied as they stand into the merged report, except at
//! the places the first pass marked, which are written as it decided (a tag again, provenance
//! added, text sanitized, a part left out). Long unchanged runs go from file to file directly
//! when the output is a file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::junit::reader::{Attr, CHUNK, Decoded, Event, JunitReader, Kind};
use crate::junit::time;
use crate::junit::writer::{JunitWriter, escape_attribute};
use crate::verify::NODE_PROPERTY;

use super::edits::{CarryTo, Edit, InputScan, Op};
use super::inputs::{Input, open, stamp_of};
use super::report::Report;
use super::synthetic::{Synthetic, write_synthetic_suite};
use super::tags::{TagFailure, TagPlan, rewrite_long_tag, write_tag};
use super::{Merge, SALVAGE_CLASS, SOURCE_PROPERTY, UNNAMED};

/// What the second pass reads at once from an input.
const COPY_BUFFER: usize = 256 * 1024;

impl Merge {
    /// What the merge found.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The second pass: writes the merged report to `out`.
    pub fn write(&self, out: impl Write) -> Result<()> {
        self.write_to(Sink::Writer(out))
    }

    /// The second pass, into a file: long runs of bytes that are copied as they stand go from
    /// file to file in the kernel, never read into the process.
    pub fn write_file(&self, out: &File) -> Result<()> {
        self.write_to(Sink::<io::Sink>::File(io::BufWriter::with_capacity(
            COPY_BUFFER,
            out,
        )))
    }

    fn write_to<W: Write>(&self, out: Sink<'_, W>) -> Result<()> {
        let io_error = |source: io::Error| Error::Write {
            path: PathBuf::from("the merged report"),
            source,
        };
        let mut writer = JunitWriter::new(out).map_err(io_error)?;
        let totals = &self.report.totals;
        let attrs = [
            ("tests", totals.tests.to_string()),
            ("failures", totals.failures.to_string()),
            ("errors", totals.errors.to_string()),
            ("skipped", totals.skipped.to_string()),
            ("time", time::format(totals.time)),
        ]
        .map(|(name, value)| Attr {
            name: name.to_string(),
            value,
        });
        writer
            .start("testsuites", &attrs, false)
            .map_err(io_error)?;
        for (input, scan) in self.inputs.iter().zip(self.scans.iter()) {
            writer.escaped_text("\n").map_err(io_error)?;
            let file = open(input)?;
            let copied = if stamp_of(&file) == scan.stamp {
                copy_input(file, input, &scan, &mut writer)
            } else {
                Err(CopyFailure::Changed("its size or time changed".into()))
            };
            match copied {
                Ok(()) => {}
                Err(CopyFailure::Io(e)) => return Err(io_error(e)),
                Err(CopyFailure::Changed(message)) => {
                    return Err(Error::Report {
                        source_name: input.source.clone(),
                        line: 0,
                        column: 0,
                        message: format!("the report changed while it was being merged: {message}"),
                    });
                }
            }
        }
        writer.escaped_text("\n").map_err(io_error)?;
        writer.finish().map_err(io_error)?;
        Ok(())
    }
}

/// Where the merged report goes: any writer, or a file that bytes can be copied into from
/// another file directly.
enum Sink<'f, W> {
    Writer(W),
    File(io::BufWriter<&'f File>),
}

impl<W: Write> Write for Sink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Writer(w) => w.write(buf),
            Sink::File(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Writer(w) => w.write_all(buf),
            Sink::File(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Writer(w) => w.flush(),
            Sink::File(w) => w.flush(),
        }
    }
}

/// Runs of bytes copied as they stand from this long on go from file to file directly.
const DIRECT_COPY: u64 = 1 << 20;

/// Why the second pass could not copy an input: reading failed, or the input is no longer what
/// the first pass read.
enum CopyFailure {
    Io(io::Error),
    Changed(String),
}

impl From<TagFailure> for CopyFailure {
    fn from(e: TagFailure) -> Self {
        match e {
            TagFailure::Io(e) => CopyFailure::Io(e),
            TagFailure::Changed(m) => CopyFailure::Changed(m),
        }
    }
}

impl From<io::Error> for CopyFailure {
    fn from(e: io::Error) -> Self {
        CopyFailure::Io(e)
    }
}

/// The second pass over one input: its bytes copied as they stand, except where the first
/// pass found something to change.
fn copy_input<W: Write>(
    mut file: File,
    input: &Input,
    scan: &InputScan,
    writer: &mut JunitWriter<Sink<'_, W>>,
) -> std::result::Result<(), CopyFailure> {
    let base = writer.depth();
    let direct = file.try_clone()?;
    // A report in another encoding than UTF-8 is decoded again from its start, as the first
    // pass read it: its offsets are offsets in the decoded text.
    let source = if scan.decoded {
        Decoded::new(file)
    } else {
        file.seek(SeekFrom::Start(scan.copy.start))?;
        Decoded::plain(file)
    };
    let mut text = JunitReader::fragment(BufReader::with_capacity(COPY_BUFFER, source));
    if scan.decoded {
        copy_bytes::<W>(text.source(), scan.copy.start, None)?;
    }
    let mut copier = Copier {
        scan,
        input,
        text,
        direct: (!scan.decoded).then_some(direct),
        tag: Vec::new(),
        at: scan.copy.start,
        case_node: render_properties(&[(NODE_PROPERTY.to_string(), scan.label.clone())]),
    };
    for edit in &scan.edits {
        copier.copy_to(edit.at, writer)?;
        copier.at = edit.at + edit.len;
        copier.apply(edit, writer)?;
    }
    copier.copy_to(scan.copy.end, writer)?;
    copier.close(base, writer)
}

/// The second pass's state over one input.
struct Copier<'s> {
    scan: &'s InputScan,
    input: &'s Input,
    /// One reader for the whole input: its source is copied from, and it reads the runs of
    /// character data that need sanitizing.
    text: JunitReader<BufReader<Decoded<File>>>,
    /// The input again, for runs copied from file to file (not when it is decoded).
    direct: Option<File>,
    /// The tag being rewritten.
    tag: Vec<u8>,
    /// Where in the input the copy stands.
    at: u64,
    /// What goes into most cases' properties: the same for each, so rendered once.
    case_node: Vec<u8>,
}

impl Copier<'_> {
    /// Copies the input as it stands from where the copy stands up to `to`.
    fn copy_to<W: Write>(
        &mut self,
        to: u64,
        writer: &mut JunitWriter<Sink<'_, W>>,
    ) -> std::result::Result<(), CopyFailure> {
        let gap = to
            .checked_sub(self.at)
            .ok_or_else(|| CopyFailure::Changed("edits out of order".into()))?;
        copy_gap(&mut self.text, self.direct.as_ref(), self.at, gap, writer)
    }

    /// Writes one place as the first pass decided.
    fn apply<W: Write>(
        &mut self,
        edit: &Edit,
        writer: &mut JunitWriter<Sink<'_, W>>,
    ) -> std::result::Result<(), CopyFailure> {
        match edit.op {
            Op::Cut => copy_bytes::<W>(self.text.source(), edit.len, None)?,
            Op::Text => self.sanitized(edit.len, writer)?,
            Op::Start {
                element,
                suite,
                rewrite,
                empty,
            } => self.suite_or_case(edit.len, element, suite, rewrite, empty, writer)?,
            Op::Tag { kind } => {
                let how = TagPlan::plain(kind, false);
                start_tag(
                    self.text.source(),
                    &mut self.tag,
                    edit.len,
                    &how,
                    true,
                    writer,
                )?;
            }
            Op::EndTag => {
                read_tag(self.text.source(), edit.len, &mut self.tag)?;
                let name = std::str::from_utf8(&self.tag)
                    .ok()
                    .and_then(|t| t.strip_prefix("</")?.strip_suffix('>'))
                    .map(|t| t.trim_end().rsplit(':').next().unwrap_or(t))
                    .ok_or_else(|| CopyFailure::Changed("not an end tag".into()))?;
                writer.raw(format!("</{name}>").as_bytes())?;
            }
            Op::EmptyProperties { owner, rewrite } => {
                let props = self.provenance(owner).into_owned();
                let how = TagPlan::plain(Kind::Properties, !props.is_empty());
                start_tag(
                    self.text.source(),
                    &mut self.tag,
                    edit.len,
                    &how,
                    rewrite,
                    writer,
                )?;
                if how.open {
                    writer.raw(&props)?;
                    writer.raw(b"</properties>")?;
                }
            }
            Op::Append { owner } => writer.raw(&self.provenance(owner))?,
            Op::HolderOpen => {
                let props = self.synthetic(self.scan.carry_to == CarryTo::Holder);
                write_synthetic_suite(writer, self.synthetic_name(), &props, Synthetic::Holder)?;
            }
            Op::HolderClose => writer.end()?,
        }
        Ok(())
    }

    /// The start tag of suite or case `element` (`len` bytes), with the provenance it lacks.
    fn suite_or_case<W: Write>(
        &mut self,
        len: u64,
        element: u32,
        suite: Option<u32>,
        rewrite: bool,
        empty: bool,
        writer: &mut JunitWriter<Sink<'_, W>>,
    ) -> std::result::Result<(), CopyFailure> {
        let known = self.scan.elements.get(element as usize).copied();
        let has_properties = known.is_some_and(|e| e.has_properties);
        let props = if has_properties {
            Cow::Borrowed(&[][..])
        } else {
            provenance(self.scan, self.input, &self.case_node, element)
        };
        let kind = if known.is_some_and(|e| e.is_suite) {
            Kind::Suite
        } else {
            Kind::Case
        };
        let totals = suite.and_then(|s| self.scan.suites.get(s as usize).copied());
        let how = TagPlan {
            kind,
            open: !props.is_empty(),
            totals,
            namespaces: if kind == Kind::Suite && rewrite {
                &self.scan.namespaces
            } else {
                &[]
            },
        };
        start_tag(
            self.text.source(),
            &mut self.tag,
            len,
            &how,
            rewrite,
            writer,
        )?;
        if !props.is_empty() {
            writer.raw(b"<properties>")?;
            writer.raw(&props)?;
            writer.raw(b"</properties>")?;
            if empty {
                writer.raw(if kind == Kind::Suite {
                    b"</testsuite>"
                } else {
                    b"</testcase>"
                })?;
            }
        }
        Ok(())
    }

    /// A run of character data, `len` bytes, written sanitized.
    fn sanitized<W: Write>(
        &mut self,
        len: u64,
        writer: &mut JunitWriter<Sink<'_, W>>,
    ) -> std::result::Result<(), CopyFailure> {
        self.text.limit(Some(len));
        loop {
            match self.text.next_event() {
                Ok(Event::Text(t)) => writer.escaped_text(t)?,
                Ok(Event::Eof) => break,
                Ok(_) => return Err(CopyFailure::Changed("a tag inside text".into())),
                Err(e) => return Err(CopyFailure::Changed(e.message)),
            }
        }
        self.text.limit(None);
        Ok(())
    }

    /// What goes into suite or case `element`'s properties (see [`provenance`]).
    fn provenance(&self, element: u32) -> Cow<'_, [u8]> {
        provenance(self.scan, self.input, &self.case_node, element)
    }

    /// A synthetic suite's properties: the root's (`carried`) unless a suite of the input has
    /// them, then the node and the source.
    fn synthetic(&self, carried: bool) -> Vec<(String, String)> {
        let mut props = if carried {
            self.scan.carried.clone()
        } else {
            Vec::new()
        };
        props.push((NODE_PROPERTY.to_string(), self.scan.label.clone()));
        props.push((SOURCE_PROPERTY.to_string(), self.input.source.clone()));
        props
    }

    fn synthetic_name(&self) -> &str {
        self.scan.root_name.as_deref().unwrap_or(UNNAMED)
    }

    /// After the copied part: the elements a broken input left open closed, then the suite
    /// that stands for what it lost, or for an input with no suite.
    fn close<W: Write>(
        &self,
        base: usize,
        writer: &mut JunitWriter<Sink<'_, W>>,
    ) -> std::result::Result<(), CopyFailure> {
        for closer in &self.scan.closers {
            if let Some(owner) = closer.owner {
                writer.raw(&self.provenance(owner))?;
            }
            writer.raw(format!("</{}>", closer.name).as_bytes())?;
        }
        while writer.depth() > base {
            writer.end()?;
        }
        if let Some(broken) = &self.scan.broken {
            let props = self.synthetic(!self.scan.top_level);
            let lost = Synthetic::Lost(&broken.message);
            write_synthetic_suite(writer, SALVAGE_CLASS, &props, lost)?;
            writer.end()?;
        } else if !self.scan.top_level {
            let props = self.synthetic(true);
            write_synthetic_suite(writer, self.synthetic_name(), &props, Synthetic::Empty)?;
            writer.end()?;
        }
        Ok(())
    }
}

/// `<property>` elements, escaped.
fn render_properties(props: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in props {
        out.push_str("<property name=\"");
        escape_attribute(name, &mut out);
        out.push_str("\" value=\"");
        escape_attribute(value, &mut out);
        out.push_str("\"/>");
    }
    out.into_bytes()
}

/// Copies bytes `from..from + len` of the input (where `text` stands) as they are: a long run
/// into a file directly from `file`, the input, when it is read as it is.
fn copy_gap<R: Read + Seek, W: Write>(
    text: &mut JunitReader<R>,
    file: Option<&File>,
    from: u64,
    len: u64,
    writer: &mut JunitWriter<Sink<'_, W>>,
) -> std::result::Result<(), CopyFailure> {
    if len >= DIRECT_COPY
        && let Some(file) = file
        && let Sink::File(out) = writer.get_mut()
    {
        let mut source = file;
        source.seek(SeekFrom::Start(from))?;
        let copied = io::copy(&mut source.take(len), out)?;
        if copied != len {
            return Err(CopyFailure::Changed("it is shorter than before".into()));
        }
        text.reposition(from + len)?;
        return Ok(());
    }
    copy_bytes(text.source(), len, Some(writer))
}

/// Hands the next `len` bytes of `source` to `take`, a buffer's worth at a time.
fn take_bytes(
    source: &mut dyn BufRead,
    mut len: u64,
    mut take: impl FnMut(&[u8]) -> io::Result<()>,
) -> std::result::Result<(), CopyFailure> {
    while len > 0 {
        let available = source.fill_buf()?;
        if available.is_empty() {
            return Err(CopyFailure::Changed("it is shorter than before".into()));
        }
        let n = available
            .len()
            .min(usize::try_from(len).unwrap_or(usize::MAX));
        take(&available[..n])?;
        source.consume(n);
        len -= n as u64;
    }
    Ok(())
}

/// Copies the next `len` bytes of `source` to `writer` (or skips them, without one).
fn copy_bytes<W: Write>(
    source: &mut dyn BufRead,
    len: u64,
    mut writer: Option<&mut JunitWriter<W>>,
) -> std::result::Result<(), CopyFailure> {
    take_bytes(source, len, |bytes| match writer.as_deref_mut() {
        Some(w) => w.raw(bytes),
        None => Ok(()),
    })
}

/// The start tag of `len` bytes `source` stands at, written as `how` says: as it stands or
/// (`rewrite`) read into `held` and written again, or when it is too long to hold, streamed
/// and written again.
fn start_tag<W: Write>(
    source: &mut dyn BufRead,
    held: &mut Vec<u8>,
    len: u64,
    how: &TagPlan<'_>,
    rewrite: bool,
    writer: &mut JunitWriter<Sink<'_, W>>,
) -> std::result::Result<(), CopyFailure> {
    if len > CHUNK as u64 {
        let mut out = RawOut(writer);
        return rewrite_long_tag(source, len, how, &mut out).map_err(CopyFailure::from);
    }
    read_tag(source, len, held)?;
    write_tag(&mut RawOut(writer), held, how, rewrite).map_err(CopyFailure::from)
}

/// What goes into suite or case `element`'s properties, as `<property>` elements: its node
/// and source unless it has them, and a suite the properties of its input's root.
fn provenance<'a>(
    scan: &'a InputScan,
    input: &Input,
    case_node: &'a [u8],
    element: u32,
) -> Cow<'a, [u8]> {
    let Some(&flags) = scan.elements.get(element as usize) else {
        return Cow::Borrowed(&[]);
    };
    if !flags.is_suite {
        return Cow::Borrowed(if flags.has_node { &[] } else { case_node });
    }
    let mut props = Vec::new();
    if scan.carry_to == CarryTo::Suite(element as usize) {
        props.extend(scan.carried.iter().cloned());
    }
    if !flags.has_node {
        props.push((NODE_PROPERTY.to_string(), scan.label.clone()));
    }
    if !flags.has_source {
        props.push((SOURCE_PROPERTY.to_string(), input.source.clone()));
    }
    Cow::Owned(render_properties(&props))
}

/// The writer's raw output as a [`Write`], for a tag written again as it streams.
struct RawOut<'a, 'w, W: Write>(&'a mut JunitWriter<Sink<'w, W>>);

impl<W: Write> Write for RawOut<'_, '_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.raw(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the next `len` bytes of `source` (a tag) into `tag`.
fn read_tag(
    source: &mut dyn BufRead,
    len: u64,
    tag: &mut Vec<u8>,
) -> std::result::Result<(), CopyFailure> {
    tag.clear();
    take_bytes(source, len, |bytes| {
        tag.extend_from_slice(bytes);
        Ok(())
    })
}
