//! The docs agree with the binaries: shell completions and man pages come from the clap
//! definitions (see scripts/gen-docs), each docs page's usage block is its binary's `-h`, the
//! manifest example is a real manifest, and every test a docs table names exists.

use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::plan::{golden_ids, ok, plan};
use crate::support::{finish, path_str};

fn commands() -> [clap::Command; 3] {
    [
        shardkit_cli::plan::Cli::command(),
        shardkit_cli::exec::Cli::command(),
        shardkit_cli::merge::Cli::command(),
    ]
}

#[test]
fn completions_know_every_flag_and_bash_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    for mut command in commands() {
        let name = command.get_name().to_string();
        let flags: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        assert!(flags.len() > 5, "{name}: {flags:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = clap_complete::generate_to(shell, &mut command, &name, dir.path()).unwrap();
            let script = std::fs::read_to_string(&path).unwrap();
            for flag in &flags {
                let needle = if shell == Shell::Fish {
                    flag.trim_start_matches('-').to_string()
                } else {
                    flag.clone()
                };
                assert!(
                    script.contains(&needle),
                    "{shell} completion of {name} lacks {flag}"
                );
            }
            if shell == Shell::Bash {
                let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
                assert!(
                    check.status.success(),
                    "{}",
                    String::from_utf8_lossy(&check.stderr)
                );
            }
        }
    }
}

#[test]
fn man_pages_describe_every_flag() {
    for command in commands() {
        let name = command.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .render(&mut page)
            .unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(&format!(".TH {name} 1")), "{page}");
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(
                    page.contains(&roff),
                    "the man page of {name} lacks --{long}"
                );
            }
        }
    }
}

/// Every test a docs table names (its last column headed `test`) is a test function of the
/// project, so a table row cannot claim a test that was renamed or never written.
#[test]
fn every_test_a_docs_table_names_exists() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = String::new();
    for dir in ["bins/tests", "lib/tests", "lib/src", "bins/src"] {
        for entry in walkdir::WalkDir::new(root.join(dir)) {
            let entry = entry.unwrap();
            if entry.path().extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    let mut named = 0;
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_test_table = false;
        for line in text.lines() {
            if !line.starts_with('|') {
                in_test_table = false;
                continue;
            }
            let last = line
                .trim_end_matches('|')
                .rsplit('|')
                .next()
                .unwrap()
                .trim();
            if last == "test" || last == "tests" {
                in_test_table = true;
                continue;
            }
            if !in_test_table || last.starts_with("---") {
                continue;
            }
            let names: Vec<&str> = last
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| !n.is_empty())
                .collect();
            assert!(
                !names.is_empty(),
                "{}: a row names no test: {line}",
                path.display()
            );
            for name in names {
                assert!(
                    sources.contains(&format!("fn {name}()")),
                    "{}: no test `{name}`",
                    path.display()
                );
                named += 1;
            }
        }
    }
    assert!(named >= 12, "the docs' tables name {named} tests");
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

/// The layout in docs/development.md names every source file of the library and the binaries
/// once, each with what it is for, and no file that is not there; none is over 600 lines.
#[test]
fn the_layout_names_every_source_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let docs = std::fs::read_to_string(root.join("docs/development.md")).unwrap();
    let section = docs.split("## Layout").nth(1).expect("a Layout section");
    let tree = section
        .split("```text\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("a text block with the tree");
    let mut listed = Vec::new();
    let mut dir = "";
    for line in tree.lines() {
        if !line.starts_with(' ') {
            dir = line.trim();
            continue;
        }
        let mut words = line.split_whitespace();
        let file = words.next().unwrap();
        assert!(
            words.count() >= 3,
            "{dir}{file}: says too little of what it is for"
        );
        listed.push(format!("{dir}{file}"));
    }
    let mut on_disk: Vec<String> = ["lib/src", "bins/src"]
        .iter()
        .flat_map(|top| walkdir::WalkDir::new(root.join(top)))
        .map(|e| e.unwrap())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| {
            let path = e.path().strip_prefix(root).unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a file is listed twice");
    assert_eq!(
        sorted, on_disk,
        "docs/development.md's layout and the source files differ"
    );
    // Each file one idea a newcomer can hold: about 600 lines at most.
    for file in &on_disk {
        let lines = std::fs::read_to_string(root.join(file))
            .unwrap()
            .lines()
            .count();
        assert!(
            lines <= 600,
            "{file}: {lines} lines, more than 600: cut it into parts"
        );
    }
}
