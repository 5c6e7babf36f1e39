//! The test command and its placeholders: what each process is started with.
//!
//! Placeholders, also inside a larger argument (`--junitxml={junit}`):
//! - `{}`: one id; every id runs in a process of its own.
//! - `{ids}`: the ids of one batch, each as an argument of its own (so it must be a whole
//!   argument).
//! - `{junit}`: a fresh path where the command writes its own JUnit report.
//! - `{slot}`: the process's slot, from 1 to the number of jobs.
//! - `{node}`: this node's number (1 when no node was given).
//! - `{filterset}`: a cargo-nextest filterset that selects the batch's ids, written
//!   `BINARY-ID TEST-NAME` (an id without a space matches a test of that name in any binary).
//! - `{go-run}`, `{go-package}`: for ids written `PACKAGE::TestName`, `go test -run`'s
//!   pattern for the batch's tests (`^(TestA|TestB)$`) and the package of its first id.
//!
//! `{{` and `}}` stand for literal braces. A command with none of `{}`, `{ids}` and
//! `{filterset}` gets the batch's ids appended, as xargs does. The arguments go to the program as argv: no shell ever
//! reads them.

use std::ffi::OsString;
use std::path::Path;

use crate::error::{Error, Result};

/// One piece of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Id,
    Junit,
    Slot,
    Node,
    Filterset,
    GoRun,
    GoPackage,
}

/// One argument of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    /// Expands to one argument.
    Pieces(Vec<Piece>),
    /// `{ids}`: expands to one argument per id.
    Ids,
}

/// How ids reach the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `{}`: one process per id.
    PerId,
    /// `{ids}` (or ids appended): one process per batch.
    Batch,
}

/// A command with placeholders, checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    args: Vec<Arg>,
    mode: Mode,
    junit: bool,
}

/// What one process's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    pub ids: &'a [&'a str],
    pub junit: Option<&'a Path>,
    pub slot: usize,
    pub node: u32,
}

impl Template {
    /// Checks `argv` (the program first). Errors name the argument and what is wrong with it.
    pub fn parse(argv: &[String]) -> Result<Self> {
        let bad = |value: &str, reason: &str| Error::InvalidParameter {
            what: "command argument",
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if argv.is_empty() {
            return Err(Error::InvalidParameter {
                what: "command",
                value: String::new(),
                reason: "no command given: put it after `--`, as in `shard-exec -- pytest {ids}`"
                    .to_string(),
            });
        }
        let mut args = Vec::with_capacity(argv.len() + 1);
        let (mut per_id, mut batch, mut junit) = (false, false, false);
        for (i, raw) in argv.iter().enumerate() {
            if raw == "{ids}" {
                if i == 0 {
                    return Err(bad(raw, "the program itself cannot be a placeholder"));
                }
                batch = true;
                args.push(Arg::Ids);
                continue;
            }
            let pieces = pieces(raw).map_err(|reason| bad(raw, &reason))?;
            for piece in &pieces {
                match piece {
                    Piece::Id => per_id = true,
                    Piece::Junit => junit = true,
                    // These carry the batch's ids: they are not appended too.
                    Piece::Filterset | Piece::GoRun => batch = true,
                    _ => {}
                }
            }
            args.push(Arg::Pieces(pieces));
        }
        if per_id && batch {
            return Err(bad(
                "{}",
                "`{}` (one id per process) and `{ids}` (a batch per process) cannot be used together",
            ));
        }
        let mode = if per_id { Mode::PerId } else { Mode::Batch };
        if mode == Mode::Batch && !batch {
            args.push(Arg::Ids);
        }
        Ok(Template { args, mode, junit })
    }

    /// One process per id, or one per batch.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the batch's ids are joined into one argument (`{filterset}`, `{go-run}`).
    pub fn joins_ids(&self) -> bool {
        self.args.iter().any(|arg| match arg {
            Arg::Pieces(pieces) => pieces
                .iter()
                .any(|p| matches!(p, Piece::Filterset | Piece::GoRun)),
            Arg::Ids => false,
        })
    }

    /// Whether the command writes its own report to `{junit}`.
    pub fn uses_junit(&self) -> bool {
        self.junit
    }

    /// The argv of one process.
    pub fn expand(&self, fill: &Fill<'_>) -> Vec<OsString> {
        let mut argv = Vec::with_capacity(self.args.len() + fill.ids.len());
        for arg in &self.args {
            match arg {
                Arg::Ids => argv.extend(fill.ids.iter().map(OsString::from)),
                Arg::Pieces(pieces) => {
                    let mut out = OsString::new();
                    for piece in pieces {
                        match piece {
                            Piece::Text(text) => out.push(text),
                            Piece::Id => out.push(fill.ids.first().copied().unwrap_or_default()),
                            Piece::Junit => {
                                if let Some(path) = fill.junit {
                                    out.push(path.as_os_str());
                                }
                            }
                            Piece::Slot => out.push(fill.slot.to_string()),
                            Piece::Node => out.push(fill.node.to_string()),
                            Piece::Filterset => out.push(filterset(fill.ids)),
                            Piece::GoRun => out.push(go_run(fill.ids)),
                            Piece::GoPackage => out.push(
                                fill.ids
                                    .first()
                                    .map_or("", |id| id.rsplit_once("::").map_or(*id, |(p, _)| p)),
                            ),
                        }
                    }
                    argv.push(out);
                }
            }
        }
        argv
    }
}

/// The nextest filterset that runs exactly `ids` (`BINARY-ID TEST-NAME` each): tests of one
/// binary together, `(binary_id(=B) & (test(=a) | test(=b))) | ...`.
pub fn filterset(ids: &[&str]) -> String {
    let mut binaries: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut anywhere: Vec<&str> = Vec::new();
    for id in ids {
        match id.split_once(' ') {
            Some((binary, test)) => match binaries.iter_mut().find(|(b, _)| *b == binary) {
                Some((_, tests)) => tests.push(test),
                None => binaries.push((binary, vec![test])),
            },
            None => anywhere.push(id),
        }
    }
    let tests = |names: &[&str]| {
        names
            .iter()
            .map(|t| format!("test(={t})"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut parts: Vec<String> = binaries
        .iter()
        .map(|(binary, names)| format!("(binary_id(={binary}) & ({}))", tests(names)))
        .collect();
    if !anywhere.is_empty() {
        parts.push(format!("({})", tests(&anywhere)));
    }
    parts.join(" | ")
}

/// `go test -run`'s pattern for exactly the tests of `ids` (`PACKAGE::TestName` each):
/// `^(TestA|TestB)$`. Test names are Go identifiers: nothing to escape.
pub fn go_run(ids: &[&str]) -> String {
    let names: Vec<&str> = ids
        .iter()
        .map(|id| id.rsplit_once("::").map_or(*id, |(_, name)| name))
        .collect();
    format!("^({})$", names.join("|"))
}

/// Splits an argument into text and placeholders.
fn pieces(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find(['{', '}']) {
        text.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            text.push('{');
            rest = after;
            continue;
        }
        if let Some(after) = tail.strip_prefix("}}") {
            text.push('}');
            rest = after;
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}`: write `}}` for a literal brace".to_string());
        }
        let close = tail
            .find('}')
            .ok_or("an unclosed `{`: write `{{` for a literal brace")?;
        let piece = match &tail[1..close] {
            "" => Piece::Id,
            "junit" => Piece::Junit,
            "slot" => Piece::Slot,
            "node" => Piece::Node,
            "filterset" => Piece::Filterset,
            "go-run" => Piece::GoRun,
            "go-package" => Piece::GoPackage,
            "ids" => {
                return Err("`{ids}` must be an argument of its own".to_string());
            }
            other => {
                return Err(format!(
                    "unknown placeholder `{{{other}}}`: expected {{}}, {{ids}}, {{junit}}, {{slot}}, {{node}}, {{filterset}}, {{go-run}} or {{go-package}} (`{{{{` for a literal brace)"
                ));
            }
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(piece);
        rest = &tail[close + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(args: &[&str]) -> Result<Template> {
        Template::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn expand(t: &Template, ids: &[&str]) -> Vec<String> {
        let fill = Fill {
            ids,
            junit: Some(Path::new("/tmp/r.xml")),
            slot: 2,
            node: 3,
        };
        t.expand(&fill)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn placeholders_expand_inside_larger_arguments() {
        let t = template(&[
            "pytest",
            "--junitxml={junit}",
            "-p",
            "slot{slot}-{node}",
            "{ids}",
        ])
        .unwrap();
        assert_eq!(t.mode(), Mode::Batch);
        assert!(t.uses_junit());
        assert_eq!(
            expand(&t, &["a b", "$(touch pwned)"]),
            [
                "pytest",
                "--junitxml=/tmp/r.xml",
                "-p",
                "slot2-3",
                "a b",
                "$(touch pwned)"
            ]
        );
    }

    #[test]
    fn one_id_per_process_with_braces() {
        let t = template(&["sh", "-c", "echo {{{}}}; exit 1", "_", "{}"]).unwrap();
        assert_eq!(t.mode(), Mode::PerId);
        assert!(!t.uses_junit());
        assert_eq!(
            expand(&t, &["x;y"]),
            ["sh", "-c", "echo {x;y}; exit 1", "_", "x;y"]
        );
    }

    #[test]
    fn ids_are_appended_when_no_placeholder_takes_them() {
        let t = template(&["true"]).unwrap();
        assert_eq!(t.mode(), Mode::Batch);
        assert_eq!(expand(&t, &["a", "b"]), ["true", "a", "b"]);
        let t = template(&["echo", ""]).unwrap();
        assert_eq!(expand(&t, &["a"]), ["echo", "", "a"]);
    }

    #[test]
    fn a_filterset_selects_exactly_the_batch() {
        assert_eq!(
            filterset(&[
                "sample tests::adds",
                "sample::api public_api",
                "sample tests::x",
                "loose"
            ]),
            "(binary_id(=sample) & (test(=tests::adds) | test(=tests::x))) | (binary_id(=sample::api) & (test(=public_api))) | (test(=loose))"
        );
        let t = template(&["cargo", "nextest", "run", "-E", "{filterset}"]).unwrap();
        assert_eq!(t.mode(), Mode::Batch);
        assert_eq!(
            expand(&t, &["b t"]),
            [
                "cargo",
                "nextest",
                "run",
                "-E",
                "(binary_id(=b) & (test(=t)))"
            ]
        );
    }

    #[test]
    fn go_placeholders_name_the_package_and_its_tests() {
        let t = template(&["go", "test", "-run", "{go-run}", "{go-package}"]).unwrap();
        assert_eq!(
            expand(
                &t,
                &["example.com/m/calc::TestAdd", "example.com/m/calc::TestSub"]
            ),
            [
                "go",
                "test",
                "-run",
                "^(TestAdd|TestSub)$",
                "example.com/m/calc"
            ]
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        for (args, says) in [
            (&[][..], "no command given"),
            (&["x", "{}", "{ids}"][..], "cannot be used together"),
            (&["x", "--k={ids}"][..], "an argument of its own"),
            (&["{ids}"][..], "the program itself"),
            (&["x", "{id}"][..], "unknown placeholder `{id}`"),
            (&["x", "{junit"][..], "unclosed"),
            (&["x", "a}b"][..], "lone"),
        ] {
            let err = template(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
