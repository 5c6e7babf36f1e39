//! Character data that every XML 1.0 parser accepts, made from what test runners really write.
//!
//! Test output is full of characters XML 1.0 forbids: ESC from coloured output, NUL, form
//! feeds, and references to them such as `&#27;`. One of them makes Jenkins reject a whole
//! report. [`TextSanitizer`] takes the character data of a document as it stands in the file
//! (escaped text between tags, in chunks of any size) and writes character data that is valid
//! XML 1.0, with each forbidden character replaced by a visible stand-in:
//!
//! - a C0 control other than tab, line feed and carriage return (U+0000..U+001F) becomes its
//!   Unicode control picture, U+2400 + code: ESC is `␛`, so `ESC[31m` reads `␛[31m`;
//! - U+FFFE and U+FFFF become U+FFFD, the replacement character;
//! - `>` after `]]` becomes `&gt;` (`]]>` may not appear in text).
//!
//! Raw characters and character references (`&#27;`, `&#x1B;`) are treated alike. The five
//! predefined entities pass through; any other entity reference is an error, as DTD entities
//! are never expanded. Invalid UTF-8 is an error. Errors carry the line and column within the
//! text (1-based, columns in bytes).

use std::fmt;
use std::io::{self, Write};

/// The longest entity or character reference looked for: `&#x10FFFF;` and the named ones fit.
const MAX_REFERENCE: usize = 12;

/// What made character data unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextErrorKind {
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// `&name;` for a name that is not one of XML's five: it would need a DTD.
    UndefinedEntity(String),
    /// An `&` that starts no well-formed reference.
    BadReference,
}

/// A [`TextErrorKind`] and where it is, counted from the start of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    pub kind: TextErrorKind,
    /// 1-based line within the text.
    pub line: u64,
    /// 1-based column in bytes within that line.
    pub column: u64,
    /// Bytes of the text before the error.
    pub offset: u64,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TextErrorKind::InvalidUtf8 => write!(f, "text is not valid UTF-8"),
            TextErrorKind::UndefinedEntity(name) => write!(
                f,
                "entity `&{name};` is not defined (DTD entities are never expanded)"
            ),
            TextErrorKind::BadReference => write!(f, "`&` starts no entity or character reference"),
        }
    }
}

/// An error while sanitizing: bad input, or the output failed.
#[derive(Debug)]
pub enum SanitizeError {
    Text(TextError),
    Io(io::Error),
}

impl From<io::Error> for SanitizeError {
    fn from(e: io::Error) -> Self {
        SanitizeError::Io(e)
    }
}

/// Sanitizes character data chunk by chunk; memory stays bounded whatever the text's length.
#[derive(Debug, Default)]
pub struct TextSanitizer {
    /// Bytes held back because a chunk ended inside a reference or a UTF-8 sequence.
    pending: Vec<u8>,
    /// How many `]` the output ended with (0..=2).
    brackets: u8,
    line: u64,
    column: u64,
    /// Bytes of the text fully processed.
    offset: u64,
    /// Whether anything written differs from the input.
    changed: bool,
}

/// Where [`TextSanitizer::process`] is in the data it was given.
struct Cursor<'d> {
    data: &'d [u8],
    /// Whether no data follows, so that nothing may be held back.
    last: bool,
    /// The next byte to look at.
    i: usize,
    /// Bytes `data[run..i]` are fine as they are and not yet written.
    run: usize,
}

/// What comes after one step of [`TextSanitizer::process`].
enum Step {
    /// Go on with the byte at the cursor.
    Next,
    /// Stop: the data ends inside a reference or a character, kept for the next chunk.
    HoldBack,
}

/// Is `c` a character XML 1.0 allows?
pub fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// The visible stand-in for a character XML 1.0 forbids.
pub(crate) fn stand_in(c: u32) -> char {
    match c {
        0..=0x1F => char::from_u32(0x2400 + c).unwrap_or('\u{FFFD}'),
        _ => '\u{FFFD}',
    }
}

impl TextSanitizer {
    /// A sanitizer at the start of a text.
    pub fn new() -> Self {
        TextSanitizer {
            pending: Vec::new(),
            brackets: 0,
            line: 1,
            column: 1,
            offset: 0,
            changed: false,
        }
    }

    /// Whether the text written so far differs from the text read: a stand-in or an escape
    /// was needed.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Sanitizes the next chunk of text into `out`. A reference or character cut by the
    /// chunk's end is held back until the next chunk (or [`finish`](Self::finish)).
    pub fn push(&mut self, chunk: &[u8], out: &mut dyn Write) -> Result<(), SanitizeError> {
        if self.pending.is_empty() {
            let used = self.process(chunk, false, out)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let used = self.process(&data, false, out)?;
            data.drain(..used);
            self.pending = data;
        }
        Ok(())
    }

    /// Ends the text: anything held back must now be complete.
    pub fn finish(&mut self, out: &mut dyn Write) -> Result<(), SanitizeError> {
        let data = std::mem::take(&mut self.pending);
        self.process(&data, true, out)?;
        self.brackets = 0;
        Ok(())
    }

    fn error(&self, kind: TextErrorKind, at: usize) -> SanitizeError {
        SanitizeError::Text(TextError {
            kind,
            line: self.line,
            column: self.column,
            offset: self.offset + at as u64,
        })
    }

    /// Writes the sanitized form of `data` and returns how many bytes were used; the rest
    /// (only when `last` is false) is an incomplete reference or character.
    fn process(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut dyn Write,
    ) -> Result<usize, SanitizeError> {
        let mut at = Cursor {
            data,
            last,
            i: 0,
            run: 0,
        };
        while at.i < data.len() {
            if self.brackets == 0 {
                let plain = plain_prefix(&data[at.i..]);
                if plain > 0 {
                    at.i += plain;
                    self.column += plain as u64;
                    continue;
                }
            }
            if let Step::HoldBack = self.step(&mut at, out)? {
                break;
            }
        }
        out.write_all(&data[at.run..at.i])?;
        self.offset += at.i as u64;
        Ok(at.i)
    }

    /// Deals with the character or reference at the cursor, one that is not plain.
    fn step(&mut self, at: &mut Cursor<'_>, out: &mut dyn Write) -> Result<Step, SanitizeError> {
        let b = at.data[at.i];
        match b {
            b'&' => return self.reference(at, out),
            b'\n' => {
                self.after_other();
                at.i += 1;
                self.line += 1;
                self.column = 1;
            }
            b'\t' | b'\r' => {
                self.after_other();
                self.keep(at, 1);
            }
            0..=0x1F => {
                self.replace_char(at, 1, stand_in(u32::from(b)), out)?;
                self.after_other();
            }
            // Seen whole, a `]` that does not start `]]>` is plain; near the end of the
            // data, brackets are counted across chunks.
            b']' if self.brackets == 0 && at.i + 2 < at.data.len() => {
                if at.data[at.i + 1] == b']' && at.data[at.i + 2] == b'>' {
                    self.keep(at, 2);
                    self.replace(at, 1, b"&gt;", out)?;
                } else {
                    self.keep(at, 1);
                }
            }
            b']' => {
                self.brackets = (self.brackets + 1).min(2);
                self.keep(at, 1);
            }
            b'>' if self.brackets == 2 => {
                self.replace(at, 1, b"&gt;", out)?;
                self.after_other();
            }
            0x20..=0x7F => {
                self.after_other();
                self.keep(at, 1);
            }
            _ => return self.multibyte(at, out),
        }
        Ok(Step::Next)
    }

    /// An `&...;` reference at the cursor: kept, replaced by a stand-in, or an error.
    fn reference(
        &mut self,
        at: &mut Cursor<'_>,
        out: &mut dyn Write,
    ) -> Result<Step, SanitizeError> {
        let (data, i) = (at.data, at.i);
        let window = &data[i + 1..data.len().min(i + 1 + MAX_REFERENCE)];
        let Some(end) = window.iter().position(|&c| c == b';') else {
            if !at.last && data.len() - i <= MAX_REFERENCE {
                return Ok(Step::HoldBack);
            }
            return self.fail(at, out, TextErrorKind::BadReference);
        };
        let name = &window[..end];
        let width = end + 2;
        match reference(name) {
            Reference::Allowed => {
                self.after_other();
                self.keep(at, width);
            }
            Reference::Forbidden(c) => {
                self.replace_char(at, width, stand_in(c), out)?;
                self.after_other();
            }
            Reference::Undefined => {
                let name = String::from_utf8_lossy(name).into_owned();
                return self.fail(at, out, TextErrorKind::UndefinedEntity(name));
            }
            Reference::Malformed => return self.fail(at, out, TextErrorKind::BadReference),
        }
        Ok(Step::Next)
    }

    /// A UTF-8 sequence of two bytes or more at the cursor: kept, replaced by a stand-in
    /// when XML forbids its character, held back when cut by the data's end, or an error.
    fn multibyte(
        &mut self,
        at: &mut Cursor<'_>,
        out: &mut dyn Write,
    ) -> Result<Step, SanitizeError> {
        let (data, i) = (at.data, at.i);
        let width = utf8_width(data[i]);
        if width == 0 {
            return self.fail(at, out, TextErrorKind::InvalidUtf8);
        }
        if i + width > data.len() {
            if at.last {
                return self.fail(at, out, TextErrorKind::InvalidUtf8);
            }
            return Ok(Step::HoldBack);
        }
        let Ok(s) = std::str::from_utf8(&data[i..i + width]) else {
            return self.fail(at, out, TextErrorKind::InvalidUtf8);
        };
        let c = s.chars().next().map_or(0, u32::from);
        if is_xml_char(c) {
            self.keep(at, width);
        } else {
            self.replace_char(at, width, stand_in(c), out)?;
        }
        self.after_other();
        Ok(Step::Next)
    }

    /// Moves past `width` bytes that stay as they are.
    fn keep(&mut self, at: &mut Cursor<'_>, width: usize) {
        at.i += width;
        self.column += width as u64;
    }

    /// Writes what is kept so far, then `with` in place of the `width` bytes at the cursor.
    fn replace(
        &mut self,
        at: &mut Cursor<'_>,
        width: usize,
        with: &[u8],
        out: &mut dyn Write,
    ) -> Result<(), SanitizeError> {
        self.changed = true;
        out.write_all(&at.data[at.run..at.i])?;
        out.write_all(with)?;
        self.keep(at, width);
        at.run = at.i;
        Ok(())
    }

    /// [`replace`](Self::replace) with a character.
    fn replace_char(
        &mut self,
        at: &mut Cursor<'_>,
        width: usize,
        with: char,
        out: &mut dyn Write,
    ) -> Result<(), SanitizeError> {
        let mut buf = [0u8; 4];
        self.replace(at, width, with.encode_utf8(&mut buf).as_bytes(), out)
    }

    /// Writes what is kept so far and stops with an error at the cursor.
    fn fail(
        &self,
        at: &Cursor<'_>,
        out: &mut dyn Write,
        kind: TextErrorKind,
    ) -> Result<Step, SanitizeError> {
        out.write_all(&at.data[at.run..at.i])?;
        Err(self.error(kind, at.i))
    }

    fn after_other(&mut self) {
        self.brackets = 0;
    }
}

/// How many bytes at the start of `data` need nothing done: ASCII from space on, except `&`
/// (a reference) and `]` (maybe `]]>`). This is where text spends its time.
fn plain_prefix(data: &[u8]) -> usize {
    plain_run(data, b'&', b']')
}

/// How many bytes at the start of `data` are ASCII from space on and neither `a` nor `b`,
/// looked at eight at a time.
pub(crate) fn plain_run(data: &[u8], a: u8, b: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // For each test, the lowest flagged byte is exact (carries only flag bytes above it).
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    while let Some(word) = data.get(i..i + 8) {
        let v = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let special = (v & HIGH)
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGH)
            | zero_byte(v ^ (ONES * u64::from(a)))
            | zero_byte(v ^ (ONES * u64::from(b)));
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + data[i..]
        .iter()
        .position(|&c| !(0x20..0x80).contains(&c) || c == a || c == b)
        .unwrap_or(data.len() - i)
}

/// The length of the UTF-8 sequence that `first` starts, or 0 if it starts none.
fn utf8_width(first: u8) -> usize {
    match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// What an `&...;` reference is.
enum Reference {
    /// One of the five predefined entities, or a reference to a character XML allows.
    Allowed,
    /// A reference to a character XML 1.0 forbids.
    Forbidden(u32),
    /// A well-formed name that no DTD of ours defines.
    Undefined,
    Malformed,
}

fn reference(name: &[u8]) -> Reference {
    match name {
        b"lt" | b"gt" | b"amp" | b"quot" | b"apos" => Reference::Allowed,
        [b'#', b'x', hex @ ..] => code(hex, 16),
        [b'#', dec @ ..] => code(dec, 10),
        [first, rest @ ..]
            if (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')) =>
        {
            Reference::Undefined
        }
        _ => Reference::Malformed,
    }
}

fn code(digits: &[u8], radix: u32) -> Reference {
    let digit = |b: &u8| {
        if radix == 16 {
            b.is_ascii_hexdigit()
        } else {
            b.is_ascii_digit()
        }
    };
    // Digits only: `from_str_radix` would also take a sign, which XML does not.
    let Some(text) = std::str::from_utf8(digits)
        .ok()
        .filter(|t| !t.is_empty() && t.as_bytes().iter().all(digit))
    else {
        return Reference::Malformed;
    };
    match u32::from_str_radix(text, radix) {
        Ok(c) if is_xml_char(c) => Reference::Allowed,
        Ok(c) if c <= 0x10FFFF => Reference::Forbidden(c),
        _ => Reference::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clean(text: &[u8]) -> Result<String, TextError> {
        let mut out = Vec::new();
        let mut s = TextSanitizer::new();
        let result = s.push(text, &mut out).and_then(|()| s.finish(&mut out));
        match result {
            Ok(()) => Ok(String::from_utf8(out).expect("UTF-8 output")),
            Err(SanitizeError::Text(e)) => Err(e),
            Err(SanitizeError::Io(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn forbidden_characters_become_visible() {
        assert_eq!(clean(b"\x1b[31mFAILED\x1b[0m").unwrap(), "␛[31mFAILED␛[0m");
        assert_eq!(clean(b"a&#27;b&#x1B;c&#0;").unwrap(), "a␛b␛c␀");
        assert_eq!(clean(b"nul\x00 ff\x0c").unwrap(), "nul␀ ff␌");
        assert_eq!(
            clean("\u{FFFE}&#xFFFF;".as_bytes()).unwrap(),
            "\u{FFFD}\u{FFFD}"
        );
        assert_eq!(clean(b"x]]>y ]>z ]]]>").unwrap(), "x]]&gt;y ]>z ]]]&gt;");
    }

    #[test]
    fn good_text_is_unchanged() {
        let text = "tab\there\r\nline 2 &lt;tag&gt; &amp; &quot;q&quot; &apos; &#233; &#x1F600; é 😀 \u{7f} \u{85}";
        assert_eq!(clean(text.as_bytes()).unwrap(), text);
    }

    #[test]
    fn only_a_cdata_end_is_escaped_among_brackets() {
        let text = b"[a] ]] x]]> ]]]> ] ]>]]";
        assert_eq!(clean(text).unwrap(), "[a] ]] x]]&gt; ]]]&gt; ] ]>]]");
        // Long plain runs around the special bytes, for the word-at-a-time scan.
        let long = format!("{0}]]>{0}\u{1b}{0}&amp;{0}", "abcdefghijklmnopq");
        assert_eq!(
            clean(long.as_bytes()).unwrap(),
            format!("{0}]]&gt;{0}\u{241b}{0}&amp;{0}", "abcdefghijklmnopq")
        );
    }

    #[test]
    fn errors_say_where() {
        let err = clean(b"ok\nab\xffc").unwrap_err();
        assert_eq!(
            (err.kind.clone(), err.line, err.column),
            (TextErrorKind::InvalidUtf8, 2, 3)
        );
        let err = clean(b"line\n  &lol9;").unwrap_err();
        assert_eq!(err.kind, TextErrorKind::UndefinedEntity("lol9".into()));
        assert_eq!((err.line, err.column), (2, 3));
        assert_eq!(
            err.to_string(),
            "entity `&lol9;` is not defined (DTD entities are never expanded)"
        );
        for bad in [
            &b"a & b"[..],
            b"&;",
            b"&#;",
            b"&#xZZ;",
            b"&#x110000;",
            b"&unterminated",
        ] {
            assert_eq!(
                clean(bad).unwrap_err().kind,
                TextErrorKind::BadReference,
                "{bad:?}"
            );
        }
        assert_eq!(
            clean(b"cut \xe2\x82").unwrap_err().kind,
            TextErrorKind::InvalidUtf8
        );
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_result(
            parts in prop::collection::vec(prop_oneof![
                Just(b"&amp;".to_vec()), Just(b"&#27;".to_vec()), Just(b"&#x1b;".to_vec()),
                Just(b"]]>".to_vec()), Just(b"]".to_vec()), Just(b">".to_vec()),
                Just(b"\x1b".to_vec()), Just("é😀".as_bytes().to_vec()), Just(b"\n".to_vec()),
                Just(b"text ".to_vec()), Just(b"&bad;".to_vec()), Just(b"\xff".to_vec()),
            ], 0..40),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let text: Vec<u8> = parts.concat();
            let whole = clean(&text);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
            points.sort_unstable();
            let mut out = Vec::new();
            let mut s = TextSanitizer::new();
            let mut at = 0;
            let mut result = Ok(());
            for p in points.into_iter().chain([text.len()]) {
                result = result.and_then(|()| s.push(&text[at..p], &mut out));
                at = p;
            }
            let result = result.and_then(|()| s.finish(&mut out));
            match (whole, result) {
                (Ok(w), Ok(())) => prop_assert_eq!(w, String::from_utf8(out).unwrap()),
                (Err(w), Err(SanitizeError::Text(e))) => prop_assert_eq!(w, e),
                (w, r) => prop_assert!(false, "whole {:?}, chunked {:?}", w, r),
            }
        }

        #[test]
        fn output_is_always_xml(
            text in prop::collection::vec(
                prop_oneof![any::<u8>(), Just(b'&'), Just(b';'), Just(b'#'), Just(b']'), Just(b'>')],
                0..200,
            ),
        ) {
            if let Ok(clean) = clean(&text) {
                // Every `&` starts a reference that an XML parser knows without a DTD.
                for (at, _) in clean.match_indices('&') {
                    let end = clean[at..].find(';').map(|e| at + e);
                    prop_assert!(end.is_some(), "unterminated reference in {:?}", clean);
                    let name = &clean[at + 1..end.unwrap_or(at)];
                    let known = ["lt", "gt", "amp", "quot", "apos"].contains(&name)
                        || name.starts_with('#');
                    prop_assert!(known, "`&{};` in {:?}", name, clean);
                }
                for c in clean.chars() {
                    prop_assert!(is_xml_char(u32::from(c)), "{:?} in {:?}", c, clean);
                }
                prop_assert!(!clean.contains("]]>"));
            }
        }
    }
}
