//! The audit trail: one line per case of the merged report, in its order, for scripts and
//! spreadsheets: TSV with a header, or JSON Lines.

use std::io::{self, Write};

use super::CaseRecord;

/// The columns, in order.
pub const COLUMNS: [&str; 8] = [
    "node", "id", "outcome", "time", "attempts", "slot", "process", "start",
];

/// How the audit is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditFormat {
    /// Tab-separated, with a header line; a missing value is empty; a tab, newline or
    /// backslash in a value is written `\t`, `\n`, `\\` (carriage return `\r`).
    #[default]
    Tsv,
    /// One JSON object per line; a missing value is `null`.
    Json,
}

/// Writes the audit's lines to `out`.
#[derive(Debug)]
pub struct AuditWriter<W: Write> {
    out: W,
    format: AuditFormat,
}

impl<W: Write> AuditWriter<W> {
    /// Starts the audit: the TSV header.
    pub fn new(mut out: W, format: AuditFormat) -> io::Result<Self> {
        if format == AuditFormat::Tsv {
            writeln!(out, "{}", COLUMNS.join("\t"))?;
        }
        Ok(AuditWriter { out, format })
    }

    /// One case's line. Its start is the case's own when its runner gave one, else its
    /// process's.
    pub fn case(&mut self, case: &CaseRecord<'_>) -> io::Result<()> {
        let start = case
            .own_start
            .map(str::to_string)
            .or_else(|| case.process_start.map(super::Stamp::format));
        let time = crate::junit::time::format(case.time);
        match self.format {
            AuditFormat::Tsv => {
                let optional = |v: Option<String>| v.unwrap_or_default();
                let fields = [
                    tsv(case.node),
                    tsv(&case.id),
                    case.outcome.as_str().to_string(),
                    time,
                    case.attempts.to_string(),
                    optional(case.slot.map(|s| s.to_string())),
                    optional(case.process.map(|p| p.to_string())),
                    optional(start.as_deref().map(tsv)),
                ];
                writeln!(self.out, "{}", fields.join("\t"))
            }
            AuditFormat::Json => {
                let line = serde_json::json!({
                    "node": case.node,
                    "id": case.id,
                    "outcome": case.outcome.as_str(),
                    "time": case.time,
                    "attempts": case.attempts,
                    "slot": case.slot,
                    "process": case.process,
                    "start": start,
                });
                writeln!(self.out, "{line}")
            }
        }
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A value made safe for one TSV field.
fn tsv(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_fields_hold_no_tab_or_newline() {
        assert_eq!(tsv("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
        assert_eq!(tsv("tests/a.py::T::t[x]"), "tests/a.py::T::t[x]");
    }
}
