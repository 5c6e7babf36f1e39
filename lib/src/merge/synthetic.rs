//! Suites the inputs did not have: one for what a root holds outside any suite, one that
//! stands for an input with no suite at all, and one whose single errored case stands for what
//! a broken input lost.

use std::io::{self, Write};

use crate::junit::reader::Attr;
use crate::junit::writer::JunitWriter;
use crate::verify::NODE_PROPERTY;

use super::fix::COUNT_ATTRIBUTES;
use super::{SALVAGE_CLASS, SOURCE_PROPERTY};

/// A `<properties>` block of `(name, value)` pairs.
fn write_properties<W: Write>(
    writer: &mut JunitWriter<W>,
    props: &[(String, String)],
) -> io::Result<()> {
    writer.start("properties", &[], false)?;
    for (n, v) in props {
        writer.property(n, v)?;
    }
    writer.end()
}

/// What a suite the input did not have is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Synthetic<'a> {
    /// Content the input's root holds outside any suite: it follows.
    Holder,
    /// An input with no suite at all: the suite names it.
    Empty,
    /// The one errored case that stands for what a broken input lost.
    Lost(&'a str),
}

/// Opens a suite the input did not have, and leaves it open.
pub(super) fn write_synthetic_suite<W: Write>(
    writer: &mut JunitWriter<W>,
    name: &str,
    props: &[(String, String)],
    what: Synthetic<'_>,
) -> io::Result<()> {
    let lost = match what {
        Synthetic::Lost(message) => Some(message),
        _ => None,
    };
    let attr = |name: &str, value: &str| Attr {
        name: name.to_string(),
        value: value.to_string(),
    };
    let mut attrs = vec![attr("name", name)];
    if lost.is_some() {
        attrs.extend([
            attr("tests", "1"),
            attr("failures", "0"),
            attr("errors", "1"),
            attr("skipped", "0"),
            attr("time", "0"),
        ]);
    } else if let Synthetic::Empty = what {
        attrs.extend(COUNT_ATTRIBUTES.map(|c| attr(c, "0")));
    }
    writer.start("testsuite", &attrs, false)?;
    write_properties(writer, props)?;
    if let Some(message) = lost {
        let node = props
            .iter()
            .filter(|(n, _)| n == NODE_PROPERTY)
            .cloned()
            .collect::<Vec<_>>();
        let source = props
            .iter()
            .find(|(n, _)| n == SOURCE_PROPERTY)
            .map_or("", |(_, v)| v.as_str());
        writer.start(
            "testcase",
            &[
                attr("classname", SALVAGE_CLASS),
                attr("name", source),
                attr("time", "0"),
            ],
            false,
        )?;
        write_properties(writer, &node)?;
        writer.start(
            "error",
            &[attr("type", "truncated"), attr("message", message)],
            false,
        )?;
        writer.text(message)?;
        writer.end()?;
        writer.end()?;
    }
    Ok(())
}
