//! Runner presets: how a test runner lists its tests, how it runs a batch of them with its
//! own JUnit report, and what shardkit should assume about it.

use std::fmt;
use std::process::{Command, Stdio};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ids::GroupBy;

/// A test runner shardkit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// pytest: ids are node ids (`tests/test_a.py::TestA::test_x[p]`).
    Pytest,
}

impl Runner {
    pub fn name(self) -> &'static str {
        match self {
            Runner::Pytest => "pytest",
        }
    }

    /// The command that lists the tests, with the user's `args` (paths, `-m`, `-k`, ...).
    pub fn collect_command(self, args: &[String]) -> Vec<String> {
        match self {
            Runner::Pytest => {
                let mut argv =
                    strings(&["pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]);
                argv.extend(args.iter().cloned());
                argv
            }
        }
    }

    /// The command that runs a batch (`{ids}`) and writes its report to `{junit}`, with the
    /// user's `args` before the ids.
    pub fn run_command(self, args: &[String]) -> Vec<String> {
        match self {
            Runner::Pytest => {
                let mut argv = strings(&[
                    "pytest",
                    "-p",
                    "no:cacheprovider",
                    "-q",
                    "--junitxml={junit}",
                ]);
                argv.extend(args.iter().cloned());
                argv.push("{ids}".to_string());
                argv
            }
        }
    }

    /// How ids group by default: a pytest class stays on one node and in one process, so its
    /// class fixtures run once (module-level functions are their own groups).
    pub fn default_group_by(self) -> GroupBy {
        match self {
            Runner::Pytest => GroupBy::Class,
        }
    }

    /// The exit status that means "nothing of what you asked for ran" (pytest's 5: every id
    /// deselected, by `-m` or `-k` for instance): the ids are then skipped, not lost.
    pub fn nothing_ran_status(self) -> Option<i32> {
        match self {
            Runner::Pytest => Some(5),
        }
    }

    /// The ids in the output of [`collect_command`](Runner::collect_command).
    pub fn parse_listing(self, stdout: &str) -> Vec<String> {
        match self {
            // `pytest --collect-only -q` prints one node id a line, then a blank line and a
            // summary ("12 tests collected in 0.03s"), or warnings. Node ids hold `::`.
            Runner::Pytest => stdout
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .filter(|l| l.contains("::") && !l.starts_with(char::is_whitespace))
                .map(str::to_string)
                .collect(),
        }
    }

    /// Runs the listing in the current directory and returns the ids, in the runner's order.
    pub fn collect(self, args: &[String]) -> Result<Vec<String>> {
        let argv = self.collect_command(args);
        let shown = argv.join(" ");
        let fail = |reason: String| Error::Collect {
            command: shown.clone(),
            reason,
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
        match output.status.code() {
            Some(0) => {}
            Some(5) if self == Runner::Pytest => {
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
        let ids = self.parse_listing(&stdout);
        if ids.is_empty() {
            return Err(fail(format!("it listed no test ids:\n{}", tail(&stdout))));
        }
        Ok(ids)
    }
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
            _ => Err(Error::InvalidParameter {
                what: "runner",
                value: s.to_string(),
                reason: "expected pytest".to_string(),
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
            Runner::Pytest.parse_listing(out),
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
        assert_eq!(
            Runner::Pytest.run_command(&args),
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
        assert_eq!(
            Runner::Pytest.collect_command(&args)[..3],
            strings(&["pytest", "--collect-only", "-q"])
        );
        assert_eq!(Runner::Pytest.default_group_by(), GroupBy::Class);
        assert!("nose".parse::<Runner>().is_err());
    }
}
