//! Character data, streamed by the reader itself in chunks: text up to the next `<`, CDATA
//! sections turned into escaped text, comments and processing instructions skipped, each run
//! kept valid XML 1.0 by a [`TextSanitizer`] and told dirty when it cannot be copied as it is.

use std::io::{BufRead, Read};

use super::{Event, JunitReader, Mode, ReadError, TextRun};
use crate::junit::sanitize::{SanitizeError, TextSanitizer};

impl<R: Read> JunitReader<R> {
    pub(super) fn text_event(&mut self) -> Result<Event<'_>, ReadError> {
        let text = std::str::from_utf8(&self.text).map_err(|_| {
            ReadError::new(self.text_start, "internal: sanitized text is not UTF-8")
        })?;
        Ok(Event::Text(text))
    }

    pub(super) fn begin_text(&mut self, position: u64) {
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
            self.in_text = false;
            stream.consume(n);
            return Ok(());
        }
        let result = self.sanitizer.push(chunk, &mut self.text);
        stream.consume(n);
        result.map_err(|e| self.sanitize_error(e))
    }

    /// Streams the content of a CDATA section (at most one chunk), escaped, into `self.text`.
    pub(super) fn cdata_chunk(&mut self) -> Result<(), ReadError> {
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
    pub(super) fn end_text(&mut self) -> Result<(), ReadError> {
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

    /// Skips a comment or processing instruction: `prefix` bytes, then up to and including
    /// `end`, in chunks.
    pub(super) fn skip_until(&mut self, prefix: usize, end: &[u8]) -> Result<(), ReadError> {
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
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
