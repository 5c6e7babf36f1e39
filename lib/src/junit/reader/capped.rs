//! The reader's side of a streamed tag: its name and attributes read as quick-xml's tags are,
//! each value kept whole up to [`VALUE_CAP`] bytes and beyond that cut to its first ones, the
//! rest still checked as it goes by (made of XML characters, its references defined), so a
//! report is refused or taken whatever the length of its values.

use std::collections::HashSet;
use std::io;

use super::ReadError;
use super::attributes::{StartTag, value_is_dirty};
use crate::junit::sanitize::{SanitizeError, TextSanitizer};

/// The bytes of an attribute value that are kept (as written, escaped); a longer value is given
/// cut, and the tag is marked [`cut`](super::Event::Start).
pub const VALUE_CAP: usize = super::CHUNK;

/// Reads a streamed tag into a [`StartTag`].
pub(super) struct CappedTag<'t> {
    tag: &'t mut StartTag,
    /// Where the tag stands in the input (errors name it).
    position: u64,
    /// The attribute whose value streams by, unless it is left out.
    slot: Option<usize>,
    /// Its first bytes, as written.
    raw: Vec<u8>,
    /// Its length so far.
    len: usize,
    /// Checks the whole value as it goes by, when it is longer than what is kept.
    sanitizer: TextSanitizer,
    /// What the value must be written again for, past what is kept.
    dirty: bool,
    /// The last bytes seen, for what [`value_is_dirty`] looks for across two pieces.
    tail: [u8; 2],
    /// The attributes' names so far, as written: one may not stand twice.
    keys: HashSet<String>,
    /// The end of a value left out, cut inside a character: it must still be UTF-8, as
    /// quick-xml checks every tag it holds.
    partial: Vec<u8>,
    /// The name of the attribute being read, as written.
    key: String,
}

impl<'t> CappedTag<'t> {
    pub(super) fn new(tag: &'t mut StartTag, position: u64) -> Self {
        CappedTag {
            tag,
            position,
            slot: None,
            raw: Vec::new(),
            len: 0,
            sanitizer: TextSanitizer::new(),
            dirty: false,
            tail: [b' '; 2],
            keys: HashSet::new(),
            partial: Vec::new(),
            key: String::new(),
        }
    }

    /// A piece of a value left out: checked to be UTF-8, carrying a character cut at its end.
    fn utf8(&mut self, raw: &[u8]) -> Result<(), String> {
        let mut joined = std::mem::take(&mut self.partial);
        joined.extend_from_slice(raw);
        match std::str::from_utf8(&joined) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.partial = joined[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(_) => Err(self.value_error("not valid UTF-8")),
        }
    }

    /// A message for what is wrong with the value being read.
    fn value_error(&self, reason: impl std::fmt::Display) -> String {
        let key = self
            .slot
            .map_or(self.key.as_str(), |slot| self.tag.key(slot));
        format!("<{}> attribute {key}: {reason}", self.tag.name)
    }

    /// A value too long to keep: checked as it goes by, the bytes past what is kept.
    fn check(&mut self, raw: &[u8]) -> Result<(), String> {
        if raw.contains(&b'<') {
            return Err(self.value_error("not well-formed XML: `<` in an attribute value"));
        }
        let mut joined = self.tail.to_vec();
        joined.extend_from_slice(&raw[..raw.len().min(2)]);
        self.dirty |= value_is_dirty(&joined) || value_is_dirty(raw);
        if let [.., a, b] = raw {
            self.tail = [*a, *b];
        } else if let [b] = raw {
            self.tail = [self.tail[1], *b];
        }
        self.sanitizer
            .push(raw, &mut io::sink())
            .map_err(|e| self.value_error(reason(e)))
    }
}

/// What a sanitizer's error says.
fn reason(e: SanitizeError) -> String {
    match e {
        SanitizeError::Text(t) => t.to_string(),
        SanitizeError::Io(e) => e.to_string(),
    }
}

/// Where a value kept cut may end: not inside a reference or a character.
fn safe_cut(raw: &[u8]) -> usize {
    let mut end = raw.len();
    if let Some(amp) = memchr::memrchr(b'&', raw)
        && !raw[amp..].contains(&b';')
    {
        end = amp;
    }
    match std::str::from_utf8(&raw[..end]) {
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        _ => end,
    }
}

impl super::long_tag::TagSink for CappedTag<'_> {
    fn element(&mut self, name: &str) -> Result<(), String> {
        self.tag.begin(name, self.position).map_err(|e| e.message)
    }

    fn attribute(&mut self, key: &str, _quote: u8) -> Result<(), String> {
        self.key.clear();
        self.key.push_str(key);
        if !self.keys.insert(key.to_string()) {
            return Err(format!(
                "not well-formed XML: <{}> has attribute `{key}` twice",
                self.tag.name
            ));
        }
        self.slot = self
            .tag
            .attribute(key, self.position)
            .map_err(|e| e.message)?;
        self.raw.clear();
        self.len = 0;
        self.sanitizer = TextSanitizer::new();
        self.dirty = false;
        self.tail = [b' '; 2];
        Ok(())
    }

    fn value(&mut self, raw: &[u8]) -> Result<(), String> {
        if self.slot.is_none() {
            return self.utf8(raw);
        }
        let kept = raw.len().min(VALUE_CAP.saturating_sub(self.raw.len()));
        self.raw.extend_from_slice(&raw[..kept]);
        let before = self.len;
        self.len += raw.len();
        // Up to the cap, the value is read whole at its end, as quick-xml's are; past it, it
        // is checked as it goes by, from its first byte.
        if self.len > VALUE_CAP {
            if before <= VALUE_CAP {
                let held = std::mem::take(&mut self.raw);
                let checked = self.check(&held);
                self.raw = held;
                checked?;
            }
            self.check(&raw[kept..])?;
        }
        Ok(())
    }

    fn value_end(&mut self) -> Result<(), String> {
        let Some(slot) = self.slot else {
            if std::mem::take(&mut self.partial).is_empty() {
                return Ok(());
            }
            return Err(self.value_error("not valid UTF-8"));
        };
        let long = self.len > VALUE_CAP;
        if long {
            self.sanitizer
                .finish(&mut io::sink())
                .map_err(|e| self.value_error(reason(e)))?;
            self.tag.cut = true;
            self.tag.dirty |= self.dirty;
        }
        let end = if long {
            safe_cut(&self.raw)
        } else {
            self.raw.len()
        };
        let raw = std::str::from_utf8(&self.raw[..end])
            .map_err(|_| self.value_error("not valid UTF-8"))?;
        self.tag
            .set_value(slot, raw, self.position)
            .map_err(|e| e.message)
    }
}

/// Reads into `tag` a start tag streamed from `src`, which stands at its `<`, at `position`;
/// returns whether it is empty.
pub(super) fn read_streamed(
    tag: &mut StartTag,
    src: &mut dyn io::BufRead,
    position: u64,
) -> Result<bool, ReadError> {
    let mut sink = CappedTag::new(tag, position);
    super::long_tag::stream_start_tag(src, &mut sink).map_err(|e| ReadError {
        truncated: e.truncated,
        ..ReadError::new(position + e.offset, e.message)
    })
}
