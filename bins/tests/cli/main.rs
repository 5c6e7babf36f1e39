//! Drives the real binaries: exit code, stdout and stderr together.

#[allow(dead_code)]
#[path = "../../../lib/tests/support/suite.rs"]
mod suite;

mod collect;
mod docs;
mod e2e;
mod empty;
mod exec;
mod kill;
mod merge;
mod recipes;
mod seeds;
mod setup;
mod timings;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn golden_ids() -> PathBuf {
    testdata().join("golden-plan/ids.txt")
}

/// shard-plan with a clean environment (no CI variables of the machine running the tests).
fn plan_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-plan"));
    cmd.env_clear().stdin(Stdio::null());
    cmd
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

fn plan(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = plan_cmd();
    cmd.args(args).envs(env.iter().copied());
    finish(cmd.output().unwrap())
}

fn plan_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut cmd = plan_cmd();
    cmd.args(args);
    with_stdin(cmd, input)
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

fn ok(run: &Run) {
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

#[test]
fn each_ci_convention_gives_the_same_list_as_node_flags() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    // (variables naming node 2 of 3, with the convention's own base)
    let conventions: &[&[(&str, &str)]] = &[
        &[("SHARD_NODES", "3"), ("SHARD_NODE", "2")],
        &[("NOSE_NODES", "3"), ("NOSE_NODE_NUMBER", "2")],
        &[
            ("GITLAB_CI", "true"),
            ("CI_NODE_TOTAL", "3"),
            ("CI_NODE_INDEX", "2"),
        ],
        &[("CIRCLE_NODE_TOTAL", "3"), ("CIRCLE_NODE_INDEX", "1")],
        &[
            ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
            ("BUILDKITE_PARALLEL_JOB", "1"),
        ],
        &[("SEMAPHORE_JOB_COUNT", "3"), ("SEMAPHORE_JOB_INDEX", "2")],
        &[("TEST_TOTAL_SHARDS", "3"), ("TEST_SHARD_INDEX", "1")],
        &[("GTEST_TOTAL_SHARDS", "3"), ("GTEST_SHARD_INDEX", "1")],
        &[("JOB_COMPLETION_INDEX", "1"), ("SHARD_NODES", "3")],
    ];
    let expected = plan(&["--nodes", "3", "--node", "2", ids], &[]);
    ok(&expected);
    assert!(!expected.stdout.is_empty());
    let shard = plan(&["--shard", "2/3", ids], &[]);
    ok(&shard);
    assert_eq!(shard.stdout, expected.stdout);
    for vars in conventions {
        let run = plan(&[ids], vars);
        ok(&run);
        assert_eq!(run.stdout, expected.stdout, "{vars:?}");
        assert!(run.stderr.contains("node 2 of 3 from"), "{}", run.stderr);
    }
    // Kubernetes gives only the index; --nodes gives N.
    let run = plan(&["--nodes", "3", ids], &[("JOB_COMPLETION_INDEX", "1")]);
    ok(&run);
    assert_eq!(run.stdout, expected.stdout);
    assert!(
        run.stderr.contains(
            "node 2 of 3 from Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1) with --nodes 3"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn the_source_is_named_once() {
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[
            ("GITLAB_CI", "true"),
            ("CI_NODE_TOTAL", "2"),
            ("CI_NODE_INDEX", "1"),
        ],
    );
    ok(&run);
    assert_eq!(
        run.stderr
            .matches("from GitLab (CI_NODE_INDEX=1, CI_NODE_TOTAL=2)")
            .count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn bad_node_settings_exit_2_with_nothing_on_stdout() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &["--nodes", "3", "--node", "0"],
            &[],
            "--node 0: node 0 is not one of the 3 nodes",
        ),
        (
            &["--nodes", "3", "--node", "4"],
            &[],
            "--node 4: node 4 is not one of the 3 nodes",
        ),
        (
            &["--shard", "4/3"],
            &[],
            "--shard 4/3: node 4 is not one of the 3 nodes",
        ),
        (
            &["--nodes", "0", "--node", "1"],
            &[],
            "--nodes 0: the number of nodes must be at least 1",
        ),
        (
            &["--shard", "1/0"],
            &[],
            "--shard 1/0: the number of nodes must be at least 1",
        ),
        (
            &["--nodes", "three", "--node", "1"],
            &[],
            "invalid value 'three' for '--nodes <N>'",
        ),
        (
            &["--shard", "1-3"],
            &[],
            "invalid value '1-3' for '--shard <K/N>'",
        ),
        (
            &[],
            &[("SHARD_NODES", "3"), ("SHARD_NODE", "x")],
            "SHARD_NODE=x (shardkit): not a number",
        ),
        (
            &[],
            &[("SHARD_NODES", "0"), ("SHARD_NODE", "1")],
            "SHARD_NODES=0 (shardkit): the number of nodes must be at least 1",
        ),
        (
            &[],
            &[("SHARD_NODES", "3"), ("SHARD_NODE", "4")],
            "node 4 is not one of the 3 nodes",
        ),
        (
            &[],
            &[("NOSE_NODES", "3"), ("NOSE_NODE_NUMBER", "0")],
            "NOSE_NODE_NUMBER=0 (distributed-nose): distributed-nose counts nodes from 1",
        ),
        (
            &[],
            &[("CIRCLE_NODE_TOTAL", "3"), ("CIRCLE_NODE_INDEX", "3")],
            "node 4 is not one of the 3 nodes",
        ),
        (
            &[],
            &[("TEST_TOTAL_SHARDS", "3")],
            "TEST_TOTAL_SHARDS (Bazel): it is set but TEST_SHARD_INDEX is not",
        ),
        (
            &[],
            &[("JOB_COMPLETION_INDEX", "0")],
            "the number of nodes is not known: pass --nodes N",
        ),
        (
            &["--shard", "1/3", "--nodes", "4"],
            &[],
            "--nodes 4: disagrees with --shard 1/3",
        ),
        (
            &["--shard", "1/3", "--node", "2"],
            &[],
            "--node 2: disagrees with --shard 1/3",
        ),
        (
            &[],
            &[
                ("SHARD_NODES", "3"),
                ("SHARD_NODE", "1"),
                ("CIRCLE_NODE_TOTAL", "3"),
                ("CIRCLE_NODE_INDEX", "1"),
            ],
            "two sources disagree",
        ),
        (
            &["--nodes", "4"],
            &[("GTEST_TOTAL_SHARDS", "3"), ("GTEST_SHARD_INDEX", "1")],
            "--nodes 4: disagrees with GoogleTest",
        ),
        (&[], &[], "no node count"),
        (&["--nodes", "3"], &[], "no node chosen"),
        (&["--node", "2"], &[], "the number of nodes is not known"),
        (
            &["--shard", "1/2", "--load-factor", "0.9"],
            &[],
            "it must be at least 1",
        ),
        (
            &["--shard", "1/2", "--vnodes", "0"],
            &[],
            "invalid vnodes `0`",
        ),
        (
            &["--shard", "1/2", "--separator", ""],
            &[],
            "invalid separator ``",
        ),
        (
            &["--shard", "1/2", "--group-by", "module"],
            &[],
            "invalid value 'module' for '--group-by <HOW>'",
        ),
        (
            &["--shard", "1/2"],
            &[("SHARD_GROUP_BY", "module")],
            "SHARD_GROUP_BY=module: invalid group-by `module`: expected none, class or file",
        ),
        (
            &["--shard", "1/2"],
            &[("SHARD_DISABLED", "maybe")],
            "SHARD_DISABLED=maybe: expected 1 or 0 (true/false, yes/no, on/off)",
        ),
    ];
    for (args, env, needle) in cases {
        let mut all: Vec<&str> = args.to_vec();
        all.push(ids);
        fails_with(&plan(&all, env), needle);
    }
}

#[test]
fn never_falls_back_to_every_test() {
    // The seed tool ran the whole suite on a bad node number; this must not.
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[("NOSE_NODES", "2"), ("NOSE_NODE_NUMBER", "3")],
    );
    fails_with(&run, "node 3 is not one of the 2 nodes");
}

#[test]
fn flags_override_the_environment_and_say_so() {
    let ids = golden_ids();
    let ids = path_str(&ids);
    let flags = plan(&["--shard", "1/2", ids], &[]);
    let run = plan(
        &["--shard", "1/2", ids],
        &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "3")],
    );
    ok(&run);
    assert_eq!(run.stdout, flags.stdout);
    assert!(
        run.stderr.contains(
            "note: the flags override CircleCI (CIRCLE_NODE_INDEX=3, CIRCLE_NODE_TOTAL=4)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_ids_exit_2_naming_the_place() {
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"a\nb\na\n"),
        "duplicate test id `a`: first at <stdin>:1, again at <stdin>:3",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"ok\nbad \xff id\n"),
        "<stdin>:2:5: test id is not valid UTF-8",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"\n\r\n  \n"),
        "no test ids in <stdin>",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2", "-"], b"x\x1b[31m\n"),
        "<stdin>:1:2: test id contains the control character U+001B",
    );
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.txt");
    let two = dir.path().join("two.txt");
    std::fs::write(&one, "a\nb\n").unwrap();
    std::fs::write(&two, "c\r\nb\r\n").unwrap();
    fails_with(
        &plan(&["--shard", "1/2", path_str(&one), path_str(&two)], &[]),
        &format!(
            "duplicate test id `b`: first at {}:2, again at {}:2",
            one.display(),
            two.display()
        ),
    );
    let missing = dir.path().join("missing.txt");
    fails_with(
        &plan(&["--shard", "1/2", path_str(&missing)], &[]),
        &format!("cannot open {}", missing.display()),
    );
    fails_with(
        &plan(&["--shard", "1/2", "-", "-"], &[]),
        "`-` (stdin) is named more than once",
    );
}

#[test]
fn input_sources_and_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.txt");
    let two = dir.path().join("two.txt");
    std::fs::write(&one, "t.py::test_a\r\n\r\nt.py::test b [é]\r\n").unwrap();
    std::fs::write(&two, "u.py::test_c").unwrap();
    let files = plan(
        &[
            "--nodes",
            "1",
            "--node",
            "1",
            path_str(&one),
            path_str(&two),
        ],
        &[],
    );
    ok(&files);
    assert_eq!(
        files.stdout,
        "t.py::test b [é]\nt.py::test_a\nu.py::test_c\n"
    );
    let stdin = plan_stdin(
        &["--shard", "1/1"],
        "u.py::test_c\nt.py::test_a\nt.py::test b [é]\n".as_bytes(),
    );
    ok(&stdin);
    assert_eq!(stdin.stdout, files.stdout);
}

#[test]
fn all_nodes_together_hold_every_id_once_and_agree_with_all() {
    let ids_path = golden_ids();
    let ids_path = path_str(&ids_path);
    let input = std::fs::read_to_string(ids_path).unwrap();
    for by in ["none", "class", "file"] {
        let all = plan(&["--nodes", "4", "--all", "--group-by", by, ids_path], &[]);
        ok(&all);
        let mut from_nodes = String::new();
        for k in 1..=4 {
            let run = plan(
                &["--shard", &format!("{k}/4"), "--group-by", by, ids_path],
                &[],
            );
            ok(&run);
            for id in run.stdout.lines() {
                from_nodes.push_str(&format!("{k}\t{id}\n"));
            }
        }
        assert_eq!(from_nodes, all.stdout, "group-by {by}");
        let mut listed: Vec<&str> = all
            .stdout
            .lines()
            .map(|l| l.split_once('\t').unwrap().1)
            .collect();
        let mut expected: Vec<&str> = input.lines().collect();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);
    }
}

#[test]
fn output_and_fingerprint_do_not_depend_on_input_order() {
    let ids_path = golden_ids();
    let input = std::fs::read_to_string(&ids_path).unwrap();
    let mut reversed: Vec<&str> = input.lines().collect();
    reversed.reverse();
    let reversed = reversed.join("\n");
    for args in [
        &["--shard", "2/3"][..],
        &["--nodes", "3", "--all"],
        &["--nodes", "3", "--fingerprint"],
        &["--nodes", "3", "--fingerprint", "--group-by", "class"],
    ] {
        let a = plan_stdin(args, input.as_bytes());
        let b = plan_stdin(args, reversed.as_bytes());
        ok(&a);
        assert_eq!(a.stdout, b.stdout, "{args:?}");
    }
    let fp = plan_stdin(&["--nodes", "3", "--fingerprint"], input.as_bytes());
    assert!(fp.stdout.starts_with("sha256:") && fp.stdout.trim_end().len() == 7 + 64);
    // The fingerprint changes with N, the parameters and the ids.
    for args in [
        &["--nodes", "4", "--fingerprint"][..],
        &["--nodes", "3", "--fingerprint", "--vnodes", "100"],
        &["--nodes", "3", "--fingerprint", "--load-factor", "1.1"],
    ] {
        let other = plan_stdin(args, input.as_bytes());
        ok(&other);
        assert_ne!(other.stdout, fp.stdout, "{args:?}");
    }
    let fewer = plan_stdin(
        &["--nodes", "3", "--fingerprint"],
        input.replacen("tests/", "tests2/", 1).as_bytes(),
    );
    assert_ne!(fewer.stdout, fp.stdout);
}

#[test]
fn manifest_holds_the_whole_plan() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plan.tsv");
    let ids = golden_ids();
    let ids = path_str(&ids);
    // --nodes without a node: write the manifest, print nothing.
    let run = plan(
        &[
            "--nodes",
            "3",
            "--group-by",
            "class",
            "--manifest",
            path_str(&manifest),
            ids,
        ],
        &[],
    );
    ok(&run);
    assert_eq!(run.stdout, "");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let groups = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let fp = plan(
        &["--nodes", "3", "--group-by", "class", "--fingerprint", ids],
        &[],
    );
    assert_eq!(
        header,
        [
            "#shardkit-manifest",
            "format=1",
            "algorithm=bounded-ring/2",
            &format!("vnodes={}", shardkit::ring::DEFAULT_VNODES),
            "load-factor=1.05",
            "group-by=class",
            "separator=::",
            "nodes=3",
            "ids=36",
            &format!("groups={groups}"),
            &format!("fingerprint={}", fp.stdout.trim_end()),
        ]
    );
    let all = plan(&["--nodes", "3", "--group-by", "class", "--all", ids], &[]);
    let mut from_manifest = String::new();
    for line in lines {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        assert_eq!(fields.len(), 4, "{line}");
        assert_eq!(fields[1], "1", "weight of {line}");
        assert!(
            fields[3].starts_with(fields[2]),
            "group {} of {}",
            fields[2],
            fields[3]
        );
        from_manifest.push_str(&format!("{}\t{}\n", fields[0], fields[3]));
    }
    assert_eq!(from_manifest, all.stdout);

    // With a node, the manifest and the node's ids.
    std::fs::remove_file(&manifest).unwrap();
    let run = plan(
        &["--shard", "1/3", "--manifest", path_str(&manifest), ids],
        &[],
    );
    ok(&run);
    let node1 = plan(&["--shard", "1/3", ids], &[]);
    assert_eq!(run.stdout, node1.stdout);
    assert!(
        std::fs::read_to_string(&manifest)
            .unwrap()
            .starts_with("#shardkit-manifest\t")
    );
}

#[test]
fn a_failed_run_leaves_an_existing_manifest_alone() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plan.tsv");
    std::fs::write(&manifest, "previous plan\n").unwrap();
    let run = plan_stdin(
        &["--nodes", "2", "--manifest", path_str(&manifest)],
        b"a\nb\na\n",
    );
    fails_with(&run, "duplicate test id");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "previous plan\n"
    );
    // A manifest that cannot be written (its folder is a file) is an error too.
    let nowhere = dir.path().join("plan.tsv/plan.tsv");
    let run = plan_stdin(&["--nodes", "2", "--manifest", path_str(&nowhere)], b"a\n");
    fails_with(&run, "cannot write");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A folder that is not there yet is made.
    let deeper = dir.path().join("new/plan.tsv");
    ok(&plan_stdin(
        &["--nodes", "2", "--manifest", path_str(&deeper)],
        b"a\n",
    ));
    assert!(deeper.exists());
}

#[test]
fn an_empty_node_prints_nothing_and_says_so() {
    let run = plan_stdin(&["--shard", "1/8"], b"only::one\n");
    let busy = (1..=8)
        .map(|k| plan_stdin(&["--shard", &format!("{k}/8")], b"only::one\n"))
        .filter(|r| {
            ok(r);
            !r.stdout.is_empty()
        })
        .count();
    assert_eq!(busy, 1);
    ok(&run);
    if run.stdout.is_empty() {
        assert!(
            run.stderr.contains("node 1 has nothing to do"),
            "{}",
            run.stderr
        );
    }
    let idle = (1..=8)
        .map(|k| plan_stdin(&["--shard", &format!("{k}/8")], b"only::one\n"))
        .find(|r| r.stdout.is_empty())
        .unwrap();
    assert_eq!(idle.code, 0);
    assert!(idle.stderr.contains("has nothing to do"), "{}", idle.stderr);
}

#[test]
fn disabled_plans_every_id_whatever_the_node() {
    let ids = golden_ids();
    let input = std::fs::read_to_string(&ids).unwrap();
    for (args, env) in [
        (&["--disabled", "--shard", "2/4"][..], &[][..]),
        (&["--shard", "2/4"], &[("SHARD_DISABLED", "1")]),
        (&[], &[("SHARD_DISABLED", "true"), ("SHARD_NODE", "9")]),
    ] {
        let mut all: Vec<&str> = args.to_vec();
        all.push(path_str(&ids));
        let run = plan(&all, env);
        ok(&run);
        let mut sorted: Vec<&str> = input.lines().collect();
        sorted.sort();
        assert_eq!(run.stdout, sorted.join("\n") + "\n");
        assert!(run.stderr.contains("sharding disabled"), "{}", run.stderr);
        // A leftover SHARD_DISABLED beside node flags is worth a warning.
        assert_eq!(
            run.stderr.contains("warning: sharding is disabled"),
            !args.is_empty(),
            "{}",
            run.stderr
        );
    }
    // A false value leaves sharding on.
    let run = plan(
        &["--shard", "2/4", path_str(&ids)],
        &[("SHARD_DISABLED", "0")],
    );
    ok(&run);
    assert!(run.stdout.lines().count() < input.lines().count());
}

#[test]
fn bazel_status_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let ids = golden_ids();
    let run = plan(
        &[path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", path_str(&status)),
        ],
    );
    ok(&run);
    assert!(status.exists());
    // Touched when the flags name the node too: Bazel only needs to know we shard.
    let flagged = dir.path().join("flagged");
    let run = plan(
        &["--shard", "1/2", path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", path_str(&flagged)),
        ],
    );
    ok(&run);
    assert!(flagged.exists());
    // A status file that cannot be touched is an error, and no manifest is left behind.
    let manifest = dir.path().join("plan.tsv");
    let run = plan(
        &["--manifest", path_str(&manifest), path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_SHARD_STATUS_FILE", "/nonexistent/dir/status"),
        ],
    );
    fails_with(
        &run,
        "cannot touch the shard status file /nonexistent/dir/status",
    );
    assert!(!manifest.exists());
    // Not touched on an error.
    let other = dir.path().join("other");
    let run = plan(
        &[path_str(&ids)],
        &[
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "2"),
            ("TEST_SHARD_STATUS_FILE", path_str(&other)),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(!other.exists());
}

#[test]
fn summary_goes_to_stderr() {
    let ids = golden_ids();
    let run = plan(
        &["--nodes", "3", "--fingerprint", "--summary", path_str(&ids)],
        &[],
    );
    ok(&run);
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(run.stderr.contains("weight / mean"), "{}", run.stderr);
    let all = plan(&["--nodes", "3", "--all", path_str(&ids)], &[]);
    let mut counts = [0usize; 3];
    for line in all.stdout.lines() {
        counts[line.split('\t').next().unwrap().parse::<usize>().unwrap() - 1] += 1;
    }
    let mean = counts.iter().sum::<usize>() as f64 / 3.0;
    let max = *counts.iter().max().unwrap() as f64;
    let expected = format!("max/mean {:.3}", max / mean);
    assert!(
        run.stderr.contains(&expected),
        "{expected} not in {}",
        run.stderr
    );
    let rows = run.stderr.lines().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, 4, "{}", run.stderr); // header and three nodes
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let ids = golden_ids();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plan.tsv");
    let mut child = plan_cmd()
        .args([
            "--nodes",
            "2",
            "--all",
            "--manifest",
            path_str(&manifest),
            path_str(&ids),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
    // The reader stopping early does not cost the manifest.
    assert!(
        std::fs::read_to_string(&manifest)
            .unwrap()
            .starts_with("#shardkit-manifest")
    );
}

/// shard-plan's `--all` listing and fingerprint, in the reference script's format.
fn plan_listing(args: &[&str], ids: &[u8]) -> String {
    let mut all_args = args.to_vec();
    all_args.push("--all");
    let all = plan_stdin(&all_args, ids);
    ok(&all);
    let mut fp_args = args.to_vec();
    fp_args.push("--fingerprint");
    let fp = plan_stdin(&fp_args, ids);
    ok(&fp);
    format!("{}# fingerprint {}", all.stdout, fp.stdout)
}

/// The reference script's listing for the same arguments.
fn reference_listing(nodes: u32, args: &[&str], ids: &[u8]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/reference_plan.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(nodes.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs scripts/reference_plan.py");
    child.stdin.take().unwrap().write_all(ids).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference_plan.py {nodes} {args:?} failed"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_reference_script_agrees_on_random_inputs() {
    let odd = [
        "::x",
        "a::b[::c]",
        "é::ü::ö",
        "[",
        "x[",
        "a::::b",
        "a::b",
        "a::b::c",
        "a.b.c.d",
        "a/b/c",
        " lead",
        "trail ",
        "ü",
        "a::b::c[d e]",
        "p::q::r::s",
    ];
    let mut rng = suite::Rng::new(7);
    for case in 0..24u64 {
        let mut ids: Vec<String> = suite::pytest_ids(1 + rng.below(120) as usize, case);
        ids.extend(
            odd.iter()
                .filter(|_| rng.below(2) == 0)
                .map(|s| s.to_string()),
        );
        ids.sort();
        ids.dedup();
        let text = ids.join("\n") + "\n";
        let nodes = [1u32, 2, 3, 7, 16][rng.below(5) as usize];
        let vnodes = ["1", "3", "16", "1024"][rng.below(4) as usize];
        let factor = ["1", "1.05", "1.3", "2.000001"][rng.below(4) as usize];
        let by = ["none", "class", "file"][rng.below(3) as usize];
        let separator = ["::", ".", "/"][rng.below(3) as usize];
        let n = nodes.to_string();
        let params = [
            "--vnodes",
            vnodes,
            "--load-factor",
            factor,
            "--group-by",
            by,
            "--separator",
            separator,
        ];
        let mut args = vec!["--nodes", &n];
        args.extend(params);
        assert_eq!(
            plan_listing(&args, text.as_bytes()),
            reference_listing(nodes, &params, text.as_bytes()),
            "case {case}: {nodes} nodes, {params:?}"
        );
    }
}

#[test]
fn the_readme_algorithm_reimplemented_in_python_agrees() {
    // scripts/reference_plan.py was written from docs/algorithm.md's description alone; if it agrees
    // with the golden vectors, and shard-plan does too, the description is complete.
    let dir = testdata().join("golden-plan");
    let ids = std::fs::read(dir.join("ids.txt")).unwrap();
    let vnodes = shardkit::ring::DEFAULT_VNODES.to_string();
    for by in ["none", "class", "file"] {
        for nodes in 2..=5 {
            let want = std::fs::read_to_string(dir.join(format!("{by}-{nodes}.tsv"))).unwrap();
            let params = ["--vnodes", &vnodes, "--group-by", by];
            assert_eq!(
                reference_listing(nodes, &params, &ids),
                want,
                "{by}, {nodes} nodes"
            );
            let n = nodes.to_string();
            let args = ["--nodes", &n, "--group-by", by];
            assert_eq!(plan_listing(&args, &ids), want, "{by}, {nodes} nodes");
        }
    }
}

#[test]
fn a_failed_stdout_leaves_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plan.tsv");
    let ids = golden_ids();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = plan_cmd()
        .args([
            "--nodes",
            "2",
            "--all",
            "--manifest",
            path_str(&manifest),
            path_str(&ids),
        ])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(!manifest.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn manifest_through_a_symlink_and_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.tsv");
    let link = dir.path().join("link.tsv");
    std::fs::write(&real, "old\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let ids = golden_ids();
    let run = plan(
        &[
            "--nodes",
            "2",
            "--manifest",
            path_str(&link),
            path_str(&ids),
        ],
        &[],
    );
    ok(&run);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let written = std::fs::read_to_string(&real).unwrap();
    assert!(written.starts_with("#shardkit-manifest\t"), "{written}");

    // `-` (or /dev/stdout) puts the manifest on stdout, instead of ids.
    for stdout in ["-", "/dev/stdout"] {
        let run = plan(
            &["--shard", "1/2", "--manifest", stdout, path_str(&ids)],
            &[],
        );
        ok(&run);
        assert_eq!(run.stdout, written);
    }
    // Also when stdout is a file: it is not replaced behind the shell's back.
    let out = dir.path().join("out.txt");
    let status = plan_cmd()
        .args([
            "--shard",
            "1/2",
            "--manifest",
            "/dev/stdout",
            path_str(&ids),
        ])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
    fails_with(
        &plan(
            &["--nodes", "2", "--all", "--manifest", "-", path_str(&ids)],
            &[],
        ),
        "--manifest - writes the manifest to stdout",
    );
}

#[test]
fn the_same_file_twice_is_an_error() {
    let ids = golden_ids();
    fails_with(
        &plan(&["--shard", "1/2", path_str(&ids), path_str(&ids)], &[]),
        "is named more than once",
    );
}

#[test]
fn padded_ids_and_byte_order_marks() {
    let run = plan_stdin(
        &["--shard", "1/1"],
        "\u{feff}a.py::t\nb.py::t \n".as_bytes(),
    );
    ok(&run);
    assert_eq!(run.stdout, "a.py::t\nb.py::t \n");
    assert!(
        run.stderr.contains("warning: 1 id(s) begin or end with whitespace, which stays part of the id; the first is `b.py::t ` at <stdin>:2"),
        "{}",
        run.stderr
    );
}

#[test]
fn too_many_nodes_names_the_setting() {
    let ids = golden_ids();
    fails_with(
        &plan(
            &[path_str(&ids)],
            &[("SHARD_NODES", "100000"), ("SHARD_NODE", "1")],
        ),
        "SHARD_NODES=100000 (shardkit): the number of nodes must be at most 10000",
    );
    fails_with(
        &plan(
            &[
                "--nodes",
                "10000",
                "--node",
                "1",
                "--vnodes",
                "4096",
                path_str(&ids),
            ],
            &[],
        ),
        "ring points allowed; use fewer --vnodes",
    );
}

#[test]
fn the_docs_show_a_real_manifest() {
    let readme = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/shard-plan.md"),
    )
    .unwrap();
    let ids = golden_ids();
    let run = plan(
        &[
            "--nodes",
            "4",
            "--group-by",
            "class",
            "--manifest",
            "-",
            path_str(&ids),
        ],
        &[],
    );
    ok(&run);
    let head: String = run
        .stdout
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```\n{head}```")),
        "docs/shard-plan.md's manifest example differs from:\n{head}"
    );
}

#[test]
fn each_docs_usage_block_is_the_binarys_help() {
    for (name, exe) in [
        ("shard-plan", env!("CARGO_BIN_EXE_shard-plan")),
        ("shard-exec", env!("CARGO_BIN_EXE_shard-exec")),
        ("shard-merge", env!("CARGO_BIN_EXE_shard-merge")),
    ] {
        let page = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/{name}.md"));
        let text = std::fs::read_to_string(&page).unwrap();
        let help = finish(Command::new(exe).env_clear().arg("-h").output().unwrap());
        assert_eq!(help.code, 0);
        let head = format!("# {name}\n\n`{name} -h` (`--help` says more):\n\n```\n");
        let start = text
            .find(&head)
            .unwrap_or_else(|| panic!("{} has no usage block for {name}", page.display()))
            + head.len();
        let block = &text[start..start + text[start..].find("```\n").unwrap()];
        assert_eq!(
            block,
            help.stdout,
            "{}'s usage block differs from `{name} -h`: paste the new help in",
            page.display()
        );
    }
}
