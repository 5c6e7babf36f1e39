//! Markup, quick-xml's part: start and end tags (their names and attributes read into the
//! reader's buffers, the open elements kept), and the declarations, DTD, comments and
//! instructions that carry nothing a report needs.

use std::io::Read;

use quick_xml::events::Event as XmlEvent;

use super::attributes::local_name;
use super::capped::read_streamed;
use super::long_tag::tag_ends_within;
use super::{CHUNK, Event, JunitReader, Kind, MAX_DEPTH, ReadError, Span, Step};

/// A tag read, its name and attributes held by the reader.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tag {
    Start { kind: Kind, empty: bool },
    End { kind: Kind, prefixed: bool },
}

impl<R: Read> JunitReader<R> {
    /// A step at a `<` that quick-xml reads: text that ran up to here is finished first, then
    /// a tag is an event and anything else is skipped.
    pub(super) fn markup_step(&mut self, position: u64) -> Result<Step, ReadError> {
        if self.run.open {
            self.end_text()?;
            if !self.text.is_empty() {
                return Ok(Step::Text);
            }
        }
        if self.fragment {
            return Err(ReadError::new(
                position,
                "a tag where only text was expected",
            ));
        }
        let tag = self.markup(position)?;
        let span = Span {
            start: position,
            end: self.xml.buffer_position(),
        };
        Ok(match tag {
            Some(tag) => Step::Tag(tag, span),
            None => {
                self.skipped.push(span);
                Step::Continue
            }
        })
    }

    /// The event of a tag read, standing at `span`.
    pub(super) fn tag_event(&self, tag: Tag, span: Span) -> Event<'_> {
        match tag {
            Tag::Start { kind, empty } => Event::Start {
                kind,
                name: &self.tag.name,
                attrs: self.tag.attrs(),
                empty,
                span,
                dirty: self.tag.dirty,
                cut: self.tag.cut,
            },
            Tag::End { kind, prefixed } => Event::End {
                kind,
                name: &self.tag.name,
                span,
                dirty: prefixed,
            },
        }
    }

    /// The next markup event, or `None` for markup that carries nothing (a declaration, a
    /// DTD, a comment, a processing instruction).
    fn markup(&mut self, position: u64) -> Result<Option<Tag>, ReadError> {
        if self.long_start_tag()? {
            let empty = read_streamed(&mut self.tag, &mut self.xml.stream(), position)?;
            return self.opened(empty, position).map(Some);
        }
        self.buf.clear();
        // A tag is held whole (its attributes); the buffer does not stay large after a big one.
        if self.buf.capacity() > CHUNK * 16 {
            self.buf = Vec::new();
        }
        let event = match self.xml.read_event_into(&mut self.buf) {
            Ok(event) => event,
            Err(e) => return Err(self.not_well_formed(&e)),
        };
        let event = match event {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let empty = matches!(event, XmlEvent::Empty(_));
                self.tag.read(start, position)?;
                self.opened(empty, position)?
            }
            XmlEvent::End(end) => {
                // The open elements are the reader's to keep (a streamed tag never reaches
                // quick-xml), and so is the check that each closes under its own name.
                let qname = end.name();
                let written: &str = qname.as_ref();
                if self.stack.is_empty() || self.stack.last() != written {
                    let problem = if self.stack.is_empty() {
                        format!("close tag `</{written}>` does not match any open tag")
                    } else {
                        let open = self.stack.last();
                        format!("expected `</{open}>`, but `</{written}>` was found")
                    };
                    let message = format!("not well-formed XML: ill-formed document: {problem}");
                    return Err(ReadError::new(position, message));
                }
                self.tag.name.clear();
                self.tag.name.push_str(written);
                let prefixed = local_name(&mut self.tag.name);
                self.stack.pop();
                Tag::End {
                    kind: Kind::of(&self.tag.name),
                    prefixed,
                }
            }
            // A DTD is skipped, never expanded; the rest carries nothing a report needs.
            XmlEvent::DocType(_) | XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) => {
                return Ok(None);
            }
            XmlEvent::Eof => {
                return Err(ReadError::truncated(
                    position,
                    "the file ends inside a tag: it is truncated",
                ));
            }
            // Character data never reaches quick-xml: the loop streams it.
            XmlEvent::Text(_) | XmlEvent::CData(_) | XmlEvent::GeneralRef(_) => {
                return Err(ReadError::new(
                    position,
                    "internal: character data reached the XML parser",
                ));
            }
        };
        Ok(Some(event))
    }

    /// Whether the markup ahead is a start tag longer than the tag limit: one to stream.
    fn long_start_tag(&mut self) -> Result<bool, ReadError> {
        let limit = self.tag_limit;
        let ahead = self.xml.get_mut().peek(2)?;
        if ahead.len() < 2 || matches!(ahead[1], b'/' | b'!' | b'?') {
            return Ok(false);
        }
        if tag_ends_within(ahead, limit) {
            return Ok(false);
        }
        // Looked at again with the lookahead full; a tag cut by the end of the input is
        // quick-xml's error.
        let ahead = self.xml.get_mut().peek(limit)?;
        Ok(ahead.len() >= limit && !tag_ends_within(ahead, limit))
    }

    /// A start tag was read into `self.tag`: the element opens (unless `empty`).
    fn opened(&mut self, empty: bool, position: u64) -> Result<Tag, ReadError> {
        self.open_root(position)?;
        if !empty {
            if self.stack.len() == MAX_DEPTH {
                return Err(ReadError::new(
                    position,
                    format!("elements nest more than {MAX_DEPTH} deep"),
                ));
            }
            self.stack.push(&self.tag.written);
        }
        Ok(Tag::Start {
            kind: Kind::of(&self.tag.name),
            empty,
        })
    }

    /// quick-xml's error `e`, where it stands: cut off, or wrong (only a syntax error at the
    /// very end is a truncation).
    fn not_well_formed(&mut self, e: &quick_xml::Error) -> ReadError {
        let at = self.xml.error_position();
        let message = format!("not well-formed XML: {e}");
        let at_end = matches!(e, quick_xml::Error::Syntax(_))
            && self
                .xml
                .get_mut()
                .peek(1)
                .map(<[u8]>::is_empty)
                .unwrap_or(false);
        ReadError {
            truncated: at_end,
            ..ReadError::new(at, message)
        }
    }

    /// A start tag outside every element must be the first root.
    fn open_root(&mut self, position: u64) -> Result<(), ReadError> {
        if self.stack.is_empty() {
            if self.seen_root {
                return Err(ReadError::new(position, "a second root element"));
            }
            self.seen_root = true;
        }
        Ok(())
    }
}
