//! Markup, quick-xml's part: start and end tags (their names and attributes read into the
//! reader's buffers, the open elements kept), and the declarations, DTD, comments and
//! instructions that carry nothing a report needs.

use std::io::Read;

use quick_xml::events::Event as XmlEvent;

use super::attributes::element;
use super::{CHUNK, JunitReader, Kind, MAX_DEPTH, ReadError};

/// A tag read, its name and attributes held by the reader.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tag {
    Start { kind: Kind, empty: bool },
    End { kind: Kind },
}

impl<R: Read> JunitReader<R> {
    /// The next markup event, or `None` for markup that carries nothing (a declaration, a
    /// DTD, a comment, a processing instruction).
    pub(super) fn markup(&mut self, position: u64) -> Result<Option<Tag>, ReadError> {
        self.buf.clear();
        // A tag is held whole (its attributes); the buffer does not stay large after a big one.
        if self.buf.capacity() > CHUNK * 16 {
            self.buf = Vec::new();
        }
        let result = self.xml.read_event_into(&mut self.buf);
        let event = match result {
            Ok(event) => event,
            Err(e) => {
                let at = self.xml.error_position();
                let message = format!("not well-formed XML: {e}");
                // Cut off, or wrong: only a syntax error at the very end is a truncation.
                let at_end = matches!(e, quick_xml::Error::Syntax(_))
                    && self
                        .xml
                        .get_mut()
                        .peek(1)
                        .map(<[u8]>::is_empty)
                        .unwrap_or(false);
                return Err(ReadError {
                    truncated: at_end,
                    ..ReadError::new(at, message)
                });
            }
        };
        let event = match event {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let empty = matches!(event, XmlEvent::Empty(_));
                let parsed = element(start, position, &mut self.name, &mut self.attrs)?;
                self.attr_count = parsed.0;
                self.tag_dirty = parsed.1;
                self.open_root(position)?;
                if !empty {
                    if self.stack.len() == MAX_DEPTH {
                        return Err(ReadError::new(
                            position,
                            format!("elements nest more than {MAX_DEPTH} deep"),
                        ));
                    }
                    self.stack.push(&self.name);
                }
                Tag::Start {
                    kind: Kind::of(&self.name),
                    empty,
                }
            }
            XmlEvent::End(end) => {
                self.name.clear();
                self.name.push_str(end.name().as_ref());
                self.stack.pop();
                Tag::End {
                    kind: Kind::of(&self.name),
                }
            }
            // A DTD is skipped, never expanded; the rest carries nothing a report needs.
            XmlEvent::DocType(_) | XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) => {
                return Ok(None);
            }
            XmlEvent::Eof => {
                return Err(ReadError {
                    truncated: true,
                    ..ReadError::new(position, "the file ends inside a tag: it is truncated")
                });
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
