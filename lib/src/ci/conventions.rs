//! The CI systems' conventions: the variables each sets, the number its first node has, and
//! how one convention's variables are read into a checked, 1-based node.

use crate::error::{Error, Result};
use crate::ring::MAX_NODES;

use super::{Number, parse_number};

/// A CI system's way of telling a job which shard it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Convention {
    /// Who sets the variables.
    pub(crate) name: &'static str,
    /// The variable holding N, if the system has one.
    pub(crate) total: Option<&'static str>,
    /// The variable holding the node's index.
    pub(crate) index: &'static str,
    /// The number of the first node: 0 or 1.
    pub(crate) base: u32,
    /// Read only when this variable is set too (GitLab's `CI_NODE_*` outside GitLab mean nothing).
    pub(crate) only_if: Option<&'static str>,
    /// Whether one of the two variables may be set without the other. A CI system sets both
    /// or neither, so one alone is a broken setup; shardkit's own pair may be split
    /// (`SHARD_NODE` per job, `SHARD_NODES` for the pipeline).
    pub(crate) halves: bool,
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
pub(crate) const SHARDKIT: Convention = Convention {
    halves: true,
    ..convention("shardkit", "SHARD_NODES", "SHARD_NODE", 1)
};

/// Every environment convention, in the order they are looked at.
pub(crate) const CONVENTIONS: &[Convention] = &[
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
pub(crate) const STATUS_FILES: &[&str] = &["TEST_SHARD_STATUS_FILE", "GTEST_SHARD_STATUS_FILE"];

/// One environment convention's values, checked, with the index made 1-based.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub(crate) convention: &'static Convention,
    /// N, when the convention has a variable for it and it is set.
    pub(crate) total: Option<u32>,
    /// K, 1-based, when the index variable is set.
    pub(crate) index: Option<u32>,
    /// The variables as set, for people: `CI_NODE_INDEX=2, CI_NODE_TOTAL=4`.
    shown: String,
}

impl Reading {
    /// The convention and its variables, for people: `GitLab (CI_NODE_INDEX=2, CI_NODE_TOTAL=4)`.
    pub(crate) fn origin(&self) -> String {
        format!("{} ({})", self.convention.name, self.shown)
    }

    /// Whether this is a job that does not run in parallel: node 1 of 1.
    pub(crate) fn runs_alone(&self) -> bool {
        self.total == Some(1) && self.index.unwrap_or(1) == 1
    }
}

/// The raw values of a convention's two variables, as set (empty counts as unset).
struct Raw {
    index: Option<String>,
    total: Option<String>,
}

/// Reads one convention's variables: `None` when it does not apply (unset, outside its CI
/// system, or a job that does not run in parallel), an error when they are set but wrong.
pub(crate) fn read_convention(
    convention: &'static Convention,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Reading>> {
    let Some(raw) = raw_values(convention, env) else {
        return Ok(None);
    };
    let mut shown = Vec::new();
    let mut index = None;
    if let Some(raw) = &raw.index {
        shown.push(format!("{}={raw}", convention.index));
        index = Some(read_index(convention, raw)?);
    }
    let mut total = None;
    if let (Some(name), Some(raw)) = (convention.total, &raw.total) {
        shown.push(format!("{name}={raw}"));
        total = Some(read_total(convention, name, raw)?);
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

/// The convention's variables when it applies and names anything.
fn raw_values(convention: &Convention, env: &dyn Fn(&str) -> Option<String>) -> Option<Raw> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(required) = convention.only_if
        && get(required).is_none()
    {
        return None;
    }
    let raw = Raw {
        index: get(convention.index),
        total: convention.total.and_then(get),
    };
    if raw.index.is_none() && raw.total.is_none() {
        return None;
    }
    // A total of 1 with no index is a job that does not run in parallel: GitLab sets
    // CI_NODE_TOTAL=1 in every such job, the one that plans for the others among them.
    if raw.index.is_none() && raw.total.as_deref().map(str::trim) == Some("1") {
        return None;
    }
    Some(raw)
}

/// The index variable's value made 1-based.
fn read_index(convention: &Convention, raw: &str) -> Result<u32> {
    let limit = u64::from(MAX_NODES) - 1 + u64::from(convention.base);
    let value = read_number(convention, convention.index, raw, limit, "the index")?;
    if value < u64::from(convention.base) {
        return Err(Error::NodeSelection {
            origin: format!("{}={raw} ({})", convention.index, convention.name),
            reason: format!("{} counts nodes from {}", convention.name, convention.base),
        });
    }
    Ok((value - u64::from(convention.base) + 1) as u32)
}

/// The total variable's value, at least 1.
fn read_total(convention: &Convention, name: &str, raw: &str) -> Result<u32> {
    let value = read_number(
        convention,
        name,
        raw,
        u64::from(MAX_NODES),
        "the number of nodes",
    )?;
    if value == 0 {
        return Err(Error::NodeSelection {
            origin: format!("{name}={raw} ({})", convention.name),
            reason: "the number of nodes must be at least 1".into(),
        });
    }
    Ok(value as u32)
}

/// A variable's number, at most `limit`; errors name the variable and say `what` it holds.
fn read_number(
    convention: &Convention,
    name: &str,
    raw: &str,
    limit: u64,
    what: &str,
) -> Result<u64> {
    let bad = |reason: String| Error::NodeSelection {
        origin: format!("{name}={raw} ({})", convention.name),
        reason,
    };
    match parse_number(raw.trim()) {
        Number::Value(v) if v <= limit => Ok(v),
        Number::Garbage => Err(bad("not a number".into())),
        _ => Err(bad(format!("{what} must be at most {limit}"))),
    }
}
