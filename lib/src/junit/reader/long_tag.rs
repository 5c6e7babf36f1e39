//! A start tag too long to hold: read as it streams by, its names whole and its attribute
//! values handed on in pieces, so that a `message=` of 200 MB takes no more memory than one of
//! 200 bytes.
//!
//! quick-xml reads a tag into one buffer, whole. The reader gives it every tag that fits in its
//! lookahead (almost all of them); a longer one goes through [`stream_start_tag`], which knows
//! the same grammar: `<name`, then attributes `key = "value"` or `key='value'` with optional
//! white space around the `=`, then `>` or `/>`. What is done with the names and values is up
//! to a [`TagSink`]: the reader keeps each value's first [`VALUE_CAP`] bytes and checks the
//! rest, the merge writes the tag again with its values streamed.

use std::io::{self, BufRead};

use super::CHUNK;

/// A name (of an element or an attribute) in a streamed tag is at most this long.
pub const MAX_NAME: usize = CHUNK;

/// A streamed tag has at most this many attributes.
pub const MAX_ATTRIBUTES: usize = 16 * 1024;

/// What is done with a start tag as it streams by. An error is a message; the tag reader
/// places it.
pub trait TagSink {
    /// The element's name, as written.
    fn element(&mut self, name: &str) -> Result<(), String>;
    /// An attribute begins: its name as written, and the quote its value stands in.
    fn attribute(&mut self, key: &str, quote: u8) -> Result<(), String>;
    /// The next bytes of the value, as written: escaped, never holding the quote.
    fn value(&mut self, raw: &[u8]) -> Result<(), String>;
    /// The value ended.
    fn value_end(&mut self) -> Result<(), String>;
}

/// Why a streamed tag could not be read: a message, and where in the tag (bytes from its `<`).
#[derive(Debug)]
pub struct TagError {
    pub offset: u64,
    pub message: String,
    /// The input ended inside the tag.
    pub truncated: bool,
}

impl From<io::Error> for TagError {
    fn from(e: io::Error) -> Self {
        TagError {
            offset: 0,
            message: e.to_string(),
            truncated: false,
        }
    }
}

/// XML's white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The input of a streamed tag, and how far into the tag it stands.
struct Cursor<'a> {
    src: &'a mut dyn BufRead,
    at: u64,
}

impl Cursor<'_> {
    fn error(&self, message: impl Into<String>) -> TagError {
        TagError {
            offset: self.at,
            message: message.into(),
            truncated: false,
        }
    }

    /// The next byte, not taken; the input must not end inside a tag.
    fn peek(&mut self) -> Result<u8, TagError> {
        match self.src.fill_buf()?.first() {
            Some(&b) => Ok(b),
            None => Err(TagError {
                truncated: true,
                ..self.error("the file ends inside a tag: it is truncated")
            }),
        }
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.at += n as u64;
    }

    /// Skips white space; true when there was some.
    fn skip_space(&mut self) -> Result<bool, TagError> {
        let mut any = false;
        loop {
            let buf = self.src.fill_buf()?;
            let n = buf.iter().take_while(|&&b| is_space(b)).count();
            let all = n == buf.len() && n > 0;
            self.consume(n);
            any |= n > 0;
            if !all {
                return Ok(any);
            }
        }
    }

    /// A name up to the first byte `stop` says ends it (not taken), into `out`.
    fn name(&mut self, out: &mut Vec<u8>, stop: fn(u8) -> bool) -> Result<(), TagError> {
        out.clear();
        loop {
            self.peek()?;
            let buf = self.src.fill_buf()?;
            let n = buf.iter().position(|&b| stop(b));
            let taken = n.unwrap_or(buf.len());
            if out.len() + taken > MAX_NAME {
                return Err(self.error(format!("a name longer than {MAX_NAME} bytes")));
            }
            out.extend_from_slice(&buf[..taken]);
            self.consume(taken);
            if n.is_some() {
                return Ok(());
            }
        }
    }

    /// An attribute's value after its opening `quote`, handed to `sink` in pieces, up to and
    /// with its closing quote.
    fn value(&mut self, quote: u8, sink: &mut dyn TagSink) -> Result<(), TagError> {
        loop {
            self.peek()?;
            let buf = self.src.fill_buf()?;
            let n = memchr::memchr(quote, buf);
            let taken = n.unwrap_or(buf.len());
            let result = sink.value(&buf[..taken]);
            self.consume(taken);
            result.map_err(|m| self.error(m))?;
            if n.is_some() {
                self.consume(1);
                return sink.value_end().map_err(|m| self.error(m));
            }
        }
    }
}

/// Reads a start tag from `src`, which stands at its `<`, up to and with its `>`, handing its
/// parts to `sink`. Returns whether the tag is empty (`/>`).
pub fn stream_start_tag(src: &mut dyn BufRead, sink: &mut dyn TagSink) -> Result<bool, TagError> {
    let mut at = Cursor { src, at: 0 };
    if at.peek()? != b'<' {
        return Err(at.error("not a start tag"));
    }
    at.consume(1);
    let mut name = Vec::new();
    at.name(&mut name, |b| is_space(b) || b == b'/' || b == b'>')?;
    let text = std::str::from_utf8(&name).map_err(|_| at.error("a name that is not UTF-8"))?;
    sink.element(text).map_err(|m| at.error(m))?;
    let mut count = 0;
    loop {
        at.skip_space()?;
        match at.peek()? {
            b'>' => {
                at.consume(1);
                return Ok(false);
            }
            b'/' => {
                at.consume(1);
                if at.peek()? != b'>' {
                    return Err(at.error("not well-formed XML: `/` in a tag not followed by `>`"));
                }
                at.consume(1);
                return Ok(true);
            }
            _ => {}
        }
        count += 1;
        if count > MAX_ATTRIBUTES {
            return Err(at.error(format!("a tag with more than {MAX_ATTRIBUTES} attributes")));
        }
        at.name(&mut name, |b| is_space(b) || b == b'=' || b == b'>')?;
        let key = std::str::from_utf8(&name).map_err(|_| at.error("a name that is not UTF-8"))?;
        at.skip_space()?;
        if at.peek()? != b'=' {
            return Err(at.error(format!(
                "not well-formed XML: attribute `{key}` is not followed by `=`"
            )));
        }
        at.consume(1);
        at.skip_space()?;
        let quote = match at.peek()? {
            q @ (b'"' | b'\'') => q,
            _ => {
                return Err(at.error(format!(
                    "not well-formed XML: the value of `{key}` is not in quotes"
                )));
            }
        };
        sink.attribute(key, quote).map_err(|m| at.error(m))?;
        at.consume(1);
        at.value(quote, sink)?;
    }
}

/// Whether the start tag at the start of `ahead` ends within its first `limit` bytes: a tag
/// that does is given to quick-xml whole, one that does not is streamed. Quotes are followed,
/// as a `>` may stand in a value.
pub fn tag_ends_within(ahead: &[u8], limit: usize) -> bool {
    let ahead = &ahead[..ahead.len().min(limit)];
    // Most tags: no `'` before the first `>`, and the `"`s before it in pairs, so that it
    // stands outside every value and ends the tag. One search for each, not one per quote.
    let Some(first) = memchr::memchr(b'>', ahead) else {
        return false;
    };
    let before = &ahead[..first];
    if memchr::memchr(b'\'', before).is_none() && count_quotes(before).is_multiple_of(2) {
        return true;
    }
    ends_by_quotes(ahead)
}

/// How many `"` `data` holds, eight bytes at a time.
fn count_quotes(data: &[u8]) -> u32 {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    let mut words = data.chunks_exact(8);
    let mut count = 0;
    for word in &mut words {
        let v = u64::from_le_bytes(word.try_into().unwrap_or([0; 8])) ^ QUOTES;
        // The high bit of each byte that was a quote (now 0), and of no other: no carry
        // crosses a byte, as each byte's low seven bits plus 0x7F stay under 0x100.
        count += (!(((v & LOW) + LOW) | v | LOW)).count_ones();
    }
    count + words.remainder().iter().filter(|&&b| b == b'"').count() as u32
}

/// Whether the start tag at the start of `ahead` ends within it, each quote followed.
fn ends_by_quotes(ahead: &[u8]) -> bool {
    let mut quote = None;
    let mut i = 0;
    while i < ahead.len() {
        let rest = &ahead[i..];
        let found = match quote {
            None => memchr::memchr3(b'>', b'"', b'\'', rest),
            Some(q) => memchr::memchr(q, rest),
        };
        let Some(n) = found else { return false };
        match (quote, rest[n]) {
            (None, b'>') => return true,
            (None, q) => quote = Some(q),
            (Some(_), _) => quote = None,
        }
        i += n + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that writes down what it was handed.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl TagSink for Log {
        fn element(&mut self, name: &str) -> Result<(), String> {
            self.0.push(format!("<{name}"));
            Ok(())
        }
        fn attribute(&mut self, key: &str, quote: u8) -> Result<(), String> {
            self.0.push(format!("{key}={}", quote as char));
            Ok(())
        }
        fn value(&mut self, raw: &[u8]) -> Result<(), String> {
            if let Some(last) = self.0.last_mut() {
                last.push_str(std::str::from_utf8(raw).map_err(|e| e.to_string())?);
            }
            Ok(())
        }
        fn value_end(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    /// What the sink was handed, whether the tag is empty, and what is left after it.
    fn streamed(tag: &str, buffer: usize) -> Result<(Vec<String>, bool, String), String> {
        let mut src = io::BufReader::with_capacity(buffer, tag.as_bytes());
        let mut log = Log::default();
        let empty = stream_start_tag(&mut src, &mut log)
            .map_err(|e| format!("{} at {}", e.message, e.offset))?;
        let mut rest = String::new();
        io::Read::read_to_string(&mut src, &mut rest).unwrap();
        Ok((log.0, empty, rest))
    }

    #[test]
    fn a_tag_streams_by_in_pieces_of_any_size() {
        for buffer in [1, 2, 3, 7, 64] {
            let (log, empty, rest) =
                streamed("<j:case a=\"1 > 2\" \n b = 'say \"hi\"'/>rest", buffer).unwrap();
            assert_eq!(log, ["<j:case", "a=\"1 > 2", "b='say \"hi\""], "{buffer}");
            assert!(empty);
            assert_eq!(rest, "rest");
            let (log, empty, _) = streamed("<a>", buffer).unwrap();
            assert_eq!((log, empty), (vec!["<a".to_string()], false));
        }
    }

    #[test]
    fn what_is_not_a_start_tag_is_an_error_at_its_place() {
        for (tag, wanted) in [
            ("<a b/>", "`b/` is not followed by `=` at 5"),
            ("<a b=1>", "not in quotes at 5"),
            ("<a / >", "not followed by `>` at 4"),
            ("<a b=\"x", "truncated at 7"),
            ("<a", "truncated at 2"),
        ] {
            let err = streamed(tag, 3).unwrap_err();
            assert!(err.contains(wanted), "{tag}: {err}");
        }
    }

    #[test]
    fn the_end_of_a_tag_is_found_past_quoted_brackets() {
        assert!(tag_ends_within(b"<a b=\"x>\" c='>'>", 100));
        assert!(!tag_ends_within(b"<a b=\"x>\" c='>'", 100));
        assert!(!tag_ends_within(b"<a b=\"x\">", 8));
        assert!(tag_ends_within(b"<a/>", 4));
        assert!(tag_ends_within(b"<a b=\"it's\" c=\"d\">", 100));
        assert!(!tag_ends_within(b"<a b=\"x>", 100));
    }

    proptest::proptest! {
        /// The quick answer (the first `>` when the quotes before it are closed) is the one
        /// that follows every quote.
        #[test]
        fn the_quick_answer_is_the_one_that_follows_the_quotes(
            tag in proptest::collection::vec(proptest::sample::select(b"<a=\"'> x".to_vec()), 0..40),
            limit in 0usize..48,
        ) {
            let within = &tag[..tag.len().min(limit)];
            proptest::prop_assert_eq!(tag_ends_within(&tag, limit), ends_by_quotes(within));
            let quotes = tag.iter().filter(|&&b| b == b'"').count();
            proptest::prop_assert_eq!(count_quotes(&tag) as usize, quotes);
        }
    }
}
