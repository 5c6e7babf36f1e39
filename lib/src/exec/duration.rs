//! Durations as people write them on a command line: `90s`, `2m`, `1.5s`, `250ms`, `1h`.

use std::time::Duration;

use crate::error::{Error, Result};

/// Reads a duration: a non-negative decimal number and a unit, `ms`, `s`, `m` or `h`
/// (`1m30s` and other sums are not taken). `what` names the setting in the error.
pub fn parse(what: &'static str, text: &str) -> Result<Duration> {
    let bad = |reason: &str| Error::InvalidParameter {
        what,
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| bad("a unit is needed: ms, s, m or h, as in 90s, 2m, 1.5s"))?;
    let (number, unit) = trimmed.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(bad(
                "expected a number and a unit, ms, s, m or h, as in 90s, 2m, 1.5s",
            ));
        }
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad(
            "expected a number before the unit, as in 90s, 2m, 1.5s",
        ));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| bad("expected a number before the unit, as in 90s, 2m, 1.5s"))?;
    let seconds = value * scale;
    Duration::try_from_secs_f64(seconds).map_err(|_| bad("it is too long"))
}

/// Writes a duration the way [`parse`] reads it, briefly: `250ms`, `2s`, `1.5s`, `2m`, `1.5h`.
pub fn display(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    let trim = |v: f64| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if seconds < 1.0 {
        format!("{}ms", trim(seconds * 1000.0))
    } else if seconds < 120.0 {
        format!("{}s", trim(seconds))
    } else if seconds < 7200.0 {
        format!("{}m", trim(seconds / 60.0))
    } else {
        format!("{}h", trim(seconds / 3600.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_units_people_write() {
        let ok = |t: &str| parse("timeout", t).unwrap();
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("0s"), Duration::ZERO);
    }

    #[test]
    fn refuses_what_it_cannot_read_and_says_why() {
        for bad in [
            "", "10", "s", "1.s", ".5s", "-1s", "1x", "1m30s", "1e3s", "1..2s",
        ] {
            let err = parse("timeout", bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid timeout `{bad}`")),
                "{bad}: {err}"
            );
        }
        let huge = format!("{}h", "9".repeat(400));
        assert!(
            parse("timeout", &huge)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn displays_what_it_reads() {
        for (d, text) in [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(150), "2.5m"),
            (Duration::from_secs(3 * 3600), "3h"),
        ] {
            assert_eq!(display(d), text);
            assert_eq!(parse("d", text).unwrap(), d);
        }
    }
}
