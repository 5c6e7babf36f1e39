//! The small fixes of values the merge makes so that every reader takes the report: times that
//! are no plain decimal, counts that are no count.

use crate::junit::reader::{Attr, Kind};
use crate::junit::time;

/// A `time` attribute as written: kept when it is a plain decimal already, normalized when it
/// reads as seconds (`1,234.5` -> `1234.5`), `0` when negative, dropped when it is no number.
pub(super) fn fixed_time(raw: &str) -> Option<String> {
    if is_plain_decimal(raw) {
        return Some(raw.to_string());
    }
    match time::parse(raw) {
        Ok(seconds) => Some(time::format(seconds)),
        Err(time::BadTime::Negative) => Some("0".to_string()),
        Err(time::BadTime::NotANumber) => None,
    }
}

/// Digits, with a fraction or none: what every reader takes as seconds.
pub(super) fn is_plain_decimal(text: &str) -> bool {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Digits only.
pub(super) fn is_count(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A suite's count attributes.
pub(super) const COUNT_ATTRIBUTES: [&str; 4] = ["tests", "failures", "errors", "skipped"];

/// Whether an element of this kind carries a duration in `time`.
pub(super) fn has_duration(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Suite
            | Kind::Case
            | Kind::FlakyFailure
            | Kind::FlakyError
            | Kind::RerunFailure
            | Kind::RerunError
    )
}

/// A tag's `time` written as [`fixed_time`] says, or left out.
pub(super) fn fix_time_attribute(attrs: &mut Vec<Attr>) {
    if let Some(i) = attrs.iter().position(|a| a.name == "time") {
        match fixed_time(&attrs[i].value) {
            Some(fixed) => attrs[i].value = fixed,
            None => {
                attrs.remove(i);
            }
        }
    }
}
