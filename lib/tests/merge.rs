//! Merging random reports: parsing the merged report back gives every input case once, as it
//! was (plus its node), and the root's counts are the cases' counts.

use std::io::Write;

use proptest::prelude::*;
use shardkit::junit::cases::{Case, Status, read_cases};
use shardkit::junit::reader::{Event, JunitReader};
use shardkit::junit::time;
use shardkit::merge::{self, Input, Options};

#[derive(Debug, Clone)]
enum Outcome {
    Pass,
    Fail,
    Error,
    Skip,
    Flaky,
    FailedWithReruns(usize),
}

#[derive(Debug, Clone)]
struct GenCase {
    classname: Option<String>,
    name: String,
    outcome: Outcome,
    time: Option<String>,
    id: Option<String>,
    output: Option<(String, bool)>,
    empty_tag: bool,
}

#[derive(Debug, Clone)]
struct GenSuite {
    name: Option<String>,
    time: Option<String>,
    tests_attr: Option<String>,
    properties: bool,
    cases: Vec<GenCase>,
    nested: Vec<GenSuite>,
}

#[derive(Debug, Clone)]
struct GenReport {
    bare: bool,
    root_properties: bool,
    suites: Vec<GenSuite>,
    node_property: Option<String>,
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(vec!['a', 'b', 'Z', '1', ' ', '.', '_', '[', ']', '/']),
            1 => prop::sample::select(vec!['&', '<', '>', '"', '\'', '\u{1b}', '\u{0}', '\t', '\n', 'é', '→', '\u{fffe}']),
        ],
        1..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn time_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => (0u32..5000).prop_map(|ms| Some(format!("{}.{:03}", ms / 1000, ms % 1000))),
        1 => (1000u32..300_000, 0u32..1000)
            .prop_map(|(s, ms)| Some(format!("{},{:03}.{ms:03}", s / 1000, s % 1000))),
        1 => prop::sample::select(vec!["-1", "NaN", "abc", "", "1e3", " 2 "]).prop_map(|t| Some(t.to_string())),
    ]
}

fn case() -> impl Strategy<Value = GenCase> {
    (
        prop::option::of(text()),
        text(),
        prop_oneof![
            5 => Just(Outcome::Pass),
            1 => Just(Outcome::Fail),
            1 => Just(Outcome::Error),
            1 => Just(Outcome::Skip),
            1 => Just(Outcome::Flaky),
            1 => (1usize..3).prop_map(Outcome::FailedWithReruns),
        ],
        time_text(),
        prop::option::of(text()),
        prop::option::of((text(), any::<bool>())),
        any::<bool>(),
    )
        .prop_map(
            |(classname, name, outcome, time, id, output, empty_tag)| GenCase {
                classname,
                name,
                outcome,
                time,
                id,
                output,
                empty_tag,
            },
        )
}

fn suite() -> impl Strategy<Value = GenSuite> {
    let leaf = (
        prop::option::of(text()),
        time_text(),
        prop::option::of(prop::sample::select(vec!["3", "x", "-2"]).prop_map(String::from)),
        any::<bool>(),
        prop::collection::vec(case(), 0..5),
    )
        .prop_map(|(name, time, tests_attr, properties, cases)| GenSuite {
            name,
            time,
            tests_attr,
            properties,
            cases,
            nested: Vec::new(),
        });
    leaf.prop_recursive(2, 8, 2, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut s, nested)| {
            s.nested = nested;
            s
        })
    })
}

fn report() -> impl Strategy<Value = GenReport> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(suite(), 1..4),
        prop::option::of(prop::sample::select(vec!["1", "2", "node-7"]).prop_map(String::from)),
    )
        .prop_map(|(bare, root_properties, suites, node_property)| GenReport {
            bare,
            root_properties,
            suites: if bare {
                suites.into_iter().take(1).collect()
            } else {
                suites
            },
            node_property,
        })
}

/// Attribute escaping that leaves control characters raw, as careless producers do.
fn attr(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!(" {name}=\""));
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn body_text(out: &mut String, value: &str, cdata: bool) {
    if cdata {
        out.push_str("<![CDATA[");
        out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]>");
    } else {
        out.push_str(&value.replace('&', "&amp;").replace('<', "&lt;"));
    }
}

fn write_case(out: &mut String, c: &GenCase) {
    out.push_str("<testcase");
    if let Some(cn) = &c.classname {
        attr(out, "classname", cn);
    }
    attr(out, "name", &c.name);
    if let Some(t) = &c.time {
        attr(out, "time", t);
    }
    let plain = matches!(c.outcome, Outcome::Pass) && c.id.is_none() && c.output.is_none();
    if plain && c.empty_tag {
        out.push_str("/>");
        return;
    }
    out.push('>');
    match &c.outcome {
        Outcome::Pass => {}
        Outcome::Fail => out.push_str("<failure message=\"m\">trace</failure><failure/>"),
        Outcome::Error => out.push_str("<error message=\"e\"/>"),
        Outcome::Skip => out.push_str("<skipped/>"),
        Outcome::Flaky => out.push_str("<flakyFailure message=\"f\" time=\"0,5\"/>"),
        Outcome::FailedWithReruns(n) => {
            out.push_str("<failure/>");
            for _ in 0..*n {
                out.push_str("<rerunFailure time=\"1\"/>");
            }
        }
    }
    if let Some((text, cdata)) = &c.output {
        out.push_str("<system-out>");
        body_text(out, text, *cdata);
        out.push_str("</system-out>");
    }
    if let Some(id) = &c.id {
        out.push_str("<properties><property name=\"shard.id\"");
        attr(out, "value", id);
        out.push_str("/></properties>");
    }
    out.push_str("</testcase>\n");
}

fn write_suite(out: &mut String, s: &GenSuite, node: Option<&str>) {
    out.push_str("<testsuite");
    if let Some(n) = &s.name {
        attr(out, "name", n);
    }
    if let Some(t) = &s.time {
        attr(out, "time", t);
    }
    if let Some(t) = &s.tests_attr {
        attr(out, "tests", t);
    }
    out.push('>');
    if s.properties || node.is_some() {
        out.push_str("<properties><property name=\"k\" value=\"v\"/>");
        if let Some(node) = node {
            out.push_str(&format!("<property name=\"shard.node\" value=\"{node}\"/>"));
        }
        out.push_str("</properties>");
    }
    for c in &s.cases {
        write_case(out, c);
    }
    for n in &s.nested {
        write_suite(out, n, None);
    }
    out.push_str("<system-out>suite output</system-out></testsuite>\n");
}

fn write_report(r: &GenReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n");
    if !r.bare {
        out.push_str("<testsuites name=\"run\" tests=\"999\">");
        if r.root_properties {
            out.push_str("<properties><property name=\"root\" value=\"r\"/></properties>");
        }
    }
    for s in &r.suites {
        write_suite(&mut out, s, r.node_property.as_deref());
    }
    if !r.bare {
        out.push_str("</testsuites>");
    }
    out
}

/// A case as compared: what the merge must keep, times as they read after normalization.
fn comparable(case: &Case) -> String {
    let time = case
        .time
        .or(match case.bad_time.as_deref().map(time::parse) {
            Some(Err(time::BadTime::Negative)) => Some(0.0),
            _ => None,
        });
    let properties: Vec<_> = case
        .properties
        .iter()
        .filter(|(n, _)| n != "shard.node")
        .collect();
    format!(
        "{:?}|{}|{:?}|{:?}|{}|{}|{:?}",
        case.classname, case.name, case.status, time, case.flaky, case.reruns, properties
    )
}

fn root_counts(xml: &[u8]) -> Vec<(String, String)> {
    let mut reader = JunitReader::new(xml);
    match reader.next_event().unwrap() {
        Event::Start { attrs, .. } => attrs
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect(),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn merge_then_parse_gives_the_same_cases_and_counts(
        reports in prop::collection::vec(report(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        let mut expected = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            let xml = write_report(r);
            let path = dir.path().join(format!("node-{}.xml", i + 1));
            std::fs::File::create(&path).unwrap().write_all(xml.as_bytes()).unwrap();
            let cases = read_cases(xml.as_bytes()).unwrap();
            expected.extend(cases.iter().map(|c| (
                comparable(c),
                c.property("shard.node").map(str::to_string).or(r.node_property.clone())
                    .unwrap_or_else(|| format!("node-{}", i + 1)),
            )));
            inputs.push(Input {
                path,
                source: format!("node-{}.xml", i + 1),
                label: format!("node-{}", i + 1),
            });
        }
        let merged = merge::scan(inputs, &Options::default()).unwrap();
        let mut out = Vec::new();
        merged.write(&mut out).unwrap();

        let back = read_cases(&out[..]).unwrap();
        let mut got: Vec<_> = back
            .iter()
            .map(|c| (comparable(c), c.property("shard.node").unwrap_or("").to_string()))
            .collect();
        got.sort();
        expected.sort();
        prop_assert_eq!(&got, &expected);

        let count = |s: Status| back.iter().filter(|c| c.status == s).count().to_string();
        let seconds: f64 = back.iter().filter_map(|c| c.time).sum();
        let root = root_counts(&out);
        let attr = |n: &str| root.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
        prop_assert_eq!(attr("tests"), back.len().to_string());
        prop_assert_eq!(attr("failures"), count(Status::Failed));
        prop_assert_eq!(attr("errors"), count(Status::Errored));
        prop_assert_eq!(attr("skipped"), count(Status::Skipped));
        prop_assert!((attr("time").parse::<f64>().unwrap() - seconds).abs() < 1e-3);
        let report = merged.report();
        prop_assert_eq!(report.totals.tests, back.len() as u64);

        // The merged report merges again to the same cases.
        let again_path = dir.path().join("merged.xml");
        std::fs::write(&again_path, &out).unwrap();
        let again = merge::scan(
            vec![Input { path: again_path, source: "merged.xml".into(), label: "merged".into() }],
            &Options::default(),
        ).unwrap();
        let mut out2 = Vec::new();
        again.write(&mut out2).unwrap();
        let mut got2: Vec<_> = read_cases(&out2[..]).unwrap()
            .iter()
            .map(|c| (comparable(c), c.property("shard.node").unwrap_or("").to_string()))
            .collect();
        got2.sort();
        prop_assert_eq!(got2, got);
    }
}
