//! A process's output, kept within a bound: the head and the tail, and how much was cut
//! between them.

use std::collections::VecDeque;

/// What one stream (stdout or stderr) of a process wrote.
#[derive(Debug, Clone)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    cut: u64,
}

impl Capture {
    /// Keeps at most `limit` bytes: a quarter from the start, the rest from the end (where
    /// tracebacks and summaries are).
    pub fn new(limit: usize) -> Self {
        let head_limit = limit / 4;
        Capture {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_limit,
            tail_limit: limit - head_limit,
            cut: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < self.head_limit {
            let take = bytes.len().min(self.head_limit - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if bytes.len() >= self.tail_limit {
            self.cut += (self.tail.len() + bytes.len() - self.tail_limit) as u64;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_limit..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_limit);
        if overflow > 0 {
            self.tail.drain(..overflow);
            self.cut += overflow as u64;
        }
        self.tail.extend(bytes);
    }

    /// Bytes dropped from the middle.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.tail.is_empty()
    }

    /// The output as text (invalid UTF-8 replaced), with a marker line where bytes were cut.
    pub fn text(&self) -> String {
        let mut bytes = self.head.clone();
        if self.cut > 0 {
            bytes.extend_from_slice(
                format!("\n[shard-exec: {} bytes of output cut here]\n", self.cut).as_bytes(),
            );
        }
        bytes.extend(self.tail.iter());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = Capture::new(16);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.text(), "hello world");
        assert_eq!(c.cut(), 0);
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_says_what_was_cut() {
        let mut c = Capture::new(8);
        for chunk in [&b"ab"[..], b"cdefgh", b"ijklmnop", b"q", b"rstuvwxyz"] {
            c.push(chunk);
        }
        assert_eq!(c.cut(), 26 - 8);
        assert_eq!(
            c.text(),
            "ab\n[shard-exec: 18 bytes of output cut here]\nuvwxyz"
        );
        let mut one = Capture::new(8);
        one.push(b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(one.text(), c.text());
    }
}
