//! Which node this is (K of N): from flags, `SHARD_*` variables, or a CI system's variables.
//!
//! Flags win over the environment. Among environment sources the first in [`CONVENTIONS`]
//! is used, and any other one that is set must agree with it: two CI conventions that name
//! different nodes are an error, never a guess. Nothing here falls back to "every test".

use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// A CI system's way of telling a job which shard it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Convention {
    /// Who sets the variables.
    pub name: &'static str,
    /// The variable holding N, if the system has one.
    pub total: Option<&'static str>,
    /// The variable holding the node's index.
    pub index: &'static str,
    /// The number of the first node: 0 or 1.
    pub base: u32,
    /// Read only when this variable is set too (GitLab's `CI_NODE_*` outside GitLab mean nothing).
    pub only_if: Option<&'static str>,
    /// A file to touch when this source is used, telling the caller sharding was honoured.
    pub status_file: Option<&'static str>,
}

const fn convention(
    name: &'static str,
    total: &'static str,
    index: &'static str,
    base: u32,
) -> Convention {
    Convention {
        name,
        total: Some(total),
        index,
        base,
        only_if: None,
        status_file: None,
    }
}

/// Every environment convention, in the order they are looked at.
pub const CONVENTIONS: &[Convention] = &[
    convention("shardkit", "SHARD_NODES", "SHARD_NODE", 1),
    convention("distributed-nose", "NOSE_NODES", "NOSE_NODE_NUMBER", 1),
    Convention {
        only_if: Some("GITLAB_CI"),
        ..convention("GitLab", "CI_NODE_TOTAL", "CI_NODE_INDEX", 1)
    },
    convention("CircleCI", "CIRCLE_NODE_TOTAL", "CIRCLE_NODE_INDEX", 0),
    convention(
        "Buildkite",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        "BUILDKITE_PARALLEL_JOB",
        0,
    ),
    convention("Semaphore", "SEMAPHORE_JOB_COUNT", "SEMAPHORE_JOB_INDEX", 1),
    Convention {
        status_file: Some("TEST_SHARD_STATUS_FILE"),
        ..convention("Bazel", "TEST_TOTAL_SHARDS", "TEST_SHARD_INDEX", 0)
    },
    Convention {
        status_file: Some("GTEST_SHARD_STATUS_FILE"),
        ..convention("GoogleTest", "GTEST_TOTAL_SHARDS", "GTEST_SHARD_INDEX", 0)
    },
    Convention {
        name: "Kubernetes Indexed Job",
        total: None,
        index: "JOB_COMPLETION_INDEX",
        base: 0,
        only_if: None,
        status_file: None,
    },
];

/// `--shard K/N` as typed: both numbers, checked later against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub node: u32,
    pub nodes: u32,
}

impl FromStr for ShardSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::NodeSelection {
            origin: format!("--shard {s}"),
            reason: "expected K/N, the node K (counted from 1) of N nodes, such as 2/4".into(),
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        Ok(ShardSpec {
            node: parse_number(k).ok_or_else(bad)?,
            nodes: parse_number(n).ok_or_else(bad)?,
        })
    }
}

fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The node flags as typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeFlags {
    pub shard: Option<ShardSpec>,
    pub nodes: Option<u32>,
    pub node: Option<u32>,
}

/// The node count, the node (when one was chosen), and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// N.
    pub nodes: u32,
    /// K, 1-based; `None` when only N was given.
    pub node: Option<u32>,
    /// Where N and K came from, for people: `GitLab (CI_NODE_INDEX=2, CI_NODE_TOTAL=4)`.
    pub source: String,
    /// A file the source asks us to touch to confirm that we honour sharding (Bazel).
    pub status_file: Option<PathBuf>,
    /// Environment sources that the flags overrode, for people.
    pub overridden: Vec<String>,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(k) => write!(f, "node {k} of {} from {}", self.nodes, self.source),
            None => write!(f, "{} nodes from {}", self.nodes, self.source),
        }
    }
}

impl Selection {
    /// Touches the status file, if the source asked for one (Bazel's sharding handshake).
    pub fn touch_status_file(&self) -> Result<()> {
        if let Some(path) = &self.status_file {
            touch(path).map_err(|source| Error::StatusFile {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

fn touch(path: &Path) -> std::io::Result<()> {
    OpenOptions::new().create(true).append(true).open(path)?;
    Ok(())
}

/// One environment convention's values, checked and with the index made 1-based.
#[derive(Debug, Clone)]
struct Reading {
    convention: &'static Convention,
    total: Option<u32>,
    index: Option<u32>,
    shown: String,
}

impl Reading {
    fn origin(&self) -> String {
        format!("{} ({})", self.convention.name, self.shown)
    }
}

fn read_convention(
    convention: &'static Convention,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Reading>> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(required) = convention.only_if
        && get(required).is_none()
    {
        return Ok(None);
    }
    let index_raw = get(convention.index);
    let total_raw = convention.total.and_then(get);
    if index_raw.is_none() && total_raw.is_none() {
        return Ok(None);
    }
    let mut shown = Vec::new();
    let mut index = None;
    if let Some(raw) = &index_raw {
        shown.push(format!("{}={raw}", convention.index));
        let origin = || format!("{}={raw} ({})", convention.index, convention.name);
        let value = parse_number(raw.trim()).ok_or_else(|| Error::NodeSelection {
            origin: origin(),
            reason: "not a number".into(),
        })?;
        if value < convention.base {
            return Err(Error::NodeSelection {
                origin: origin(),
                reason: format!("{} counts nodes from {}", convention.name, convention.base),
            });
        }
        index = Some(value - convention.base + 1);
    }
    let mut total = None;
    if let (Some(name), Some(raw)) = (convention.total, &total_raw) {
        shown.push(format!("{name}={raw}"));
        let origin = format!("{name}={raw} ({})", convention.name);
        let value = parse_number(raw.trim()).ok_or_else(|| Error::NodeSelection {
            origin: origin.clone(),
            reason: "not a number".into(),
        })?;
        if value == 0 {
            return Err(Error::NodeSelection {
                origin,
                reason: "the number of nodes must be at least 1".into(),
            });
        }
        total = Some(value);
    }
    // A CI system sets both of its variables or neither; one alone is a broken setup.
    // shardkit's own pair may be split (SHARD_NODE per job, --nodes in the script).
    if convention.name != "shardkit"
        && let Some(total_name) = convention.total
        && index.is_some() != total.is_some()
    {
        let (set, unset) = if index.is_some() {
            (convention.index, total_name)
        } else {
            (total_name, convention.index)
        };
        return Err(Error::NodeSelection {
            origin: format!("{set} ({})", convention.name),
            reason: format!("it is set but {unset} is not"),
        });
    }
    Ok(Some(Reading {
        convention,
        total,
        index,
        shown: shown.join(", "),
    }))
}

fn check_index(node: u32, nodes: u32, origin: &str) -> Result<()> {
    if node == 0 || node > nodes {
        return Err(Error::NodeSelection {
            origin: origin.to_string(),
            reason: format!("node {node} is not one of the {nodes} nodes (1 to {nodes})"),
        });
    }
    Ok(())
}

/// Settles N and K from the flags and the environment (`env` looks up a variable).
///
/// Returns `None` when nothing names a node count at all. Errors name the flag or variable
/// that is wrong: a zero, a non-number, a node past N, a half-set CI convention, or two
/// sources that disagree.
pub fn resolve(
    flags: &NodeFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Selection>> {
    // 1. The flags, which must agree with each other.
    let mut flag_total: Option<(u32, String)> = None;
    let mut flag_index: Option<(u32, String)> = None;
    if let Some(spec) = flags.shard {
        let origin = format!("--shard {}/{}", spec.node, spec.nodes);
        flag_total = Some((spec.nodes, origin.clone()));
        flag_index = Some((spec.node, origin));
    }
    if let Some(n) = flags.nodes {
        let origin = format!("--nodes {n}");
        if let Some((m, other)) = &flag_total
            && *m != n
        {
            return Err(Error::NodeSelection {
                origin,
                reason: format!("disagrees with {other}"),
            });
        }
        flag_total = Some((n, origin));
    }
    if let Some(k) = flags.node {
        let origin = format!("--node {k}");
        if let Some((m, other)) = &flag_index
            && *m != k
        {
            return Err(Error::NodeSelection {
                origin,
                reason: format!("disagrees with {other}"),
            });
        }
        flag_index = Some((k, origin));
    }
    if let Some((0, origin)) = &flag_total {
        return Err(Error::NodeSelection {
            origin: origin.clone(),
            reason: "the number of nodes must be at least 1".into(),
        });
    }

    // 2. Every environment convention that is set.
    let mut readings = Vec::new();
    for convention in CONVENTIONS {
        if let Some(reading) = read_convention(convention, env)? {
            readings.push(reading);
        }
    }
    let shard_nodes = readings
        .iter()
        .find(|r| r.convention.name == "shardkit")
        .and_then(|r| r.total.map(|n| (n, format!("SHARD_NODES={n}"))));
    // A total that can complete a source giving only an index: --nodes, else SHARD_NODES.
    let lent_total = flag_total.clone().or(shard_nodes.clone());

    // 3. Flags naming the node win; environment sources that say otherwise are noted.
    if let Some((k, index_origin)) = flag_index {
        let (n, total_origin) = lent_total.ok_or_else(|| Error::NodeSelection {
            origin: index_origin.clone(),
            reason: "the number of nodes is not known: pass --nodes N or use --shard K/N".into(),
        })?;
        check_index(k, n, &index_origin)?;
        let source = if index_origin == total_origin {
            index_origin
        } else {
            format!("{index_origin} with {total_origin}")
        };
        let overridden = readings
            .iter()
            .filter(|r| r.index.is_some())
            .filter(|r| resolve_reading(r, &None).ok() != Some((n, k)))
            .map(Reading::origin)
            .collect();
        return Ok(Some(Selection {
            nodes: n,
            node: Some(k),
            source,
            status_file: None,
            overridden,
        }));
    }

    // 4. Otherwise the first environment source naming a node, checked against the others.
    let mut chosen: Option<(&Reading, u32, u32)> = None;
    for reading in readings.iter().filter(|r| r.index.is_some()) {
        let (n, k) = resolve_reading(reading, &lent_total)?;
        match chosen {
            None => {
                if let (Some((m, origin)), Some(own)) = (&flag_total, reading.total)
                    && *m != own
                {
                    return Err(Error::NodeSelection {
                        origin: origin.clone(),
                        reason: format!("disagrees with {}", reading.origin()),
                    });
                }
                chosen = Some((reading, n, k));
            }
            Some((first, fn_, fk)) if (fn_, fk) != (n, k) => {
                return Err(Error::NodeSelection {
                    origin: reading.origin(),
                    reason: format!(
                        "says node {k} of {n} but {} says node {fk} of {fn_}; two sources disagree: unset one, or pass --node and --nodes",
                        first.origin()
                    ),
                });
            }
            Some(_) => {}
        }
    }
    if let Some((reading, n, k)) = chosen {
        let mut source = reading.origin();
        if reading.total.is_none()
            && let Some((_, origin)) = &lent_total
        {
            source = format!("{source} with {origin}");
        }
        let status_file = reading
            .convention
            .status_file
            .and_then(|name| env(name).filter(|v| !v.is_empty()))
            .map(PathBuf::from);
        return Ok(Some(Selection {
            nodes: n,
            node: Some(k),
            source,
            status_file,
            overridden: Vec::new(),
        }));
    }

    // 5. Only a node count.
    Ok(lent_total.map(|(nodes, source)| Selection {
        nodes,
        node: None,
        source,
        status_file: None,
        overridden: Vec::new(),
    }))
}

/// `(N, K)` of a reading that names a node, with `lent` as N when it has none of its own.
fn resolve_reading(reading: &Reading, lent: &Option<(u32, String)>) -> Result<(u32, u32)> {
    let k = reading.index.unwrap_or(0);
    let n = match (reading.total, lent) {
        (Some(n), _) => n,
        (None, Some((n, _))) => *n,
        (None, None) => {
            return Err(Error::NodeSelection {
                origin: reading.origin(),
                reason: "the number of nodes is not known: pass --nodes N".into(),
            });
        }
    };
    check_index(k, n, &reading.origin())?;
    Ok((n, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(flags: NodeFlags, vars: &[(&str, &str)]) -> Result<Option<Selection>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&flags, &|name| map.get(name).cloned())
    }

    fn node_of(flags: NodeFlags, vars: &[(&str, &str)]) -> (u32, Option<u32>) {
        let s = run(flags, vars).unwrap().unwrap();
        (s.nodes, s.node)
    }

    fn err(flags: NodeFlags, vars: &[(&str, &str)]) -> String {
        run(flags, vars).unwrap_err().to_string()
    }

    const NONE: NodeFlags = NodeFlags {
        shard: None,
        nodes: None,
        node: None,
    };

    #[test]
    fn every_convention_maps_to_one_based_nodes() {
        type Case<'a> = (&'a [(&'a str, &'a str)], (u32, Option<u32>));
        let cases: &[Case] = &[
            (&[("SHARD_NODES", "4"), ("SHARD_NODE", "2")], (4, Some(2))),
            (
                &[("NOSE_NODES", "4"), ("NOSE_NODE_NUMBER", "2")],
                (4, Some(2)),
            ),
            (
                &[
                    ("GITLAB_CI", "true"),
                    ("CI_NODE_TOTAL", "4"),
                    ("CI_NODE_INDEX", "2"),
                ],
                (4, Some(2)),
            ),
            (
                &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "1")],
                (4, Some(2)),
            ),
            (
                &[
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
                    ("BUILDKITE_PARALLEL_JOB", "1"),
                ],
                (4, Some(2)),
            ),
            (
                &[("SEMAPHORE_JOB_COUNT", "4"), ("SEMAPHORE_JOB_INDEX", "2")],
                (4, Some(2)),
            ),
            (
                &[("TEST_TOTAL_SHARDS", "4"), ("TEST_SHARD_INDEX", "1")],
                (4, Some(2)),
            ),
            (
                &[("GTEST_TOTAL_SHARDS", "4"), ("GTEST_SHARD_INDEX", "1")],
                (4, Some(2)),
            ),
        ];
        for (vars, expected) in cases {
            assert_eq!(node_of(NONE, vars), *expected, "{vars:?}");
        }
        let nodes4 = NodeFlags {
            nodes: Some(4),
            ..NONE
        };
        assert_eq!(
            node_of(nodes4, &[("JOB_COMPLETION_INDEX", "1")]),
            (4, Some(2))
        );
        assert_eq!(
            node_of(NONE, &[("JOB_COMPLETION_INDEX", "3"), ("SHARD_NODES", "4")]),
            (4, Some(4))
        );
    }

    #[test]
    fn gitlab_variables_count_only_inside_gitlab() {
        let vars = [("CI_NODE_TOTAL", "4"), ("CI_NODE_INDEX", "2")];
        assert_eq!(run(NONE, &vars).unwrap(), None);
    }

    #[test]
    fn flags_win_and_overridden_sources_are_named() {
        let flags = NodeFlags {
            shard: Some("1/2".parse().unwrap()),
            ..NONE
        };
        let s = run(
            flags,
            &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "3")],
        )
        .unwrap()
        .unwrap();
        assert_eq!((s.nodes, s.node), (2, Some(1)));
        assert_eq!(s.source, "--shard 1/2");
        assert_eq!(
            s.overridden,
            ["CircleCI (CIRCLE_NODE_INDEX=3, CIRCLE_NODE_TOTAL=4)"]
        );
    }

    #[test]
    fn invalid_values_name_their_origin() {
        let n = |nodes, node| NodeFlags {
            shard: None,
            nodes: Some(nodes),
            node: Some(node),
        };
        assert_eq!(
            err(n(4, 0), &[]),
            "--node 0: node 0 is not one of the 4 nodes (1 to 4)"
        );
        assert_eq!(
            err(n(4, 5), &[]),
            "--node 5: node 5 is not one of the 4 nodes (1 to 4)"
        );
        assert_eq!(
            err(n(0, 1), &[]),
            "--nodes 0: the number of nodes must be at least 1"
        );
        assert_eq!(
            err(NONE, &[("SHARD_NODES", "4"), ("SHARD_NODE", "two")]),
            "SHARD_NODE=two (shardkit): not a number"
        );
        assert_eq!(
            err(NONE, &[("NOSE_NODES", "4"), ("NOSE_NODE_NUMBER", "0")]),
            "NOSE_NODE_NUMBER=0 (distributed-nose): distributed-nose counts nodes from 1"
        );
        assert_eq!(
            err(
                NONE,
                &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "4")]
            ),
            "CircleCI (CIRCLE_NODE_INDEX=4, CIRCLE_NODE_TOTAL=4): node 5 is not one of the 4 nodes (1 to 4)"
        );
        assert_eq!(
            err(NONE, &[("BUILDKITE_PARALLEL_JOB", "1")]),
            "BUILDKITE_PARALLEL_JOB (Buildkite): it is set but BUILDKITE_PARALLEL_JOB_COUNT is not"
        );
        assert_eq!(
            err(NONE, &[("JOB_COMPLETION_INDEX", "1")]),
            "Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1): the number of nodes is not known: pass --nodes N"
        );
        assert_eq!(
            err(
                NodeFlags {
                    node: Some(1),
                    ..NONE
                },
                &[]
            ),
            "--node 1: the number of nodes is not known: pass --nodes N or use --shard K/N"
        );
        assert!("3".parse::<ShardSpec>().is_err());
        assert!("a/3".parse::<ShardSpec>().is_err());
        assert!("1/-3".parse::<ShardSpec>().is_err());
        assert_eq!(
            err(
                NodeFlags {
                    shard: Some("0/3".parse().unwrap()),
                    ..NONE
                },
                &[]
            ),
            "--shard 0/3: node 0 is not one of the 3 nodes (1 to 3)"
        );
    }

    #[test]
    fn disagreeing_sources_are_an_error() {
        assert_eq!(
            err(
                NodeFlags {
                    shard: Some("1/4".parse().unwrap()),
                    nodes: Some(3),
                    node: None
                },
                &[]
            ),
            "--nodes 3: disagrees with --shard 1/4"
        );
        assert_eq!(
            err(
                NONE,
                &[
                    ("SHARD_NODES", "4"),
                    ("SHARD_NODE", "1"),
                    ("GITLAB_CI", "true"),
                    ("CI_NODE_TOTAL", "4"),
                    ("CI_NODE_INDEX", "2"),
                ]
            ),
            "GitLab (CI_NODE_INDEX=2, CI_NODE_TOTAL=4): says node 2 of 4 but shardkit (SHARD_NODE=1, SHARD_NODES=4) says node 1 of 4; two sources disagree: unset one, or pass --node and --nodes"
        );
        assert_eq!(
            err(
                NodeFlags {
                    nodes: Some(3),
                    ..NONE
                },
                &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "0")]
            ),
            "--nodes 3: disagrees with CircleCI (CIRCLE_NODE_INDEX=0, CIRCLE_NODE_TOTAL=4)"
        );
        // Sources that agree are fine (Bazel sets its own and GoogleTest's variables).
        let vars = [
            ("TEST_TOTAL_SHARDS", "3"),
            ("TEST_SHARD_INDEX", "2"),
            ("GTEST_TOTAL_SHARDS", "3"),
            ("GTEST_SHARD_INDEX", "2"),
            ("TEST_SHARD_STATUS_FILE", "/tmp/status"),
        ];
        let s = run(NONE, &vars).unwrap().unwrap();
        assert_eq!((s.nodes, s.node), (3, Some(3)));
        assert_eq!(s.status_file, Some(PathBuf::from("/tmp/status")));
    }

    #[test]
    fn only_a_count() {
        assert_eq!(
            node_of(
                NodeFlags {
                    nodes: Some(5),
                    ..NONE
                },
                &[]
            ),
            (5, None)
        );
        assert_eq!(node_of(NONE, &[("SHARD_NODES", "5")]), (5, None));
        assert_eq!(run(NONE, &[]).unwrap(), None);
    }
}
