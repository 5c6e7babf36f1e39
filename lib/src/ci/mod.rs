//! Which node this is (K of N): from flags, `SHARD_*` variables, or a CI system's variables.
//!
//! Flags win over the environment. Among environment sources the first in [`CONVENTIONS`]
//! is used, and any other one that is set must agree with it: two CI conventions that name
//! different nodes are an error, never a guess. Nothing here falls back to "every test".

use std::fmt;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ring::MAX_NODES;

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
    /// Whether one of the two variables may be set without the other. A CI system sets both
    /// or neither, so one alone is a broken setup; shardkit's own pair may be split
    /// (`SHARD_NODE` per job, `SHARD_NODES` for the pipeline).
    pub halves: bool,
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
        halves: false,
    }
}

/// shardkit's own variables: the first environment source looked at.
const SHARDKIT: Convention = Convention {
    halves: true,
    ..convention("shardkit", "SHARD_NODES", "SHARD_NODE", 1)
};

/// Every environment convention, in the order they are looked at.
pub const CONVENTIONS: &[Convention] = &[
    SHARDKIT,
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
    convention("Bazel", "TEST_TOTAL_SHARDS", "TEST_SHARD_INDEX", 0),
    convention("GoogleTest", "GTEST_TOTAL_SHARDS", "GTEST_SHARD_INDEX", 0),
    Convention {
        name: "Kubernetes Indexed Job",
        total: None,
        index: "JOB_COMPLETION_INDEX",
        base: 0,
        only_if: None,
        halves: false,
    },
];

/// Files that a test runner touches to tell Bazel and GoogleTest it honours sharding: when
/// one is set and a node was chosen, shard-plan touches it, whichever source named the node.
pub const STATUS_FILES: &[&str] = &["TEST_SHARD_STATUS_FILE", "GTEST_SHARD_STATUS_FILE"];

/// `--shard K/N` as typed: both numbers, checked later against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub node: u32,
    pub nodes: u32,
}

impl ShardSpec {
    /// What `--shard` expects, for error messages.
    pub const EXPECTED: &str = "expected K/N, node K (counted from 1) of N nodes, such as 2/4";
}

impl FromStr for ShardSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::NodeSelection {
            origin: format!("--shard {s}"),
            reason: ShardSpec::EXPECTED.into(),
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let number = |t: &str| match parse_number(t) {
            Number::Value(v) => u32::try_from(v).ok(),
            _ => None,
        };
        Ok(ShardSpec {
            node: number(k).ok_or_else(bad)?,
            nodes: number(n).ok_or_else(bad)?,
        })
    }
}

/// A decimal number as read from a variable.
enum Number {
    Value(u64),
    Garbage,
    TooLarge,
}

fn parse_number(s: &str) -> Number {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Number::Garbage;
    }
    s.parse().map_or(Number::TooLarge, Number::Value)
}

/// The node flags as typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeFlags {
    pub shard: Option<ShardSpec>,
    pub nodes: Option<u32>,
    pub node: Option<u32>,
}

impl NodeFlags {
    /// True when any node flag was given.
    pub fn any(&self) -> bool {
        self.shard.is_some() || self.nodes.is_some() || self.node.is_some()
    }
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
    /// Files to touch to confirm that sharding is honoured (see [`STATUS_FILES`]).
    pub status_files: Vec<PathBuf>,
    /// Settings that lost to the flags, for people: each a sentence.
    pub notes: Vec<String>,
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
    /// Sharding switched off (`--disabled`): every id on the one node.
    pub fn disabled() -> Self {
        Selection {
            nodes: 1,
            node: Some(1),
            source: "--disabled or SHARD_DISABLED".to_string(),
            status_files: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Touches the status files (Bazel's and GoogleTest's sharding handshake).
    pub fn touch_status_files(&self) -> Result<()> {
        for path in &self.status_files {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::StatusFile {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Reads an on/off variable such as `SHARD_DISABLED`: `1`, `true`, `yes`, `on` are on; `0`,
/// `false`, `no`, `off` and an empty or unset variable are off; anything else is an error.
pub fn env_switch(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<bool> {
    let Some(value) = env(name) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::NodeSelection {
            origin: format!("{name}={value}"),
            reason: "expected 1 or 0 (true/false, yes/no, on/off)".into(),
        }),
    }
}

/// One environment convention's values, checked, with the index made 1-based.
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
    // A total of 1 with no index is a job that does not run in parallel: GitLab sets
    // CI_NODE_TOTAL=1 in every such job, the one that plans for the others among them.
    if index_raw.is_none() && total_raw.as_deref().map(str::trim) == Some("1") {
        return Ok(None);
    }
    let read = |name: &str, raw: &str, limit: u64, what: &str| -> Result<u64> {
        let bad = |reason: String| Error::NodeSelection {
            origin: format!("{name}={raw} ({})", convention.name),
            reason,
        };
        match parse_number(raw.trim()) {
            Number::Value(v) if v <= limit => Ok(v),
            Number::Garbage => Err(bad("not a number".into())),
            _ => Err(bad(format!("{what} must be at most {limit}"))),
        }
    };
    let mut shown = Vec::new();
    let mut index = None;
    if let Some(raw) = &index_raw {
        shown.push(format!("{}={raw}", convention.index));
        let limit = u64::from(MAX_NODES) - 1 + u64::from(convention.base);
        let value = read(convention.index, raw, limit, "the index")?;
        if value < u64::from(convention.base) {
            return Err(Error::NodeSelection {
                origin: format!("{}={raw} ({})", convention.index, convention.name),
                reason: format!("{} counts nodes from {}", convention.name, convention.base),
            });
        }
        index = Some((value - u64::from(convention.base) + 1) as u32);
    }
    let mut total = None;
    if let (Some(name), Some(raw)) = (convention.total, &total_raw) {
        shown.push(format!("{name}={raw}"));
        let value = read(name, raw, u64::from(MAX_NODES), "the number of nodes")?;
        if value == 0 {
            return Err(Error::NodeSelection {
                origin: format!("{name}={raw} ({})", convention.name),
                reason: "the number of nodes must be at least 1".into(),
            });
        }
        total = Some(value as u32);
    }
    if !convention.halves
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

fn check_total(nodes: u32, origin: &str) -> Result<()> {
    if nodes == 0 {
        return Err(Error::NodeSelection {
            origin: origin.to_string(),
            reason: "the number of nodes must be at least 1".into(),
        });
    }
    if nodes > MAX_NODES {
        return Err(Error::NodeSelection {
            origin: origin.to_string(),
            reason: format!("the number of nodes must be at most {MAX_NODES}"),
        });
    }
    Ok(())
}

/// A value and where it came from (`--nodes 4`, `SHARD_NODES=4`).
type Sourced = (u32, String);

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
    let mut flag_total: Option<Sourced> = None;
    let mut flag_index: Option<Sourced> = None;
    if let Some(spec) = flags.shard {
        let origin = format!("--shard {}/{}", spec.node, spec.nodes);
        flag_total = Some((spec.nodes, origin.clone()));
        flag_index = Some((spec.node, origin));
    }
    for (value, name, slot) in [
        (flags.nodes, "--nodes", &mut flag_total),
        (flags.node, "--node", &mut flag_index),
    ] {
        if let Some(v) = value {
            let origin = format!("{name} {v}");
            if let Some((other, other_origin)) = slot.as_ref()
                && *other != v
            {
                return Err(Error::NodeSelection {
                    origin,
                    reason: format!("disagrees with {other_origin}"),
                });
            }
            *slot = Some((v, origin));
        }
    }
    if let Some((n, origin)) = &flag_total {
        check_total(*n, origin)?;
    }
    let flags_decide = flag_total.is_some() && flag_index.is_some();

    // 2. Every environment convention that is set. When the flags decide, a broken
    //    variable is only worth a note; otherwise it is an error.
    let mut readings = Vec::new();
    let mut notes = Vec::new();
    for convention in CONVENTIONS {
        match read_convention(convention, env) {
            Ok(Some(reading)) => readings.push(reading),
            Ok(None) => {}
            Err(e) if flags_decide => {
                notes.push(format!("ignored because the flags name the node: {e}"))
            }
            Err(e) => return Err(e),
        }
    }
    // A job that does not run in parallel, which CircleCI tells as node 1 of 1
    // (CIRCLE_NODE_TOTAL=1, CIRCLE_NODE_INDEX=0), yields to a node count given as a flag: it
    // is the job that plans for the parallel ones.
    if flag_total.as_ref().is_some_and(|(n, _)| *n != 1) {
        readings.retain(|r| {
            let alone = r.total == Some(1) && r.index.unwrap_or(1) == 1;
            if alone {
                notes.push(format!(
                    "{} is a job that does not run in parallel: the flags decide",
                    r.origin()
                ));
            }
            !alone
        });
    }
    let shard_nodes: Option<Sourced> = readings
        .iter()
        .find(|r| r.convention == &SHARDKIT)
        .and_then(|r| r.total.map(|n| (n, format!("SHARD_NODES={n}"))));
    // A total that can complete a source giving only an index: --nodes, else SHARD_NODES.
    let lent_total = flag_total.clone().or_else(|| shard_nodes.clone());
    let status_files = || -> Vec<PathBuf> {
        STATUS_FILES
            .iter()
            .filter_map(|name| env(name).filter(|v| !v.is_empty()))
            .map(PathBuf::from)
            .collect()
    };

    // 3. Flags naming the node win; settings that say otherwise are noted.
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
        for reading in &readings {
            let differs = match (reading.index, reading.total) {
                (Some(_), _) => resolve_reading(reading, &None).ok() != Some((n, k)),
                (None, Some(total)) => total != n,
                (None, None) => false,
            };
            if differs {
                notes.push(format!("the flags override {}", reading.origin()));
            }
        }
        return Ok(Some(Selection {
            nodes: n,
            node: Some(k),
            source,
            status_files: status_files(),
            notes,
        }));
    }

    // 4. Otherwise the first environment source naming a node, checked against the others
    //    and against a lent total.
    let mut chosen: Option<(&Reading, u32, u32)> = None;
    for reading in readings.iter().filter(|r| r.index.is_some()) {
        if let (Some((m, origin)), Some(own)) = (&lent_total, reading.total)
            && *m != own
        {
            return Err(Error::NodeSelection {
                origin: origin.clone(),
                reason: format!("disagrees with {}", reading.origin()),
            });
        }
        let (n, k) = resolve_reading(reading, &lent_total)?;
        match chosen {
            None => chosen = Some((reading, n, k)),
            Some((first, first_n, first_k)) if (first_n, first_k) != (n, k) => {
                return Err(Error::NodeSelection {
                    origin: reading.origin(),
                    reason: format!(
                        "says node {k} of {n} but {} says node {first_k} of {first_n}; two sources disagree: unset one, or pass --node and --nodes",
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
        return Ok(Some(Selection {
            nodes: n,
            node: Some(k),
            source,
            status_files: status_files(),
            notes,
        }));
    }

    // 5. Only a node count.
    if let (Some((n, origin)), Some((m, _))) = (&flag_total, &shard_nodes)
        && n != m
    {
        notes.push(format!("{origin} overrides SHARD_NODES={m}"));
    }
    Ok(lent_total.map(|(nodes, source)| Selection {
        nodes,
        node: None,
        source,
        status_files: Vec::new(),
        notes,
    }))
}

/// `(N, K)` of a reading that names a node, with `lent` as N when it has none of its own.
fn resolve_reading(reading: &Reading, lent: &Option<Sourced>) -> Result<(u32, u32)> {
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
            s.notes,
            ["the flags override CircleCI (CIRCLE_NODE_INDEX=3, CIRCLE_NODE_TOTAL=4)"]
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
        // GitLab's jobs that do not run in parallel have CI_NODE_TOTAL=1 and no index: no
        // node is named there, so the flags (a plan for 3 nodes) decide.
        let plan_job = [("GITLAB_CI", "true"), ("CI_NODE_TOTAL", "1")];
        let flags = NodeFlags {
            nodes: Some(3),
            ..NONE
        };
        assert!(run(flags, &plan_job).is_ok());
        // CircleCI tells such a job as node 1 of 1.
        let circle_alone = [("CIRCLE_NODE_TOTAL", "1"), ("CIRCLE_NODE_INDEX", "0")];
        let planned = run(flags, &circle_alone).unwrap().unwrap();
        assert_eq!((planned.nodes, planned.node), (3, None));
        let alone = run(NONE, &circle_alone).unwrap().unwrap();
        assert_eq!((alone.nodes, alone.node), (1, Some(1)));
        assert!(run(NONE, &plan_job).unwrap().is_none());
        assert_eq!(
            err(NONE, &[("GITLAB_CI", "true"), ("CI_NODE_TOTAL", "2")]),
            "CI_NODE_TOTAL (GitLab): it is set but CI_NODE_INDEX is not"
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
        assert_eq!(s.status_files, [PathBuf::from("/tmp/status")]);
    }

    #[test]
    fn a_lent_total_must_agree_with_a_source_that_has_its_own() {
        assert_eq!(
            err(
                NONE,
                &[
                    ("SHARD_NODES", "4"),
                    ("CIRCLE_NODE_TOTAL", "3"),
                    ("CIRCLE_NODE_INDEX", "1")
                ]
            ),
            "SHARD_NODES=4: disagrees with CircleCI (CIRCLE_NODE_INDEX=1, CIRCLE_NODE_TOTAL=3)"
        );
        assert_eq!(
            node_of(
                NONE,
                &[
                    ("SHARD_NODES", "3"),
                    ("CIRCLE_NODE_TOTAL", "3"),
                    ("CIRCLE_NODE_INDEX", "1")
                ]
            ),
            (3, Some(2))
        );
    }

    #[test]
    fn status_files_are_touched_whoever_names_the_node() {
        let vars = [
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", "/tmp/bazel"),
            ("GTEST_SHARD_STATUS_FILE", "/tmp/gtest"),
        ];
        let expected = [PathBuf::from("/tmp/bazel"), PathBuf::from("/tmp/gtest")];
        assert_eq!(run(NONE, &vars).unwrap().unwrap().status_files, expected);
        let flags = NodeFlags {
            shard: Some("1/2".parse().unwrap()),
            ..NONE
        };
        assert_eq!(run(flags, &vars).unwrap().unwrap().status_files, expected);
        let count_only = NodeFlags {
            nodes: Some(2),
            ..NONE
        };
        let vars = [("TEST_SHARD_STATUS_FILE", "/tmp/bazel")];
        assert!(
            run(count_only, &vars)
                .unwrap()
                .unwrap()
                .status_files
                .is_empty()
        );
    }

    #[test]
    fn broken_variables_are_notes_when_the_flags_decide() {
        let flags = NodeFlags {
            shard: Some("1/2".parse().unwrap()),
            ..NONE
        };
        let s = run(flags, &[("JOB_COMPLETION_INDEX", "x")])
            .unwrap()
            .unwrap();
        assert_eq!((s.nodes, s.node), (2, Some(1)));
        assert_eq!(
            s.notes,
            [
                "ignored because the flags name the node: JOB_COMPLETION_INDEX=x (Kubernetes Indexed Job): not a number"
            ]
        );
        // Without the flags deciding, the same variable is an error.
        assert!(
            run(
                NodeFlags {
                    nodes: Some(2),
                    ..NONE
                },
                &[("JOB_COMPLETION_INDEX", "x")]
            )
            .is_err()
        );
    }

    #[test]
    fn numbers_out_of_range_say_so() {
        assert_eq!(
            err(NONE, &[("SHARD_NODES", "99999999999"), ("SHARD_NODE", "1")]),
            "SHARD_NODES=99999999999 (shardkit): the number of nodes must be at most 10000"
        );
        assert_eq!(
            err(
                NodeFlags {
                    nodes: Some(20_000),
                    node: Some(1),
                    ..NONE
                },
                &[]
            ),
            "--nodes 20000: the number of nodes must be at most 10000"
        );
        assert_eq!(
            err(NONE, &[("SHARD_NODES", "4"), ("SHARD_NODE", "99999999999")]),
            "SHARD_NODE=99999999999 (shardkit): the index must be at most 10000"
        );
    }

    #[test]
    fn switches() {
        let on = |v: &str| {
            let v = v.to_string();
            env_switch("SHARD_DISABLED", &move |_| Some(v.clone()))
        };
        for v in ["1", "true", "YES", "on "] {
            assert!(on(v).unwrap(), "{v}");
        }
        for v in ["0", "false", "No", "off", ""] {
            assert!(!on(v).unwrap(), "{v}");
        }
        assert_eq!(
            on("maybe").unwrap_err().to_string(),
            "SHARD_DISABLED=maybe: expected 1 or 0 (true/false, yes/no, on/off)"
        );
        assert!(!env_switch("SHARD_DISABLED", &|_| None).unwrap());
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
        let s = run(
            NodeFlags {
                nodes: Some(5),
                ..NONE
            },
            &[("SHARD_NODES", "4")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.nodes, 5);
        assert_eq!(s.notes, ["--nodes 5 overrides SHARD_NODES=4"]);
    }
}
