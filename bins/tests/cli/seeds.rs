//! The switches of the two tools shardkit grew from, distributed-nose and nose's multiprocess
//! plugin, and what stands for each with shardkit: each row of docs/migrating-from-nose.md's tables is
//! backed by a test here or by the test the table names.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Run, finish, path_str, testdata};

fn golden_ids() -> String {
    path_str(&testdata().join("golden-plan/ids.txt")).to_string()
}

fn plan(args: &[&str], env: &[(&str, &str)]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_shard-plan"))
            .env_clear()
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// A run of [`exec_logging`] and the lines its processes logged.
struct Logged {
    run: Run,
    lines: Vec<String>,
}

/// shard-exec over `ids` with `args`, each process appending `SLOT PID IDS...` to a log;
/// returns the run and the log's lines.
fn exec_logging(dir: &Path, ids: &[&str], args: &[&str], env: &[(&str, &str)]) -> Logged {
    let list = dir.join("ids.txt");
    fs::write(&list, ids.join("\n")).unwrap();
    let log = dir.join("processes.log");
    let _ = fs::remove_file(&log);
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-exec"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOG", &log)
            .envs(env.iter().copied())
            .args(["--tests", path_str(&list)])
            .args(args)
            .args([
                "--",
                "sh",
                "-c",
                "echo \"$SHARD_SLOT $$ $*\" >> \"$LOG\"",
                "sh",
                "{ids}",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    let lines = fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    Logged { run, lines }
}

/// The ids each process ran, as sorted lists.
fn batches(lines: &[String]) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let mut ids: Vec<String> = l.split(' ').skip(2).map(String::from).collect();
            ids.sort();
            ids
        })
        .collect();
    all.sort();
    all
}

#[test]
fn nose_hash_by_class_groups_by_class_as_hash_by_class_did() {
    let ids = golden_ids();
    let all = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["--nodes", "3", "--all"];
        args.extend_from_slice(extra);
        args.push(&ids);
        let run = plan(&args, env);
        assert_eq!(run.code, 0, "{env:?}: {}", run.stderr);
        run.stdout
    };
    let by_class = all(&["--group-by", "class"], &[]);
    let by_id = all(&[], &[]);
    assert_ne!(
        by_class, by_id,
        "the golden ids have classes to keep together"
    );
    for on in ["1", "true", "YES", "on"] {
        assert_eq!(all(&[], &[("NOSE_HASH_BY_CLASS", on)]), by_class, "{on}");
    }
    for off in ["", "0", "false", "no", "off"] {
        assert_eq!(all(&[], &[("NOSE_HASH_BY_CLASS", off)]), by_id, "{off:?}");
    }
    // The flag and SHARD_GROUP_BY win over it.
    let set = [("NOSE_HASH_BY_CLASS", "1")];
    assert_eq!(all(&["--group-by", "none"], &set), by_id);
    let by_file = all(&["--group-by", "file"], &[]);
    assert_eq!(
        all(
            &[],
            &[("NOSE_HASH_BY_CLASS", "1"), ("SHARD_GROUP_BY", "file")]
        ),
        by_file
    );
    // The seed's whole environment: node 2 of 3, by class.
    let seed = plan(
        &[&ids],
        &[
            ("NOSE_NODES", "3"),
            ("NOSE_NODE_NUMBER", "2"),
            ("NOSE_HASH_BY_CLASS", "1"),
        ],
    );
    let flags = plan(&["--shard", "2/3", "--group-by", "class", &ids], &[]);
    assert_eq!(
        (seed.code, &seed.stdout),
        (0, &flags.stdout),
        "{}",
        seed.stderr
    );
    // A value that is neither is an error, not a guess.
    let bad = plan(
        &["--nodes", "3", "--all", &ids],
        &[("NOSE_HASH_BY_CLASS", "maybe")],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(bad.stdout, "");
    assert!(
        bad.stderr.contains("NOSE_HASH_BY_CLASS=maybe"),
        "{}",
        bad.stderr
    );

    // shard-exec reads it too, so that a class runs in one process as it was planned.
    let work = tempfile::tempdir().unwrap();
    let ids = ["m::A::x", "m::A::y", "m::B::z"];
    let Logged { run, lines } = exec_logging(work.path(), &ids, &["--batch-size", "1"], &set);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        batches(&lines),
        [vec!["m::A::x", "m::A::y"], vec!["m::B::z"]]
    );
}

#[test]
fn distributed_disabled_is_disabled_and_beats_the_nose_variables() {
    let ids = golden_ids();
    let nose = [("NOSE_NODES", "4"), ("NOSE_NODE_NUMBER", "2")];
    let every = {
        let mut lines: Vec<String> = fs::read_to_string(&ids)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines.join("\n") + "\n"
    };
    let share = plan(&[&ids], &nose);
    assert_eq!(share.code, 0, "{}", share.stderr);
    assert_ne!(share.stdout, every);
    for (args, env) in [
        (vec!["--disabled", ids.as_str()], nose.to_vec()),
        (
            vec![ids.as_str()],
            [&nose[..], &[("SHARD_DISABLED", "1")]].concat(),
        ),
    ] {
        let run = plan(&args, &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, every);
    }
}

#[test]
fn a_wrong_nose_setting_fails_closed_where_the_seed_ran_everything() {
    let ids = golden_ids();
    for env in [
        [("NOSE_NODES", "2"), ("NOSE_NODE_NUMBER", "0")],
        [("NOSE_NODES", "2"), ("NOSE_NODE_NUMBER", "3")],
        [("NOSE_NODES", "2"), ("NOSE_NODE_NUMBER", "one")],
        [("NOSE_NODES", "0"), ("NOSE_NODE_NUMBER", "1")],
    ] {
        let run = plan(&[&ids], &env);
        assert_eq!(run.code, 2, "{env:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{env:?}: nothing planned");
        assert!(run.stderr.contains("NOSE_"), "{env:?}: {}", run.stderr);
    }
}

#[test]
fn processes_is_jobs_each_process_in_a_slot_of_its_own() {
    let work = tempfile::tempdir().unwrap();
    let ids = ["t1", "t2", "t3", "t4", "t5", "t6"];
    // Each test sleeps, so the first three overlap: three slots in use, never a fourth.
    let list = work.path().join("ids.txt");
    fs::write(&list, ids.join("\n")).unwrap();
    let log = work.path().join("slots.log");
    let run = finish(
        Command::new(env!("CARGO_BIN_EXE_shard-exec"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOG", &log)
            .args(["--tests", path_str(&list), "-j", "3", "--"])
            .args([
                "sh",
                "-c",
                "echo \"$SHARD_SLOT\" >> \"$LOG\"; sleep 1",
                "sh",
                "{}",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut slots: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(slots.len(), 6);
    slots.sort();
    slots.dedup();
    assert_eq!(slots, ["1", "2", "3"]);
}

#[test]
fn every_batch_is_a_fresh_process_as_with_process_restartworker() {
    let work = tempfile::tempdir().unwrap();
    let ids = ["m::A::x", "m::A::y", "m::B::z", "m::C::w"];
    let Logged { run, lines } = exec_logging(
        work.path(),
        &ids,
        &["--group-by", "class", "--batch-size", "1", "-j1"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines.len(), 3, "a process a class: {lines:?}");
    let mut pids: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(
        pids.len(),
        3,
        "one slot, a new process each time: {lines:?}"
    );
}

#[test]
fn split_lets_a_class_spread_as_multiprocess_can_split_did() {
    let work = tempfile::tempdir().unwrap();
    let ids = ["m::A::x", "m::A::y", "m::B::z", "m::B::w"];
    let args = ["--group-by", "class", "--batch-size", "1", "-j2"];
    let Logged { run, lines } = exec_logging(work.path(), &ids, &args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        batches(&lines),
        [vec!["m::A::x", "m::A::y"], vec!["m::B::w", "m::B::z"]]
    );
    let split = [&args[..], &["--split", "m::A"]].concat();
    let Logged { run, lines } = exec_logging(work.path(), &ids, &split, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        batches(&lines),
        [vec!["m::A::x"], vec!["m::A::y"], vec!["m::B::w", "m::B::z"]]
    );
}
