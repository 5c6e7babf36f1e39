//! The run in GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` and merge request comments:
//! the totals, the verification, a text timeline, the nodes, the failures, the slowest and
//! flaky tests. Lists are cut so that the whole stays under [`LIMIT`] whatever the run's size.

use std::fmt::Write as _;

use super::RunSummary;
use super::checks::Checks;
use super::html::headline;
use super::html_lists::one_line;
use super::timeline::{self, Layout};

/// GitHub's limit for a step summary is 1 MiB; this leaves room for what else a job writes.
pub const LIMIT: usize = 512 * 1024;
/// Rows per list, and items per verification problem.
const ROWS: usize = 50;
/// Failures shown with the start of their output.
const WITH_OUTPUT: usize = 10;
/// Bytes of output shown per failure.
const OUTPUT: usize = 1024;

/// `text` safe in a table cell or a list item: the characters that could start emphasis, code,
/// a link, HTML, an entity, a heading or a cell, backslash-escaped (CommonMark allows a
/// backslash before any ASCII punctuation), line breaks as spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A value for a table cell: its first line, at most 300 characters, escaped.
fn cell(text: &str) -> String {
    escape(&one_line(text))
}

/// Whether `out` is past [`LIMIT`]: the lists stop there.
fn full(out: &mut String) -> bool {
    if out.len() <= LIMIT {
        return false;
    }
    if !out.ends_with(CUT) {
        out.push_str(CUT);
    }
    true
}

const CUT: &str = "\n(cut here to stay under GitHub's size limit for a step summary)\n\n";

/// The whole summary.
pub fn summary(summary: &RunSummary, checks: &Checks) -> String {
    let mut out = String::new();
    let totals = summary.totals();
    let _ = writeln!(
        out,
        "## {}\n",
        escape(&headline(&totals, summary.nodes.len()))
    );
    let _ = writeln!(out, "**{}**\n", escape(&checks.verdict()));
    for problem in &checks.problems {
        let _ = writeln!(out, "- {} {}:", problem.items.len(), escape(&problem.what));
        for item in problem.items.iter().take(ROWS) {
            if full(&mut out) {
                break;
            }
            let _ = writeln!(out, "  - {}", cell(item));
        }
        more(&mut out, problem.items.len() as u64, ROWS, "  - ");
    }
    if !checks.problems.is_empty() {
        out.push('\n');
    }
    let layout = Layout::of(&summary.nodes, summary.origin(), summary.finish());
    if layout.extent > 0.0 {
        out.push_str("```text\n");
        for line in timeline::text(&layout) {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("```\n\n");
    }
    nodes(&mut out, summary);
    failures(&mut out, summary);
    slowest(&mut out, summary);
    flaky(&mut out, summary);
    not_run(&mut out, summary);
    out
}

fn more(out: &mut String, total: u64, shown: usize, prefix: &str) {
    if total > shown as u64 {
        let _ = writeln!(out, "{prefix}... and {} more", total - shown as u64);
    }
}

fn nodes(out: &mut String, summary: &RunSummary) {
    out.push_str(
        "### Nodes\n\n| node | tests | failed | flaky | not run | busy (s) | idle | wall (s) |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for node in summary.nodes.iter().take(ROWS * 4) {
        if full(out) {
            break;
        }
        let c = &node.counts;
        let wall = match (node.start(), node.end()) {
            (Some(s), Some(e)) => format!("{:.1}", e.since(s)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} | {} | {wall} |",
            cell(&node.label),
            c.tests,
            c.failed + c.errors,
            c.flaky,
            c.not_run,
            node.busy(),
            node.idle()
                .map_or("-".into(), |i| format!("{:.0}%", i * 100.0)),
        );
    }
    out.push('\n');
    more(out, summary.nodes.len() as u64, ROWS * 4, "");
}

fn failures(out: &mut String, summary: &RunSummary) {
    let list = &summary.failures;
    if list.total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "### Failures ({})\n\n| test | node | outcome | message |\n|---|---|---|---|",
        list.total
    );
    for f in list.items.iter().take(ROWS) {
        if full(out) {
            break;
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&f.id),
            cell(&f.node),
            f.outcome.as_str(),
            cell(f.message.as_deref().unwrap_or(""))
        );
    }
    out.push('\n');
    more(out, list.total, ROWS.min(list.items.len()), "");
    for f in list.items.iter().take(WITH_OUTPUT) {
        if full(out) {
            break;
        }
        let text = f.text.as_deref().unwrap_or("").trim_end();
        if text.trim().is_empty() {
            continue;
        }
        let mut cut = text.len().min(OUTPUT);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        // A fence longer than any run of backticks in the text.
        let longest = text[..cut]
            .split(|c| c != '`')
            .map(str::len)
            .max()
            .unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let _ = writeln!(
            out,
            "<details><summary>{}</summary>\n\n{fence}text\n{}\n{fence}\n\n</details>\n",
            quick_xml::escape::escape(one_line(&f.id)),
            &text[..cut]
        );
    }
}

fn slowest(out: &mut String, summary: &RunSummary) {
    let slow = summary.slowest.list();
    if slow.is_empty() {
        return;
    }
    out.push_str("### Slowest tests\n\n| time (s) | node | test |\n|--:|---|---|\n");
    for s in slow.iter().take(ROWS) {
        if full(out) {
            break;
        }
        let _ = writeln!(
            out,
            "| {:.3} | {} | {} |",
            s.time,
            cell(&s.node),
            cell(&s.id)
        );
    }
    out.push('\n');
}

fn flaky(out: &mut String, summary: &RunSummary) {
    let list = &summary.flaky;
    if list.total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "### Flaky tests ({})\n\n| test | node | failed attempts |\n|---|---|---|",
        list.total
    );
    for f in list.items.iter().take(ROWS) {
        if full(out) {
            break;
        }
        let attempts: Vec<String> = f
            .earlier
            .iter()
            .map(|e| format!("#{}: {}", e.attempt, one_line(&e.message)))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&f.id),
            cell(&f.node),
            cell(&attempts.join("; "))
        );
    }
    out.push('\n');
    more(out, list.total, ROWS.min(list.items.len()), "");
}

fn not_run(out: &mut String, summary: &RunSummary) {
    let list = &summary.not_run;
    if list.total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "### Not run ({})\n\n| test | node | why |\n|---|---|---|",
        list.total
    );
    for n in list.items.iter().take(ROWS) {
        if full(out) {
            break;
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&n.id),
            cell(&n.node),
            cell(&n.why)
        );
    }
    out.push('\n');
    more(out, list.total, ROWS.min(list.items.len()), "");
}
