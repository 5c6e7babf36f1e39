//! Reading a JUnit report as a stream of events, in memory that does not grow with the input.
//!
//! quick-xml parses the markup. Character data never goes through it: a `<system-out>` of
//! 300 MB would become one event held whole. The reader streams text (and CDATA sections, which
//! it turns into escaped text) itself, in chunks of at most [`CHUNK`] bytes, through a
//! [`TextSanitizer`], then hands the markup back to quick-xml. Elements nest at most
//! [`MAX_DEPTH`] deep (a loop and a stack, no recursion). A DTD is skipped, never expanded, so
//! its entities are undefined and an error where used.

use std::io::{self, BufRead, Read};

use quick_xml::events::{BytesStart, Event as XmlEvent};

use super::sanitize::{SanitizeError, TextSanitizer, plain_run};

/// Bytes of character data handed out at most at once.
pub const CHUNK: usize = 64 * 1024;

/// Elements nest at most this deep (PHPUnit's suites in suites need a handful).
pub const MAX_DEPTH: usize = 256;

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
    pub fn of(name: &str) -> Kind {
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

/// An attribute, its value decoded (entities replaced) and made of XML 1.0 characters only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
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
        /// An attribute value must be written again to be valid XML 1.0 (a character
        /// reference to a forbidden character, a raw control character): the tag cannot be
        /// copied byte for byte.
        dirty: bool,
    },
    /// An element closes.
    End {
        kind: Kind,
        name: &'a str,
        span: Span,
    },
    /// A chunk of character data, escaped and valid XML 1.0, ready to be written as it is: at
    /// most [`CHUNK`] bytes of input, so at most five times that (CDATA gets escaped).
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

/// What went wrong, and the byte offset in the input where.
#[derive(Debug)]
pub struct ReadError {
    pub offset: u64,
    pub message: String,
    /// The input ended early (a truncated file): what a salvage can recover from.
    pub truncated: bool,
}

impl ReadError {
    fn new(offset: u64, message: impl Into<String>) -> Self {
        ReadError {
            offset,
            message: message.into(),
            truncated: false,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::new(0, format!("cannot read: {e}"))
    }
}

/// A buffered reader that can look a few bytes ahead across its buffer's end, and can be
/// limited to the next so many bytes.
struct Lookahead<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes that may still be handed out.
    remaining: u64,
}

impl<R: Read> Lookahead<R> {
    fn new(inner: R) -> Self {
        Lookahead {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            remaining: u64::MAX,
        }
    }

    /// The buffered bytes from `start`, no more than may be handed out.
    fn visible(&self) -> &[u8] {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        &self.buf[self.start..self.end.min(self.start.saturating_add(n))]
    }

    /// At least `n` buffered bytes, unless the input ends sooner.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                let read = self.inner.read(&mut self.buf[self.end..])?;
                if read == 0 {
                    break;
                }
                self.end += read;
            }
        }
        Ok(self.visible())
    }
}

impl<R: Read> Read for Lookahead<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Lookahead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && self.remaining > 0 {
            self.start = 0;
            self.end = self.inner.read(&mut self.buf)?;
        }
        Ok(self.visible())
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.visible().len());
        self.start += amount;
        self.remaining = self.remaining.saturating_sub(amount as u64);
    }
}

/// Where a tag stands in the input: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

/// A tag read, its name and attributes held by the reader.
#[derive(Debug, Clone, Copy)]
enum Tag {
    Start { kind: Kind, empty: bool },
    End { kind: Kind },
}

/// The names of the open elements, in one string.
#[derive(Debug, Default)]
struct Names {
    text: String,
    ends: Vec<usize>,
}

impl Names {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    fn pop(&mut self) {
        self.ends.pop();
        self.text.truncate(self.ends.last().copied().unwrap_or(0));
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn last(&self) -> &str {
        self.len().checked_sub(1).map_or("", |i| self.get(i))
    }
}

/// Where the reader stands between two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between markup: text or a tag comes next.
    Content,
    /// Inside a CDATA section.
    CData,
}

/// Reads a JUnit report event by event.
pub struct JunitReader<R: Read> {
    xml: quick_xml::Reader<Lookahead<R>>,
    buf: Vec<u8>,
    text: Vec<u8>,
    sanitizer: TextSanitizer,
    /// Where the current run of character data began.
    text_start: u64,
    in_text: bool,
    mode: Mode,
    stack: Names,
    /// The last tag's name, and its attributes (the first `attr_count`; the rest are kept
    /// for their buffers).
    name: String,
    attrs: Vec<Attr>,
    attr_count: usize,
    seen_root: bool,
    /// Whether a byte order mark at the start was looked for.
    started: bool,
    /// Whether the last start tag has an attribute value that is not copied as it is.
    tag_dirty: bool,
    /// Whether the current run of character data is dirty.
    run_dirty: bool,
    /// The run of character data that ended last, until taken.
    finished_run: Option<TextRun>,
    /// Markup skipped outside runs of character data (comments, instructions, declarations,
    /// a DTD), until taken.
    skipped: Vec<(u64, u64)>,
    /// Reading the content of an element: text and no tags, no root.
    fragment: bool,
}

impl<R: Read + io::Seek> JunitReader<R> {
    /// Makes a [`fragment`](Self::fragment) reader go on from byte `offset` of its input,
    /// dropping what it had buffered: for bytes copied past it another way.
    pub fn reposition(&mut self, offset: u64) -> io::Result<()> {
        let source = self.xml.get_mut();
        source.inner.seek(io::SeekFrom::Start(offset))?;
        source.start = 0;
        source.end = 0;
        Ok(())
    }
}

impl<R: Read> std::fmt::Debug for JunitReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JunitReader")
            .field("depth", &self.stack.len())
            .field("position", &self.xml.buffer_position())
            .finish_non_exhaustive()
    }
}

impl<R: Read> JunitReader<R> {
    /// Starts reading `input`.
    pub fn new(input: R) -> Self {
        let mut xml = quick_xml::Reader::from_reader(Lookahead::new(input));
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        JunitReader {
            xml,
            buf: Vec::new(),
            text: Vec::new(),
            sanitizer: TextSanitizer::new(),
            text_start: 0,
            in_text: false,
            mode: Mode::Content,
            stack: Names::default(),
            name: String::new(),
            attrs: Vec::new(),
            attr_count: 0,
            seen_root: false,
            started: false,
            tag_dirty: false,
            run_dirty: false,
            finished_run: None,
            skipped: Vec::new(),
            fragment: false,
        }
    }

    /// Starts reading character data that stands inside an element (a [`TextRun`] of a report
    /// read before): text events, and an error at any tag.
    pub fn fragment(input: R) -> Self {
        let mut reader = JunitReader::new(input);
        reader.started = true;
        reader.seen_root = true;
        reader.fragment = true;
        reader.stack.push("");
        reader
    }

    /// The input where the reader stands, buffered: to copy or skip bytes between events of a
    /// [`fragment`](Self::fragment) reader.
    pub fn source(&mut self) -> &mut dyn BufRead {
        self.xml.get_mut()
    }

    /// Makes a [`fragment`](Self::fragment) reader read the next `len` bytes as a run of
    /// character data, to its end ([`Event::Eof`]); `None` lifts the limit.
    pub fn limit(&mut self, len: Option<u64>) {
        self.xml.get_mut().remaining = len.unwrap_or(u64::MAX);
        self.in_text = false;
        self.mode = Mode::Content;
        self.finished_run = None;
        self.skipped.clear();
    }

    /// The run of character data that ended since this was last called, if one did. A run ends
    /// at a tag or at the end of the input.
    pub fn take_run(&mut self) -> Option<TextRun> {
        self.finished_run.take()
    }

    /// Markup skipped outside runs of character data since this was last called, as byte
    /// ranges: comments, processing instructions, the XML declaration, a DTD.
    pub fn take_skipped(&mut self) -> std::vec::Drain<'_, (u64, u64)> {
        self.skipped.drain(..)
    }

    /// The names of the open elements, outermost first.
    pub fn open_elements(&self) -> Vec<&str> {
        (0..self.stack.len()).map(|i| self.stack.get(i)).collect()
    }

    /// How deep the reader is: 0 outside the root element.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The byte offset reached in the input.
    pub fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    /// The next event.
    pub fn next_event(&mut self) -> Result<Event<'_>, ReadError> {
        if !self.started {
            self.started = true;
            if self.xml.get_mut().peek(3)?.starts_with(b"\xef\xbb\xbf") {
                self.xml.stream().consume(3);
            }
        }
        loop {
            if self.mode == Mode::CData {
                self.cdata_chunk()?;
                if !self.text.is_empty() {
                    return self.text_event();
                }
                continue;
            }
            let position = self.xml.buffer_position();
            let ahead = self.xml.get_mut().peek(9)?;
            if ahead.is_empty() {
                // A reference or character cut by the end of the file is a truncation too.
                let inside = !self.stack.is_empty();
                self.end_text().map_err(|e| ReadError {
                    truncated: inside,
                    ..e
                })?;
                if !self.text.is_empty() {
                    return self.text_event();
                }
                if self.fragment {
                    return Ok(Event::Eof);
                }
                if !self.stack.is_empty() {
                    return Err(ReadError {
                        truncated: true,
                        ..ReadError::new(
                            position,
                            format!(
                                "the file ends inside <{}>: it is truncated",
                                self.stack.last()
                            ),
                        )
                    });
                }
                if !self.seen_root {
                    return Err(ReadError::new(
                        position,
                        "no root element: the file is empty or not XML",
                    ));
                }
                return Ok(Event::Eof);
            }
            if ahead.starts_with(b"<![CDATA[") {
                if self.stack.is_empty() {
                    return Err(ReadError::new(position, "CDATA outside the root element"));
                }
                let mut stream = self.xml.stream();
                stream.consume(9);
                self.begin_text(position);
                self.run_dirty = true;
                self.mode = Mode::CData;
                continue;
            }
            if ahead[0] != b'<' {
                self.content_chunk(position)?;
                if !self.text.is_empty() {
                    return self.text_event();
                }
                continue;
            }
            // Comments and processing instructions are skipped in chunks, and a run of text
            // goes on across them (`]]<!-- -->>` still needs its `>` escaped).
            if ahead.starts_with(b"<!--") {
                self.skip_until(4, b"-->")?;
                continue;
            }
            if ahead.starts_with(b"<?") {
                self.skip_until(2, b"?>")?;
                continue;
            }
            // Markup: quick-xml's part. Text that ran up to here is finished first.
            if self.in_text {
                self.end_text()?;
                if !self.text.is_empty() {
                    return self.text_event();
                }
            }
            if self.fragment {
                return Err(ReadError::new(
                    position,
                    "a tag where only text was expected",
                ));
            }
            if let Some(tag) = self.markup(position)? {
                let span = Span {
                    start: position,
                    end: self.xml.buffer_position(),
                };
                return Ok(match tag {
                    Tag::Start { kind, empty } => Event::Start {
                        kind,
                        name: &self.name,
                        attrs: &self.attrs[..self.attr_count],
                        empty,
                        span,
                        dirty: self.tag_dirty,
                    },
                    Tag::End { kind } => Event::End {
                        kind,
                        name: &self.name,
                        span,
                    },
                });
            }
            self.skipped.push((position, self.xml.buffer_position()));
        }
    }

    fn text_event(&mut self) -> Result<Event<'_>, ReadError> {
        let text = std::str::from_utf8(&self.text).map_err(|_| {
            ReadError::new(self.text_start, "internal: sanitized text is not UTF-8")
        })?;
        Ok(Event::Text(text))
    }

    fn begin_text(&mut self, position: u64) {
        if !self.in_text {
            self.in_text = true;
            self.text_start = position;
            self.run_dirty = false;
            self.sanitizer = TextSanitizer::new();
        }
    }

    fn sanitize_error(&self, e: SanitizeError) -> ReadError {
        match e {
            SanitizeError::Text(t) => ReadError::new(self.text_start + t.offset, t.to_string()),
            SanitizeError::Io(e) => ReadError::new(self.text_start, e.to_string()),
        }
    }

    /// Streams character data up to the next `<` (at most one chunk) into `self.text`.
    fn content_chunk(&mut self, position: u64) -> Result<(), ReadError> {
        self.text.clear();
        self.begin_text(position);
        let mut stream = self.xml.stream();
        let available = stream.fill_buf()?;
        let n = memchr::memchr(b'<', available).unwrap_or(available.len());
        let chunk = &available[..n];
        if self.stack.is_empty() {
            // Outside the root only whitespace may stand; it is not reported.
            if !chunk.iter().all(u8::is_ascii_whitespace) {
                return Err(ReadError::new(
                    position,
                    "text outside the root element: not a JUnit XML file",
                ));
            }
            self.in_text = false;
            stream.consume(n);
            return Ok(());
        }
        let result = self.sanitizer.push(chunk, &mut self.text);
        stream.consume(n);
        result.map_err(|e| self.sanitize_error(e))
    }

    /// Streams the content of a CDATA section (at most one chunk), escaped, into `self.text`.
    fn cdata_chunk(&mut self) -> Result<(), ReadError> {
        self.text.clear();
        let position = self.xml.buffer_position();
        let ahead = self.xml.get_mut().peek(3)?;
        if ahead.is_empty() {
            return Err(ReadError {
                truncated: true,
                ..ReadError::new(
                    position,
                    "the file ends inside a CDATA section: it is truncated",
                )
            });
        }
        let ahead_len = ahead.len();
        let mut stream = self.xml.stream();
        let available = stream.fill_buf()?;
        // The section ends at `]]>`; a chunk ending in `]` or `]]` waits for the next one.
        let (take, closed) = match find(available, b"]]>") {
            Some(at) => (at, true),
            None => {
                let keep = if available.ends_with(b"]]") {
                    2
                } else if available.ends_with(b"]") {
                    1
                } else {
                    0
                };
                let keep = if ahead_len < 3 && available.len() == ahead_len {
                    0
                } else {
                    keep
                };
                (available.len() - keep, false)
            }
        };
        let mut escaped = Vec::with_capacity(take + take / 8);
        for &b in &available[..take] {
            match b {
                b'&' => escaped.extend_from_slice(b"&amp;"),
                b'<' => escaped.extend_from_slice(b"&lt;"),
                b'>' => escaped.extend_from_slice(b"&gt;"),
                _ => escaped.push(b),
            }
        }
        stream.consume(if closed { take + 3 } else { take });
        if closed {
            self.mode = Mode::Content;
        }
        if take == 0 && !closed {
            return Err(ReadError {
                truncated: true,
                ..ReadError::new(
                    position,
                    "the file ends inside a CDATA section: it is truncated",
                )
            });
        }
        self.sanitizer
            .push(&escaped, &mut self.text)
            .map_err(|e| self.sanitize_error(e))
    }

    /// Ends a run of character data: anything the sanitizer held back must be complete.
    fn end_text(&mut self) -> Result<(), ReadError> {
        self.text.clear();
        if self.in_text {
            self.in_text = false;
            let result = self.sanitizer.finish(&mut self.text);
            result.map_err(|e| self.sanitize_error(e))?;
            self.finished_run = Some(TextRun {
                start: self.text_start,
                end: self.xml.buffer_position(),
                dirty: self.run_dirty || self.sanitizer.changed(),
            });
        }
        Ok(())
    }

    /// The next markup event, or `None` for markup that carries nothing (a declaration, a
    /// DTD, a comment, a processing instruction).
    fn markup(&mut self, position: u64) -> Result<Option<Tag>, ReadError> {
        self.buf.clear();
        // A tag is held whole (its attributes); the buffer does not stay large after a big one.
        if self.buf.capacity() > CHUNK * 16 {
            self.buf = Vec::new();
        }
        let result = self.xml.read_event_into(&mut self.buf);
        let event = match result {
            Ok(event) => event,
            Err(e) => {
                let at = self.xml.error_position();
                let message = format!("not well-formed XML: {e}");
                // Cut off, or wrong: only a syntax error at the very end is a truncation.
                let at_end = matches!(e, quick_xml::Error::Syntax(_))
                    && self
                        .xml
                        .get_mut()
                        .peek(1)
                        .map(<[u8]>::is_empty)
                        .unwrap_or(false);
                return Err(ReadError {
                    truncated: at_end,
                    ..ReadError::new(at, message)
                });
            }
        };
        let event = match event {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let empty = matches!(event, XmlEvent::Empty(_));
                let parsed = element(start, position, &mut self.name, &mut self.attrs)?;
                self.attr_count = parsed.0;
                self.tag_dirty = parsed.1;
                self.open_root(position)?;
                if !empty {
                    if self.stack.len() == MAX_DEPTH {
                        return Err(ReadError::new(
                            position,
                            format!("elements nest more than {MAX_DEPTH} deep"),
                        ));
                    }
                    self.stack.push(&self.name);
                }
                Tag::Start {
                    kind: Kind::of(&self.name),
                    empty,
                }
            }
            XmlEvent::End(end) => {
                self.name.clear();
                self.name.push_str(end.name().as_ref());
                self.stack.pop();
                Tag::End {
                    kind: Kind::of(&self.name),
                }
            }
            // A DTD is skipped, never expanded; the rest carries nothing a report needs.
            XmlEvent::DocType(_) | XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) => {
                return Ok(None);
            }
            XmlEvent::Eof => {
                return Err(ReadError {
                    truncated: true,
                    ..ReadError::new(position, "the file ends inside a tag: it is truncated")
                });
            }
            // Character data never reaches quick-xml: the loop streams it.
            XmlEvent::Text(_) | XmlEvent::CData(_) | XmlEvent::GeneralRef(_) => {
                return Err(ReadError::new(
                    position,
                    "internal: character data reached the XML parser",
                ));
            }
        };
        Ok(Some(event))
    }

    /// Skips a comment or processing instruction: `prefix` bytes, then up to and including
    /// `end`, in chunks.
    fn skip_until(&mut self, prefix: usize, end: &[u8]) -> Result<(), ReadError> {
        let position = self.xml.buffer_position();
        self.xml.stream().consume(prefix);
        loop {
            if self.xml.get_mut().peek(end.len())?.len() < end.len() {
                return Err(ReadError {
                    truncated: !self.stack.is_empty(),
                    ..ReadError::new(
                        position,
                        "the file ends inside a comment or processing instruction",
                    )
                });
            }
            let mut stream = self.xml.stream();
            let available = stream.fill_buf()?;
            match find(available, end) {
                Some(at) => {
                    stream.consume(at + end.len());
                    if self.in_text {
                        self.run_dirty = true;
                    } else {
                        self.skipped.push((position, self.xml.buffer_position()));
                    }
                    return Ok(());
                }
                // Keep what could be the start of `end`.
                None => {
                    let used = available.len() + 1 - end.len();
                    stream.consume(used);
                }
            }
        }
    }

    /// A start tag outside every element must be the first root.
    fn open_root(&mut self, position: u64) -> Result<(), ReadError> {
        if self.stack.is_empty() {
            if self.seen_root {
                return Err(ReadError::new(position, "a second root element"));
            }
            self.seen_root = true;
        }
        Ok(())
    }
}

/// The name and attributes of a start tag as written, `<name a="v">` or `<name a="v"/>`, and
/// whether it is empty: what [`JunitReader`] made of it, for a tag read again.
pub fn parse_start_tag(tag: &[u8]) -> Result<(String, Vec<Attr>, bool), String> {
    let inner = tag
        .strip_prefix(b"<")
        .and_then(|t| t.strip_suffix(b">"))
        .ok_or("not a start tag")?;
    let (inner, empty) = match inner.strip_suffix(b"/") {
        Some(inner) => (inner, true),
        None => (inner, false),
    };
    let content = std::str::from_utf8(inner).map_err(|_| "not valid UTF-8")?;
    let name_len = content
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(content.len());
    let start = BytesStart::from_content(content, name_len);
    let mut name = String::new();
    let mut attrs = Vec::new();
    let (count, _) = element(&start, 0, &mut name, &mut attrs).map_err(|e| e.message)?;
    attrs.truncate(count);
    Ok((name, attrs, empty))
}

/// Whether an attribute value as written is ASCII from space on with no `&` or `<`: its own
/// decoded value, valid as it stands.
fn is_plain_value(raw: &[u8]) -> bool {
    plain_run(raw, b'&', b'<') == raw.len()
}

/// Whether an attribute value as written (escaped) must be written again: it refers to or
/// holds a character XML 1.0 forbids (or might: every character reference is suspect).
fn value_is_dirty(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(i, &b)| match b {
        b'&' => raw.get(i + 1) == Some(&b'#'),
        b'\t' | b'\n' | b'\r' => false,
        0..=0x1F => true,
        // U+FFFE and U+FFFF
        0xEF => raw.get(i + 1) == Some(&0xBF) && matches!(raw.get(i + 2), Some(0xBE | 0xBF)),
        _ => false,
    })
}

/// The name and attributes of a start tag, attribute values decoded and made XML 1.0-safe,
/// into `name` and the first of `attrs` (their buffers reused); returns how many attributes,
/// and whether a value must be written again to be valid (see [`value_is_dirty`]).
fn element(
    start: &BytesStart<'_>,
    position: u64,
    name: &mut String,
    attrs: &mut Vec<Attr>,
) -> Result<(usize, bool), ReadError> {
    name.clear();
    name.push_str(start.name().as_ref());
    if !is_xml_name(name) {
        return Err(ReadError::new(
            position,
            format!("not well-formed XML: `{name}` is not an element name"),
        ));
    }
    let mut count = 0;
    let mut dirty = false;
    for attr in start.attributes() {
        let attr =
            attr.map_err(|e| ReadError::new(position, format!("<{name}>: bad attribute: {e}")))?;
        let key: &str = attr.key.as_ref();
        if !is_xml_name(key) {
            return Err(ReadError::new(
                position,
                format!("not well-formed XML: <{name}> has an attribute named `{key}`"),
            ));
        }
        if count == attrs.len() {
            attrs.push(Attr {
                name: String::new(),
                value: String::new(),
            });
        }
        let slot = &mut attrs[count];
        count += 1;
        slot.name.clear();
        slot.name.push_str(key);
        slot.value.clear();
        let raw: &str = &attr.value;
        if !is_plain_value(raw.as_bytes()) {
            dirty = dirty || value_is_dirty(raw.as_bytes());
        }
        attribute_value(raw, &mut slot.value).map_err(|reason| {
            ReadError::new(position, format!("<{name}> attribute {key}: {reason}"))
        })?;
    }
    Ok((count, dirty))
}

/// An attribute's value as a parser sees it, from its raw (escaped) bytes: the sanitizer's
/// rules (forbidden characters and references to them become stand-ins, undefined entities are
/// errors), then XML's normalization (literal tabs and line ends become spaces, references
/// to them stay), then the references replaced.
fn attribute_value(raw: &str, out: &mut String) -> Result<(), String> {
    // Most values are plain ASCII with nothing to decode.
    if is_plain_value(raw.as_bytes()) {
        out.push_str(raw);
        return Ok(());
    }
    if raw.contains('<') {
        return Err("not well-formed XML: `<` in an attribute value".into());
    }
    let raw = raw.as_bytes();
    let mut sanitized = Vec::with_capacity(raw.len());
    let mut sanitizer = TextSanitizer::new();
    sanitizer
        .push(raw, &mut sanitized)
        .and_then(|()| sanitizer.finish(&mut sanitized))
        .map_err(|e| match e {
            SanitizeError::Text(t) => t.to_string(),
            SanitizeError::Io(e) => e.to_string(),
        })?;
    let text = String::from_utf8(sanitized).map_err(|_| "not valid UTF-8".to_string())?;
    let normalized = text.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
    let value = quick_xml::escape::unescape(&normalized).map_err(|e| e.to_string())?;
    out.push_str(&value);
    Ok(())
}

/// The 1-based line and column (in bytes) of byte `offset` of `input`, for error messages: the
/// reader reports offsets, and the input is read again to place them.
pub fn locate(input: impl Read, offset: u64) -> io::Result<(u64, u64)> {
    Ok(locate_all(input, &[offset])?[0])
}

/// [`locate`] for several offsets, in any order, reading the input once.
pub fn locate_all(mut input: impl Read, offsets: &[u64]) -> io::Result<Vec<(u64, u64)>> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut places = vec![(0, 0); offsets.len()];
    let mut line = 1u64;
    let mut line_start = 0u64;
    let mut at = 0u64;
    let mut buf = vec![0u8; CHUNK];
    for i in order {
        let offset = offsets[i];
        while at < offset {
            let want = usize::try_from(offset - at).map_or(buf.len(), |w| w.min(buf.len()));
            let n = input.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            for (j, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    line += 1;
                    line_start = at + j as u64 + 1;
                }
            }
            at += n as u64;
        }
        places[i] = (line, at.min(offset) - line_start + 1);
    }
    Ok(places)
}

/// Is `name` an XML name? (ASCII rules exactly; any character past ASCII is accepted.)
fn is_xml_name(name: &str) -> bool {
    // Bytes past ASCII are accepted, so bytes can be looked at one by one.
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':' || !b.is_ascii();
    let mut bytes = name.bytes();
    bytes.next().is_some_and(start)
        && bytes.all(|b| start(b) || b.is_ascii_digit() || b == b'-' || b == b'.')
}

#[cfg(test)]
fn is_xml_name_by_chars(name: &str) -> bool {
    let mut chars = name.chars();
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    chars.next().is_some_and(start)
        && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as a line; text events joined into one.
    fn events(input: &[u8]) -> Result<Vec<String>, ReadError> {
        let mut reader = JunitReader::new(input);
        let mut out: Vec<String> = Vec::new();
        loop {
            match reader.next_event()? {
                Event::Eof => return Ok(out),
                Event::Start {
                    name,
                    attrs,
                    empty,
                    kind,
                    ..
                } => {
                    let attrs: Vec<String> = attrs
                        .iter()
                        .map(|a| format!("{}={}", a.name, a.value))
                        .collect();
                    let slash = if empty { "/" } else { "" };
                    out.push(format!("<{name}{slash} {kind:?} {}>", attrs.join(" ")));
                }
                Event::End { name, .. } => out.push(format!("</{name}>")),
                Event::Text(t) => match out.last_mut() {
                    Some(last) if last.starts_with('"') => last.push_str(t),
                    _ => out.push(format!("\"{t}")),
                },
            }
        }
    }

    #[test]
    fn a_pytest_report() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" time="1,234.5"><testcase classname="t.test_a" name="test_x[a b]" time="0.1"><failure message="assert 1 == 2">E   &lt;x&gt; &#27;[31m</failure><system-out><![CDATA[out & <more>]]></system-out></testcase><testcase classname="t" name="ok"/></testsuite></testsuites>"#;
        assert_eq!(
            events(xml).unwrap(),
            [
                "<testsuites Suites >",
                "<testsuite Suite name=pytest errors=0 time=1,234.5>",
                "<testcase Case classname=t.test_a name=test_x[a b] time=0.1>",
                "<failure Failure message=assert 1 == 2>",
                "\"E   &lt;x&gt; ␛[31m",
                "</failure>",
                "<system-out SystemOut >",
                "\"out &amp; &lt;more&gt;",
                "</system-out>",
                "</testcase>",
                "<testcase/ Case classname=t name=ok>",
                "</testsuite>",
                "</testsuites>",
            ]
        );
    }

    #[test]
    fn raw_controls_and_a_bom_are_handled() {
        let xml = b"\xef\xbb\xbf<testsuite name=\"s\x01\"><system-out>a\x1b[0m\x00b</system-out></testsuite>\n";
        assert_eq!(
            events(xml).unwrap(),
            [
                "<testsuite Suite name=s␁>",
                "<system-out SystemOut >",
                "\"a␛[0m␀b",
                "</system-out>",
                "</testsuite>"
            ]
        );
    }

    #[test]
    fn long_text_streams_in_bounded_chunks() {
        let body = "x&amp;y]]&gt;é\n".repeat(400_000); // about 6 MB
        let cdata = "<&>]]".repeat(300_000);
        let xml = format!(
            "<testsuite><system-out>{body}</system-out><system-err><![CDATA[{cdata}]]></system-err></testsuite>"
        );
        let mut reader = JunitReader::new(xml.as_bytes());
        let mut texts = Vec::new();
        let mut current = String::new();
        let mut largest = 0;
        loop {
            match reader.next_event().unwrap() {
                Event::Eof => break,
                Event::Text(t) => {
                    largest = largest.max(t.len());
                    current.push_str(t);
                }
                Event::End { .. } => texts.push(std::mem::take(&mut current)),
                Event::Start { .. } => {}
            }
        }
        // Escaping CDATA may make a chunk up to five times longer (`&` is `&amp;`).
        assert!(largest <= 5 * CHUNK, "a text event of {largest} bytes");
        assert_eq!(texts[0], body);
        assert_eq!(texts[1], "&lt;&amp;&gt;]]".repeat(300_000));
    }

    #[test]
    fn bad_input_is_an_error_with_a_position() {
        let err = |xml: &[u8]| events(xml).unwrap_err();
        assert!(err(b"").message.contains("no root element"));
        assert!(err(b"   \n").message.contains("no root element"));
        assert!(
            err(b"hello")
                .message
                .contains("text outside the root element")
        );
        let cut = err(b"<testsuite><testcase name=\"a\">");
        assert!(
            cut.truncated && cut.message.contains("ends inside <testcase>"),
            "{}",
            cut.message
        );
        let cut = err(b"<testsuite><system-out><![CDATA[abc");
        assert!(cut.truncated, "{}", cut.message);
        let cut = err(b"<testsuite><testcase name=\"a");
        assert!(cut.truncated, "{}", cut.message);
        let utf8 = err(b"<testsuite>ab\xffc</testsuite>");
        assert_eq!(utf8.offset, 13);
        assert!(utf8.message.contains("UTF-8"));
        assert!(err(b"<a></b>").message.contains("not well-formed"));
        assert!(err(b"<\n/>").message.contains("is not an element name"));
        let e = err(b"<a 1x=\"2\"/>");
        assert!(
            e.message.contains("has an attribute named `1x`"),
            "{}",
            e.message
        );
        assert!(err(b"<a/><b/>").message.contains("a second root element"));
        let laughs = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><testsuite name=\"&lol2;\">&lol2;</testsuite>";
        let e = err(laughs);
        assert!(
            e.message.contains("lol2") && e.message.contains("never expanded"),
            "{}",
            e.message
        );
        let text_laughs = b"<!DOCTYPE l [<!ENTITY l \"x\">]><testsuite>&l;</testsuite>";
        assert!(err(text_laughs).message.contains("never expanded"));
    }

    #[test]
    fn names_and_plain_values_are_told_by_their_bytes() {
        for name in [
            "testcase", "a:b", "_x-1.2", "é", "1a", "-a", "a b", "", "a<", "ü-ß",
        ] {
            assert_eq!(is_xml_name(name), is_xml_name_by_chars(name), "{name}");
        }
        for (value, plain) in [
            ("", true),
            ("tests.pkg.TestClass", true),
            ("exactly8", true),
            ("a long value of 23 byte", true),
            ("x&amp;", false),
            ("0123456789<", false),
            ("tab\there", false),
            ("0123456789é", false),
            ("\u{7f}", true),
        ] {
            assert_eq!(is_plain_value(value.as_bytes()), plain, "{value:?}");
        }
    }

    #[test]
    fn attribute_values_are_decoded_like_text() {
        let xml = b"<failure message=\"&#0;a&#27;b&#10;c\td\r\ne &lt;&amp;&quot;\"/>";
        assert_eq!(
            events(xml).unwrap(),
            ["<failure/ Failure message=\u{2400}a\u{241b}b\nc d e <&\">"]
        );
        let err = |xml: &[u8]| events(xml).unwrap_err().message;
        assert!(err(b"<a v=\"x<y\"/>").contains("`<` in an attribute value"));
        assert!(err(b"<a v=\"&lol;\"/>").contains("never expanded"));
        assert!(err(b"<a v=\"\xff\"/>").contains("UTF-8"));
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let xml = b"<testsuite>\n  <testcase>\n    bad \xff\n</testsuite>";
        let e = events(xml).unwrap_err();
        assert_eq!(locate(&xml[..], e.offset).unwrap(), (3, 9));
        assert_eq!(locate(&b"abc"[..], 0).unwrap(), (1, 1));
        assert_eq!(locate(&b"a\nb"[..], 2).unwrap(), (2, 1));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let depth = 200_000;
        let xml = format!(
            "{}{}",
            "<testsuite>".repeat(depth),
            "</testsuite>".repeat(depth)
        );
        let e = events(xml.as_bytes()).unwrap_err();
        assert!(
            e.message.contains(&format!("more than {MAX_DEPTH} deep")),
            "{}",
            e.message
        );
        // Many comments in a row do not recurse either.
        let xml = format!("<testsuite>{}</testsuite>", "<!-- c -->".repeat(200_000));
        assert_eq!(events(xml.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn text_runs_on_across_comments_and_instructions() {
        let xml = b"<?xml version=\"1.0\"?><!-- top --><s>]]<!-- c -->>x ]]<?pi x?>>y</s>";
        assert_eq!(
            events(xml).unwrap(),
            ["<s Other >", "\"]]&gt;x ]]&gt;y", "</s>"]
        );
        // A long comment is skipped in chunks.
        let xml = format!("<s>a<!--{}-->b</s>", "-x".repeat(200_000));
        assert_eq!(
            events(xml.as_bytes()).unwrap(),
            ["<s Other >", "\"ab", "</s>"]
        );
    }

    #[test]
    fn truncation_is_told_from_damage() {
        let cut = |xml: &[u8]| events(xml).unwrap_err().truncated;
        assert!(cut(b"<testsuite><system-out>abc &am"));
        assert!(cut(b"<testsuite><system-out>abc \xc3"));
        assert!(cut(b"<testsuite><!-- unfinished"));
        assert!(cut(b"<testsuite><testcase name=\"a"));
        assert!(!cut(
            b"<testsuite name=\"a\"><!foo><testcase name=\"a\"/></testsuite>"
        ));
        assert!(!cut(b"<testsuite>a & b</testsuite>"));
    }
}
