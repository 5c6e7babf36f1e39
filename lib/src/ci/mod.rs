//! Which node this is (K of N): from flags, `SHARD_*` variables, or a CI system's variables.
//!
//! Flags win over the environment. Among environment sources the first in the table of
//! conventions (`conventions.rs`: shardkit's own `SHARD_*` first, then each CI system's) is
//! used, and any other one that is set must agree with it: two CI conventions that name
//! different nodes are an error, never a guess. Nothing here falls back to "every test".
//!
//! [`resolve`] settles one node in steps: the flags, which must agree with each other; every
//! convention that is set, each read into a checked, 1-based reading; then the flags
//! naming the node, else the first environment source naming one, else a node count alone.
//! Settings that lose are kept as [`Selection::notes`], for people.

mod conventions;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ring::MAX_NODES;

use self::conventions::{CONVENTIONS, Reading, SHARDKIT, STATUS_FILES, read_convention};

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
    /// Files to touch to confirm that sharding is honoured (`TEST_SHARD_STATUS_FILE`,
    /// `GTEST_SHARD_STATUS_FILE`).
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
/// A value and where it came from (`--nodes 4`, `SHARD_NODES=4`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sourced {
    value: u32,
    origin: String,
}

/// Node K of N, both 1-based and checked against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeOfN {
    nodes: u32,
    node: u32,
}

/// What the flags say, once they agree with each other.
#[derive(Debug, Default)]
struct FlagChoice {
    /// N, from `--shard` or `--nodes`.
    total: Option<Sourced>,
    /// K, from `--shard` or `--node`.
    index: Option<Sourced>,
}

impl FlagChoice {
    /// Reads the flags: `--shard K/N` and `--nodes`/`--node` must not contradict each other,
    /// and N must be a node count shardkit accepts.
    fn read(flags: &NodeFlags) -> Result<Self> {
        let mut choice = FlagChoice::default();
        if let Some(spec) = flags.shard {
            let origin = format!("--shard {}/{}", spec.node, spec.nodes);
            choice.total = Some(Sourced {
                value: spec.nodes,
                origin: origin.clone(),
            });
            choice.index = Some(Sourced {
                value: spec.node,
                origin,
            });
        }
        for (value, name, slot) in [
            (flags.nodes, "--nodes", &mut choice.total),
            (flags.node, "--node", &mut choice.index),
        ] {
            if let Some(v) = value {
                let origin = format!("{name} {v}");
                if let Some(other) = slot.as_ref()
                    && other.value != v
                {
                    return Err(Error::NodeSelection {
                        origin,
                        reason: format!("disagrees with {}", other.origin),
                    });
                }
                *slot = Some(Sourced { value: v, origin });
            }
        }
        if let Some(total) = &choice.total {
            check_total(total.value, &total.origin)?;
        }
        Ok(choice)
    }

    /// Whether the flags name both N and K, so that the environment cannot change anything.
    fn decide(&self) -> bool {
        self.total.is_some() && self.index.is_some()
    }
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
    let flags = FlagChoice::read(flags)?;
    // 2. Every environment convention that is set.
    let mut notes = Vec::new();
    let readings = read_environment(&flags, env, &mut notes)?;
    let shard_nodes: Option<Sourced> = readings
        .iter()
        .find(|r| r.convention == &SHARDKIT)
        .and_then(|r| {
            r.total.map(|n| Sourced {
                value: n,
                origin: format!("SHARD_NODES={n}"),
            })
        });
    // A total that can complete a source giving only an index: --nodes, else SHARD_NODES.
    let lent_total = flags.total.clone().or_else(|| shard_nodes.clone());

    // 3. Flags naming the node win; settings that say otherwise are noted.
    if let Some(index) = flags.index {
        let (node, source) = flags_node(index, lent_total, &readings, &mut notes)?;
        return Ok(Some(Selection {
            nodes: node.nodes,
            node: Some(node.node),
            source,
            status_files: status_files(env),
            notes,
        }));
    }

    // 4. Otherwise the first environment source naming a node, checked against the others
    //    and against a lent total.
    if let Some((node, source)) = environment_node(&readings, lent_total.as_ref())? {
        return Ok(Some(Selection {
            nodes: node.nodes,
            node: Some(node.node),
            source,
            status_files: status_files(env),
            notes,
        }));
    }

    // 5. Only a node count.
    if let (Some(flag), Some(shard)) = (&flags.total, &shard_nodes)
        && flag.value != shard.value
    {
        notes.push(format!(
            "{} overrides SHARD_NODES={}",
            flag.origin, shard.value
        ));
    }
    Ok(lent_total.map(|total| Selection {
        nodes: total.value,
        node: None,
        source: total.origin,
        status_files: Vec::new(),
        notes,
    }))
}

/// Reads every environment convention that is set. When the flags decide, a broken variable
/// is only worth a note; otherwise it is an error.
fn read_environment(
    flags: &FlagChoice,
    env: &dyn Fn(&str) -> Option<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<Reading>> {
    let mut readings = Vec::new();
    for convention in CONVENTIONS {
        match read_convention(convention, env) {
            Ok(Some(reading)) => readings.push(reading),
            Ok(None) => {}
            Err(e) if flags.decide() => {
                notes.push(format!("ignored because the flags name the node: {e}"))
            }
            Err(e) => return Err(e),
        }
    }
    // A job that does not run in parallel, which CircleCI tells as node 1 of 1
    // (CIRCLE_NODE_TOTAL=1, CIRCLE_NODE_INDEX=0), yields to a node count given as a flag: it
    // is the job that plans for the parallel ones.
    if flags.total.as_ref().is_some_and(|total| total.value != 1) {
        readings.retain(|r| {
            let alone = r.runs_alone();
            if alone {
                notes.push(format!(
                    "{} is a job that does not run in parallel: the flags decide",
                    r.origin()
                ));
            }
            !alone
        });
    }
    Ok(readings)
}

/// The node the flags name, with N from the flags or lent by `SHARD_NODES`, and where it
/// came from; every reading that says otherwise is noted.
fn flags_node(
    index: Sourced,
    lent_total: Option<Sourced>,
    readings: &[Reading],
    notes: &mut Vec<String>,
) -> Result<(NodeOfN, String)> {
    let total = lent_total.ok_or_else(|| Error::NodeSelection {
        origin: index.origin.clone(),
        reason: "the number of nodes is not known: pass --nodes N or use --shard K/N".into(),
    })?;
    let chosen = NodeOfN {
        nodes: total.value,
        node: index.value,
    };
    check_index(chosen.node, chosen.nodes, &index.origin)?;
    let source = if index.origin == total.origin {
        index.origin
    } else {
        format!("{} with {}", index.origin, total.origin)
    };
    for reading in readings {
        let differs = match (reading.index, reading.total) {
            (Some(k), _) => reading_node(reading, k, None).ok() != Some(chosen),
            (None, Some(total)) => total != chosen.nodes,
            (None, None) => false,
        };
        if differs {
            notes.push(format!("the flags override {}", reading.origin()));
        }
    }
    Ok((chosen, source))
}

/// The node the first reading naming one names, and where it came from, when every other
/// reading naming a node agrees and a lent total agrees with their own.
fn environment_node(
    readings: &[Reading],
    lent_total: Option<&Sourced>,
) -> Result<Option<(NodeOfN, String)>> {
    let mut chosen: Option<(&Reading, NodeOfN)> = None;
    for (reading, k) in readings.iter().filter_map(|r| r.index.map(|k| (r, k))) {
        if let (Some(lent), Some(own)) = (lent_total, reading.total)
            && lent.value != own
        {
            return Err(Error::NodeSelection {
                origin: lent.origin.clone(),
                reason: format!("disagrees with {}", reading.origin()),
            });
        }
        let node = reading_node(reading, k, lent_total)?;
        match chosen {
            None => chosen = Some((reading, node)),
            Some((first, first_node)) if first_node != node => {
                return Err(Error::NodeSelection {
                    origin: reading.origin(),
                    reason: format!(
                        "says node {} of {} but {} says node {} of {}; two sources disagree: unset one, or pass --node and --nodes",
                        node.node,
                        node.nodes,
                        first.origin(),
                        first_node.node,
                        first_node.nodes
                    ),
                });
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map(|(reading, node)| {
        let mut source = reading.origin();
        if reading.total.is_none()
            && let Some(lent) = lent_total
        {
            source = format!("{source} with {}", lent.origin);
        }
        (node, source)
    }))
}

/// The node of a reading naming node `k`, with `lent` as N when it has none of its own.
fn reading_node(reading: &Reading, k: u32, lent: Option<&Sourced>) -> Result<NodeOfN> {
    let n = match (reading.total, lent) {
        (Some(n), _) => n,
        (None, Some(lent)) => lent.value,
        (None, None) => {
            return Err(Error::NodeSelection {
                origin: reading.origin(),
                reason: "the number of nodes is not known: pass --nodes N".into(),
            });
        }
    };
    check_index(k, n, &reading.origin())?;
    Ok(NodeOfN { nodes: n, node: k })
}

/// The status files named in the environment (see `STATUS_FILES` in `conventions.rs`).
fn status_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    STATUS_FILES
        .iter()
        .filter_map(|name| env(name).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .collect()
}
