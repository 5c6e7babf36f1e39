//! Verification against the plan (`--plan`, `--expect-nodes`): a complete run verifies; a
//! missing node, a node reported twice, duplicates, strangers, wrong nodes and other plans
//! fail it, and the merged report is written all the same; `--quiet` leaves only the
//! warnings.

use std::fs;
use std::process::Command;

use shardkit::junit::cases::Case;
use shardkit::junit::matching::pytest_case;

use super::{cases_of, expect, merge_in};
use crate::suite;
use crate::support::{Run, finish};

/// One node's report, pytest style, for the ids it ran; `edit` changes the XML of a case.
fn node_report(ids: &[&str], edit: &dyn Fn(&str, String) -> String) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"pytest\">\n",
    );
    for id in ids {
        let (classname, name) = pytest_case(id).unwrap();
        let case = format!(
            "<testcase classname=\"{}\" name=\"{}\" time=\"0.25\"/>\n",
            escape(&classname),
            escape(name)
        );
        xml.push_str(&edit(id, case));
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

struct Planned {
    dir: tempfile::TempDir,
    /// Ids by node, nodes counted from 1.
    nodes: Vec<Vec<String>>,
    fingerprint: String,
}

fn planned(nodes: u32) -> Planned {
    let dir = tempfile::tempdir().unwrap();
    let ids = suite::pytest_ids(90, 7);
    fs::write(dir.path().join("ids.txt"), ids.join("\n")).unwrap();
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .current_dir(dir.path())
            .args(["--nodes", &nodes.to_string(), "--manifest", "plan.tsv"])
            .args(["--fingerprint", "ids.txt"])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs::read_to_string(dir.path().join("plan.tsv")).unwrap();
    let mut by_node = vec![Vec::new(); nodes as usize];
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let node: usize = fields[0].parse().unwrap();
        by_node[node - 1].push(fields[3].to_string());
    }
    Planned {
        dir,
        nodes: by_node,
        fingerprint: run.stdout.trim().to_string(),
    }
}

impl Planned {
    fn write_node(&self, k: usize, edit: &dyn Fn(&str, String) -> String) {
        let ids: Vec<&str> = self.nodes[k - 1].iter().map(String::as_str).collect();
        let path = self.dir.path().join(format!("reports/junit-{k}.xml"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, node_report(&ids, edit)).unwrap();
    }

    fn write_all(&self) {
        for k in 1..=self.nodes.len() {
            self.write_node(k, &|_, case| case);
        }
    }

    fn merge(&self, extra: &[&str]) -> Run {
        let mut args = vec!["--plan", "plan.tsv", "-o", "merged.xml"];
        args.extend(extra);
        args.push("reports");
        merge_in(self.dir.path(), &args)
    }

    fn merged(&self) -> Vec<Case> {
        cases_of(&fs::read(self.dir.path().join("merged.xml")).unwrap())
    }
}

#[test]
fn a_complete_run_verifies_against_the_plan() {
    let p = planned(3);
    p.write_all();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 0);
    assert!(
        run.stderr
            .contains("merged 3 reports from 3 nodes: 90 tests, 0 failed"),
        "{}",
        run.stderr
    );
    let cases = p.merged();
    assert_eq!(cases.len(), 90);
    for (k, ids) in p.nodes.iter().enumerate() {
        let label = format!("junit-{}", k + 1);
        let on_node = cases
            .iter()
            .filter(|c| c.property("shard.node") == Some(label.as_str()))
            .count();
        assert_eq!(on_node, ids.len(), "{label}");
    }

    // A failing test: merged and verified, exit 1.
    let victim = p.nodes[1][0].clone();
    p.write_node(2, &|id, case| {
        if id == victim {
            case.replace("/>", "><failure message=\"no\"/></testcase>")
        } else {
            case
        }
    });
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 1);
    assert!(run.stderr.contains("1 failed"), "{}", run.stderr);
}

#[test]
fn a_missing_node_fails_verification_but_the_report_is_written() {
    let p = planned(3);
    p.write_all();
    fs::remove_file(p.dir.path().join("reports/junit-2.xml")).unwrap();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    assert!(run.stderr.contains("node 2"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{} planned tests were not reported",
            p.nodes[1].len()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&p.nodes[1][0]), "{}", run.stderr);
    assert_eq!(p.merged().len(), 90 - p.nodes[1].len());

    // Nodes expected beyond those that ran.
    p.write_all();
    let run = p.merge(&["--expect-nodes", "4"]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("1 of 4 expected nodes missing"),
        "{}",
        run.stderr
    );
}

/// `-q`, as on shard-plan and shard-exec: nothing on stderr for a clean merge, the warnings of
/// a failed verification still.
#[test]
fn quiet_leaves_only_warnings() {
    let p = planned(3);
    p.write_all();
    let run = p.merge(&["-q", "--expect-nodes", "3"]);
    expect(&run, 0);
    assert_eq!(run.stderr, "");
    assert_eq!(p.merged().len(), 90);
    fs::remove_file(p.dir.path().join("reports/junit-3.xml")).unwrap();
    let run = p.merge(&["--quiet", "--expect-nodes", "3"]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("1 of 3 expected nodes missing"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("merged 2 reports"), "{}", run.stderr);
}

/// A CI retry that uploads a node's report a second time, under another name: every test of
/// that node is reported twice, which verification names.
#[test]
fn a_node_reported_twice_fails_verification() {
    let p = planned(3);
    p.write_all();
    let reports = p.dir.path().join("reports");
    fs::copy(
        reports.join("junit-2.xml"),
        reports.join("junit-2-retry.xml"),
    )
    .unwrap();
    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    let twice = p.nodes[1].len();
    let needle = format!("{twice} planned tests were reported more than once");
    assert!(run.stderr.contains(&needle), "{}", run.stderr);
    // (Inputs are read in name order: junit-2-retry.xml before junit-2.xml.)
    let first = format!("{} (by junit-2-retry, junit-2)", p.nodes[1][0]);
    assert!(run.stderr.contains(&first), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 node labels name no node in 1..=3"),
        "{}",
        run.stderr
    );
    // The merged report still holds both, so nothing is hidden.
    assert_eq!(p.merged().len(), 90 + twice);
}

#[test]
fn duplicates_strangers_wrong_nodes_and_other_plans_are_reported() {
    let p = planned(3);
    p.write_all();
    let twice = p.nodes[0][0].clone();
    let (classname, name) = pytest_case(&twice).unwrap();
    let wrong = p.nodes[2][0].clone();
    p.write_node(3, &|id, case| {
        if id == wrong {
            // It says it ran on node 1.
            case.replace(
                "/>",
                "><properties><property name=\"shard.node\" value=\"1\"/></properties></testcase>",
            )
        } else {
            case
        }
    });
    let extra = format!(
        "<testcase classname=\"{}\" name=\"{}\"/><testcase classname=\"tests.test_new\" name=\"test_unplanned\"/></testsuite>",
        escape(&classname),
        escape(name)
    );
    let node2 = p.dir.path().join("reports/junit-2.xml");
    let xml = fs::read_to_string(&node2)
        .unwrap()
        .replace("</testsuite>", &extra);
    fs::write(&node2, xml).unwrap();

    let run = p.merge(&["--expect-nodes", "3"]);
    expect(&run, 3);
    for needle in [
        "1 planned tests were reported more than once",
        &format!("{twice} (by junit-1, junit-2)"),
        "1 reported tests were not planned",
        "tests.test_new::test_unplanned (by junit-2)",
        "1 tests ran on a node other than the planned one",
        &format!("{wrong} (planned on 3, ran on 1)"),
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }

    // A node that planned from other ids.
    p.write_all();
    let node1 = p.dir.path().join("reports/junit-1.xml");
    let xml = fs::read_to_string(&node1).unwrap().replace(
        "<testsuite name=\"pytest\">",
        "<testsuite name=\"pytest\"><properties><property name=\"shard.plan\" value=\"sha256:0123\"/></properties>",
    );
    fs::write(&node1, xml).unwrap();
    let run = p.merge(&[]);
    expect(&run, 3);
    assert!(
        run.stderr.contains("ran from another plan"),
        "{}",
        run.stderr
    );

    // The node's own fingerprint is no complaint.
    let xml = fs::read_to_string(&node1)
        .unwrap()
        .replace("sha256:0123", &p.fingerprint);
    fs::write(&node1, xml).unwrap();
    expect(&p.merge(&[]), 0);
}
