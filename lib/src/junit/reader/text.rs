//! Character data, streamed by the reader itself in chunks: text up to the next `<`, with the
//! comments and processing instructions among it skipped, each run kept valid XML 1.0 by a
//! [`TextSanitizer`] and told dirty when it cannot be copied as it is.

use std::io::{BufRead, Read};

use super::{Event, JunitReader, ReadError, Span, Step, TextRun};
use crate::junit::sanitize::{SanitizeError, TextSanitizer};

/// The run of character data being read: whether one is, where it began, and whether it is
/// dirty so far. The start stays once the run ends, for errors about its last bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RunState {
    pub(super) open: bool,
    pub(super) start: u64,
    /// A CDATA section, a comment or a processing instruction stands in it.
    pub(super) dirty: bool,
}

impl<R: Read> JunitReader<R> {
    /// The text buffer as an event.
    pub(super) fn text_event(&mut self) -> Result<Event<'_>, ReadError> {
        let text = std::str::from_utf8(&self.text)
            .map_err(|_| ReadError::new(self.run.start, "internal: sanitized text is not UTF-8"))?;
        Ok(Event::Text(text))
    }

    /// A text event when the last chunk left text to hand out; another step when it did not.
    pub(super) fn text_or_continue(&self) -> Step {
        if self.text.is_empty() {
            Step::Continue
        } else {
            Step::Text
        }
    }

    /// Opens a run of character data at `position`, unless one is open.
    pub(super) fn begin_text(&mut self, position: u64) {
        if !self.run.open {
            self.run = RunState {
                open: true,
                start: position,
                dirty: false,
            };
            self.sanitizer = TextSanitizer::new();
        }
    }

    /// A sanitizer's error, placed in the input by the start of the run.
    pub(super) fn sanitize_error(&self, e: SanitizeError) -> ReadError {
        match e {
            SanitizeError::Text(t) => ReadError::new(self.run.start + t.offset, t.to_string()),
            SanitizeError::Io(e) => ReadError::new(self.run.start, e.to_string()),
        }
    }

    /// Streams character data up to the next `<` (at most one chunk) into `self.text`.
    pub(super) fn content_chunk(&mut self, position: u64) -> Result<(), ReadError> {
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
            self.run.open = false;
            stream.consume(n);
            return Ok(());
        }
        let result = self.sanitizer.push(chunk, &mut self.text);
        stream.consume(n);
        result.map_err(|e| self.sanitize_error(e))
    }

    /// Ends a run of character data: anything the sanitizer held back must be complete.
    pub(super) fn end_text(&mut self) -> Result<(), ReadError> {
        self.text.clear();
        if self.run.open {
            self.run.open = false;
            let result = self.sanitizer.finish(&mut self.text);
            result.map_err(|e| self.sanitize_error(e))?;
            self.finished_run = Some(TextRun {
                start: self.run.start,
                end: self.xml.buffer_position(),
                dirty: self.run.dirty || self.sanitizer.changed(),
            });
        }
        Ok(())
    }

    /// Skips a comment or processing instruction: its opening `open`, then up to and
    /// including `close`, in chunks.
    pub(super) fn skip_until(&mut self, open: &[u8], close: &[u8]) -> Result<(), ReadError> {
        let position = self.xml.buffer_position();
        self.xml.stream().consume(open.len());
        loop {
            if self.xml.get_mut().peek(close.len())?.len() < close.len() {
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
            match find(available, close) {
                Some(at) => {
                    stream.consume(at + close.len());
                    if self.run.open {
                        self.run.dirty = true;
                    } else {
                        self.skipped.push(Span {
                            start: position,
                            end: self.xml.buffer_position(),
                        });
                    }
                    return Ok(());
                }
                // Keep what could be the start of `close`.
                None => {
                    let used = available.len() + 1 - close.len();
                    stream.consume(used);
                }
            }
        }
    }
}

/// Where `needle` first stands in `haystack`.
pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
