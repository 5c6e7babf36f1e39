//! The page's lists of notable cases: failures with their message and the start of their
//! output, the slowest tests, flaky tests with their attempts, and tests not run.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::RunSummary;
use super::record::Listed;

/// A message shown in one line: its first line, at most 300 characters.
pub(super) fn one_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    let mut cut: String = first.chars().take(300).collect();
    if cut.len() < first.len() || message.lines().nth(1).is_some() {
        cut.push_str(" …");
    }
    cut
}

/// At most 1,000 characters of `text` (an id, a label), escaped: a hostile id of megabytes
/// must not make the page as large.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 1000;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} …", escape(&text[..cut])),
        None => escape(text).into_owned(),
    }
}

fn left_out<T>(out: &mut String, list: &Listed<T>, shown: usize) {
    let more = list.total - shown as u64;
    if more > 0 {
        let _ = writeln!(out, "<p>... and {more} more.</p>");
    }
}

pub(super) fn failures(out: &mut String, summary: &RunSummary) {
    let list = &summary.failures;
    let _ = writeln!(out, "<h2>Failures ({})</h2>", list.total);
    if list.total == 0 {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<div id=\"failures\">\n");
    let mut named = Vec::new();
    for f in &list.items {
        let Some(message) = &f.message else {
            named.push(f);
            continue;
        };
        let retried = if f.attempts > 1 {
            format!(", {} attempts", f.attempts)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<details><summary><strong>{}</strong> on {} ({}{retried}): {}</summary>",
            shown(&f.id),
            escape(super::html::node_name(&f.node)),
            f.outcome.as_str(),
            escape(one_line(message)),
        );
        let text = f.text.as_deref().unwrap_or("");
        if text.trim().is_empty() {
            out.push_str("<p>(no output recorded)</p>");
        } else {
            let _ = write!(out, "<pre>{}</pre>", escape(text));
        }
        out.push_str("</details>\n");
    }
    if !named.is_empty() {
        out.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>test</th><th>node</th><th>outcome</th></tr>\n");
        for f in &named {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                shown(&f.id),
                shown(&f.node),
                f.outcome.as_str()
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
    left_out(out, list, list.items.len());
}

pub(super) fn slowest(out: &mut String, summary: &RunSummary) {
    let slow = summary.slowest.list();
    if slow.is_empty() {
        return;
    }
    out.push_str(
        "<h2>Slowest tests</h2>\n<table id=\"slowest\" border=\"1\" cellpadding=\"4\">\
         <tr><th>time (s)</th><th>node</th><th>test</th></tr>\n",
    );
    for s in &slow {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{:.3}</td><td>{}</td><td>{}</td></tr>",
            s.time,
            shown(&s.node),
            shown(&s.id)
        );
    }
    out.push_str("</table>\n");
}

pub(super) fn flaky(out: &mut String, summary: &RunSummary) {
    let list = &summary.flaky;
    let _ = writeln!(out, "<h2>Flaky tests ({})</h2>", list.total);
    if list.total == 0 {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"flaky\" border=\"1\" cellpadding=\"4\"><tr><th>test</th><th>node</th>\
         <th>failed attempts</th></tr>\n",
    );
    for f in &list.items {
        let attempts: Vec<String> = f
            .earlier
            .iter()
            .map(|e| {
                let place = match (e.slot, e.process) {
                    (Some(s), Some(p)) => format!(" (slot {s}, process {p})"),
                    _ => String::new(),
                };
                format!("#{}{place}: {}", e.attempt, one_line(&e.message))
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            shown(&f.id),
            shown(&f.node),
            escape(attempts.join("; "))
        );
    }
    out.push_str("</table>\n");
    left_out(out, list, list.items.len());
}

pub(super) fn not_run(out: &mut String, summary: &RunSummary) {
    let list = &summary.not_run;
    let _ = writeln!(out, "<h2>Not run ({})</h2>", list.total);
    if list.total == 0 {
        out.push_str("<p>None: every test that was reported ran to its end.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"not-run\" border=\"1\" cellpadding=\"4\"><tr><th>test</th><th>node</th>\
         <th>why</th></tr>\n",
    );
    for n in &list.items {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            shown(&n.id),
            shown(&n.node),
            escape(one_line(&n.why))
        );
    }
    out.push_str("</table>\n");
    left_out(out, list, list.items.len());
}
