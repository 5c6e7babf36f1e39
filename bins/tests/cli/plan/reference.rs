//! `scripts/reference_plan.py`, written from docs/algorithm.md alone, agrees with shard-plan
//! on random inputs and on the golden vectors: the description is complete.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{ok, plan_stdin};
use crate::suite;
use crate::support::testdata;

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
