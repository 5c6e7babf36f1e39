//! The harness every test file shares: where the test data is, a finished run's exit code and
//! output, feeding a binary's stdin, the Jenkins-parser check of a JUnit report, the
//! virtualenv's pytest, and the whole plan-exec-merge pipeline with a runner preset.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `cmd` with `input` on its stdin.
pub(crate) fn with_stdin(mut cmd: Command, input: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
}

/// Runs `scripts/check-junit` (the JDK's XML parser and the output profile schema, in
/// scripts/junit-check/) on `files`.
pub(crate) fn run_check_junit(files: &[&Path]) -> Run {
    let tool = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-junit");
    let output = Command::new(&tool)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    finish(output)
}

/// Asserts that Jenkins' parser and the output profile schema accept each file
/// (`scripts/check-junit`, which needs java: `scripts/test` installs it).
pub(crate) fn check_junit(files: &[&Path]) {
    let run = run_check_junit(files);
    assert!(
        run.code == 0,
        "check-junit refused {files:?} (exit {}):\n{}{}",
        run.code,
        run.stdout,
        run.stderr
    );
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The pytest of the virtualenv that `scripts/test` makes (or $SHARDKIT_PYTEST).
pub(crate) fn pytest() -> PathBuf {
    if let Some(p) = std::env::var_os("SHARDKIT_PYTEST") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/.venv/bin/pytest");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, or `python3 -m venv scripts/.venv && scripts/.venv/bin/pip install pytest==8.3.4`",
        p.display()
    );
    p
}

/// PATH with the virtualenv's pytest first.
pub(crate) fn path_with_pytest() -> std::ffi::OsString {
    let venv = pytest().parent().unwrap().to_path_buf();
    let mut paths = vec![venv];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// What [`pipeline`] did.
pub(crate) struct Pipeline {
    pub(crate) plan: Run,
    pub(crate) manifest: PathBuf,
    pub(crate) merged: Run,
    pub(crate) merged_xml: PathBuf,
}

/// The whole pipeline with a runner preset, as CI runs it, in the project `dir` with `env`
/// (besides an empty environment): `shard-plan --collect RUNNER -- ARGS` for `nodes` nodes,
/// each node's `shard-exec --runner RUNNER` (its report checked by check-junit), and
/// `shard-merge --plan --expect-nodes`. Files go to `work`.
pub(crate) fn pipeline(
    runner: &str,
    dir: &Path,
    env: &[(&str, std::ffi::OsString)],
    nodes: u32,
    work: &Path,
    args: &[&str],
) -> Pipeline {
    let run_in = |bin: &str, argv: &[&str]| {
        finish(
            Command::new(bin)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(dir)
                .args(argv)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    let n = nodes.to_string();
    let manifest = work.join("plan.tsv");
    let mut argv = vec![
        "--collect",
        runner,
        "--nodes",
        &n,
        "--manifest",
        path_str(&manifest),
    ];
    if !args.is_empty() {
        argv.push("--");
        argv.extend_from_slice(args);
    }
    let plan = run_in(env!("CARGO_BIN_EXE_shard-plan"), &argv);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let reports = work.join("reports");
    for node in 1..=nodes {
        let report = reports.join(format!("node-{node}.xml"));
        let shard = format!("{node}/{nodes}");
        let run = run_in(
            env!("CARGO_BIN_EXE_shard-exec"),
            &[
                "--runner",
                runner,
                "--manifest",
                path_str(&manifest),
                "--shard",
                &shard,
                "-j2",
                "--timeout",
                "5m",
                "--junit",
                path_str(&report),
            ],
        );
        assert!(
            run.code == 0 || run.code == 1,
            "node {shard}: {}",
            run.stderr
        );
        check_junit(&[&report]);
    }
    let merged_xml = work.join("junit.xml");
    let merged = run_in(
        env!("CARGO_BIN_EXE_shard-merge"),
        &[
            "--plan",
            path_str(&manifest),
            "--expect-nodes",
            &n,
            "-o",
            path_str(&merged_xml),
            path_str(&reports),
        ],
    );
    Pipeline {
        plan,
        manifest,
        merged,
        merged_xml,
    }
}
