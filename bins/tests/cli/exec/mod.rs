//! shard-exec, driven as a user would: real processes that pass, fail, hang, crash, leak and
//! get interrupted; ids no shell may read; a real pytest suite run in class batches.
//!
//! By topic: how each test ends and what the run reports (`outcomes`), batches and the
//! command's own report (`batches`), signals (`signals`), the setup and the teardown
//! (`setup`), flaky tests and stopping after failures (`failures`), a node's share from a
//! manifest (`manifest`) and the runner presets on real projects (`presets`). The helpers
//! here run shard-exec in a work folder, read its report and watch its processes.

mod batches;
mod failures;
mod manifest;
mod outcomes;
mod presets;
mod setup;
mod signals;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shardkit::junit::cases::{Case, read_cases};

use crate::support::{Run, finish, path_str, testdata};

fn exec_dir() -> PathBuf {
    testdata().join("exec")
}

/// shard-exec in `work`, with a clean environment but PATH and WORK=`work`.
fn exec_cmd(work: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-exec"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WORK", work)
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

fn exec(work: &Path, args: &[&str]) -> Run {
    finish(exec_cmd(work).args(args).output().unwrap())
}

fn write_ids(work: &Path, ids: &[&str]) -> PathBuf {
    let path = work.join("ids.txt");
    fs::write(
        &path,
        ids.iter().map(|id| format!("{id}\n")).collect::<String>(),
    )
    .unwrap();
    path
}

/// The report's cases by their shard.id, each id exactly once (cases flagged as matching no
/// id left out).
fn cases_by_id(report: &Path) -> BTreeMap<String, Case> {
    let cases = read_cases(fs::File::open(report).unwrap()).unwrap();
    let mut by_id = BTreeMap::new();
    for case in cases {
        if case.property("shard.unmatched") == Some("true") {
            continue;
        }
        let id = case
            .property("shard.id")
            .unwrap_or_else(|| panic!("a case without shard.id: {case:?}"))
            .to_string();
        assert!(by_id.insert(id.clone(), case).is_none(), "{id} twice");
    }
    by_id
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped): waits up to 10 s for it.
fn gone(pid_file: &Path) -> bool {
    let pid = fs::read_to_string(pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
        .trim()
        .to_string();
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match fs::read_to_string(&stat) {
            Err(_) => return true,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) if Instant::now() > deadline => return false,
            Ok(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Waits (up to 30 s) until `ready` holds; `what` names it in the failure.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`-TERM`) to process `pid` with kill(1).
fn send(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

fn behave() -> String {
    path_str(&exec_dir().join("behave.sh")).to_string()
}
