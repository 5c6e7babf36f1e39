//! Runner presets: how a test runner lists its tests, how it runs a batch of them with its
//! own JUnit report, and what shardkit should assume about it.

use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ids::GroupBy;

pub mod collected;

pub use collected::Collected;

/// What a listing gave: the runner's test ids, and (pytest) what it skipped or could not
/// import while collecting, planned as ids of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub ids: Vec<String>,
    pub collected: Collected,
}

impl Listing {
    /// Every id to plan: the tests, then the collection-time outcomes.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        self.ids
            .iter()
            .chain(&self.collected.ids)
            .map(String::as_str)
    }
}

/// A test runner shardkit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// pytest: ids are node ids (`tests/test_a.py::TestA::test_x[p]`).
    Pytest,
    /// cargo-nextest: ids are `BINARY-ID TEST-NAME` (`mycrate tests::parses`), as nextest
    /// prints them.
    Nextest,
    /// go test: ids are `PACKAGE::TestName` (`example.com/m/calc::TestAdd`).
    Go,
}

/// What a run with a preset needs: the command, and where it writes its report when not at
/// `{junit}` (`{slot}` replaced by the process's slot).
#[derive(Debug, Clone)]
pub struct RunSetup {
    pub argv: Vec<String>,
    pub junit_at: Option<String>,
    /// What the command writes there.
    pub report: crate::exec::ReportFormat,
    /// One group a process (`go test` runs one package).
    pub one_group_per_batch: bool,
}

impl Runner {
    pub fn name(self) -> &'static str {
        match self {
            Runner::Pytest => "pytest",
            Runner::Nextest => "nextest",
            Runner::Go => "go",
        }
    }

    /// The command that lists the tests, with the user's `args` (paths, `-m`, `-k`, ...).
    pub fn collect_command(self, args: &[String]) -> Vec<String> {
        let mut argv = match self {
            Runner::Pytest => {
                strings(&["pytest", "--collect-only", "-q", "-p", "no:cacheprovider"])
            }
            Runner::Nextest => strings(&["cargo", "nextest", "list", "--message-format", "json"]),
            Runner::Go => strings(&["go", "test", "-list", "."]),
        };
        argv.extend(args.iter().cloned());
        if self == Runner::Go && args.is_empty() {
            argv.push("./...".to_string());
        }
        argv
    }

    /// Whether [`run_setup`](Runner::run_setup) writes files, and so needs a directory of
    /// its own. Only then is one made: a run killed hard leaves nothing behind.
    pub fn writes_files(self) -> bool {
        self == Runner::Nextest
    }

    /// The command that runs a batch, with the user's `args`, writing its report where
    /// shard-exec reads it. nextest takes its report path from a profile: one profile a slot
    /// (`shardkit-{slot}`), written to `work` (a directory that lives as long as the run), so
    /// that processes running side by side never write the same file; a runner that
    /// [writes no files](Runner::writes_files) is given none.
    pub fn run_setup(
        self,
        args: &[String],
        work: Option<&Path>,
        jobs: usize,
    ) -> std::io::Result<RunSetup> {
        Ok(match self {
            Runner::Pytest => {
                let mut argv = strings(&[
                    "pytest",
                    "-p",
                    "no:cacheprovider",
                    "-q",
                    "--junitxml={junit}",
                ]);
                argv.extend(args.iter().map(|a| literal(a)));
                argv.push("{ids}".to_string());
                RunSetup {
                    argv,
                    junit_at: None,
                    report: crate::exec::ReportFormat::Junit,
                    one_group_per_batch: false,
                }
            }
            Runner::Nextest => {
                let work = work.ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "nextest's profiles need a directory to be written to",
                    )
                })?;
                let mut config = String::from("# Written by shard-exec: one profile a slot.\n");
                for slot in 1..=jobs.max(1) {
                    let report = work.join(format!("slot-{slot}.xml"));
                    // TOML basic string: escape backslashes and quotes.
                    let report = report
                        .display()
                        .to_string()
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"");
                    config.push_str(&format!(
                        "[profile.shardkit-{slot}.junit]\npath = \"{report}\"\n"
                    ));
                }
                let config_path = work.join("nextest.toml");
                std::fs::write(&config_path, config)?;
                let mut argv = strings(&["cargo", "nextest", "run", "--no-fail-fast"]);
                argv.push("--tool-config-file".to_string());
                argv.push(
                    format!("shardkit:{}", config_path.display())
                        .replace('{', "{{")
                        .replace('}', "}}"),
                );
                argv.push("--profile".to_string());
                argv.push("shardkit-{slot}".to_string());
                argv.extend(args.iter().map(|a| literal(a)));
                argv.push("-E".to_string());
                argv.push("{filterset}".to_string());
                let junit_at = work.join("slot-{slot}.xml").display().to_string();
                RunSetup {
                    argv,
                    junit_at: Some(junit_at),
                    report: crate::exec::ReportFormat::Junit,
                    one_group_per_batch: false,
                }
            }
            Runner::Go => {
                // go test writes its events to stdout: a shell (given the paths and the
                // pattern as arguments, never as code) sends them to the file shard-exec reads.
                let mut argv = strings(&[
                    "sh",
                    "-c",
                    "out=$1; shift; exec go test -json -count=1 \"$@\" > \"$out\"",
                    "go-test",
                    "{junit}",
                ]);
                argv.extend(args.iter().map(|a| literal(a)));
                argv.extend(strings(&["-run", "{go-run}", "{go-package}"]));
                RunSetup {
                    argv,
                    junit_at: None,
                    report: crate::exec::ReportFormat::GoTestJson,
                    one_group_per_batch: true,
                }
            }
        })
    }

    /// How ids group by default: a pytest class stays on one node and in one process, so its
    /// class fixtures run once (module-level functions are their own groups).
    pub fn default_group_by(self) -> GroupBy {
        match self {
            Runner::Pytest => GroupBy::Class,
            // nextest runs every test in a process of its own: nothing to keep together.
            Runner::Nextest => GroupBy::None,
            // A package compiles once per node and runs in one process.
            Runner::Go => GroupBy::File,
        }
    }

    /// The exit status that means "nothing of what you asked for ran" (pytest's 5: every id
    /// deselected, by `-m` or `-k` for instance): the ids are then skipped, not lost.
    pub fn nothing_ran_status(self) -> Option<i32> {
        match self {
            Runner::Pytest => Some(5),
            // NO_TESTS_RUN: the filterset matched nothing (`-E` in ARGS narrowed it).
            Runner::Nextest => Some(4),
            Runner::Go => None,
        }
    }

    /// The ids in the output of [`collect_command`](Runner::collect_command).
    pub fn parse_listing(self, stdout: &str) -> Result<Vec<String>, String> {
        match self {
            // `pytest --collect-only -q` prints one node id a line, then a blank line and a
            // summary ("12 tests collected in 0.03s"), or warnings. Node ids hold `::`.
            Runner::Pytest => Ok(stdout
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .filter(|l| l.contains("::") && !l.starts_with(char::is_whitespace))
                .map(str::to_string)
                .collect()),
            // `cargo nextest list --message-format json`: rust-suites -> binary id ->
            // testcases -> name, with whether the test matches (ignored tests do not).
            Runner::Nextest => {
                let listing: serde_json::Value = serde_json::from_str(stdout)
                    .map_err(|e| format!("its JSON is unreadable: {e}"))?;
                let suites = listing
                    .get("rust-suites")
                    .and_then(|s| s.as_object())
                    .ok_or("its JSON has no rust-suites")?;
                let mut ids = Vec::new();
                for (binary, suite) in suites {
                    let Some(cases) = suite.get("testcases").and_then(|c| c.as_object()) else {
                        continue;
                    };
                    for (name, case) in cases {
                        let status = case
                            .pointer("/filter-match/status")
                            .and_then(|s| s.as_str());
                        if status == Some("matches") {
                            ids.push(format!("{binary} {name}"));
                        }
                    }
                }
                Ok(ids)
            }
            // `go test -list . PACKAGES`: each package's test names, one a line, then
            // `ok  <package>  0.01s` (or `?  <package>  [no test files]`). Benchmarks do not
            // run under go test; tests, examples and fuzz seeds do.
            Runner::Go => {
                let mut ids = Vec::new();
                let mut names: Vec<&str> = Vec::new();
                for line in stdout.lines() {
                    let mut fields = line.split_whitespace();
                    match fields.next() {
                        Some("ok") => {
                            let package = fields.next().ok_or("an `ok` line without a package")?;
                            ids.extend(names.drain(..).map(|n| format!("{package}::{n}")));
                        }
                        Some("?") => names.clear(),
                        Some(name)
                            if fields.next().is_none()
                                && !name.starts_with("Benchmark")
                                && name.starts_with(char::is_alphabetic) =>
                        {
                            names.push(name);
                        }
                        _ => {}
                    }
                }
                Ok(ids)
            }
        }
    }

    /// Runs the listing in the current directory and returns the ids, in the runner's order.
    /// pytest's listing also writes a `--junitxml` report (a temporary file), whose cases are
    /// what it skipped or failed to import while collecting: those are planned too. A
    /// collection error fails the listing (pytest's exit 2) unless the arguments hold
    /// `--continue-on-collection-errors` (exit 1), as in a plain run.
    pub fn collect(self, args: &[String]) -> Result<Listing> {
        let mut argv = self.collect_command(args);
        let shown = argv.join(" ");
        let fail = |reason: String| Error::Collect {
            command: shown.clone(),
            reason,
        };
        let report = match self {
            Runner::Pytest => {
                let file = tempfile::Builder::new()
                    .prefix("shard-plan-listing-")
                    .suffix(".xml")
                    .tempfile()
                    .map_err(|e| fail(format!("cannot make a temporary file: {e}")))?;
                argv.push(format!("--junitxml={}", file.path().display()));
                Some(file)
            }
            _ => None,
        };
        let output = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            // Node ids may hold any character: have Python write UTF-8 whatever the locale.
            .env("PYTHONIOENCODING", "utf-8")
            .output()
            .map_err(|e| fail(format!("cannot start it: {e}")))?;
        let stdout = String::from_utf8(output.stdout)
            .map_err(|e| fail(format!("its output is not UTF-8 ({e})")))?;
        let tail = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };
        let collected = match &report {
            Some(file) => {
                let xml = std::fs::read(file.path()).unwrap_or_default();
                if xml.is_empty() {
                    Collected::default()
                } else {
                    let root = std::env::current_dir()
                        .map_err(|e| fail(format!("cannot tell the current directory: {e}")))?;
                    collected::read(&xml, &root).map_err(fail)?
                }
            }
            None => Collected::default(),
        };
        let code = output.status.code();
        let pytest = self == Runner::Pytest;
        let has_collected = !collected.ids.is_empty();
        match code {
            Some(0) => {}
            // --continue-on-collection-errors: modules that failed to import, and no test ran.
            Some(1) if pytest && collected.errors > 0 => {}
            // Nothing but collection-time outcomes (every module skipped).
            Some(5) if pytest && has_collected => {}
            Some(5) if pytest => {
                return Err(fail(
                    "pytest collected no tests (exit status 5)".to_string(),
                ));
            }
            _ => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let said = [tail(&stdout), tail(&stderr)]
                    .into_iter()
                    .filter(|t| !t.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(fail(format!(
                    "it failed ({}):\n{said}",
                    crate::exec::process::describe(&output.status),
                )));
            }
        }
        let ids = self.parse_listing(&stdout).map_err(fail)?;
        if ids.is_empty() && !has_collected {
            return Err(fail(format!("it listed no test ids:\n{}", tail(&stdout))));
        }
        Ok(Listing { ids, collected })
    }
}

/// A user's argument as template text: braces are literal (`-k 'test_{x}'`).
fn literal(arg: &str) -> String {
    arg.replace('{', "{{").replace('}', "}}")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runner {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pytest" => Ok(Runner::Pytest),
            "nextest" => Ok(Runner::Nextest),
            "go" => Ok(Runner::Go),
            _ => Err(Error::InvalidParameter {
                what: "runner",
                value: s.to_string(),
                reason: "expected pytest, nextest or go".to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_listing_gives_node_ids_with_any_characters() {
        let out = "tests/test_a.py::TestA::test_x\n\
                   tests/test_a.py::test_p[a b]\n\
                   tests/test_a.py::test_p[x/y]\n\
                   tests/test_a.py::test_p[\\xfcn\\xef]\n\
                   tests/test_a.py::test_p[ünï]\n\
                   \n\
                   5 tests collected in 0.01s\n";
        assert_eq!(
            Runner::Pytest.parse_listing(out).unwrap(),
            [
                "tests/test_a.py::TestA::test_x",
                "tests/test_a.py::test_p[a b]",
                "tests/test_a.py::test_p[x/y]",
                "tests/test_a.py::test_p[\\xfcn\\xef]",
                "tests/test_a.py::test_p[ünï]",
            ]
        );
    }

    #[test]
    fn pytest_commands() {
        let args = strings(&["-m", "not slow"]);
        assert!(!Runner::Pytest.writes_files());
        let setup = Runner::Pytest.run_setup(&args, None, 2).unwrap();
        assert_eq!(
            setup.argv,
            strings(&[
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "--junitxml={junit}",
                "-m",
                "not slow",
                "{ids}"
            ])
        );
        assert!(setup.junit_at.is_none());
        assert_eq!(
            Runner::Pytest.collect_command(&args)[..3],
            strings(&["pytest", "--collect-only", "-q"])
        );
        assert_eq!(Runner::Pytest.default_group_by(), GroupBy::Class);
        assert!("nose".parse::<Runner>().is_err());
    }

    #[test]
    fn nextest_listing_gives_binary_and_test_of_the_matching_tests() {
        let json = r#"{"rust-build-meta":{},"test-count":3,"rust-suites":{
            "sample":{"binary-id":"sample","testcases":{
                "tests::adds":{"kind":"test","ignored":false,"filter-match":{"status":"matches"}},
                "tests::ignored":{"kind":"test","ignored":true,"filter-match":{"status":"mismatch","reason":"ignored"}}}},
            "sample::api":{"binary-id":"sample::api","testcases":{
                "public_api":{"kind":"test","ignored":false,"filter-match":{"status":"matches"}}}}}}"#;
        assert_eq!(
            Runner::Nextest.parse_listing(json).unwrap(),
            ["sample tests::adds", "sample::api public_api"]
        );
        assert!(
            Runner::Nextest
                .parse_listing("not json")
                .unwrap_err()
                .contains("unreadable")
        );
    }

    #[test]
    fn go_listing_gives_package_and_test() {
        let out = "TestAdd\nTestSub\nExampleAdd\nBenchmarkAdd\nok  \texample.com/m/calc\t0.002s\n\
                   ?   \texample.com/m/cmd\t[no test files]\nTestParse\nok  \texample.com/m/parse\t0.001s\n";
        assert_eq!(
            Runner::Go.parse_listing(out).unwrap(),
            [
                "example.com/m/calc::TestAdd",
                "example.com/m/calc::TestSub",
                "example.com/m/calc::ExampleAdd",
                "example.com/m/parse::TestParse",
            ]
        );
        assert_eq!(Runner::Go.collect_command(&[]).last().unwrap(), "./...");
    }

    #[test]
    fn nextest_runs_a_batch_with_a_profile_a_slot() {
        let dir = tempfile::tempdir().unwrap();
        let setup = Runner::Nextest
            .run_setup(&strings(&["-p", "sample"]), Some(dir.path()), 2)
            .unwrap();
        assert!(Runner::Nextest.writes_files());
        assert!(
            Runner::Nextest
                .run_setup(&[], None, 2)
                .unwrap_err()
                .to_string()
                .contains("need a directory")
        );
        assert_eq!(
            setup.argv[..4],
            strings(&["cargo", "nextest", "run", "--no-fail-fast"])
        );
        assert!(
            setup
                .argv
                .ends_with(&strings(&["-p", "sample", "-E", "{filterset}"]))
        );
        assert!(setup.argv.contains(&"shardkit-{slot}".to_string()));
        let config = std::fs::read_to_string(dir.path().join("nextest.toml")).unwrap();
        assert!(config.contains("[profile.shardkit-2.junit]"), "{config}");
        assert!(setup.junit_at.unwrap().ends_with("slot-{slot}.xml"));
    }
}
