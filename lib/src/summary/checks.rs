//! What the merge's verification found, worded once for every picture of the run.

use crate::merge::Report;

/// One kind of problem, with what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `planned tests were not reported`.
    pub what: String,
    pub items: Vec<String>,
}

/// What was checked, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    /// The merge was given a plan (`--plan`).
    pub plan: bool,
    /// The merge was given a node count (`--expect-nodes`).
    pub nodes: bool,
    pub problems: Vec<Problem>,
}

impl Checks {
    /// The problems `report` found, each kind in the order shard-merge tells them on stderr.
    pub fn of(report: &Report) -> Checks {
        let mut problems = Vec::new();
        let mut add = |what: String, items: Vec<String>| {
            if !items.is_empty() {
                problems.push(Problem { what, items });
            }
        };
        add(
            "reports were broken; their complete cases were kept".into(),
            report
                .salvaged
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}:{}: {} ({} cases kept)",
                        s.source, s.line, s.column, s.message, s.kept
                    )
                })
                .collect(),
        );
        if let Some(check) = &report.node_check {
            add(
                format!("of {} expected nodes did not report", check.expected),
                check.missing.iter().map(|k| format!("node {k}")).collect(),
            );
            add(
                format!("node labels name no node in 1..={}", check.expected),
                check.extra.clone(),
            );
        }
        add(
            "reports ran from another plan".into(),
            report
                .foreign_plans
                .iter()
                .map(|f| format!("{} ({})", f.source, f.fingerprint))
                .collect(),
        );
        if let Some(v) = &report.verification {
            add(
                "planned tests were not reported".into(),
                v.missing
                    .iter()
                    .map(|m| format!("{} (planned on node {})", m.id, m.planned))
                    .collect(),
            );
            add(
                "planned tests were reported more than once".into(),
                v.duplicated
                    .iter()
                    .map(|(id, nodes)| format!("{id} (by {})", nodes.join(", ")))
                    .collect(),
            );
            add(
                "reported tests were not planned".into(),
                v.unplanned
                    .iter()
                    .map(|u| format!("{} (by {})", u.id, u.node))
                    .collect(),
            );
            add(
                "tests ran on a node other than the planned one".into(),
                v.misplaced
                    .iter()
                    .map(|m| format!("{} (planned on {}, ran on {})", m.id, m.planned, m.reported))
                    .collect(),
            );
        }
        Checks {
            plan: report.verification.is_some(),
            nodes: report.node_check.is_some(),
            problems,
        }
    }

    /// One line: what verification said.
    pub fn verdict(&self) -> String {
        if !self.problems.is_empty() {
            return format!(
                "NOT verified: {}",
                self.problems
                    .iter()
                    .map(|p| format!("{} {}", p.items.len(), p.what))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        match (self.plan, self.nodes) {
            (true, _) => "verified: every planned test ran once, on its node".into(),
            (false, true) => "verified: every expected node reported (no plan was given)".into(),
            (false, false) => {
                "not verified: no plan (--plan) or node count (--expect-nodes) was given".into()
            }
        }
    }
}
