//! Checking the nodes' reports against the plan: every planned id reported exactly once, on the
//! node that planned it, and nothing reported that was not planned.

use std::collections::HashMap;

use crate::junit::cases::Case;
use crate::junit::matching::{Matcher, fallback_id};
use crate::manifest::Manifest;

pub use crate::junit::matching::ID_PROPERTY;

/// The property naming the node that ran a case.
pub const NODE_PROPERTY: &str = "shard.node";

/// The cases one node reported, under that node's label.
#[derive(Debug, Clone)]
pub struct NodeReport<'a> {
    /// The node's label: its `shard.node` property, or one taken from the report's file.
    pub label: String,
    pub cases: &'a [Case],
}

/// A case that matches no planned id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplanned {
    pub node: String,
    /// The id the case names (`shard.id`, else `classname::name`).
    pub id: String,
}

/// A planned id that no report has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub id: String,
    /// The node the plan gave it to.
    pub planned: u32,
}

/// A planned id reported by a node other than the one that planned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    pub id: String,
    pub planned: u32,
    pub reported: String,
}

/// Everything that does not match the plan; all empty when the reports cover it exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Planned ids no report has, in the manifest's order.
    pub missing: Vec<Missing>,
    /// Planned ids reported more than once, with the label of each report, in the manifest's
    /// order.
    pub duplicated: Vec<(String, Vec<String>)>,
    /// Cases that match no planned id, in report order.
    pub unplanned: Vec<Unplanned>,
    /// Ids whose case carries a `shard.node` other than the planned node.
    pub misplaced: Vec<Misplaced>,
}

impl Verification {
    /// True when every planned id was reported once, on its node, and nothing else was.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.duplicated.is_empty()
            && self.unplanned.is_empty()
            && self.misplaced.is_empty()
    }
}

/// Matches every reported case to a planned id: its `shard.id` property; else any key the id
/// could be reported under (pytest's classname and name, or `classname::name`).
pub fn verify(manifest: &Manifest, reports: &[NodeReport<'_>]) -> Verification {
    let mut verifier = Verifier::new(manifest);
    let labels: Vec<String> = reports.iter().map(|r| r.label.clone()).collect();
    for (reporter, report) in reports.iter().enumerate() {
        for case in report.cases {
            verifier.observe(reporter, case);
        }
    }
    verifier.finish(&labels)
}

/// [`verify`], one case at a time, holding no case: reports are read as streams. Who reported
/// a case is a number (`reporter`), turned into a label by [`Verifier::finish`], so that a label
/// may be settled after the report's cases were read.
#[derive(Debug)]
pub struct Verifier<'m> {
    manifest: &'m Manifest,
    matcher: Matcher<'m>,
    /// The first reporter of each planned id (`NOBODY` when none).
    first: Vec<u32>,
    /// Reporters after the first, by planned id.
    again: HashMap<usize, Vec<u32>>,
    unplanned: Vec<(u32, String)>,
    misplaced: Vec<Misplaced>,
}

const NOBODY: u32 = u32::MAX;

impl<'m> Verifier<'m> {
    /// A verifier that has seen nothing yet.
    pub fn new(manifest: &'m Manifest) -> Self {
        Verifier {
            manifest,
            // The first planned id wins a key two of them share: the manifest's order is fixed.
            matcher: Matcher::new(manifest.entries.iter().map(|e| e.id.as_str())),
            first: vec![NOBODY; manifest.entries.len()],
            again: HashMap::new(),
            unplanned: Vec::new(),
            misplaced: Vec::new(),
        }
    }

    /// One reported case, from reporter number `reporter`.
    pub fn observe(&mut self, reporter: usize, case: &Case) {
        let reporter = u32::try_from(reporter).unwrap_or(NOBODY - 1);
        let planned = self.matcher.find(
            case.property(ID_PROPERTY),
            case.classname.as_deref(),
            &case.name,
        );
        let Some(i) = planned else {
            let id = case.property(ID_PROPERTY).map_or_else(
                || fallback_id(case.classname.as_deref(), &case.name),
                str::to_string,
            );
            self.unplanned.push((reporter, id));
            return;
        };
        if self.first[i] == NOBODY {
            self.first[i] = reporter;
        } else {
            self.again.entry(i).or_default().push(reporter);
        }
        let entry = &self.manifest.entries[i];
        if let Some(node) = case.property(NODE_PROPERTY)
            && node != entry.node.to_string()
        {
            self.misplaced.push(Misplaced {
                id: entry.id.clone(),
                planned: entry.node,
                reported: node.to_string(),
            });
        }
    }

    /// What did not match the plan; `labels[r]` names reporter `r`.
    pub fn finish(mut self, labels: &[String]) -> Verification {
        let label = |r: u32| {
            labels
                .get(r as usize)
                .cloned()
                .unwrap_or_else(|| format!("report {r}"))
        };
        let mut result = Verification {
            unplanned: self
                .unplanned
                .iter()
                .map(|(r, id)| Unplanned {
                    node: label(*r),
                    id: id.clone(),
                })
                .collect(),
            misplaced: std::mem::take(&mut self.misplaced),
            ..Verification::default()
        };
        for (i, entry) in self.manifest.entries.iter().enumerate() {
            if self.first[i] == NOBODY {
                result.missing.push(Missing {
                    id: entry.id.clone(),
                    planned: entry.node,
                });
            } else if let Some(more) = self.again.get(&i) {
                let mut all = vec![label(self.first[i])];
                all.extend(more.iter().map(|&r| label(r)));
                result.duplicated.push((entry.id.clone(), all));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupBy, Grouping, TestIds};
    use crate::junit::cases::Status;
    use crate::manifest;
    use crate::plan::{Plan, PlanParams};

    fn manifest_of(ids: &[&str], nodes: u32) -> Manifest {
        let set = TestIds::from_lines(ids).unwrap();
        let params = PlanParams {
            grouping: Grouping::new(GroupBy::None, "::").unwrap(),
            ..PlanParams::new(nodes)
        };
        let plan = Plan::by_count(&set, params).unwrap();
        let mut out = Vec::new();
        manifest::write(&plan, &mut out).unwrap();
        Manifest::read("plan.tsv", &out[..]).unwrap()
    }

    fn case(classname: Option<&str>, name: &str, properties: &[(&str, &str)]) -> Case {
        Case {
            suite: "s".into(),
            classname: classname.map(str::to_string),
            name: name.into(),
            status: Status::Passed,
            time: Some(0.1),
            bad_time: None,
            flaky: false,
            reruns: 0,
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            offset: 0,
        }
    }

    const IDS: [&str; 4] = [
        "tests/test_a.py::TestA::test_x[1]",
        "tests/test_a.py::test_f",
        "crate::mod::tests::works",
        "TestGo",
    ];

    #[test]
    fn a_complete_report_is_clean_whatever_the_naming() {
        let m = manifest_of(&IDS, 2);
        let node_of = |id: &str| {
            m.entries
                .iter()
                .find(|e| e.id == id)
                .unwrap()
                .node
                .to_string()
        };
        let one = [
            // pytest's own naming
            case(Some("tests.test_a.TestA"), "test_x[1]", &[]),
            // shard.id wins over any name
            case(
                Some("whatever"),
                "else",
                &[("shard.id", "tests/test_a.py::test_f")],
            ),
        ];
        let two = [
            case(Some("crate::mod::tests"), "works", &[]),
            case(None, "TestGo", &[("shard.node", &node_of("TestGo"))]),
        ];
        let reports = [
            NodeReport {
                label: "1".into(),
                cases: &one,
            },
            NodeReport {
                label: "2".into(),
                cases: &two,
            },
        ];
        let v = verify(&m, &reports);
        assert!(v.is_clean(), "{v:?}");
    }

    #[test]
    fn gaps_repeats_strangers_and_wrong_nodes_are_reported() {
        let m = manifest_of(&IDS, 2);
        let planned = m.entries.iter().find(|e| e.id == "TestGo").unwrap().node;
        let wrong = if planned == 1 { "2" } else { "1" };
        let one = [
            case(Some("tests.test_a.TestA"), "test_x[1]", &[]),
            case(Some("tests.test_a"), "test_new", &[]),
            case(None, "TestGo", &[("shard.node", wrong)]),
        ];
        let two = [case(Some("tests.test_a.TestA"), "test_x[1]", &[])];
        let reports = [
            NodeReport {
                label: "node-a".into(),
                cases: &one,
            },
            NodeReport {
                label: "node-b".into(),
                cases: &two,
            },
        ];
        let v = verify(&m, &reports);
        let mut missing: Vec<&str> = v.missing.iter().map(|m| m.id.as_str()).collect();
        missing.sort();
        assert_eq!(
            missing,
            ["crate::mod::tests::works", "tests/test_a.py::test_f"]
        );
        assert_eq!(
            v.duplicated,
            [(
                "tests/test_a.py::TestA::test_x[1]".to_string(),
                vec!["node-a".to_string(), "node-b".to_string()]
            )]
        );
        assert_eq!(
            v.unplanned,
            [Unplanned {
                node: "node-a".into(),
                id: "tests.test_a::test_new".into()
            }]
        );
        assert_eq!(
            v.misplaced,
            [Misplaced {
                id: "TestGo".into(),
                planned,
                reported: wrong.into()
            }]
        );
        assert!(!v.is_clean());
    }
}
