//! The fuzz targets of fuzz/ build, and each runs on its corpus and a few thousand inputs that
//! libFuzzer makes from it, so that they never rot: a smoke run, not a search (the long runs
//! are `scripts/fuzz run TARGET -max_total_time=SECONDS`, by hand).

use std::path::PathBuf;
use std::process::Command;

use crate::support::finish;

#[test]
fn every_fuzz_target_builds_and_runs_a_few_thousand_inputs_without_a_crash() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/fuzz");
    let build = finish(Command::new(&script).arg("build").output().unwrap());
    assert_eq!(build.code, 0, "scripts/fuzz build:\n{}", build.stderr);
    for target in ["ids", "node_selection", "junit", "merge"] {
        let run = finish(
            Command::new(&script)
                .args(["run", target, "-runs=3000", "-seed=1"])
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{target}:\n{}", run.stderr);
        // At least 3,000: a corpus grown by long runs takes more to read in.
        let runs = run.stderr.lines().find_map(|l| {
            l.strip_prefix("Done ")?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        });
        assert!(runs >= Some(3000), "{target}:\n{}", run.stderr);
    }
}
