//! Arguments that shard-plan and shard-exec share: which node this is, and how ids group.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use shardkit::GroupBy;
use shardkit::ci::{NodeFlags, ShardSpec};

/// `--nodes`, `--node`, `--shard`: this node, as typed (the environment is read later).
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// The number of nodes, N (also SHARD_NODES).
    #[arg(long, value_name = "N")]
    pub nodes: Option<u32>,

    /// This node's number K, from 1 to N (also SHARD_NODE).
    #[arg(long, value_name = "K")]
    pub node: Option<u32>,

    /// This node as K/N, like nextest and Playwright: `--shard 2/4`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<ShardSpec>,
}

impl NodeArgs {
    pub fn flags(&self) -> NodeFlags {
        NodeFlags {
            shard: self.shard,
            nodes: self.nodes,
            node: self.node,
        }
    }
}

fn parse_shard(s: &str) -> Result<ShardSpec, String> {
    s.parse::<ShardSpec>()
        .map_err(|_| ShardSpec::EXPECTED.to_string())
}

/// How ids are grouped (a group never spans nodes, nor processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum GroupByArg {
    /// Every id is its own group.
    #[default]
    None,
    /// Everything before the last segment, for ids of 3 or more segments.
    Class,
    /// The first segment.
    File,
}

impl From<GroupByArg> for GroupBy {
    fn from(arg: GroupByArg) -> Self {
        match arg {
            GroupByArg::None => GroupBy::None,
            GroupByArg::Class => GroupBy::Class,
            GroupByArg::File => GroupBy::File,
        }
    }
}

/// `--group-by`, else `SHARD_GROUP_BY`, else none.
pub fn group_by(arg: Option<GroupByArg>, env: &dyn Fn(&str) -> Option<String>) -> Result<GroupBy> {
    Ok(match arg {
        Some(arg) => arg.into(),
        None => match env("SHARD_GROUP_BY").filter(|v| !v.is_empty()) {
            Some(value) => value
                .parse::<GroupBy>()
                .with_context(|| format!("SHARD_GROUP_BY={value}"))?,
            None => GroupBy::None,
        },
    })
}
