//! What was typed, resolved against the environment and the inputs: the node's share of the
//! ids and the library's [`Config`] for running them.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use shardkit::Grouping;
use shardkit::Manifest;
use shardkit::ci;
use shardkit::exec::config::jobs_or_available;
use shardkit::exec::guardian::SCRATCH_PREFIX;
use shardkit::exec::report::{self, Identity};
use shardkit::exec::{Config, ConfigBuilder, Share, SplitPattern};
use shardkit::presets::Runner;
use tempfile::TempDir;

use super::cli::{Cli, FlakyResult};
use crate::args;
use crate::{say, warn};

/// Everything needed to run the node's share and to report on it.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) config: Config,
    pub(super) share: Share,
    /// Where the node's JUnit report goes.
    pub(super) junit: Option<PathBuf>,
    pub(super) flaky_result: FlakyResult,
    pub(super) quiet: bool,
    /// A preset's files (nextest's profiles) live as long as the run.
    _preset_dir: Option<TempDir>,
}

impl Request {
    /// Settles the command, the units, the node's share and the limits from the flags, the
    /// environment and the id lists, saying on stderr what people should know.
    pub(super) fn resolve(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let runner = cli.runner.map(Runner::from);
        let jobs = jobs_or_available(cli.jobs.map(|j| j as usize));
        // Made only for a runner whose files need it; the guardian removes it when a run
        // killed hard cannot.
        let preset_dir = match runner {
            Some(runner) if runner.writes_files() => Some(
                tempfile::Builder::new()
                    .prefix(&format!("{SCRATCH_PREFIX}preset-"))
                    .tempdir()
                    .context("cannot make a temporary directory")?,
            ),
            _ => None,
        };
        let builder = match runner {
            Some(runner) => {
                let setup = runner
                    .run_setup(&cli.command, preset_dir.as_ref().map(TempDir::path), jobs)
                    .context("cannot prepare the runner's configuration")?;
                Config::for_preset(runner, setup)?
            }
            None => Config::for_command(&cli.command)?,
        };
        let builder = units(builder, &cli, env, runner)?.jobs(Some(jobs));
        let share = share(&cli, env)?;
        if share.ids.is_empty() && !cli.quiet {
            say(&format!(
                "node {} of {} has no tests to run: nothing runs, and the report names the node with no cases",
                share.node, share.nodes
            ));
        }
        for warning in builder.warnings() {
            warn(&warning);
        }
        let timings = cli.timing.read(
            share.ids.iter().map(String::as_str),
            &cli.separator,
            env,
            cli.quiet,
        )?;
        let config = builder
            .timings(timings.as_ref())
            .share(&share)
            .timeout(cli.timeout)
            .grace(cli.grace)
            .leak_timeout(cli.leak_timeout)
            .retries(cli.retries)
            .fail_fast(cli.fail_fast)
            .max_fail(cli.max_fail.map(|n| n as usize))
            .capture_limit(cli.capture_limit)
            .setup(cli.setup.as_deref())
            .teardown(cli.teardown.as_deref())
            .guardian(crate::guardian::command())
            .scratch(preset_dir.as_ref().map(TempDir::path))
            .build()?;
        Ok(Request {
            config,
            share,
            junit: cli.junit,
            flaky_result: cli.flaky_result,
            quiet: cli.quiet,
            _preset_dir: preset_dir,
        })
    }

    /// The node as its report names it.
    pub(super) fn identity(&self) -> Identity<'_> {
        Identity {
            node: self.share.node,
            nodes: self.share.nodes,
            plan: self.share.plan.as_deref(),
            hostname: report::hostname(),
        }
    }
}

/// How ids gather into processes: the grouping, the split patterns, the batch size.
fn units(
    builder: ConfigBuilder,
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
    runner: Option<Runner>,
) -> Result<ConfigBuilder> {
    let group_by = args::group_by(cli.group_by, env, runner)?;
    let grouping = Grouping::new(group_by, &cli.separator)?;
    let split = cli
        .split
        .iter()
        .map(|p| SplitPattern::new(p))
        .collect::<shardkit::Result<Vec<_>>>()?;
    Ok(builder
        .grouping(grouping)
        .split(split)
        .batch_size(cli.batch_size.map(|b| b as usize)))
}

/// The node's ids: a list (`--tests`, else stdin), or its share of `--manifest`, which a list
/// given too must equal.
fn share(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Share> {
    let selection = ci::resolve(&cli.node_args.flags(), env)?;
    let read = |path: &PathBuf| args::read_ids(std::slice::from_ref(path), args::Empty::Allowed);
    let Some(path) = &cli.manifest else {
        let ids = match &cli.tests {
            Some(path) => read(path)?,
            None => args::read_ids(&[], args::Empty::Allowed)
                .context("no --tests or --manifest: reading ids from stdin")?,
        };
        return Ok(Share::listed(&ids, selection.as_ref()));
    };
    let listed = cli.tests.as_ref().map(read).transpose()?;
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let manifest = Manifest::read(&name, io::BufReader::new(file).take(u64::MAX))?;
    Ok(Share::planned(
        &manifest,
        &name,
        selection.as_ref(),
        listed.as_ref(),
    )?)
}
