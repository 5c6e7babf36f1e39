//! shard-plan, driven as CI drives it: the node comes from flags or from any CI's variables
//! (`nodes`), the ids from files or stdin (`ids`), the output is a node's share, every node's,
//! a fingerprint or a summary (`listing`), the whole plan can be written down (`manifest`),
//! and an independent script written from the docs alone agrees (`reference`).
//!
//! Every test runs the real binary with a clean environment: the helpers here run it and check
//! how it ended.

mod ids;
mod listing;
mod manifest;
mod nodes;
mod reference;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{Run, finish, testdata, with_stdin};

pub(crate) fn golden_ids() -> PathBuf {
    testdata().join("golden-plan/ids.txt")
}

/// shard-plan with a clean environment (no CI variables of the machine running the tests).
fn plan_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-plan"));
    cmd.env_clear().stdin(Stdio::null());
    cmd
}

pub(crate) fn plan(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = plan_cmd();
    cmd.args(args).envs(env.iter().copied());
    finish(cmd.output().unwrap())
}

fn plan_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut cmd = plan_cmd();
    cmd.args(args);
    with_stdin(cmd, input)
}

pub(crate) fn ok(run: &Run) {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
}

/// Exit 2, nothing on stdout, and `needle` in the message.
fn fails_with(run: &Run, needle: &str) {
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stdout, "", "stdout must stay empty on error");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
}
