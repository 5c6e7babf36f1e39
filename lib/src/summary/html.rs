//! The run as one self-contained HTML page: the timeline as an inline SVG drawn with
//! presentation attributes, then the totals, the verification, the nodes, the failures, the
//! slowest, flaky and not-run tests.
//!
//! Everything that matters shows where scripts, `<style>` and `style` attributes are all
//! refused (Jenkins serves artifacts with `sandbox; default-src 'none'; img-src 'self';
//! style-src 'self';`): colours and sizes are SVG attributes, tables have `border`, long
//! text is in `<details>`, and an SVG `<title>` names each bar on hover. The `<style>` in the
//! head only makes it nicer where it is allowed (a file opened from disk). Nothing is fetched.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::checks::Checks;
use super::html_lists::shown;
use super::record::{BarState, Counts};
use super::timeline::{Band, Layout};
use super::{RunSummary, Stamp};

/// The width of the time axis, in pixels; node labels take [`LABELS`] more on the left.
const AXIS: f64 = 960.0;
const LABELS: f64 = 140.0;
const LANE: f64 = 16.0;
const GAP: f64 = 10.0;
/// Items shown per verification problem.
const PROBLEM_ITEMS: usize = 500;

/// The colour of a bar in `state`.
pub fn colour(state: BarState) -> &'static str {
    match state {
        BarState::Passed => "#2e9e5b",
        BarState::Flaky => "#e6a23c",
        BarState::NotRun => "#9e9e9e",
        BarState::Failed => "#d64541",
        BarState::TimedOut => "#8e44ad",
    }
}

const STATES: [BarState; 5] = [
    BarState::Passed,
    BarState::Flaky,
    BarState::Failed,
    BarState::TimedOut,
    BarState::NotRun,
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;text-align:left}\
td.n{text-align:right}pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:30em}\
.bad{color:#b00}.good{color:#070}";

/// The whole page.
pub fn page(summary: &RunSummary, checks: &Checks) -> String {
    let totals = summary.totals();
    let layout = Layout::of(&summary.nodes, summary.origin(), summary.finish());
    let mut out = String::with_capacity(64 * 1024);
    let title = headline(&totals, summary.nodes.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let verdict_class = if checks.problems.is_empty() {
        "good"
    } else {
        "bad"
    };
    let _ = writeln!(
        out,
        "<p id=\"verdict\" class=\"{verdict_class}\"><strong>{}</strong></p>",
        escape(checks.verdict())
    );
    timeline(&mut out, &layout);
    verification(&mut out, checks);
    nodes(&mut out, summary);
    super::html_lists::failures(&mut out, summary);
    super::html_lists::slowest(&mut out, summary);
    super::html_lists::flaky(&mut out, summary);
    super::html_lists::not_run(&mut out, summary);
    out.push_str("</body>\n</html>\n");
    out
}

/// A node's label as words: a bare number is a node's number, `node 3`.
pub fn node_name(label: &str) -> String {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        format!("node {label}")
    } else {
        label.to_string()
    }
}

/// `1,234 tests on 3 nodes: 2 failed, 1 flaky, 5 not run`.
pub fn headline(t: &Counts, nodes: usize) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (t.failed, "failed"),
        (t.errors, if t.errors == 1 { "error" } else { "errors" }),
        (t.flaky, "flaky"),
        (t.not_run, "not run"),
        (t.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let rest = if t.tests == 0 {
        "no tests".to_string()
    } else if parts.is_empty() {
        "all passed".to_string()
    } else {
        parts.join(", ")
    };
    format!(
        "{} tests on {nodes} node{}: {rest}",
        t.tests,
        if nodes == 1 { "" } else { "s" }
    )
}

/// The picture: a band per node, a lane per slot, a bar per process, a time axis below.
fn timeline(out: &mut String, layout: &Layout) {
    out.push_str("<h2>Timeline</h2>\n");
    let Some(origin) = layout.origin.filter(|_| layout.extent > 0.0) else {
        out.push_str(
            "<p id=\"no-timeline\">The reports record no process times (they were not written \
             by shard-exec), so there is no timeline to draw.</p>\n",
        );
        return;
    };
    let scale = AXIS / layout.extent;
    let mut y = 0.0;
    let mut body = String::new();
    for band in &layout.bands {
        y = self::band(&mut body, band, y, scale);
    }
    let (ticks, axis_height) = (axis(layout.extent, scale, y), 34.0);
    let height = y + axis_height;
    let width = LABELS + AXIS + 20.0;
    let _ = writeln!(
        out,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" \
         font-size=\"12\" role=\"img\" aria-label=\"timeline of every node's processes\">"
    );
    out.push_str(&body);
    out.push_str(&ticks);
    out.push_str("</svg>\n");
    let _ = writeln!(
        out,
        "<p>Time from the earliest node's start, {} UTC. Grey is a slot with no process \
         running; hover over a bar for its process.</p>",
        escape(origin.format())
    );
    legend(out);
}

/// One node's band from `y`; returns the `y` below it.
fn band(out: &mut String, band: &Band, y: f64, scale: f64) -> f64 {
    let lanes = band.lanes.len().max(1);
    let height = lanes as f64 * LANE;
    let _ = writeln!(
        out,
        "<g class=\"band\" data-node=\"{}\">",
        shown(&band.label)
    );
    let label = node_name(&band.label);
    let _ = writeln!(
        out,
        "<text x=\"0\" y=\"{:.1}\" fill=\"#222\">{}</text>",
        y + height / 2.0 + 4.0,
        shown(&label)
    );
    // The node's span from its start to its end: what is not covered by a bar is idle.
    if let (Some(start), Some(end)) = (band.start, band.end) {
        let _ = writeln!(
            out,
            "<rect class=\"span\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"#e4e4e4\"/>",
            LABELS + start * scale,
            ((end - start) * scale).max(1.0),
        );
    }
    for (i, lane) in band.lanes.iter().enumerate() {
        let top = y + i as f64 * LANE + 1.0;
        for d in lane {
            let what = if d.processes == 1 {
                format!("process {}", d.process)
            } else {
                format!("{} processes from {}", d.processes, d.process)
            };
            let first = if d.tests > 1 {
                format!("{} and {} more", d.first, d.tests - 1)
            } else {
                d.first.clone()
            };
            let _ = writeln!(
                out,
                "<rect class=\"bar\" data-processes=\"{}\" data-state=\"{}\" x=\"{:.1}\" y=\"{top:.1}\" \
                 width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.5\">\
                 <title>{}, slot {}: {} test{} ({}), {:.1} s, {}</title></rect>",
                d.processes,
                d.state.as_str(),
                LABELS + d.from * scale,
                ((d.to - d.from) * scale).max(2.0),
                LANE - 2.0,
                colour(d.state),
                escape(&what),
                i + 1,
                d.tests,
                if d.tests == 1 { "" } else { "s" },
                shown(&first),
                d.to - d.from,
                d.state.as_str(),
            );
        }
    }
    out.push_str("</g>\n");
    y + height + GAP
}

/// The time axis at `y`: a line and ticks at a round step.
fn axis(extent: f64, scale: f64, y: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<line x1=\"{LABELS}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#555\"/>",
        LABELS + AXIS
    );
    let step = tick_step(extent);
    let mut t = 0.0;
    while t <= extent + step * 1e-9 {
        let x = LABELS + t * scale;
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#555\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            y + 5.0,
            y + 18.0,
            seconds_label(t)
        );
        t += step;
    }
    out
}

/// A round step giving at most about 10 ticks over `extent` seconds.
fn tick_step(extent: f64) -> f64 {
    let rough = (extent / 10.0).max(0.001);
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power)
}

fn seconds_label(t: f64) -> String {
    if t >= 120.0 {
        format!("{}m{:02}s", (t / 60.0).floor(), (t % 60.0).round() as u64)
    } else if t.fract().abs() < 1e-9 {
        format!("{t:.0}s")
    } else {
        format!("{t:.1}s")
    }
}

fn legend(out: &mut String) {
    out.push_str("<p id=\"legend\">");
    for state in STATES {
        let _ = write!(
            out,
            "<svg width=\"12\" height=\"12\"><rect width=\"12\" height=\"12\" fill=\"{}\"/></svg> {} &#160; ",
            colour(state),
            state.as_str()
        );
    }
    out.push_str("</p>\n");
}

/// What verification found, each kind in a `<details>`.
fn verification(out: &mut String, checks: &Checks) {
    out.push_str("<h2>Verification</h2>\n");
    if checks.problems.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(checks.verdict()));
        return;
    }
    out.push_str("<div id=\"problems\">\n");
    for problem in &checks.problems {
        let _ = writeln!(
            out,
            "<details open><summary class=\"bad\">{} {}</summary><ul>",
            problem.items.len(),
            escape(&problem.what)
        );
        for item in problem.items.iter().take(PROBLEM_ITEMS) {
            let _ = writeln!(out, "<li>{}</li>", shown(item));
        }
        if problem.items.len() > PROBLEM_ITEMS {
            let _ = writeln!(
                out,
                "<li>... and {} more</li>",
                problem.items.len() - PROBLEM_ITEMS
            );
        }
        out.push_str("</ul></details>\n");
    }
    out.push_str("</div>\n");
}

/// The node table.
fn nodes(out: &mut String, summary: &RunSummary) {
    out.push_str(
        "<h2>Nodes</h2>\n<table id=\"nodes\" border=\"1\" cellpadding=\"4\">\n<tr><th>node</th>\
         <th>tests</th><th>failed</th><th>flaky</th><th>not run</th><th>test time (s)</th>\
         <th>busy (s)</th><th>idle</th><th>start</th><th>end</th><th>wall (s)</th></tr>\n",
    );
    let origin = summary.origin();
    for node in &summary.nodes {
        let c = &node.counts;
        let clock = |s: Option<Stamp>| match (s, origin) {
            (Some(s), Some(o)) => format!("{} (+{:.1} s)", s.clock(), s.since(o)),
            _ => "-".into(),
        };
        let wall = match (node.start(), node.end()) {
            (Some(s), Some(e)) => format!("{:.1}", e.since(s)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{wall}</td></tr>",
            shown(&node.label),
            c.tests,
            c.failed + c.errors,
            c.flaky,
            c.not_run,
            c.time,
            node.busy(),
            node.idle()
                .map_or("-".into(), |i| format!("{:.0}%", i * 100.0)),
            clock(node.start()),
            clock(node.end()),
        );
    }
    out.push_str("</table>\n");
}
