//! The manifest (`--manifest`): it holds the whole plan, goes to a file, through a symlink or
//! to stdout, and a failed run, a closed or a full stdout never leave a wrong one behind.

use std::process::Stdio;

use super::{fails_with, golden_ids, ok, plan, plan_cmd, plan_stdin};
use crate::support::path_str;

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
