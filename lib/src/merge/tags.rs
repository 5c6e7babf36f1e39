//! Start tags written again: a tag read whole and parsed ([`write_tag`]), or one too long to
//! hold (a `message=` of 200 MB, [`rewrite_long_tag`]) streamed from the input to the output,
//! its names as the reader reads them and each value either written again whole (up to
//! [`VALUE_CAP`] bytes: its time normalized, a count recounted) or, when longer, streamed
//! through a [`TextSanitizer`], so that it comes out whole and valid.

use std::io::{self, BufRead, Read, Write};

use crate::junit::reader::{
    Attr, Kind, ParsedTag, TagNames, TagSink, VALUE_CAP, decode_attribute_value, parse_start_tag,
    stream_start_tag,
};
use crate::junit::sanitize::{SanitizeError, TextSanitizer};
use crate::junit::writer::{self, escape_attribute};

use super::UNNAMED;
use super::fix::{fix_time_attribute, fixed_time, has_duration, is_count};
use super::report::Totals;

/// Output gathered before it goes to the writer.
const FLUSH_AT: usize = 64 * 1024;

/// How a tag is to be written again.
pub(super) struct TagPlan<'n> {
    pub kind: Kind,
    /// An empty tag is written as a start tag (content follows).
    pub open: bool,
    /// The suite's counts, for counts that are no counts.
    pub totals: Option<Totals>,
    /// Namespace declarations the tag must make unless it makes them itself.
    pub namespaces: &'n [(String, String)],
}

impl TagPlan<'static> {
    /// A tag of `kind` with no counts to recount and no namespaces to declare.
    pub(super) fn plain(kind: Kind, open: bool) -> Self {
        TagPlan {
            kind,
            open,
            totals: None,
            namespaces: &[],
        }
    }
}

/// Why a tag could not be written again: writing failed, or the tag is not what the first pass
/// read.
pub(super) enum TagFailure {
    Io(io::Error),
    Changed(String),
}

impl From<io::Error> for TagFailure {
    fn from(e: io::Error) -> Self {
        TagFailure::Io(e)
    }
}

/// Reads the start tag of `len` bytes `source` stands at and writes it again to `out`.
pub(super) fn rewrite_long_tag(
    source: &mut dyn BufRead,
    len: u64,
    how: &TagPlan<'_>,
    out: &mut dyn Write,
) -> Result<(), TagFailure> {
    let mut tag = source.take(len);
    let mut sink = Rewriter {
        how,
        out,
        buf: Vec::new(),
        failed: None,
        names: TagNames::default(),
        named: false,
        declared: Vec::new(),
        value: Value::Left,
        held: Vec::new(),
        sanitizer: TextSanitizer::new(),
    };
    let empty = match stream_start_tag(&mut tag, &mut sink) {
        Ok(empty) => empty,
        Err(e) => {
            return Err(match sink.failed.take() {
                Some(e) => TagFailure::Io(e),
                None => TagFailure::Changed(e.message),
            });
        }
    };
    if tag.limit() != 0 {
        return Err(TagFailure::Changed("a tag shorter than it was".into()));
    }
    if matches!(how.kind, Kind::Suite | Kind::Case) && !sink.named {
        sink.buf
            .extend_from_slice(format!(" name=\"{UNNAMED}\"").as_bytes());
    }
    for (name, uri) in how.namespaces {
        if !sink.declared.contains(name) {
            let mut escaped = String::new();
            escape_attribute(uri, &mut escaped);
            sink.buf
                .extend_from_slice(format!(" {name}=\"{escaped}\"").as_bytes());
        }
    }
    sink.buf
        .extend_from_slice(if empty && !how.open { b"/>" } else { b">" });
    sink.flush().map_err(TagFailure::Io)
}

/// What becomes of the value streaming by.
enum Value {
    /// Left out: its attribute is, or it is no time or count.
    Left,
    /// Held, to be written again whole at its end; the attribute's name to write.
    Held(String),
    /// Streamed: its name and the value so far are written.
    Streamed,
}

struct Rewriter<'a> {
    how: &'a TagPlan<'a>,
    out: &'a mut dyn Write,
    /// Output not yet written.
    buf: Vec<u8>,
    /// Why writing failed.
    failed: Option<io::Error>,
    names: TagNames,
    /// A `name` was written.
    named: bool,
    /// The namespace declarations the tag makes.
    declared: Vec<String>,
    value: Value,
    held: Vec<u8>,
    sanitizer: TextSanitizer,
}

impl Rewriter<'_> {
    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes out what has gathered, once there is enough.
    fn flush_some(&mut self) -> Result<(), String> {
        if self.buf.len() >= FLUSH_AT
            && let Err(e) = self.flush()
        {
            let message = e.to_string();
            self.failed = Some(e);
            return Err(message);
        }
        Ok(())
    }

    /// Writes `raw` (part of a value as written) sanitized, in double quotes.
    fn stream(&mut self, raw: &[u8]) -> Result<(), String> {
        if raw.contains(&b'<') {
            return Err("`<` in an attribute value".into());
        }
        let mut quoted = Quoted(&mut self.buf);
        self.sanitizer.push(raw, &mut quoted).map_err(unreadable)?;
        self.flush_some()
    }

    /// A held value written again: decoded, fixed, escaped.
    fn write_held(&mut self, key: &str) -> Result<(), String> {
        let raw = std::str::from_utf8(&self.held).map_err(|_| "not valid UTF-8".to_string())?;
        let mut value = decode_attribute_value(raw)?;
        if key == "time" && has_duration(self.how.kind) {
            match fixed_time(&value) {
                Some(fixed) => value = fixed,
                None => return Ok(()),
            }
        }
        if let Some(count) = self.how.totals.and_then(|t| t.count(key))
            && !is_count(&value)
        {
            value = count.to_string();
        }
        let mut escaped = String::new();
        escape_attribute(&value, &mut escaped);
        self.attribute_start(key);
        self.buf.extend_from_slice(escaped.as_bytes());
        self.buf.push(b'"');
        Ok(())
    }

    fn attribute_start(&mut self, key: &str) {
        self.named |= key == "name";
        self.buf.push(b' ');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"=\"");
    }
}

/// What a sanitizer's error says of a value.
fn unreadable(e: SanitizeError) -> String {
    match e {
        SanitizeError::Text(t) => format!("an attribute value: {t}"),
        SanitizeError::Io(e) => e.to_string(),
    }
}

/// Sanitized text made fit for a double-quoted attribute: `"` as `&quot;` (a value in single
/// quotes may hold one). The sanitizer never writes `<`, and literal tabs and line ends mean
/// spaces in a value, as they did where it was read.
struct Quoted<'b>(&'b mut Vec<u8>);

impl Write for Quoted<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        for part in bytes.split_inclusive(|&b| b == b'"') {
            match part.strip_suffix(b"\"") {
                Some(before) => {
                    self.0.extend_from_slice(before);
                    self.0.extend_from_slice(b"&quot;");
                }
                None => self.0.extend_from_slice(part),
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TagSink for Rewriter<'_> {
    fn element(&mut self, name: &str) -> Result<(), String> {
        let name = self.names.element(name)?;
        self.buf.push(b'<');
        self.buf.extend_from_slice(name.as_bytes());
        Ok(())
    }

    fn attribute(&mut self, key: &str, _quote: u8) -> Result<(), String> {
        self.held.clear();
        if key.starts_with("xmlns:") {
            self.declared.push(key.to_string());
        }
        self.value = match self.names.attribute(key)? {
            Some(key) => Value::Held(key.to_string()),
            None => Value::Left,
        };
        Ok(())
    }

    fn value(&mut self, raw: &[u8]) -> Result<(), String> {
        match &self.value {
            Value::Left => Ok(()),
            Value::Streamed => self.stream(raw),
            Value::Held(_) if self.held.len() + raw.len() <= VALUE_CAP => {
                self.held.extend_from_slice(raw);
                Ok(())
            }
            Value::Held(key) => {
                let key = key.clone();
                // Too long to be a time or a count: a time is left out (as one that is no
                // number), a count recounted.
                if key == "time" && has_duration(self.how.kind) {
                    self.value = Value::Left;
                    return Ok(());
                }
                if let Some(count) = self.how.totals.and_then(|t| t.count(&key)) {
                    self.attribute_start(&key);
                    self.buf.extend_from_slice(format!("{count}\"").as_bytes());
                    self.value = Value::Left;
                    return Ok(());
                }
                self.attribute_start(&key);
                self.value = Value::Streamed;
                self.sanitizer = TextSanitizer::new();
                let held = std::mem::take(&mut self.held);
                self.stream(&held)?;
                self.held = held;
                self.stream(raw)
            }
        }
    }

    fn value_end(&mut self) -> Result<(), String> {
        match std::mem::replace(&mut self.value, Value::Left) {
            Value::Left => Ok(()),
            Value::Held(key) => self.write_held(&key),
            Value::Streamed => {
                let mut quoted = Quoted(&mut self.buf);
                self.sanitizer.finish(&mut quoted).map_err(unreadable)?;
                self.buf.push(b'"');
                self.flush_some()
            }
        }
    }
}

/// Writes a start tag read from the input: as it stands, or (`rewrite`) read and written
/// again with its time normalized, a missing name given and a suite's counts (`totals`)
/// that are no counts recounted. `open` writes an empty tag as a start tag.
pub(super) fn write_tag(
    writer: &mut dyn Write,
    tag: &[u8],
    how: &TagPlan<'_>,
    rewrite: bool,
) -> Result<(), TagFailure> {
    let TagPlan {
        kind, open, totals, ..
    } = *how;
    if !rewrite {
        match tag.strip_suffix(b"/>") {
            Some(start) if open => {
                writer.write_all(start.trim_ascii_end())?;
                writer.write_all(b">")?;
            }
            _ => writer.write_all(tag)?,
        }
        return Ok(());
    }
    let ParsedTag {
        name,
        mut attrs,
        empty,
    } = parse_start_tag(tag).map_err(TagFailure::Changed)?;
    if has_duration(kind) {
        fix_time_attribute(&mut attrs);
    }
    if matches!(kind, Kind::Suite | Kind::Case) && !attrs.iter().any(|a| a.name == "name") {
        attrs.insert(
            0,
            Attr {
                name: "name".into(),
                value: UNNAMED.into(),
            },
        );
    }
    if let Some(totals) = totals {
        for attr in attrs.iter_mut() {
            if let Some(count) = totals.count(&attr.name)
                && !is_count(&attr.value)
            {
                attr.value = count.to_string();
            }
        }
    }
    for (declaration, uri) in how.namespaces {
        if !attrs.iter().any(|a| a.name == *declaration) {
            attrs.push(Attr {
                name: declaration.clone(),
                value: uri.clone(),
            });
        }
    }
    let mut out = String::new();
    writer::start_tag(&name, &attrs, empty && !open, &mut out);
    writer.write_all(out.as_bytes())?;
    Ok(())
}
