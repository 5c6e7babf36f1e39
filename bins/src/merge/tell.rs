//! What shard-merge tells people on stderr: odd inputs, what did not verify, the closing
//! line, and the summary tables.

use std::path::Path;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use shardkit::junit::time;
use shardkit::merge::{Report, Totals};

use crate::common::plural;
use crate::{say, say_raw, warn};

/// How many lines of each kind of verification failure are shown.
const SHOWN: usize = 20;

/// Says on stderr what was odd in the inputs, where it was.
pub(super) fn warnings(report: &Report) {
    for w in &report.warnings {
        if w.line == 0 {
            warn(&format!("{}: {}", w.source, w.message));
        } else {
            warn(&format!(
                "{}:{}:{}: {}",
                w.source, w.line, w.column, w.message
            ));
        }
    }
}

/// The closing line: how many reports, nodes and tests, and where the result went.
pub(super) fn merged(count: usize, report: &Report, output: Option<&Path>) {
    let t = &report.totals;
    say(&format!(
        "merged {count} report{} from {} node{}: {} tests, {} failed, {} errors, {} skipped, {} flaky, {} s{}",
        plural(count),
        report.nodes.len(),
        plural(report.nodes.len()),
        t.tests,
        t.failures,
        t.errors,
        t.skipped,
        t.flaky,
        time::format(t.time),
        output.map_or_else(String::new, |p| format!(" -> {}", p.display())),
    ));
}

/// Says on stderr what did not verify; true when everything did.
pub(super) fn verification(report: &Report) -> bool {
    let list = |what: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        warn(&format!("{} {what}:", items.len()));
        for item in items.iter().take(SHOWN) {
            say_raw(&format!("  {item}"));
        }
        if items.len() > SHOWN {
            say_raw(&format!("  ... and {} more", items.len() - SHOWN));
        }
    };
    for s in &report.salvaged {
        warn(&format!(
            "{}:{}:{}: {}: salvaged {} complete test cases, the rest is lost",
            s.source, s.line, s.column, s.message, s.kept
        ));
    }
    if let Some(check) = &report.node_check {
        list(
            &format!("of {} expected nodes missing", check.expected),
            check.missing.iter().map(|k| format!("node {k}")).collect(),
        );
        list(
            &format!(
                "node labels name no node in 1..={} (a label's trailing number is its node)",
                check.expected
            ),
            check.extra.clone(),
        );
    }
    for f in &report.foreign_plans {
        warn(&format!(
            "{} ran from another plan: its shard.plan is {}, the manifest's is different",
            f.source, f.fingerprint
        ));
    }
    if let Some(v) = &report.verification {
        list(
            "planned tests were not reported",
            v.missing
                .iter()
                .map(|m| format!("{} (planned on node {})", m.id, m.planned))
                .collect(),
        );
        list(
            "planned tests were reported more than once",
            v.duplicated
                .iter()
                .map(|(id, nodes)| format!("{id} (by {})", nodes.join(", ")))
                .collect(),
        );
        list(
            "reported tests were not planned",
            v.unplanned
                .iter()
                .map(|u| format!("{} (by {})", u.id, u.node))
                .collect(),
        );
        list(
            "tests ran on a node other than the planned one",
            v.misplaced
                .iter()
                .map(|m| format!("{} (planned on {}, ran on {})", m.id, m.planned, m.reported))
                .collect(),
        );
    }
    report.verified()
}

pub(super) fn summary(report: &Report, timeline: &[String]) {
    let mut nodes = Table::new();
    nodes.load_preset(UTF8_FULL_CONDENSED);
    nodes.set_header([
        "node", "tests", "failed", "errors", "skipped", "flaky", "time (s)",
    ]);
    let row = |label: &str, t: &Totals| {
        let mut cells = vec![Cell::new(label)];
        for n in [t.tests, t.failures, t.errors, t.skipped, t.flaky] {
            cells.push(Cell::new(n).set_alignment(CellAlignment::Right));
        }
        cells.push(Cell::new(format!("{:.1}", t.time)).set_alignment(CellAlignment::Right));
        cells
    };
    for node in &report.nodes {
        nodes.add_row(row(&node.label, &node.totals));
    }
    nodes.add_row(row("all", &report.totals));
    say_raw(&nodes.to_string());

    if !report.slowest.is_empty() {
        let mut slow = Table::new();
        slow.load_preset(UTF8_FULL_CONDENSED);
        slow.set_header(["time (s)", "node", "test"]);
        for s in &report.slowest {
            let test = match &s.classname {
                Some(c) if !c.is_empty() => format!("{c}::{}", s.name),
                _ => s.name.clone(),
            };
            slow.add_row([
                Cell::new(format!("{:.3}", s.time)).set_alignment(CellAlignment::Right),
                Cell::new(&s.node),
                Cell::new(test),
            ]);
        }
        say_raw(&slow.to_string());
    }
    let times: Vec<f64> = report.nodes.iter().map(|n| n.totals.time).collect();
    if !times.is_empty() {
        let max = times.iter().copied().fold(0.0, f64::max);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let ratio = if mean > 0.0 { max / mean } else { 1.0 };
        say_raw(&format!(
            "node time: max {max:.1} s, mean {mean:.1} s, max/mean {ratio:.3}"
        ));
    }
    if !timeline.is_empty() {
        say_raw("timeline (each cell 1/40 of the run; █ ▓ ▒ ░ how busy the node's slots were):");
        for line in timeline {
            say_raw(&format!("  {line}"));
        }
    }
}
