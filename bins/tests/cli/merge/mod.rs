//! shard-merge, driven as CI drives it.
//!
//! By topic: every dialect merges to its golden report, which Jenkins' parser reads
//! (`golden`); the merge verifies a run against its plan (`verify`); bad, odd, broken, many
//! or huge inputs (`inputs`); the pictures of a run at their edges (`pictures`). The helpers
//! here run shard-merge and check how it ended.

mod catalogue;
mod golden;
mod inputs;
mod memory;
mod pictures;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Case, read_cases};

use crate::support::{Run, finish};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn merge_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-merge"));
    cmd.env_clear().stdin(Stdio::null());
    cmd
}

fn merge(args: &[&str]) -> Run {
    finish(merge_cmd().args(args).output().unwrap())
}

fn merge_in(dir: &Path, args: &[&str]) -> Run {
    finish(merge_cmd().current_dir(dir).args(args).output().unwrap())
}

fn cases_of(xml: &[u8]) -> Vec<Case> {
    read_cases(xml).unwrap_or_else(|e| panic!("merged output unreadable: {e:?}"))
}

fn expect(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
}

/// Exit 2, nothing on stdout, `needle` in the message.
fn refused(run: &Run, needle: &str) {
    expect(run, 2);
    assert_eq!(run.stdout, "", "nothing may be written on error");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
}
