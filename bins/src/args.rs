//! Arguments that shard-plan and shard-exec share: which node this is, how ids group, where
//! durations come from, and reading the id lists themselves.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use shardkit::ci::{self, NodeFlags, ShardSpec};
use shardkit::presets::Runner;
use shardkit::timings::Timings;
use shardkit::{GroupBy, TestIds};

use crate::common::plural;

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

/// `--group-by`, else `SHARD_GROUP_BY`, else distributed-nose's `NOSE_HASH_BY_CLASS` (its
/// `--hash-by-class`: set to 1, true, yes or on, it means class), else the runner preset's
/// default, else none.
pub fn group_by(
    arg: Option<GroupByArg>,
    env: &dyn Fn(&str) -> Option<String>,
    runner: Option<Runner>,
) -> Result<GroupBy> {
    if let Some(arg) = arg {
        return Ok(arg.into());
    }
    if let Some(value) = env("SHARD_GROUP_BY").filter(|v| !v.is_empty()) {
        return value
            .parse::<GroupBy>()
            .with_context(|| format!("SHARD_GROUP_BY={value}"));
    }
    if ci::env_switch("NOSE_HASH_BY_CLASS", env)? {
        return Ok(GroupBy::Class);
    }
    Ok(runner.map_or(GroupBy::None, Runner::default_group_by))
}

/// A test runner with a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunnerArg {
    /// pytest: `pytest --collect-only -q` lists, batches run with `--junitxml={junit}`.
    Pytest,
    /// cargo-nextest: `cargo nextest list` lists (ids `BINARY-ID TEST-NAME`), batches run
    /// with `cargo nextest run -E FILTERSET` and its JUnit report.
    Nextest,
    /// go: `go test -list .` lists (ids `PACKAGE::TestName`), a package's tests run in one
    /// `go test -json` process whose events shardkit turns into JUnit.
    Go,
}

impl From<RunnerArg> for Runner {
    fn from(arg: RunnerArg) -> Self {
        match arg {
            RunnerArg::Pytest => Runner::Pytest,
            RunnerArg::Nextest => Runner::Nextest,
            RunnerArg::Go => Runner::Go,
        }
    }
}

/// `--timings` and `--timings-strict`: durations from earlier JUnit reports.
#[derive(Debug, Clone, Args)]
pub struct TimingArgs {
    /// A JUnit report of an earlier run, or a directory walked for `*.xml`, whose times weigh
    /// the ids; repeatable (also SHARD_TIMINGS, paths separated by `:`).
    #[arg(long, value_name = "PATH")]
    pub timings: Vec<PathBuf>,

    /// Fail (exit 2) on a timing report that cannot be read, instead of a warning.
    #[arg(long)]
    pub timings_strict: bool,
}

impl TimingArgs {
    /// The paths to read: the flag's, else `SHARD_TIMINGS`'.
    pub fn paths(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
        if !self.timings.is_empty() {
            return self.timings.clone();
        }
        env("SHARD_TIMINGS")
            .map(|v| {
                v.split(':')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Reads the durations of `ids`, or `None` without timing paths. A report that cannot be
    /// read is a warning (its times unused), or with `--timings-strict` an error. Says on
    /// stderr what was found unless `quiet`.
    pub fn read<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        separator: &str,
        env: &dyn Fn(&str) -> Option<String>,
        quiet: bool,
    ) -> Result<Option<Timings>> {
        let paths = self.paths(env);
        if paths.is_empty() {
            return Ok(None);
        }
        let timings = Timings::read(ids, &paths, separator);
        if let Some(first) = timings.problems.first() {
            if self.timings_strict {
                bail!("timings: {} (--timings-strict)", with_causes(first));
            }
            for problem in &timings.problems {
                crate::warn(&format!(
                    "timings: {}; going on without it (--timings-strict makes this an error)",
                    with_causes(problem)
                ));
            }
        }
        if !quiet {
            let known = timings.known();
            crate::say(&format!(
                "durations for {known} of {} ids from {} report{}{}",
                timings.durations.len(),
                timings.files,
                plural(timings.files),
                if known == 0 {
                    ": none known, every id weighs the same"
                } else if known < timings.durations.len() {
                    "; the others weigh the median"
                } else {
                    ""
                }
            ));
            if let Some(startup) = timings.startup {
                let folders = timings.per_folder.values();
                let low = folders.clone().copied().fold(f64::INFINITY, f64::min);
                let high = folders.copied().fold(0.0, f64::max);
                let per_module = if !timings.per_folder.is_empty() {
                    format!(
                        ", {:.0} ms to {:.0} ms more per module by its folder ({} folders)",
                        low * 1e3,
                        high * 1e3,
                        timings.per_folder.len()
                    )
                } else if startup.per_module > 0.0 {
                    format!(", {:.0} ms more per module", startup.per_module * 1e3)
                } else {
                    String::new()
                };
                let per_case = if startup.per_case > 0.0 {
                    format!(
                        "{per_module} and {:.2} ms more per test",
                        startup.per_case * 1e3
                    )
                } else {
                    per_module.replacen(", ", " and ", 1)
                };
                crate::say(&format!(
                    "a process took {:.2} s to start{per_case} (fitted to {} processes in the reports: each one's wall time less its tests' times)",
                    startup.base, timings.processes
                ));
            }
        }
        Ok(Some(timings))
    }
}

/// An error and its causes, as `what: why: ...`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Whether an empty id list is an error (a plan of nothing) or an empty share (a node with
/// nothing to run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    Error,
    Allowed,
}

/// Reads the ids of every FILE, `-` being stdin; no FILE means stdin.
pub fn read_ids(files: &[PathBuf], empty: Empty) -> Result<TestIds> {
    let stdin_name = || "<stdin>".to_string();
    let read = |inputs: Vec<(String, Box<dyn Read>)>| match empty {
        Empty::Error => TestIds::read(inputs),
        Empty::Allowed => TestIds::read_allowing_empty(inputs),
    };
    if files.is_empty() {
        return Ok(read(vec![(stdin_name(), Box::new(io::stdin().lock()))])?);
    }
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        bail!("`-` (stdin) is named more than once");
    }
    for (i, file) in files.iter().enumerate() {
        if file.as_os_str() != "-" && files[..i].contains(file) {
            bail!("{} is named more than once", file.display());
        }
    }
    let mut inputs: Vec<(String, Box<dyn Read>)> = Vec::new();
    for file in files {
        if file.as_os_str() == "-" {
            inputs.push((stdin_name(), Box::new(io::stdin())));
        } else {
            let name = file.display().to_string();
            let f = File::open(file).with_context(|| format!("cannot open {name}"))?;
            inputs.push((name, Box::new(f)));
        }
    }
    Ok(read(inputs)?)
}
