//! What pytest reports while it collects: modules (or packages) it skips there
//! (`pytest.importorskip`, a module-level `pytest.skip(..., allow_module_level=True)`) and, with
//! `--continue-on-collection-errors`, modules that fail to import. `pytest --collect-only -q`
//! prints no id for them, but its `--junitxml` report has a case for each, classname `""` and
//! name the dotted path (`tests.test_optional`), as a plain run's report has. This turns those
//! cases back into the path pytest takes as an argument (`tests/test_optional.py`), so that they
//! are planned and run like any other id, and a run of that path reports the same case.

use std::path::Path;

use crate::junit::cases::{Status, read_cases};

/// The collection-time outcomes of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Ids (paths relative to the listing's directory) of what pytest skipped or could not
    /// import while collecting, in the report's order.
    pub ids: Vec<String>,
    /// How many of them are collection errors.
    pub errors: usize,
    /// Cases that name no module under the directory (`classname::name` as reported): they
    /// cannot be planned. A directory skipped while collecting (its `conftest.py` skips) is one
    /// of them: pytest loads the conftest of a directory it is given before it collects, and
    /// stops with an error where a plain run reports a skip, so a directory cannot be run by
    /// its path.
    pub unmapped: Vec<String>,
}

/// Reads the listing's JUnit report `xml`; paths are looked up under `root` (the directory
/// pytest ran in).
pub fn read(xml: &[u8], root: &Path) -> Result<Collected, String> {
    let cases = read_cases(xml).map_err(|e| {
        format!(
            "its --junitxml report is unreadable at byte {}: {}",
            e.offset, e.message
        )
    })?;
    let mut collected = Collected::default();
    for case in cases {
        let classname = case.classname.as_deref().unwrap_or_default();
        let path = if classname.is_empty() {
            path_of(&case.name, root).filter(|p| root.join(p).is_file())
        } else {
            None
        };
        match path {
            Some(path) if !collected.ids.contains(&path) => {
                if case.status == Status::Errored || case.status == Status::Failed {
                    collected.errors += 1;
                }
                collected.ids.push(path);
            }
            Some(_) => {}
            None => collected.unmapped.push(crate::junit::matching::fallback_id(
                Some(classname),
                &case.name,
            )),
        }
    }
    Ok(collected)
}

/// The path under `root` that pytest reports as `dotted`: its `/`s became dots and a `.py`
/// suffix was dropped (`tests.test_x` is `tests/test_x.py`, or a directory `tests/test_x`).
/// A dot may also be a dot of a file or directory name (`tests/v1.2/test_x.py`), so each way of
/// cutting the dotted name into path components is tried, directories first checked to exist.
pub fn path_of(dotted: &str, root: &Path) -> Option<String> {
    if dotted.is_empty() || dotted.starts_with('.') || dotted.contains(['/', '\\']) {
        return None;
    }
    let segments: Vec<&str> = dotted.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    find(&segments, root, String::new())
}

fn find(segments: &[&str], dir: &Path, prefix: String) -> Option<String> {
    for take in 1..=segments.len() {
        let component = segments[..take].join(".");
        let joined = if prefix.is_empty() {
            component.clone()
        } else {
            format!("{prefix}/{component}")
        };
        let rest = &segments[take..];
        if rest.is_empty() {
            // The last component: a module, a directory (a package), or another file.
            if dir.join(format!("{component}.py")).is_file() {
                return Some(format!("{joined}.py"));
            }
            if dir.join(&component).exists() {
                return Some(joined);
            }
        } else if dir.join(&component).is_dir()
            && let Some(found) = find(rest, &dir.join(&component), joined)
        {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_go_back_to_the_paths_pytest_took() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "tests/test_optional.py",
            "tests/v1.2/test_x.py",
            "tests/pkg/__init__.py",
            "tests/doc.txt",
        ] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), "").unwrap();
        }
        let path = |d: &str| path_of(d, root);
        assert_eq!(
            path("tests.test_optional").as_deref(),
            Some("tests/test_optional.py")
        );
        assert_eq!(
            path("tests.v1.2.test_x").as_deref(),
            Some("tests/v1.2/test_x.py")
        );
        assert_eq!(path("tests.pkg").as_deref(), Some("tests/pkg"));
        assert_eq!(path("tests.doc.txt").as_deref(), Some("tests/doc.txt"));
        for none in [
            "tests.nothing",
            "",
            ".tests",
            "tests..x",
            "../etc",
            "tests/x",
        ] {
            assert_eq!(path(none), None, "{none:?}");
        }
    }

    #[test]
    fn skips_and_errors_of_the_listing_become_ids() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        for m in ["test_optional", "test_broken"] {
            std::fs::write(root.join(format!("tests/{m}.py")), "").unwrap();
        }
        std::fs::create_dir_all(root.join("tests/optional_pkg")).unwrap();
        let xml = r#"<testsuites><testsuite name="pytest">
            <testcase classname="" name="tests.test_broken" time="0.000"><error message="collection failure">ImportError</error></testcase>
            <testcase classname="" name="tests.test_optional" time="0.000"><skipped message="collection skipped">('x', 2, 'Skipped')</skipped></testcase>
            <testcase classname="" name="tests.gone" time="0.000"><skipped message="collection skipped"/></testcase>
            <testcase classname="" name="tests.optional_pkg" time="0.000"><skipped message="collection skipped"/></testcase>
            </testsuite></testsuites>"#;
        let got = read(xml.as_bytes(), root).unwrap();
        assert_eq!(got.ids, ["tests/test_broken.py", "tests/test_optional.py"]);
        assert_eq!(got.errors, 1);
        assert_eq!(got.unmapped, ["tests.gone", "tests.optional_pkg"]);
        assert!(read(b"<oops", root).unwrap_err().contains("unreadable"));
    }
}
