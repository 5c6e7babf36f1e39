//! CDATA sections: their content becomes escaped text, streamed in chunks like any other
//! character data, a chunk cut short where it might end in the middle of the closing `]]>`.

use std::io::{BufRead, Read};

use super::text::find;
use super::{JunitReader, Mode, ReadError};

/// How a CDATA section opens.
pub(super) const CDATA_OPEN: &[u8] = b"<![CDATA[";

/// How a CDATA section closes.
const CDATA_CLOSE: &[u8] = b"]]>";

/// Where the chunk of a CDATA section's content taken at once ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CdataCut {
    /// At the `]]>` `at` bytes in: the section closes.
    Closed { at: usize },
    /// The section goes on past the chunk: its first `take` bytes are content, and the rest
    /// (a `]` or `]]` that may begin the `]]>`) waits for the next chunk.
    Open { take: usize },
}

impl CdataCut {
    /// Where the content in `available` ends; `input_ends` when those are the input's last
    /// bytes, so nothing waits.
    fn of(available: &[u8], input_ends: bool) -> CdataCut {
        if let Some(at) = find(available, CDATA_CLOSE) {
            return CdataCut::Closed { at };
        }
        let waiting = if input_ends {
            0
        } else if available.ends_with(b"]]") {
            2
        } else if available.ends_with(b"]") {
            1
        } else {
            0
        };
        CdataCut::Open {
            take: available.len() - waiting,
        }
    }

    /// Bytes of content in the chunk.
    fn content(self) -> usize {
        match self {
            CdataCut::Closed { at } => at,
            CdataCut::Open { take } => take,
        }
    }

    /// Bytes the chunk takes from the input: its content, and the `]]>` if it closes.
    fn consumed(self) -> usize {
        match self {
            CdataCut::Closed { at } => at + CDATA_CLOSE.len(),
            CdataCut::Open { take } => take,
        }
    }
}

/// CDATA content as escaped text: `&`, `<` and `>` become references.
fn escape(content: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(content.len() + content.len() / 8);
    for &b in content {
        match b {
            b'&' => escaped.extend_from_slice(b"&amp;"),
            b'<' => escaped.extend_from_slice(b"&lt;"),
            b'>' => escaped.extend_from_slice(b"&gt;"),
            _ => escaped.push(b),
        }
    }
    escaped
}

/// The error for a CDATA section the input ends inside.
fn cut_inside(position: u64) -> ReadError {
    ReadError::truncated(
        position,
        "the file ends inside a CDATA section: it is truncated",
    )
}

impl<R: Read> JunitReader<R> {
    /// Enters the CDATA section at `position`: its content goes on the run of character data,
    /// which can no longer be copied as it is.
    pub(super) fn open_cdata(&mut self, position: u64) -> Result<(), ReadError> {
        if self.stack.is_empty() {
            return Err(ReadError::new(position, "CDATA outside the root element"));
        }
        self.xml.stream().consume(CDATA_OPEN.len());
        self.begin_text(position);
        self.run.dirty = true;
        self.mode = Mode::CData;
        Ok(())
    }

    /// Streams the content of a CDATA section (at most one chunk), escaped, into `self.text`.
    pub(super) fn cdata_chunk(&mut self) -> Result<(), ReadError> {
        self.text.clear();
        let position = self.xml.buffer_position();
        let ahead = self.xml.get_mut().peek(CDATA_CLOSE.len())?.len();
        if ahead == 0 {
            return Err(cut_inside(position));
        }
        let mut stream = self.xml.stream();
        let available = stream.fill_buf()?;
        let input_ends = ahead < CDATA_CLOSE.len() && available.len() == ahead;
        let cut = CdataCut::of(available, input_ends);
        let escaped = escape(&available[..cut.content()]);
        stream.consume(cut.consumed());
        match cut {
            CdataCut::Closed { .. } => self.mode = Mode::Content,
            CdataCut::Open { take: 0 } => return Err(cut_inside(position)),
            CdataCut::Open { .. } => {}
        }
        self.sanitizer
            .push(&escaped, &mut self.text)
            .map_err(|e| self.sanitize_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_ending_in_brackets_keeps_them_for_the_next_one() {
        assert_eq!(CdataCut::of(b"ab]]>cd", false), CdataCut::Closed { at: 2 });
        assert_eq!(CdataCut::of(b"ab]]", false), CdataCut::Open { take: 2 });
        assert_eq!(CdataCut::of(b"ab]", false), CdataCut::Open { take: 2 });
        assert_eq!(CdataCut::of(b"ab", false), CdataCut::Open { take: 2 });
        // At the end of the input nothing can follow: the brackets are content.
        assert_eq!(CdataCut::of(b"ab]]", true), CdataCut::Open { take: 4 });
    }

    #[test]
    fn cdata_content_is_escaped_as_text() {
        assert_eq!(escape(b"a<b>&c"), b"a&lt;b&gt;&amp;c");
    }
}
