//! The first pass's checks of values that are written out again as they were read: a time
//! that is no plain decimal, a suite count that is no count, a value of the root too long to
//! hold. Each is warned about, and says whether its tag is written again.

use crate::junit::reader::{Kind, VALUE_CAP};

use super::super::fix::{COUNT_ATTRIBUTES, fixed_time, has_duration, is_count, is_plain_decimal};
use super::{Scanner, StartTag};

/// What the numbers of a start tag need.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Numbers {
    /// The tag must be written again.
    pub(super) rewrite: bool,
    /// A suite's counts must be recounted from its cases.
    pub(super) recount: bool,
}

impl Scanner<'_> {
    /// A value of the root that goes into every suite but was too long to hold goes in cut:
    /// warned about.
    pub(super) fn warn_cut(&mut self, tag: &StartTag<'_>) {
        if tag.cut {
            let message = format!(
                "<{}> has a value longer than {VALUE_CAP} bytes: each suite gets its first {VALUE_CAP}",
                tag.name
            );
            self.warn(tag.offset, message);
        }
    }

    /// A time that is no plain decimal, a suite count that is no count: warned about.
    pub(super) fn check_numbers(&mut self, tag: &StartTag<'_>) -> Numbers {
        let mut numbers = Numbers::default();
        let name = tag.name;
        if has_duration(tag.kind)
            && let Some(raw) = tag.attr("time")
            && !is_plain_decimal(raw)
        {
            numbers.rewrite = true;
            let message = match fixed_time(raw) {
                Some(fixed) => format!("<{name}> time=\"{raw}\" is written as {fixed}"),
                None => format!("<{name}> time=\"{raw}\" is not a number of seconds: left out"),
            };
            self.warn(tag.offset, message);
        }
        if tag.kind == Kind::Suite {
            for count in COUNT_ATTRIBUTES {
                if let Some(raw) = tag.attr(count)
                    && !is_count(raw)
                {
                    numbers.rewrite = true;
                    numbers.recount = true;
                    self.warn(
                        tag.offset,
                        format!(
                            "<{name}> {count}=\"{raw}\" is not a count: recounted from the cases"
                        ),
                    );
                }
            }
        }
        numbers
    }
}
