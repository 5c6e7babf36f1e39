//! What shard-plan prints: the nodes' shares together are every id once and agree with
//! `--all`, the output and the fingerprint do not depend on the input's order, an empty node
//! says so, and the summary goes to stderr.

use super::{golden_ids, ok, plan, plan_stdin};
use crate::support::path_str;

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
