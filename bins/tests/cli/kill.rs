//! shard-exec killed hard (SIGKILL, as the OOM killer or a CI timeout does it): the results of
//! the tests that finished are kept for `shard-merge --salvage`, and nothing of the run goes on
//! running.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shardkit::junit::cases::{Case, Status, read_cases};

use crate::support::{Run, finish, path_str};

/// A test command by its id: `a-pass-*` passes, `a-fail-*` fails, `z-long-*` starts a
/// grandchild in its process group and sleeps.
const SCRIPT: &str = r#"case "$1" in
  a-pass-*) ;;
  a-fail-*) echo "expected 2, got 3" >&2; exit 1 ;;
  z-long-*) sleep 300 & sleep 300 ;;
esac"#;

/// shard-exec in `work`, with a clean environment but PATH and `MARK`, which every process
/// of the run inherits.
fn exec_cmd(work: &Path, mark: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shard-exec"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SHARDKIT_KILL_TEST", mark)
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

fn tool(name: &str, work: &Path, args: &[&str]) -> Run {
    let exe = match name {
        "shard-plan" => env!("CARGO_BIN_EXE_shard-plan"),
        _ => env!("CARGO_BIN_EXE_shard-merge"),
    };
    finish(
        Command::new(exe)
            .env_clear()
            .current_dir(work)
            .args(args)
            .output()
            .unwrap(),
    )
}

/// A mark no other process on the machine carries.
fn unique_mark(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A live process of a run, found by its mark.
#[derive(Debug)]
struct Process {
    #[expect(dead_code, reason = "only shown, in the failure messages")]
    pid: u32,
    cmdline: String,
}

/// The live processes (not zombies) whose environment holds `SHARDKIT_KILL_TEST=mark`.
fn marked(mark: &str) -> Vec<Process> {
    let needle = format!("SHARDKIT_KILL_TEST={mark}");
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let dir = entry.path();
        // A zombie's environment reads as empty: it counts as gone.
        let Ok(environ) = fs::read(dir.join("environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            continue;
        }
        let zombie = fs::read_to_string(dir.join("stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if zombie {
            continue;
        }
        let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        found.push(Process {
            pid,
            cmdline: cmdline.trim_end().to_string(),
        });
    }
    found
}

/// Waits up to 20 s for `done`, polling; whether it came.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(25));
    }
    done()
}

fn cases_of(path: &Path) -> Vec<Case> {
    read_cases(fs::File::open(path).unwrap()).unwrap()
}

/// Node 2's share of the plan: the quick ids, which end at once, and the long ones, which
/// sleep.
struct NodeTwo {
    quick: Vec<String>,
    long: Vec<String>,
}

/// A plan of 2 nodes over quick and long ids; node 2's share.
fn plan(work: &Path) -> NodeTwo {
    let mut ids: Vec<String> = (1..=9).map(|n| format!("a-pass-{n}")).collect();
    ids.extend((1..=3).map(|n| format!("a-fail-{n}")));
    ids.extend((1..=8).map(|n| format!("z-long-{n}")));
    fs::write(work.join("ids.txt"), ids.join("\n") + "\n").unwrap();
    let run = tool(
        "shard-plan",
        work,
        &["--nodes", "2", "--all", "--manifest", "plan.tsv", "ids.txt"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mine: Vec<String> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("2\t"))
        .map(str::to_string)
        .collect();
    let (quick, long): (Vec<String>, Vec<String>) =
        mine.into_iter().partition(|id| id.starts_with("a-"));
    assert!(
        quick.iter().any(|id| id.starts_with("a-pass"))
            && quick.iter().any(|id| id.starts_with("a-fail"))
            && long.len() >= 3,
        "node 2 needs passing, failing and at least 3 long ids: {quick:?} {long:?}"
    );
    NodeTwo { quick, long }
}

#[test]
fn a_killed_run_keeps_what_finished_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let NodeTwo { quick, long } = plan(work);
    let mark = unique_mark("killed");
    kill_once_the_quick_tests_finished(work, &mark, &quick);

    let gone = wait_for(|| marked(&mark).is_empty());
    assert!(
        gone,
        "processes of the killed run still run: {:?}",
        marked(&mark)
    );

    // The journal is all there is; the report was never written.
    let out = work.join("out");
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["node-2.journal.xml"]);

    // A plain merge refuses it, saying what to do.
    let run = tool("shard-merge", work, &["out"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("journal of a shard-exec run that did not end")
            && run.stderr.contains("--salvage"),
        "{}",
        run.stderr
    );
    salvage_keeps_the_quick_tests_and_names_the_long_ones_missing(work, &quick, &long);
}

/// Runs node 2 in two slots and kills shard-exec (SIGKILL) once the quick tests finished and
/// two long ones hold both slots, after checking that its guardian was among its processes.
fn kill_once_the_quick_tests_finished(work: &Path, mark: &str, quick: &[String]) {
    // Two slots: the quick ids (first in the plan's order) finish, then two long ones start
    // and hold both slots; the other long ones never start.
    let mut child = exec_cmd(work, mark)
        .args([
            "--manifest",
            "plan.tsv",
            "--shard",
            "2/2",
            "-j2",
            "--retries",
            "1",
            "--junit",
            "out/node-2.xml",
            "--",
            "sh",
            "-c",
            SCRIPT,
            "_",
            "{}",
        ])
        .stdout(Stdio::null())
        .stderr(fs::File::create(work.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let journal = work.join("out/node-2.journal.xml");
    let finished = || {
        fs::read_to_string(&journal)
            .is_ok_and(|text| text.matches("</testcase>").count() == quick.len())
    };
    let sleeping = || {
        marked(mark)
            .iter()
            .filter(|p| p.cmdline == "sleep 300")
            .count()
            == 4
    };
    let ready = wait_for(|| finished() && sleeping());
    let before = marked(mark);
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = fs::read_to_string(work.join("stderr.txt")).unwrap();
    assert!(
        ready,
        "the quick tests did not finish: {before:?}\n{stderr}"
    );
    // Among the processes of the run: the guardian, beside the two tests and their sleeps.
    assert!(
        before
            .iter()
            .any(|p| p.cmdline.ends_with("--internal-guardian")),
        "{before:?}"
    );
}

/// `shard-merge --salvage` keeps each quick test (a failed one with both its attempts) and
/// names each long one as planned but not reported.
fn salvage_keeps_the_quick_tests_and_names_the_long_ones_missing(
    work: &Path,
    quick: &[String],
    long: &[String],
) {
    let run = tool(
        "shard-merge",
        work,
        &["--salvage", "out", "--plan", "plan.tsv", "-o", "merged.xml"],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("salvaged {} complete test cases", quick.len())),
        "{}",
        run.stderr
    );
    let cases = cases_of(&work.join("merged.xml"));
    let by_id = |id: &str| {
        let mut found = cases.iter().filter(|c| c.property("shard.id") == Some(id));
        let case = found.next();
        assert!(found.next().is_none(), "{id} twice");
        case
    };
    for id in quick {
        let case = by_id(id).unwrap_or_else(|| panic!("{id} is not in the merged report"));
        assert_eq!(case.property("shard.node"), Some("2"), "{id}");
        if id.starts_with("a-fail") {
            assert_eq!(case.status, Status::Failed, "{id}");
            // Its retry had ended: the journal holds its final result, both attempts.
            assert_eq!(case.property("shard.attempts"), Some("2"), "{id}");
        } else {
            assert_eq!(case.status, Status::Passed, "{id}");
        }
    }
    let (missing, listed) = run
        .stderr
        .split_once("planned tests were not reported:")
        .unwrap_or_else(|| panic!("no missing tests: {}", run.stderr));
    let listed: Vec<&str> = listed.lines().map(str::trim).collect();
    assert!(!missing.is_empty());
    for id in long {
        assert!(by_id(id).is_none(), "{id} did not finish");
        let line = format!("{id} (planned on node 2)");
        assert!(
            listed.contains(&line.as_str()),
            "{id} not missing: {listed:?}"
        );
    }
    for id in quick {
        let line = format!("{id} (planned on node 2)");
        assert!(!listed.contains(&line.as_str()), "{id} missing: {listed:?}");
    }
}

#[test]
fn a_normal_run_leaves_exactly_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let NodeTwo { quick, .. } = plan(work);
    let out = work.join("out");
    fs::create_dir(&out).unwrap();
    // What an earlier run killed at the same place left is replaced, then removed.
    fs::write(out.join("node-2.journal.xml"), "<testsuites><testsuite>").unwrap();
    let ids: PathBuf = work.join("quick.txt");
    fs::write(&ids, quick.join("\n") + "\n").unwrap();
    let mark = unique_mark("normal");
    let run = finish(
        exec_cmd(work, &mark)
            .args([
                "--tests",
                path_str(&ids),
                "-j2",
                "--junit",
                "out/node-2.xml",
                "--",
                "sh",
                "-c",
                SCRIPT,
                "_",
                "{}",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["node-2.xml"]);
    assert_eq!(cases_of(&out.join("node-2.xml")).len(), quick.len());
    // The guardian ended with the run.
    assert!(marked(&mark).is_empty(), "{:?}", marked(&mark));
    let run = tool("shard-merge", work, &["out"]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    // Without --junit there is no journal either: the run adds nothing to its directory.
    let listing = || {
        let mut names: Vec<String> = fs::read_dir(work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let run = finish(
        exec_cmd(work, &mark)
            .args([
                "--tests",
                path_str(&ids),
                "--",
                "sh",
                "-c",
                SCRIPT,
                "_",
                "{}",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(listing(), before);
}

#[test]
fn a_killed_run_leaves_nothing_in_the_temporary_directory() {
    // The batches' reports ({junit}) are written into a scratch directory of the run.
    let sleeper = [
        "--",
        "sh",
        "-c",
        "sleep 300 & sleep 300",
        "_",
        "{junit}",
        "{}",
    ];
    killed_leaves_no_scratch(&sleeper, "shard-exec-");
    // nextest's preset writes its profiles into one (its `cargo` here sleeps).
    killed_leaves_no_scratch(&["--runner", "nextest"], "shard-exec-preset-");
}

/// Runs two ids at -j2 with `args`, kills shard-exec (SIGKILL) while both sleep, and checks
/// that one scratch directory named `scratch*` was in `$TMPDIR` and that nothing is left.
fn killed_leaves_no_scratch(args: &[&str], scratch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let (bin, tmp) = (work.join("bin"), work.join("tmp"));
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    let cargo = bin.join("cargo");
    fs::write(&cargo, "#!/bin/sh\nsleep 300 & sleep 300\n").unwrap();
    let mut perms = fs::metadata(&cargo).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&cargo, perms).unwrap();
    fs::write(
        work.join("ids.txt"),
        "sample tests::one\nsample tests::two\n",
    )
    .unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    let mark = unique_mark("scratch");
    let mut child = exec_cmd(work, &mark)
        .env("PATH", format!("{}:{path}", bin.display()))
        .env("TMPDIR", &tmp)
        .args(["--tests", "ids.txt", "-j2", "--junit", "out/node.xml"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(fs::File::create(work.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let left = || -> Vec<String> {
        fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let sleeping = || {
        marked(&mark)
            .iter()
            .filter(|p| p.cmdline == "sleep 300")
            .count()
            == 4
    };
    let ready = wait_for(sleeping);
    let before = left();
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = fs::read_to_string(work.join("stderr.txt")).unwrap();
    assert!(
        ready,
        "{args:?}: not started: {:?}\n{stderr}",
        marked(&mark)
    );
    assert!(
        before.len() == 1 && before[0].starts_with(scratch),
        "{args:?}: {before:?}\n{stderr}"
    );
    assert!(wait_for(|| marked(&mark).is_empty()), "{:?}", marked(&mark));
    assert!(
        wait_for(|| left().is_empty()),
        "{args:?}: left behind: {:?}",
        left()
    );
}
