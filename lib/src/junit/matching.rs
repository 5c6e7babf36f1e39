//! Which planned test id a JUnit `<testcase>` reports.
//!
//! In order: the case's `shard.id` property (written by shardkit's own runner); else pytest's
//! rule, which names id `a/b/test_x.py::TestC::test_y[p]` as classname `a.b.test_x.TestC` and
//! name `test_y[p]`; else `classname::name`; nextest's `BINARY-ID TEST-NAME` is classname
//! `BINARY-ID` and name `TEST-NAME`.

use std::collections::HashMap;

/// The property naming the planned id a case ran (written by shardkit's runner).
pub const ID_PROPERTY: &str = "shard.id";

/// Finds which of a list of ids a reported case names: the one piece of matching that
/// shard-merge's `--plan`, shard-exec's batches and durations from earlier reports share.
#[derive(Debug, Clone, Default)]
pub struct Matcher<'a> {
    exact: HashMap<&'a str, usize>,
    by_key: HashMap<CaseKey, usize>,
}

impl<'a> Matcher<'a> {
    /// A matcher for `ids`; a key two ids share goes to the first.
    pub fn new<I: IntoIterator<Item = &'a str>>(ids: I) -> Self {
        let mut matcher = Matcher::default();
        for (i, id) in ids.into_iter().enumerate() {
            matcher.exact.entry(id).or_insert(i);
            for key in keys_of_id(id) {
                matcher.by_key.entry(key).or_insert(i);
            }
        }
        matcher
    }

    /// The index of the id a case names: by its `shard.id` property (`shard_id`) when it has
    /// one, else by its classname and name.
    pub fn find(
        &self,
        shard_id: Option<&str>,
        classname: Option<&str>,
        name: &str,
    ) -> Option<usize> {
        match shard_id {
            Some(id) => self.exact.get(id).copied(),
            None => self
                .by_key
                .get(&(classname.unwrap_or_default().to_string(), name.to_string()))
                .copied(),
        }
    }
}

/// The `(classname, name)` that pytest's JUnit report gives the test with this node id, or
/// `None` when the id has no `::` (no test item).
///
/// As pytest does it: the id is split on `::` before the first `[`; the first segment (the
/// file) has its `/`s (and Windows' `\`s) turned into dots and loses a `.py` suffix; the middle
/// segments (classes) follow it, joined by dots; the last segment, with its parameters, is the
/// name. Items from other files (`tests/a.yaml::item`) get `tests.a.yaml`.
pub fn pytest_case(id: &str) -> Option<(String, &str)> {
    let head_len = id.find('[').unwrap_or(id.len());
    let cut = id[..head_len].rfind("::")?;
    let (path_and_classes, name) = (&id[..cut], &id[cut + 2..]);
    let mut segments = path_and_classes.split("::");
    let file = segments.next()?;
    let module = file.strip_suffix(".py").unwrap_or(file);
    if module.is_empty() || name.is_empty() {
        return None;
    }
    let mut classname = module.replace(['/', '\\'], ".");
    for class in segments {
        if class.is_empty() {
            return None;
        }
        classname.push('.');
        classname.push_str(class);
    }
    Some((classname, name))
}

/// The `name` (classname `""`) pytest's JUnit report gives what it skipped or could not
/// import while collecting the path `id` (`tests/test_x.py` is `tests.test_x`), or `None` when
/// `id` is a test item (it holds `::` or parameters) or is no relative path.
pub fn pytest_collector_name(id: &str) -> Option<String> {
    if id.is_empty() || id.contains("::") || id.contains('[') || id.starts_with(['/', '.']) {
        return None;
    }
    let module = id.strip_suffix(".py").unwrap_or(id);
    let name = module.trim_end_matches('/').replace(['/', '\\'], ".");
    (!name.is_empty()).then_some(name)
}

/// The id a case names when it carries no `shard.id` and is not pytest's: `classname::name`,
/// or the name alone when the case has no classname.
pub fn fallback_id(classname: Option<&str>, name: &str) -> String {
    match classname {
        Some(class) if !class.is_empty() => format!("{class}::{name}"),
        _ => name.to_string(),
    }
}

/// The key under which a case is looked up among planned ids: `(classname, name)`.
pub type CaseKey = (String, String);

/// Every key a planned id may be reported under: pytest's `(classname, name)`, the id split
/// at its last `::` before any `[` and at its last `::` anywhere (so that the id
/// [`fallback_id`] makes of any case names that case), and the whole id as a name with no
/// classname.
pub fn keys_of_id(id: &str) -> Vec<CaseKey> {
    let mut keys: Vec<CaseKey> = Vec::with_capacity(4);
    let mut add = |key: CaseKey| {
        if !keys.contains(&key) {
            keys.push(key);
        }
    };
    if let Some((classname, name)) = pytest_case(id) {
        add((classname, name.to_string()));
    }
    if let Some(name) = pytest_collector_name(id) {
        add((String::new(), name));
    }
    let head_len = id.find('[').unwrap_or(id.len());
    for cut in [id[..head_len].rfind("::"), id.rfind("::")]
        .into_iter()
        .flatten()
    {
        add((id[..cut].to_string(), id[cut + 2..].to_string()));
    }
    // nextest's `BINARY-ID TEST-NAME`: its report's classname is the binary, name the test.
    if let Some((binary, test)) = id.split_once(' ')
        && !binary.is_empty()
        && !test.is_empty()
    {
        add((binary.to_string(), test.to_string()));
    }
    add((String::new(), id.to_string()));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_ids_name_their_cases() {
        let case = |id| pytest_case(id).map(|(c, n)| (c, n.to_string()));
        assert_eq!(
            case("a/b/test_x.py::TestC::test_y[p]"),
            Some(("a.b.test_x.TestC".into(), "test_y[p]".into()))
        );
        assert_eq!(
            case("test_x.py::test_f"),
            Some(("test_x".into(), "test_f".into()))
        );
        assert_eq!(
            case("t/test_x.py::A::B::test_deep"),
            Some(("t.test_x.A.B".into(), "test_deep".into()))
        );
        // Parameters may hold `::`, slashes, spaces and brackets.
        assert_eq!(
            case("t/test_x.py::test_p[a::b/c d[0]]"),
            Some(("t.test_x".into(), "test_p[a::b/c d[0]]".into()))
        );
        assert_eq!(
            case("tests\\win\\test_w.py::test_w"),
            Some(("tests.win.test_w".into(), "test_w".into()))
        );
        assert_eq!(
            case("tests/a.yaml::item"),
            Some(("tests.a.yaml".into(), "item".into()))
        );
        for not_pytest in ["TestGo/sub", "test_x.py", "::test_x", ".py::t", "t.py::::x"] {
            assert_eq!(pytest_case(not_pytest), None, "{not_pytest}");
        }
    }

    #[test]
    fn paths_name_what_pytest_reports_while_collecting_them() {
        let name = |id| pytest_collector_name(id);
        assert_eq!(
            name("tests/test_optional.py").as_deref(),
            Some("tests.test_optional")
        );
        assert_eq!(name("tests/pkg").as_deref(), Some("tests.pkg"));
        assert_eq!(name("test_top.py").as_deref(), Some("test_top"));
        for item in [
            "t/test_x.py::test_f",
            "t/x.py[1]",
            "/abs/test_x.py",
            "./t.py",
            "",
        ] {
            assert_eq!(name(item), None, "{item}");
        }
        let key = |c: &str, n: &str| (c.to_string(), n.to_string());
        assert!(keys_of_id("tests/test_optional.py").contains(&key("", "tests.test_optional")));
    }

    #[test]
    fn other_ids_are_classname_and_name() {
        assert_eq!(
            fallback_id(Some("pkg.Class"), "test_a"),
            "pkg.Class::test_a"
        );
        assert_eq!(fallback_id(None, "TestGo"), "TestGo");
        assert_eq!(fallback_id(Some(""), "TestGo"), "TestGo");
        let key = |c: &str, n: &str| (c.to_string(), n.to_string());
        assert_eq!(
            keys_of_id("crate::module::tests::works"),
            [
                key("crate.module.tests", "works"),
                key("crate::module::tests", "works"),
                key("", "crate::module::tests::works"),
            ]
        );
        assert_eq!(keys_of_id("TestGo"), [key("", "TestGo")]);
        assert_eq!(
            keys_of_id("t/test_x.py::C::t[1]"),
            [
                key("t.test_x.C", "t[1]"),
                key("t/test_x.py::C", "t[1]"),
                key("", "t/test_x.py::C::t[1]"),
            ]
        );
        // Whatever case fallback_id names, the id's keys include that case.
        for (classname, name) in [
            (Some("parse [json]"), "works"),
            (None, "tests::it_works"),
            (Some("pkg.Class"), "test[a::b]"),
            (Some(""), "TestGo"),
        ] {
            let id = fallback_id(classname, name);
            let expected = key(classname.unwrap_or(""), name);
            assert!(
                keys_of_id(&id).contains(&expected),
                "{id}: {:?}",
                keys_of_id(&id)
            );
        }
    }
}
