//! Reading a JUnit report as a stream of events, in memory that does not grow with the input.
//!
//! quick-xml parses the markup. Character data never goes through it: a `<system-out>` of
//! 300 MB would become one event held whole. The reader streams text (and CDATA sections, which
//! it turns into escaped text) itself, in chunks of at most [`CHUNK`] bytes, through a
//! [`TextSanitizer`], then hands the markup back to quick-xml. Elements nest at most
//! [`MAX_DEPTH`] deep (a loop and a stack, no recursion). A DTD is skipped, never expanded, so
//! its entities are undefined and an error where used.
//!
//! [`JunitReader::next_event`] takes steps until one yields an [`Event`]: the lookahead tells
//! what the input holds next (text, a CDATA section, a comment or instruction, a tag, its
//! end), and each has its part: `text` streams character data and skips comments and
//! instructions, `cdata` the sections, `markup` the tags (with `attributes` decoding and
//! checking their values, and `names` keeping the open elements). A start tag too long for the
//! lookahead is not given to quick-xml, which would hold it whole: `long_tag` streams it, and
//! `capped` keeps its values up to [`VALUE_CAP`] bytes each. Errors are a [`ReadError`]
//! at a byte offset, which [`locate`] turns into a line and column.

mod attributes;
mod capped;
mod cdata;
mod encoding;
mod error;
mod events;
mod locate;
mod long_tag;
mod lookahead;
mod markup;
mod names;
mod text;

#[cfg(test)]
mod tests;

use std::io::{self, BufRead, Read};

pub use attributes::{Attr, ParsedTag, TagNames, decode_attribute_value, parse_start_tag};
pub use capped::VALUE_CAP;
pub use encoding::Decoded;
pub use error::ReadError;
pub use events::{Event, Kind, Span, TextRun};
pub use locate::{locate, locate_all};
pub use long_tag::{MAX_ATTRIBUTES, MAX_NAME, TagError, TagSink, stream_start_tag};

use super::sanitize::TextSanitizer;
use attributes::{StartTag, local_of};
use lookahead::{Ahead, Lookahead, UNLIMITED};
use markup::Tag;
use names::Names;
use text::RunState;

/// Bytes of character data handed out at most at once.
pub const CHUNK: usize = 64 * 1024;

/// Elements nest at most this deep (PHPUnit's suites in suites need a handful).
pub const MAX_DEPTH: usize = 256;

/// UTF-8's byte order mark, skipped at the start of the input.
const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// Where the reader stands between two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between markup: text or a tag comes next.
    Content,
    /// Inside a CDATA section.
    CData,
}

/// What one step through the input came to: the reader takes steps until one yields an event.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Nothing to hand out yet (markup skipped, a CDATA section entered, whitespace outside
    /// the root): step again.
    Continue,
    /// A chunk of character data, in the reader's text buffer.
    Text,
    /// A tag, its name and attributes in the reader's buffers.
    Tag(Tag, Span),
    /// The end of the document.
    Eof,
}

/// Reads a JUnit report event by event.
pub struct JunitReader<R: Read> {
    xml: quick_xml::Reader<Lookahead<Decoded<R>>>,
    buf: Vec<u8>,
    text: Vec<u8>,
    sanitizer: TextSanitizer,
    /// The run of character data being read, or the last one.
    run: RunState,
    mode: Mode,
    stack: Names,
    /// The last tag's name, and a start tag's attributes.
    tag: StartTag,
    seen_root: bool,
    /// Whether a byte order mark at the start was looked for.
    started: bool,
    /// The run of character data that ended last, until taken.
    finished_run: Option<TextRun>,
    /// Markup skipped outside runs of character data (comments, instructions, declarations,
    /// a DTD), until taken.
    skipped: Vec<Span>,
    /// Reading the content of an element: text and no tags, no root.
    fragment: bool,
    /// A start tag longer than this is streamed, not held whole (see `long_tag`).
    tag_limit: usize,
}

impl<R: Read + io::Seek> JunitReader<R> {
    /// Makes a [`fragment`](Self::fragment) reader go on from byte `offset` of its input,
    /// dropping what it had buffered: for bytes copied past it another way.
    pub fn reposition(&mut self, offset: u64) -> io::Result<()> {
        self.xml.get_mut().reposition(offset)
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
    /// Starts reading `input`, in the encoding its first bytes tell (see [`Decoded`]).
    pub fn new(input: R) -> Self {
        JunitReader::decoding(Decoded::new(input))
    }

    fn decoding(input: Decoded<R>) -> Self {
        let mut xml = quick_xml::Reader::from_reader(Lookahead::new(input));
        let config = xml.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.expand_empty_elements = false;
        JunitReader {
            xml,
            buf: Vec::new(),
            text: Vec::new(),
            sanitizer: TextSanitizer::new(),
            run: RunState::default(),
            mode: Mode::Content,
            stack: Names::default(),
            tag: StartTag::default(),
            seen_root: false,
            started: false,
            finished_run: None,
            skipped: Vec::new(),
            fragment: false,
            tag_limit: CHUNK,
        }
    }

    /// Streams every start tag longer than `limit` bytes (at most [`CHUNK`], the default)
    /// instead of holding it whole: for tests and fuzzing, which read a report both ways.
    #[must_use]
    pub fn streaming_tags_over(mut self, limit: usize) -> Self {
        self.tag_limit = limit.min(CHUNK);
        self
    }

    /// Starts reading character data that stands inside an element (a [`TextRun`] of a report
    /// read before): text events, and an error at any tag. The input is UTF-8 (a part of a
    /// report is not told its encoding: decode the report with [`Decoded`]).
    pub fn fragment(input: R) -> Self {
        let mut reader = JunitReader::decoding(Decoded::plain(input));
        reader.started = true;
        reader.seen_root = true;
        reader.fragment = true;
        reader.stack.push("");
        reader
    }

    /// The encoding the input was decoded from (`None`: UTF-8), once the first event is read.
    pub fn encoding(&self) -> Option<&'static str> {
        self.xml.get_ref().get_ref().encoding()
    }

    /// Whether bytes malformed in the input's encoding were read as U+FFFD so far (see
    /// [`Decoded::replaced`]).
    pub fn replaced_malformed(&self) -> bool {
        self.xml.get_ref().get_ref().replaced()
    }

    /// The input where the reader stands, buffered: to copy or skip bytes between events of a
    /// [`fragment`](Self::fragment) reader.
    pub fn source(&mut self) -> &mut dyn BufRead {
        self.xml.get_mut()
    }

    /// Makes a [`fragment`](Self::fragment) reader read the next `len` bytes as a run of
    /// character data, to its end ([`Event::Eof`]); `None` lifts the limit.
    pub fn limit(&mut self, len: Option<u64>) {
        self.xml.get_mut().limit(len.unwrap_or(UNLIMITED));
        self.run.open = false;
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
    pub fn take_skipped(&mut self) -> std::vec::Drain<'_, Span> {
        self.skipped.drain(..)
    }

    /// The (local) names of the open elements, outermost first.
    pub fn open_elements(&self) -> Vec<&str> {
        (0..self.stack.len())
            .map(|i| local_of(self.stack.get(i)))
            .collect()
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
        self.skip_byte_order_mark()?;
        loop {
            match self.step()? {
                Step::Continue => {}
                Step::Text => return self.text_event(),
                Step::Tag(tag, span) => return Ok(self.tag_event(tag, span)),
                Step::Eof => return Ok(Event::Eof),
            }
        }
    }

    /// Skips a byte order mark at the very start of the input, once.
    fn skip_byte_order_mark(&mut self) -> Result<(), ReadError> {
        if !self.started {
            self.started = true;
            let ahead = self.xml.get_mut().peek(BYTE_ORDER_MARK.len())?;
            if ahead.starts_with(BYTE_ORDER_MARK) {
                self.xml.stream().consume(BYTE_ORDER_MARK.len());
            }
        }
        Ok(())
    }

    /// One step, chosen by what the input holds next.
    fn step(&mut self) -> Result<Step, ReadError> {
        if self.mode == Mode::CData {
            self.cdata_chunk()?;
            return Ok(self.text_or_continue());
        }
        let position = self.xml.buffer_position();
        match Ahead::of(self.xml.get_mut().peek(Ahead::LONGEST)?) {
            Ahead::End => self.end_of_input(position),
            Ahead::CData => {
                self.open_cdata(position)?;
                Ok(Step::Continue)
            }
            Ahead::Text => {
                self.content_chunk(position)?;
                Ok(self.text_or_continue())
            }
            // Comments and processing instructions are skipped in chunks, and a run of text
            // goes on across them (`]]<!-- -->>` still needs its `>` escaped).
            Ahead::Comment => {
                self.skip_until(Ahead::COMMENT, b"-->")?;
                Ok(Step::Continue)
            }
            Ahead::Instruction => {
                self.skip_until(Ahead::INSTRUCTION, b"?>")?;
                Ok(Step::Continue)
            }
            Ahead::Markup => self.markup_step(position),
        }
    }

    /// The input ends at `position`: the run of text is finished, and the document must be.
    fn end_of_input(&mut self, position: u64) -> Result<Step, ReadError> {
        // A reference or character cut by the end of the file is a truncation too.
        let inside = !self.stack.is_empty();
        self.end_text().map_err(|e| ReadError {
            truncated: inside,
            ..e
        })?;
        if !self.text.is_empty() {
            return Ok(Step::Text);
        }
        if self.fragment {
            return Ok(Step::Eof);
        }
        if !self.stack.is_empty() {
            return Err(ReadError::truncated(
                position,
                format!(
                    "the file ends inside <{}>: it is truncated",
                    local_of(self.stack.last())
                ),
            ));
        }
        if !self.seen_root {
            return Err(ReadError::new(
                position,
                "no root element: the file is empty or not XML",
            ));
        }
        Ok(Step::Eof)
    }
}
