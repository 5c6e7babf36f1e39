//! The picture of a run, from a merged report: processes become bars on their node's slots,
//! the notable cases are listed, the audit has a line per case, the Markdown parses as
//! CommonMark with its tables and stays under its bound on 200,000 cases.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use shardkit::merge::Report;
use shardkit::summary::audit::{AuditFormat, AuditWriter};
use shardkit::summary::checks::Checks;
use shardkit::summary::timeline::{self, Layout};
use shardkit::summary::{BarState, RunSummary, html, markdown, summarize};

fn props(pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("<properties>");
    for (name, value) in pairs {
        out.push_str(&format!("<property name=\"{name}\" value=\"{value}\"/>"));
    }
    out + "</properties>"
}

fn ran(id: &str, node: &str, slot: &str, process: &str, start: &str, end: &str) -> String {
    props(&[
        ("shard.id", id),
        ("shard.node", node),
        ("shard.slot", slot),
        ("shard.process", process),
        ("shard.process.start", &format!("2024-05-01T12:00:{start}Z")),
        ("shard.process.end", &format!("2024-05-01T12:00:{end}Z")),
    ])
}

/// Two nodes; node 2 starts 3 s late. Node 1: a batch of two (one passed, one timed out) in
/// process 1 on slot 1; a flaky case that failed in process 2 and passed in process 3, on
/// slot 2. Node 2: a failure in process 1, and a case never run.
fn report() -> String {
    let suite = |node: &str, start: &str, end: &str| {
        props(&[
            ("shard.node", node),
            ("shard.start", &format!("2024-05-01T12:00:{start}Z")),
            ("shard.end", &format!("2024-05-01T12:00:{end}Z")),
        ])
    };
    [
        "<?xml version=\"1.0\"?>\n<testsuites tests=\"5\">",
        "<testsuite name=\"node 1\" tests=\"3\">",
        &suite("1", "00.000", "10.000"),
        "<testcase classname=\"t.a\" name=\"ok\" time=\"1.5\">",
        &ran("a::ok", "1", "1", "1", "00.000", "04.000"),
        "</testcase>",
        "<testcase classname=\"t.a\" name=\"flaky\" time=\"0.5\">",
        &ran("a::flaky", "1", "2", "3", "05.000", "09.000"),
        "<flakyFailure message=\"boom\" type=\"failed\" attempt=\"1\" time=\"0.4\" slot=\"2\" \
         process=\"2\" start=\"2024-05-01T12:00:00.100Z\" end=\"2024-05-01T12:00:04.500Z\"/>",
        "</testcase>",
        "<testcase classname=\"t.a\" name=\"hang\" time=\"2\" timestamp=\"2024-05-01T12:00:01.250Z\">",
        &ran("a::hang", "1", "1", "1", "00.000", "04.000"),
        "<failure message=\"timed out after 2s (killed by signal 15 (SIGTERM))\"/>",
        "<system-out>line one &lt;x&gt;</system-out></testcase>",
        "</testsuite>",
        "<testsuite name=\"node 2\" tests=\"2\">",
        &suite("2", "03.000", "08.000"),
        "<testcase name=\"never\">",
        &props(&[
            ("shard.id", "b::never"),
            ("shard.node", "2"),
            ("shard.outcome", "not-run"),
        ]),
        "<skipped message=\"not run: the run was interrupted\"/></testcase>",
        "<testcase classname=\"b\" name=\"fails|*_\" time=\"1\">",
        &ran("b::fails|*_", "2", "1", "1", "03.000", "07.000"),
        "<failure message=\"assert 1 == 2\">Traceback: x &amp; y</failure></testcase>",
        "</testsuite>\n</testsuites>\n",
    ]
    .concat()
}

fn read(xml: &str) -> (RunSummary, String) {
    let mut audit = AuditWriter::new(Vec::new(), AuditFormat::Tsv).unwrap();
    let summary = summarize(xml.as_bytes(), 10, |case| audit.case(case)).unwrap();
    let lines = String::from_utf8(audit.finish().unwrap()).unwrap();
    (summary, lines)
}

fn no_checks() -> Checks {
    Checks::of(&Report {
        totals: Default::default(),
        nodes: Vec::new(),
        slowest: Vec::new(),
        warnings: Vec::new(),
        salvaged: Vec::new(),
        node_check: None,
        verification: None,
        foreign_plans: Vec::new(),
    })
}

#[test]
fn processes_become_bars_on_their_nodes_slots_and_the_notable_cases_are_listed() {
    let (summary, _) = read(&report());
    let labels: Vec<&str> = summary.nodes.iter().map(|n| n.label.as_str()).collect();
    assert_eq!(labels, ["1", "2"]);
    let one = &summary.nodes[0];
    let bars: Vec<(usize, u64, u32, BarState)> = one
        .bars()
        .iter()
        .map(|b| (b.slot, b.process, b.tests, b.state))
        .collect();
    assert_eq!(
        bars,
        [
            (1, 1, 2, BarState::TimedOut),
            (2, 2, 1, BarState::Flaky),
            (2, 3, 1, BarState::Flaky),
        ]
    );
    assert_eq!(one.slots(), 2);
    // Slots busy 4 + 4.4 + 4 s of 2 x 10 s: 38% idle.
    assert!(
        (one.idle().unwrap() - 0.38).abs() < 1e-9,
        "{:?}",
        one.idle()
    );
    let two = &summary.nodes[1];
    assert_eq!(two.bars().len(), 1);
    assert_eq!(two.bars()[0].state, BarState::Failed);

    let t = summary.totals();
    assert_eq!(
        (t.tests, t.passed, t.flaky, t.failed, t.not_run),
        (5, 1, 1, 2, 1)
    );
    let failures: Vec<(&str, &str, &str)> = summary
        .failures
        .items
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.message.as_deref().unwrap(),
                f.text.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                "a::hang",
                "timed out after 2s (killed by signal 15 (SIGTERM))",
                "line one <x>"
            ),
            ("b::fails|*_", "assert 1 == 2", "Traceback: x & y"),
        ]
    );
    assert_eq!(summary.flaky.items[0].id, "a::flaky");
    assert_eq!(summary.flaky.items[0].earlier[0].process, Some(2));
    assert_eq!(summary.not_run.items[0].why, "the run was interrupted");
    let slow: Vec<String> = summary.slowest.list().into_iter().map(|s| s.id).collect();
    assert_eq!(
        slow,
        ["a::hang", "a::ok", "b::fails|*_", "a::flaky", "b::never"]
    );

    // The layout: node 2 starts 3 s after node 1; in text, its first 12 of 40 cells are blank.
    let layout = Layout::of(&summary.nodes, summary.origin(), summary.finish());
    assert_eq!(layout.extent, 10.0);
    assert_eq!(layout.bars(), 4);
    assert_eq!(layout.bands[1].start, Some(3.0));
    let text = timeline::text(&layout);
    assert!(text[1].starts_with("2 ▕            █"), "{text:?}");
    assert!(text[0].ends_with("▏ 10.0 s from +0.0 s"), "{text:?}");
}

#[test]
fn the_audit_has_a_line_per_case_in_the_reports_order() {
    let (_, audit) = read(&report());
    let expected = "node\tid\toutcome\ttime\tattempts\tslot\tprocess\tstart\n\
        1\ta::ok\tpassed\t1.5\t1\t1\t1\t2024-05-01T12:00:00.000Z\n\
        1\ta::flaky\tflaky\t0.5\t2\t2\t3\t2024-05-01T12:00:05.000Z\n\
        1\ta::hang\tfailed\t2\t1\t1\t1\t2024-05-01T12:00:01.250Z\n\
        2\tb::never\tnot-run\t0\t1\t\t\t\n\
        2\tb::fails|*_\tfailed\t1\t1\t1\t1\t2024-05-01T12:00:03.000Z\n";
    assert_eq!(audit, expected);
    let mut json = AuditWriter::new(Vec::new(), AuditFormat::Json).unwrap();
    summarize(report().as_bytes(), 0, |case| json.case(case)).unwrap();
    let json = String::from_utf8(json.finish().unwrap()).unwrap();
    let first: serde_json::Value = serde_json::from_str(json.lines().nth(3).unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"node": "2", "id": "b::never", "outcome": "not-run", "time": 0.0,
            "attempts": 1, "slot": null, "process": null, "start": null})
    );
}

#[test]
fn the_page_needs_no_script_no_style_attribute_and_nothing_fetched() {
    let (summary, _) = read(&report());
    let page = html::page(&summary, &no_checks());
    assert_eq!(page.matches("<g class=\"band\"").count(), 2);
    assert_eq!(page.matches("<rect class=\"bar\"").count(), 4);
    for refused in ["<script", " style=", "src=", "href=", "url("] {
        assert!(!page.contains(refused), "{refused} in the page");
    }
    for shown in [
        "timed out after 2s",
        "line one &lt;x&gt;",
        "b::fails|*_",
        "the run was interrupted",
    ] {
        assert!(page.contains(shown), "{shown} not in the page");
    }
}

/// The text of every cell of every table, by table.
fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), None::<String>);
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::End(TagEnd::TableCell) => row.push(cell.take().unwrap()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => rows.push(std::mem::take(&mut row)),
            Event::End(TagEnd::Table) => tables.push(std::mem::take(&mut rows)),
            Event::Html(h) | Event::InlineHtml(h) if cell.is_some() => {
                panic!("HTML {h} in a table cell")
            }
            _ => {}
        }
    }
    tables
}

#[test]
fn the_markdown_parses_with_its_tables_and_every_value_as_written() {
    let (summary, _) = read(&report());
    let md = markdown::summary(&summary, &no_checks());
    let tables = tables(&md);
    // Nodes, failures, slowest, flaky, not run.
    assert_eq!(tables.len(), 5, "{md}");
    assert_eq!(tables[0][0][0], "node");
    assert_eq!(tables[0][2][..4], ["2", "2", "1", "0"]);
    let failed: Vec<&str> = tables[1][1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(failed, ["a::hang", "b::fails|*_"], "{md}");
    assert_eq!(tables[1][2][3], "assert 1 == 2");
    assert_eq!(tables[3][1][2], "#1: boom");
    assert_eq!(tables[4][1], ["b::never", "2", "the run was interrupted"]);
    assert!(md.contains("```text\n1 ▕"), "{md}");
}

/// A merged report of `cases` cases over 16 nodes, in batches of 50 on 4 slots; `fail` says
/// which cases fail, `id` names them.
fn big_report(cases: usize, fail: impl Fn(usize) -> bool, id: impl Fn(usize) -> String) -> String {
    let mut xml = String::from("<testsuites>");
    let per_node = cases / 16;
    for node in 1..=16 {
        xml.push_str("<testsuite name=\"n\">");
        for i in 0..per_node {
            let k = (node - 1) * per_node + i;
            let process = i / 50 + 1;
            let slot = process % 4 + 1;
            let at = |s: usize| format!("2024-05-01T12:{:02}:{:02}.000Z", s / 60 % 60, s % 60);
            let start = (process - 1) / 4 * 7;
            xml.push_str(&format!(
                "<testcase classname=\"c\" name=\"t{k}\" time=\"0.1\">{}",
                ran_at(
                    &id(k),
                    &node.to_string(),
                    slot,
                    process,
                    &at(start),
                    &at(start + 7)
                )
            ));
            if fail(k) {
                // The cases the lists keep (the first ones) have long messages and output.
                let long = if k < 2000 { 400 } else { 1 };
                xml.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    "m|*&lt;&amp;".repeat(long),
                    "x`y".repeat(long * 5)
                ));
            }
            xml.push_str("</testcase>");
        }
        xml.push_str("</testsuite>");
    }
    xml + "</testsuites>"
}

fn ran_at(id: &str, node: &str, slot: usize, process: usize, start: &str, end: &str) -> String {
    props(&[
        ("shard.id", id),
        ("shard.node", node),
        ("shard.slot", &slot.to_string()),
        ("shard.process", &process.to_string()),
        ("shard.process.start", start),
        ("shard.process.end", end),
    ])
}

#[test]
fn on_200000_cases_the_markdown_stays_under_a_mebibyte_and_the_page_under_2_mb() {
    // Every case failed, with a long id made of Markdown's special characters.
    let hostile = big_report(
        200_000,
        |_| true,
        |k| format!("{k}{}", "|*_`[&lt;".repeat(if k < 2000 { 500 } else { 1 })),
    );
    let (summary, _) = read(&hostile);
    assert_eq!(summary.failures.total, 200_000);
    let md = markdown::summary(&summary, &no_checks());
    assert!(md.len() < 1 << 20, "{} bytes", md.len());
    assert!(
        md.len() <= markdown::LIMIT + 64 * 1024,
        "{} bytes",
        md.len()
    );
    assert_eq!(tables(&md)[1].len(), 51, "a header and 50 failures");

    // A usual run: one case in 50 fails.
    let usual = big_report(
        200_000,
        |k| k % 50 == 7,
        |k| format!("tests/m{}.py::T::t{k}", k / 40),
    );
    let (summary, _) = read(&usual);
    let page = html::page(&summary, &no_checks());
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
    assert_eq!(page.matches("<g class=\"band\"").count(), 16);
    let md = markdown::summary(&summary, &no_checks());
    assert!(md.len() < 1 << 20, "{} bytes", md.len());
}

#[test]
fn a_hostile_id_of_100_kb_is_shown_cut_and_an_empty_run_says_so() {
    let xml = big_report(
        160,
        |k| k % 2 == 0,
        |k| format!("{k}{}", "é&lt;&amp;&gt;".repeat(25_000)),
    );
    let (summary, _) = read(&xml);
    let page = html::page(&summary, &no_checks());
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    // 1,000 characters: "0", 249 times "é<&>", then "é<&".
    let cut = format!("0{}é&lt;&amp; …", "é&lt;&amp;&gt;".repeat(249));
    assert!(page.contains(&cut));
    let md = markdown::summary(&summary, &no_checks());
    assert!(md.len() < 200_000, "{} bytes", md.len());

    let (empty, audit) = read("<testsuites/>");
    assert_eq!(
        audit,
        "node\tid\toutcome\ttime\tattempts\tslot\tprocess\tstart\n"
    );
    let page = html::page(&empty, &no_checks());
    assert!(
        page.contains("<h1>0 tests on 0 nodes: no tests</h1>"),
        "{page}"
    );
    assert!(page.contains("id=\"no-timeline\""), "{page}");
}
