//! Durations in JUnit reports: read leniently, written as plain decimals.
//!
//! Producers write `0.123`, `1,234.5` (Surefire up to 3.1.0, Ant: a thousands separator),
//! `0.000123` and `12` and now and then garbage. Jenkins strips commas, so shardkit does too.
//! Written times are plain decimals (`[0-9]+(\.[0-9]+)?`), the only form every consumer reads.

use std::fmt;

/// Why a time attribute could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTime {
    /// Not a decimal number: `abc`, `1e3`, `NaN`, `inf`, empty.
    NotANumber,
    /// Below zero.
    Negative,
}

impl fmt::Display for BadTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadTime::NotANumber => "not a decimal number of seconds",
            BadTime::Negative => "a negative duration",
        })
    }
}

/// Seconds from a `time` attribute: surrounding whitespace and commas are dropped, then a
/// plain decimal (`12`, `0.5`, `.5`, `5.`) is required.
pub fn parse(text: &str) -> Result<f64, BadTime> {
    let text = text.trim();
    let cleaned: std::borrow::Cow<'_, str> = if text.contains(',') {
        text.replace(',', "").into()
    } else {
        text.into()
    };
    let (sign, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(BadTime::NotANumber);
    }
    let value: f64 = digits
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or(BadTime::NotANumber)?;
    if sign && value != 0.0 {
        return Err(BadTime::Negative);
    }
    Ok(value)
}

/// `seconds` as a plain decimal with at most six decimals and no trailing zeros: `0.123`,
/// `1234.5`, `12`. Values that are not finite or below zero are written as `0`.
pub fn format(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "0".to_string();
    }
    let text = format!("{seconds:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reading() {
        assert_eq!(parse("0.123"), Ok(0.123));
        assert_eq!(parse(" 12 "), Ok(12.0));
        assert_eq!(parse("1,234.5"), Ok(1234.5));
        assert_eq!(parse("2,120.532"), Ok(2120.532));
        assert_eq!(parse(".5"), Ok(0.5));
        assert_eq!(parse("5."), Ok(5.0));
        assert_eq!(parse("-0"), Ok(0.0));
        assert_eq!(parse("-1.5"), Err(BadTime::Negative));
        let huge = "9".repeat(400);
        for bad in [
            "", ".", "NaN", "inf", "1e3", "12ms", "abc", "1.2.3", "--1", &huge,
        ] {
            assert_eq!(parse(bad), Err(BadTime::NotANumber), "{bad:?}");
        }
    }

    #[test]
    fn plain_decimal_writing() {
        assert_eq!(format(0.123), "0.123");
        assert_eq!(format(1234.5), "1234.5");
        assert_eq!(format(12.0), "12");
        assert_eq!(format(0.0000004), "0");
        assert_eq!(format(0.0000006), "0.000001");
        assert_eq!(format(-3.0), "0");
        assert_eq!(format(f64::NAN), "0");
        assert_eq!(format(1e20), "100000000000000000000");
        for s in ["0.123", "1234.5", "12", "0.000001"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
