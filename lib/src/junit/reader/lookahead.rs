//! The buffered input under quick-xml: it looks a few bytes ahead across its buffer's end (to
//! tell `<![CDATA[` from `<!--` from a tag) and can be limited to the next so many bytes.

use std::io::{self, BufRead, Read};

use super::CHUNK;
use super::cdata::CDATA_OPEN;

/// No limit on the bytes handed out.
pub(super) const UNLIMITED: u64 = u64::MAX;

/// What the input holds next, told by its first few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ahead {
    /// Nothing: the input ends.
    End,
    /// A CDATA section.
    CData,
    /// Character data, up to the next `<`.
    Text,
    /// A comment.
    Comment,
    /// A processing instruction (the XML declaration too).
    Instruction,
    /// A tag, a declaration or a DTD: quick-xml's part.
    Markup,
}

impl Ahead {
    /// How comments open.
    pub(super) const COMMENT: &[u8] = b"<!--";
    /// How processing instructions open.
    pub(super) const INSTRUCTION: &[u8] = b"<?";
    /// Bytes to look at to tell them all apart.
    pub(super) const LONGEST: usize = CDATA_OPEN.len();

    /// What the input holds when it goes on with `bytes` (the next [`LONGEST`](Self::LONGEST)
    /// bytes, or fewer where the input ends).
    pub(super) fn of(bytes: &[u8]) -> Ahead {
        if bytes.is_empty() {
            Ahead::End
        } else if bytes.starts_with(CDATA_OPEN) {
            Ahead::CData
        } else if bytes[0] != b'<' {
            Ahead::Text
        } else if bytes.starts_with(Ahead::COMMENT) {
            Ahead::Comment
        } else if bytes.starts_with(Ahead::INSTRUCTION) {
            Ahead::Instruction
        } else {
            Ahead::Markup
        }
    }
}

/// A buffered reader that can look a few bytes ahead across its buffer's end, and can be
/// limited to the next so many bytes.
pub(super) struct Lookahead<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes that may still be handed out.
    remaining: u64,
}

impl<R: Read> Lookahead<R> {
    pub(super) fn new(inner: R) -> Self {
        Lookahead {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            remaining: UNLIMITED,
        }
    }

    /// The buffered bytes from `start`, no more than may be handed out.
    fn visible(&self) -> &[u8] {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        &self.buf[self.start..self.end.min(self.start.saturating_add(n))]
    }

    /// At least `n` buffered bytes, unless the input ends sooner.
    pub(super) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
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

    /// Hands out no more than the next `remaining` bytes ([`UNLIMITED`]: no limit).
    pub(super) fn get_ref(&self) -> &R {
        &self.inner
    }

    pub(super) fn limit(&mut self, remaining: u64) {
        self.remaining = remaining;
    }
}

impl<R: Read + io::Seek> Lookahead<R> {
    /// Goes on from byte `offset` of the input, dropping what was buffered.
    pub(super) fn reposition(&mut self, offset: u64) -> io::Result<()> {
        self.inner.seek(io::SeekFrom::Start(offset))?;
        self.start = 0;
        self.end = 0;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_bytes_tell_text_from_cdata_comments_instructions_and_tags() {
        assert_eq!(Ahead::of(b""), Ahead::End);
        assert_eq!(Ahead::of(b"<![CDATA[x"), Ahead::CData);
        assert_eq!(Ahead::of(b"x<"), Ahead::Text);
        assert_eq!(Ahead::of(b"<!-- c"), Ahead::Comment);
        assert_eq!(Ahead::of(b"<?xml"), Ahead::Instruction);
        assert_eq!(Ahead::of(b"<a>"), Ahead::Markup);
        // Cut short by the end of the input, a CDATA opening is quick-xml's error.
        assert_eq!(Ahead::of(b"<![CDA"), Ahead::Markup);
    }

    #[test]
    fn a_limit_hides_the_bytes_past_it_until_lifted() {
        let mut ahead = Lookahead::new(&b"abcdef"[..]);
        ahead.limit(2);
        assert_eq!(ahead.peek(4).unwrap(), b"ab");
        ahead.consume(2);
        assert_eq!(ahead.fill_buf().unwrap(), b"");
        ahead.limit(UNLIMITED);
        assert_eq!(ahead.fill_buf().unwrap(), b"cdef");
    }
}
