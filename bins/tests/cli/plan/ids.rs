//! Reading the ids: from files or stdin, with either line end, a byte order mark or padding;
//! a duplicate, a bad byte or a missing file is an error that names the place.

use super::{fails_with, golden_ids, ok, plan, plan_stdin};
use crate::support::path_str;

#[test]
fn bad_ids_exit_2_naming_the_place() {
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"a\nb\na\n"),
        "duplicate test id `a`: first at <stdin>:1, again at <stdin>:3",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"ok\nbad \xff id\n"),
        "<stdin>:2:5: test id is not valid UTF-8",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2"], b"\n\r\n  \n"),
        "no test ids in <stdin>",
    );
    fails_with(
        &plan_stdin(&["--shard", "1/2", "-"], b"x\x1b[31m\n"),
        "<stdin>:1:2: test id contains the control character U+001B",
    );
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.txt");
    let two = dir.path().join("two.txt");
    std::fs::write(&one, "a\nb\n").unwrap();
    std::fs::write(&two, "c\r\nb\r\n").unwrap();
    fails_with(
        &plan(&["--shard", "1/2", path_str(&one), path_str(&two)], &[]),
        &format!(
            "duplicate test id `b`: first at {}:2, again at {}:2",
            one.display(),
            two.display()
        ),
    );
    let missing = dir.path().join("missing.txt");
    fails_with(
        &plan(&["--shard", "1/2", path_str(&missing)], &[]),
        &format!("cannot open {}", missing.display()),
    );
    fails_with(
        &plan(&["--shard", "1/2", "-", "-"], &[]),
        "`-` (stdin) is named more than once",
    );
}

#[test]
fn input_sources_and_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.txt");
    let two = dir.path().join("two.txt");
    std::fs::write(&one, "t.py::test_a\r\n\r\nt.py::test b [é]\r\n").unwrap();
    std::fs::write(&two, "u.py::test_c").unwrap();
    let files = plan(
        &[
            "--nodes",
            "1",
            "--node",
            "1",
            path_str(&one),
            path_str(&two),
        ],
        &[],
    );
    ok(&files);
    assert_eq!(
        files.stdout,
        "t.py::test b [é]\nt.py::test_a\nu.py::test_c\n"
    );
    let stdin = plan_stdin(
        &["--shard", "1/1"],
        "u.py::test_c\nt.py::test_a\nt.py::test b [é]\n".as_bytes(),
    );
    ok(&stdin);
    assert_eq!(stdin.stdout, files.stdout);
}

#[test]
fn the_same_file_twice_is_an_error() {
    let ids = golden_ids();
    fails_with(
        &plan(&["--shard", "1/2", path_str(&ids), path_str(&ids)], &[]),
        "is named more than once",
    );
}

#[test]
fn padded_ids_and_byte_order_marks() {
    let run = plan_stdin(
        &["--shard", "1/1"],
        "\u{feff}a.py::t\nb.py::t \n".as_bytes(),
    );
    ok(&run);
    assert_eq!(run.stdout, "a.py::t\nb.py::t \n");
    assert!(
        run.stderr.contains("warning: 1 id(s) begin or end with whitespace, which stays part of the id; the first is `b.py::t ` at <stdin>:2"),
        "{}",
        run.stderr
    );
}
