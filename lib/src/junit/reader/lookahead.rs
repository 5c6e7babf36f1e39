//! The buffered input under quick-xml: it looks a few bytes ahead across its buffer's end (to
//! tell `<![CDATA[` from `<!--` from a tag) and can be limited to the next so many bytes.

use std::io::{self, BufRead, Read};

use super::CHUNK;

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
            remaining: u64::MAX,
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

    /// Hands out no more than the next `remaining` bytes ([`u64::MAX`]: no limit).
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
