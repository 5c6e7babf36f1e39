//! End to end on a real third-party suite (more-itertools 10.5.0's own tests, fetched by
//! `scripts/third-party-suite`, which `scripts/test` runs): planned with the pytest preset across 2,
//! 3 and 4 nodes, each node run by shard-exec, the reports merged with --plan. The merged
//! report must hold exactly the tests of one plain `pytest --junitxml` run, each with the same
//! outcome.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shardkit::junit::cases::{Status, read_cases};

use crate::support::{Run, finish};

fn suite() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/.bench/suite/more-itertools-10.5.0");
    assert!(
        path.join("tests/test_more.py").exists(),
        "{} is missing: run scripts/third-party-suite (scripts/test does)",
        path.display()
    );
    path
}

/// What names a case in a report: its classname (empty when it has none) and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CaseName {
    pub(crate) classname: String,
    pub(crate) name: String,
}

impl CaseName {
    pub(crate) fn new(classname: &str, name: &str) -> CaseName {
        CaseName {
            classname: classname.to_string(),
            name: name.to_string(),
        }
    }
}

/// The status of every case of a report, by its name.
pub(crate) fn outcomes(report: &Path) -> BTreeMap<CaseName, Status> {
    let mut map = BTreeMap::new();
    for case in read_cases(fs::File::open(report).unwrap()).unwrap() {
        let key = CaseName::new(case.classname.as_deref().unwrap_or_default(), &case.name);
        assert!(
            map.insert(key.clone(), case.status).is_none(),
            "{key:?} twice in {}",
            report.display()
        );
    }
    map
}

pub(crate) fn run_in(dir: &Path, program: &str, args: &[&str]) -> Run {
    finish(
        Command::new(program)
            .env_clear()
            .env("PATH", crate::support::path_with_pytest())
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn a_third_party_suite_split_across_2_3_and_4_nodes_gives_the_plain_runs_outcomes() {
    let suite = suite();
    let work = tempfile::tempdir().unwrap();
    let plain_xml = work.path().join("plain.xml");
    let junitxml = format!("--junitxml={}", plain_xml.display());
    let plain = run_in(
        &suite,
        "pytest",
        &["-p", "no:cacheprovider", "-q", &junitxml, "tests"],
    );
    assert!(
        plain.code == 0 || plain.code == 1,
        "{}{}",
        plain.stdout,
        plain.stderr
    );
    let expected = outcomes(&plain_xml);
    assert!(expected.len() > 600, "{} tests", expected.len());
    let plain_failed = expected
        .values()
        .any(|s| matches!(s, Status::Failed | Status::Errored));

    let env = [("PATH", crate::support::path_with_pytest())];
    for nodes in 2..=4u32 {
        let dir = work.path().join(format!("n{nodes}"));
        let done = crate::support::pipeline("pytest", &suite, &env, nodes, &dir, &["tests"]);
        let merged_xml = done.merged_xml;
        assert_eq!(
            done.merged.code,
            if plain_failed { 1 } else { 0 },
            "{nodes} nodes: {}",
            done.merged.stderr
        );
        let got = outcomes(&merged_xml);
        let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{nodes} nodes: missing {missing:?}, extra {extra:?}"
        );
        let differ: Vec<_> = expected.iter().filter(|(k, s)| got[*k] != **s).collect();
        assert!(
            differ.is_empty(),
            "{nodes} nodes: outcomes differ: {differ:?}"
        );
    }
}
