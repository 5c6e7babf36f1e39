//! One node's share of the ids: what it runs, which node it is, and the plan it came from.
//!
//! Ids given as a list are the selected node's share. A share taken from shard-plan's
//! manifest needs the node and the manifest's node count, and ids given beside the manifest
//! must be exactly that share: a node never runs what another node was planned to run.

use std::collections::HashSet;

use crate::ci::Selection;
use crate::error::Result;
use crate::ids::TestIds;
use crate::manifest::Manifest;

use super::scheduler::shown_ids;

/// One node's share of the ids: what it runs, which node it is, and the plan it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// In the order given, or the manifest's.
    pub ids: Vec<String>,
    pub node: u32,
    pub nodes: u32,
    /// The manifest's fingerprint (`sha256:...`), when the ids came from one.
    pub plan: Option<String>,
}

impl Share {
    /// Ids given as a list: they are the share of the selected node, or of node 1 of 1 when
    /// none was selected (or only the count).
    pub fn listed(ids: &TestIds, selection: Option<&Selection>) -> Self {
        let (node, nodes) = selection.map_or((1, 1), |s| (s.node.unwrap_or(1), s.nodes));
        Share {
            ids: ids.iter().map(str::to_string).collect(),
            node,
            nodes,
            plan: None,
        }
    }

    /// The selected node's share of `manifest` (read from `name`). The selection must name
    /// the node, with the manifest's node count; ids `given` too must be exactly the share.
    pub fn planned(
        manifest: &Manifest,
        name: &str,
        selection: Option<&Selection>,
        given: Option<&TestIds>,
    ) -> Result<Self> {
        let selection = selection.ok_or(ShareError::NoNodes)?;
        let node = selection.node.ok_or(ShareError::NoNode)?;
        if selection.nodes != manifest.params.nodes {
            return Err(ShareError::NodeCount {
                manifest: name.to_string(),
                planned: manifest.params.nodes,
                origin: selection.source.clone(),
                nodes: selection.nodes,
            }
            .into());
        }
        let planned: Vec<String> = manifest.node_ids(node).map(str::to_string).collect();
        if let Some(given) = given {
            check_given(given, &planned, name, node)?;
        }
        Ok(Share {
            ids: planned,
            node,
            nodes: selection.nodes,
            plan: Some(format!("sha256:{}", manifest.fingerprint)),
        })
    }
}

/// Ids given beside a manifest must be the node's share, no more and no fewer.
fn check_given(given: &TestIds, planned: &[String], name: &str, node: u32) -> Result<()> {
    let given_set: HashSet<&str> = given.iter().collect();
    let wanted: HashSet<&str> = planned.iter().map(String::as_str).collect();
    let extra: Vec<String> = given
        .iter()
        .filter(|id| !wanted.contains(id))
        .map(str::to_string)
        .collect();
    let missing: Vec<String> = planned
        .iter()
        .filter(|id| !given_set.contains(id.as_str()))
        .cloned()
        .collect();
    if extra.is_empty() && missing.is_empty() {
        return Ok(());
    }
    Err(ShareError::Differs {
        manifest: name.to_string(),
        node,
        extra,
        missing,
    }
    .into())
}

/// Why a node's share cannot be taken from a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// No node selected at all.
    #[error(
        "--manifest needs this node's number: pass --node K (or --shard K/N), or set SHARD_NODE and SHARD_NODES"
    )]
    NoNodes,
    /// Only the node count selected.
    #[error("--manifest needs this node's number K: pass --node K or --shard K/N")]
    NoNode,
    /// The selection's node count is not the manifest's.
    #[error("{manifest} plans {planned} nodes, but {origin} says {nodes}")]
    NodeCount {
        manifest: String,
        planned: u32,
        origin: String,
        nodes: u32,
    },
    /// The ids given are not the node's share.
    #[error(
        "the ids given differ from node {node}'s share in {manifest}: {} not planned on node {node} ({}), {} planned but not given ({})",
        .extra.len(),
        shown(.extra),
        .missing.len(),
        shown(.missing)
    )]
    Differs {
        manifest: String,
        node: u32,
        /// Given but not planned on the node.
        extra: Vec<String>,
        /// Planned on the node but not given.
        missing: Vec<String>,
    },
}

/// Ids for a message: the first, and how many more.
fn shown(ids: &[String]) -> String {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    shown_ids(&ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::manifest;

    fn sample() -> Manifest {
        Manifest::read("plan.tsv", manifest::tests::sample().as_bytes()).unwrap()
    }

    fn selection(node: Option<u32>, nodes: u32) -> Selection {
        Selection {
            nodes,
            node,
            source: "--nodes".to_string(),
            status_files: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn ids(lines: &[&str]) -> TestIds {
        TestIds::from_lines(lines).unwrap()
    }

    #[test]
    fn a_listed_share_is_node_one_of_one_without_a_selection() {
        let share = Share::listed(&ids(&["b", "a"]), None);
        assert_eq!(share.ids, ["b", "a"]);
        assert_eq!((share.node, share.nodes, share.plan), (1, 1, None));
        let share = Share::listed(&ids(&["a"]), Some(&selection(Some(2), 4)));
        assert_eq!((share.node, share.nodes), (2, 4));
        let share = Share::listed(&ids(&["a"]), Some(&selection(None, 4)));
        assert_eq!((share.node, share.nodes), (1, 4));
    }

    #[test]
    fn a_planned_share_is_the_nodes_ids_and_the_plans_fingerprint() {
        let m = sample();
        let share = Share::planned(&m, "plan.tsv", Some(&selection(Some(2), 3)), None).unwrap();
        assert_eq!(share.ids, m.node_ids(2).collect::<Vec<_>>());
        assert_eq!((share.node, share.nodes), (2, 3));
        assert_eq!(share.plan, Some(format!("sha256:{}", m.fingerprint)));
    }

    #[test]
    fn a_planned_share_needs_the_node_and_the_manifests_node_count() {
        let m = sample();
        let planned = |s: Option<&Selection>| {
            Share::planned(&m, "plan.tsv", s, None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            planned(None),
            "--manifest needs this node's number: pass --node K (or --shard K/N), or set SHARD_NODE and SHARD_NODES"
        );
        assert_eq!(
            planned(Some(&selection(None, 3))),
            "--manifest needs this node's number K: pass --node K or --shard K/N"
        );
        assert_eq!(
            planned(Some(&selection(Some(1), 4))),
            "plan.tsv plans 3 nodes, but --nodes says 4"
        );
    }

    #[test]
    fn ids_given_beside_a_manifest_must_be_the_share() {
        let m = sample();
        let node = (1..=3).find(|&k| m.node_ids(k).count() >= 2).unwrap();
        let share: Vec<&str> = m.node_ids(node).collect();
        let at = Some(&selection(Some(node), 3));
        let reordered: Vec<&str> = share.iter().rev().copied().collect();
        let same = Share::planned(&m, "plan.tsv", at, Some(&ids(&reordered))).unwrap();
        assert_eq!(same.ids, share);

        let mut other = share[1..].to_vec();
        other.push("x::y");
        let err = Share::planned(&m, "plan.tsv", at, Some(&ids(&other))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the ids given differ from node {node}'s share in plan.tsv: 1 not planned on node {node} (x::y), 1 planned but not given ({})",
                share[0]
            )
        );
        let Error::Share(ShareError::Differs { extra, missing, .. }) = err else {
            panic!("not a share error: {err}");
        };
        assert_eq!(
            (extra, missing),
            (vec!["x::y".to_string()], vec![share[0].to_string()])
        );
    }
}
