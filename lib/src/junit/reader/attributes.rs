//! Attributes: their values decoded as a parser sees them (entities replaced, made of XML 1.0
//! characters), their names checked, and whether a value as written may be copied as it is.

use std::borrow::Cow;

use quick_xml::events::BytesStart;

use super::ReadError;
use crate::junit::sanitize::{SanitizeError, TextSanitizer, plain_run};

/// An attribute, its value decoded (entities replaced) and made of XML 1.0 characters only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
}

/// A start tag read again: its name, its attributes, and whether it is empty (`<name/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTag {
    pub name: String,
    pub attrs: Vec<Attr>,
    pub empty: bool,
}

/// A start tag as written, `<name a="v">` or `<name a="v"/>`, read as
/// [`JunitReader`](super::JunitReader) reads it, for a tag read again.
pub fn parse_start_tag(tag: &[u8]) -> Result<ParsedTag, String> {
    let inner = tag
        .strip_prefix(b"<")
        .and_then(|t| t.strip_suffix(b">"))
        .ok_or("not a start tag")?;
    let (inner, empty) = match inner.strip_suffix(b"/") {
        Some(inner) => (inner, true),
        None => (inner, false),
    };
    let content = std::str::from_utf8(inner).map_err(|_| "not valid UTF-8")?;
    let name_len = content
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(content.len());
    let start = BytesStart::from_content(content, name_len);
    let mut read = StartTag::default();
    read.read(&start, 0).map_err(|e| e.message)?;
    let StartTag {
        name,
        mut attrs,
        count,
        ..
    } = read;
    attrs.truncate(count);
    Ok(ParsedTag { name, attrs, empty })
}

/// The reader's rules for the names of a tag, for a tag written again as it streams by (see
/// [`stream_start_tag`](super::stream_start_tag)): elements and JUnit attributes by their local
/// names, a default namespace left out, of two JUnit attributes of one local name the first.
#[derive(Debug, Default)]
pub struct TagNames(StartTag);

impl TagNames {
    /// The element's name as written: its name to write.
    pub fn element(&mut self, name: &str) -> Result<&str, String> {
        self.0.begin(name, 0).map_err(|e| e.message)?;
        Ok(&self.0.name)
    }

    /// An attribute's name as written: its name to write, or `None` when it is left out.
    pub fn attribute(&mut self, key: &str) -> Result<Option<&str>, String> {
        let slot = self.0.attribute(key, 0).map_err(|e| e.message)?;
        Ok(slot.map(|slot| self.0.key(slot)))
    }
}

/// An attribute's value as a parser sees it, from its raw (escaped) bytes: references
/// replaced, forbidden characters made stand-ins, white space normalized.
pub fn decode_attribute_value(raw: &str) -> Result<String, String> {
    let mut value = String::new();
    attribute_value(raw, &mut value).map(|_| value)
}

/// Whether an attribute value as written is ASCII from space on with no `&` or `<`: its own
/// decoded value, valid as it stands.
fn is_plain_value(raw: &[u8]) -> bool {
    plain_run(raw, b'&', b'<') == raw.len()
}

/// Whether an attribute value as written (escaped) must be written again: it refers to or
/// holds a character XML 1.0 forbids (or might: every character reference is suspect).
pub(super) fn value_is_dirty(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(i, &b)| match b {
        b'&' => raw.get(i + 1) == Some(&b'#'),
        b'\t' | b'\n' | b'\r' => false,
        0..=0x1F => true,
        // U+FFFE and U+FFFF
        0xEF => raw.get(i + 1) == Some(&0xBF) && matches!(raw.get(i + 2), Some(0xBE | 0xBF)),
        _ => false,
    })
}

/// Makes a prefixed name (`j:testsuite`) its local name; true when it had a prefix.
/// A name that is no qualified name (`a:`, `a:1`) is kept as it is.
pub(super) fn local_name(name: &mut String) -> bool {
    let prefix = name.len() - local_of(name).len();
    name.drain(..prefix);
    prefix > 0
}

/// The local name of `name` (see [`local_name`]).
pub(super) fn local_of(name: &str) -> &str {
    match last_colon(name) {
        Some(colon) if is_xml_name(&name[colon + 1..]) => &name[colon + 1..],
        _ => name,
    }
}

/// Where the last `:` of `name` is. Names are short: a byte loop, not a string searcher.
fn last_colon(name: &str) -> Option<usize> {
    name.bytes().rposition(|b| b == b':')
}

/// The place of `key` among the attributes JUnit consumers read (a prefixed one, `j:name`, is
/// read as its local name), by one `match` on the name.
fn junit_attribute(key: &str) -> Option<usize> {
    Some(match key {
        "name" => 0,
        "classname" => 1,
        "time" => 2,
        "tests" => 3,
        "failures" => 4,
        "errors" => 5,
        "skipped" => 6,
        "disabled" => 7,
        "message" => 8,
        "type" => 9,
        "value" => 10,
        "timestamp" => 11,
        "hostname" => 12,
        "file" => 13,
        "line" => 14,
        _ => return None,
    })
}

/// A start tag's name and attributes, values decoded and made XML 1.0-safe, in buffers that
/// are reused from tag to tag. Names are local names, a default namespace is left out.
#[derive(Debug, Default)]
pub(super) struct StartTag {
    pub(super) name: String,
    /// The name as written (its end tag must match it).
    pub(super) written: String,
    /// The attributes are the first `count`; the rest are kept for their buffers.
    attrs: Vec<Attr>,
    count: usize,
    /// The JUnit attributes read so far, by their place (see [`junit_attribute`]).
    seen: u32,
    /// A value must be written again to be valid (see [`value_is_dirty`]).
    pub(super) dirty: bool,
    /// A value was too long to hold: it is given cut (see [`VALUE_CAP`](super::VALUE_CAP)).
    pub(super) cut: bool,
}

impl StartTag {
    /// The tag's attributes.
    pub(super) fn attrs(&self) -> &[Attr] {
        &self.attrs[..self.count]
    }

    /// Reads the name and attributes of `start`, which stands at `position` (for errors).
    pub(super) fn read(&mut self, start: &BytesStart<'_>, position: u64) -> Result<(), ReadError> {
        self.begin(start.name().as_ref(), position)?;
        for attr in start.attributes() {
            let attr = attr.map_err(|e| {
                ReadError::new(position, format!("<{}>: bad attribute: {e}", self.name))
            })?;
            if let Some(slot) = self.attribute(attr.key.as_ref(), position)? {
                self.set_value(slot, &attr.value, position)?;
            }
        }
        Ok(())
    }

    /// Begins a tag called `name` (as written), which stands at `position`.
    pub(super) fn begin(&mut self, name: &str, position: u64) -> Result<(), ReadError> {
        self.written.clear();
        self.written.push_str(name);
        self.name.clear();
        self.name.push_str(name);
        if !is_xml_name(name) {
            return Err(ReadError::new(
                position,
                format!("not well-formed XML: `{name}` is not an element name"),
            ));
        }
        // Elements by their local names, as Jenkins reads them: `<j:testsuite>` is a suite.
        self.dirty = local_name(&mut self.name);
        self.count = 0;
        self.seen = 0;
        self.cut = false;
        Ok(())
    }

    /// An attribute called `key` (as written): the slot its value goes into, or `None` when it
    /// is left out (a default namespace, a second JUnit attribute of the same local name).
    pub(super) fn attribute(
        &mut self,
        key: &str,
        position: u64,
    ) -> Result<Option<usize>, ReadError> {
        let name = &self.name;
        if !is_xml_name(key) {
            return Err(ReadError::new(
                position,
                format!("not well-formed XML: <{name}> has an attribute named `{key}`"),
            ));
        }
        // A default namespace would put the elements written again into a foreign one.
        if key == "xmlns" {
            self.dirty = true;
            return Ok(None);
        }
        let (key, renamed) = match last_colon(key).map(|colon| (&key[..colon], &key[colon + 1..])) {
            Some((prefix, local))
                if prefix != "xmlns" && !prefix.is_empty() && junit_attribute(local).is_some() =>
            {
                (local, true)
            }
            _ => (key, false),
        };
        self.dirty |= renamed;
        // Of a JUnit attribute and a prefixed one of the same local name, the first is the
        // one Jenkins reads.
        if let Some(i) = junit_attribute(key) {
            if self.seen & (1 << i) != 0 {
                self.dirty = true;
                return Ok(None);
            }
            self.seen |= 1 << i;
        }
        if self.count == self.attrs.len() {
            self.attrs.push(Attr {
                name: String::new(),
                value: String::new(),
            });
        }
        let slot = &mut self.attrs[self.count];
        slot.name.clear();
        slot.name.push_str(key);
        slot.value.clear();
        self.count += 1;
        Ok(Some(self.count - 1))
    }

    /// Sets the value of attribute `slot` from its `raw` (escaped) bytes.
    pub(super) fn set_value(
        &mut self,
        slot: usize,
        raw: &str,
        position: u64,
    ) -> Result<(), ReadError> {
        let attr = &mut self.attrs[slot];
        let plain = attribute_value(raw, &mut attr.value).map_err(|reason| {
            let (name, key) = (&self.name, &attr.name);
            ReadError::new(position, format!("<{name}> attribute {key}: {reason}"))
        })?;
        if !plain {
            self.dirty = self.dirty || value_is_dirty(raw.as_bytes());
        }
        Ok(())
    }

    /// The name of attribute `slot`.
    pub(super) fn key(&self, slot: usize) -> &str {
        &self.attrs[slot].name
    }
}

/// An attribute's value as a parser sees it, from its raw (escaped) bytes: the sanitizer's
/// rules (forbidden characters and references to them become stand-ins, undefined entities are
/// errors), then XML's normalization (literal tabs and line ends become spaces, references
/// to them stay), then the references replaced; pushed onto `out`. True when the value was
/// plain (see [`is_plain_value`]) and went as it stands.
fn attribute_value(raw: &str, out: &mut String) -> Result<bool, String> {
    // Most values are plain ASCII with nothing to decode.
    if is_plain_value(raw.as_bytes()) {
        out.push_str(raw);
        return Ok(true);
    }
    if raw.contains('<') {
        return Err("not well-formed XML: `<` in an attribute value".into());
    }
    let raw = raw.as_bytes();
    let mut sanitized = Vec::with_capacity(raw.len());
    let mut sanitizer = TextSanitizer::new();
    sanitizer
        .push(raw, &mut sanitized)
        .and_then(|()| sanitizer.finish(&mut sanitized))
        .map_err(|e| match e {
            SanitizeError::Text(t) => t.to_string(),
            SanitizeError::Io(e) => e.to_string(),
        })?;
    let text = String::from_utf8(sanitized).map_err(|_| "not valid UTF-8".to_string())?;
    // Most values hold no literal tab or line end: nothing to normalize, nothing to copy.
    let normalized = if memchr::memchr3(b'\t', b'\n', b'\r', text.as_bytes()).is_some() {
        Cow::Owned(text.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(text.as_str())
    };
    let value = quick_xml::escape::unescape(&normalized).map_err(|e| e.to_string())?;
    out.push_str(&value);
    Ok(false)
}

/// Is `name` an XML name? (ASCII rules exactly; any character past ASCII is accepted.)
fn is_xml_name(name: &str) -> bool {
    // Bytes past ASCII are accepted, so bytes can be looked at one by one, in a table.
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| NAME_BYTES[b as usize] == START)
        && bytes.all(|b| NAME_BYTES[b as usize] != NOT)
}

/// What a byte may be in an XML name: not in it, anywhere but first, or anywhere.
const NOT: u8 = 0;
const INSIDE: u8 = 1;
const START: u8 = 2;
const NAME_BYTES: [u8; 256] = {
    let mut table = [NOT; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = if byte.is_ascii_alphabetic() || byte == b'_' || byte == b':' || !byte.is_ascii()
        {
            START
        } else if byte.is_ascii_digit() || byte == b'-' || byte == b'.' {
            INSIDE
        } else {
            NOT
        };
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::reader::tests::events;

    fn is_xml_name_by_chars(name: &str) -> bool {
        let mut chars = name.chars();
        let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
        chars.next().is_some_and(start)
            && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
    }

    #[test]
    fn a_qualified_name_becomes_its_local_name_and_anything_else_stays() {
        for (name, local, had_prefix) in [
            ("j:testsuite", "testsuite", true),
            ("testsuite", "testsuite", false),
            ("a:", "a:", false),
            ("a:1", "a:1", false),
            ("a:b:c", "c", true),
        ] {
            let mut name = name.to_string();
            assert_eq!(local_name(&mut name), had_prefix);
            assert_eq!(name, local);
        }
    }

    #[test]
    fn names_and_plain_values_are_told_by_their_bytes() {
        for name in [
            "testcase", "a:b", "_x-1.2", "é", "1a", "-a", "a b", "", "a<", "ü-ß",
        ] {
            assert_eq!(is_xml_name(name), is_xml_name_by_chars(name), "{name}");
        }
        for (value, plain) in [
            ("", true),
            ("tests.pkg.TestClass", true),
            ("exactly8", true),
            ("a long value of 23 byte", true),
            ("x&amp;", false),
            ("0123456789<", false),
            ("tab\there", false),
            ("0123456789é", false),
            ("\u{7f}", true),
        ] {
            assert_eq!(is_plain_value(value.as_bytes()), plain, "{value:?}");
        }
    }

    #[test]
    fn attribute_values_are_decoded_like_text() {
        let xml = b"<failure message=\"&#0;a&#27;b&#10;c\td\r\ne &lt;&amp;&quot;\"/>";
        assert_eq!(
            events(xml).unwrap(),
            ["<failure/ Failure message=\u{2400}a\u{241b}b\nc d e <&\">"]
        );
        let err = |xml: &[u8]| events(xml).unwrap_err().message;
        assert!(err(b"<a v=\"x<y\"/>").contains("`<` in an attribute value"));
        assert!(err(b"<a v=\"&lol;\"/>").contains("never expanded"));
        assert!(err(b"<a v=\"\xff\"/>").contains("UTF-8"));
    }
}
