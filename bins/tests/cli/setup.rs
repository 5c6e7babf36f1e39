//! The one test command (`scripts/test`) on a machine that lacks what the tests need: it names
//! each missing Debian package and how to install it, and exits 1 before running anything.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::finish;

#[test]
fn the_test_command_names_what_is_missing_and_runs_nothing() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/test");
    // A PATH with just what the script needs to start: no python3, java, go, script, kill, c++, git,
    // rsync or npm.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "dirname", "id"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| PathBuf::from(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not in /usr/bin or /bin"));
        symlink(found, bin.path().join(tool)).unwrap();
    }
    let run = finish(
        Command::new(bin.path().join("bash"))
            .arg(&script)
            .env_clear()
            .env("PATH", bin.path())
            // As a user who may not install: what a machine without root sees.
            .env("SHARDKIT_NO_INSTALL", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // GNU time is looked for at /usr/bin/time, whatever PATH says.
    let time = if PathBuf::from("/usr/bin/time").exists() {
        ""
    } else {
        "time "
    };
    let packages =
        format!("python3 {time}default-jdk-headless golang-go bsdutils procps g++ git rsync npm");
    for said in [
        format!("which this machine lacks: {packages}"),
        format!("apt-get update && apt-get install -y {packages}"),
    ] {
        assert!(run.stderr.contains(&said), "{said}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("installing"), "{}", run.stderr);
}
