//! Reading test ids (one per line) and the group key each id belongs to.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use crate::error::{Error, Location, Result};
use crate::ring::ring_hashes;

/// The set of test ids of one plan, stored in one buffer, with where each id was read.
///
/// Ids are opaque UTF-8 text. A trailing `\r` is dropped, lines that are empty or only
/// whitespace are skipped, and control characters are refused: they cannot be written to a
/// terminal, a TSV manifest or an XML report without changing the id.
#[derive(Debug, Default, Clone)]
pub struct TestIds {
    /// Every input, as read, one after the other.
    text: String,
    /// `text[start..end]` is id `i`.
    spans: Vec<(usize, usize)>,
    /// [`ring_hash`](crate::ring::ring_hash) of each id: its ring position when it is its own group, and the
    /// fast path of the duplicate check.
    hashes: Vec<u64>,
    /// Id indices sorted by `(hash, id)`: the ring order of ids that are their own group.
    hash_order: Vec<u32>,
    /// Each input's name and where it starts in `text`.
    sources: Vec<(String, usize)>,
}

impl TestIds {
    /// Reads ids from each `(name, reader)` in turn; `name` is used in error messages.
    ///
    /// Fails on unreadable input, invalid UTF-8 and control characters (naming the line and
    /// column), on a duplicated id (naming both lines), and when no id was read at all.
    pub fn read<I, R>(inputs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (String, R)>,
        R: Read,
    {
        let ids = Self::read_allowing_empty(inputs)?;
        if ids.is_empty() {
            return Err(Error::NoIds {
                sources: ids.describe_sources(),
            });
        }
        Ok(ids)
    }

    /// As [`read`], but no id at all is an empty set, not an error: a node's share may be
    /// empty (more nodes than groups), while a plan of nothing is a mistake.
    ///
    /// [`read`]: TestIds::read
    pub fn read_allowing_empty<I, R>(inputs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (String, R)>,
        R: Read,
    {
        let mut ids = TestIds::default();
        for (name, mut reader) in inputs {
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Read {
                    source_name: name.clone(),
                    source,
                })?;
            let text = String::from_utf8(bytes).map_err(|e| {
                let (line, column) = line_and_column(e.as_bytes(), e.utf8_error().valid_up_to());
                Error::InvalidUtf8 {
                    at: Location {
                        source: name.clone(),
                        line,
                    },
                    column,
                }
            })?;
            ids.add_source(name, text)?;
        }
        ids.check_duplicates()?;
        Ok(ids)
    }

    /// Builds a set from ids held in memory (tests, generated suites); same rules as [`read`].
    ///
    /// [`read`]: TestIds::read
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Result<Self> {
        let mut text = String::new();
        for line in lines {
            text.push_str(line.as_ref());
            text.push('\n');
        }
        Self::read([("<memory>".to_string(), text.as_bytes())])
    }

    /// Notes where the ids of `text`, one input, are, and appends it to the buffer.
    fn add_source(&mut self, name: String, text: String) -> Result<()> {
        let base = self.text.len();
        // A byte order mark (Windows editors write one) is not part of the first id.
        let skip = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let check = may_hold_controls(text.as_bytes());
        let mut offset = base + skip;
        for (index, line) in text[skip..].split('\n').enumerate() {
            let line_start = offset;
            offset += line.len() + 1;
            let id = line.strip_suffix('\r').unwrap_or(line);
            if id.bytes().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            if check && let Some((at, c)) = id.char_indices().find(|(_, c)| c.is_control()) {
                let column = at + if index == 0 { skip } else { 0 };
                return Err(Error::ControlCharacter {
                    at: Location {
                        source: name,
                        line: index as u64 + 1,
                    },
                    column: column as u64 + 1,
                    code: c as u32,
                });
            }
            self.spans.push((line_start, line_start + id.len()));
        }
        self.sources.push((name, base));
        if self.text.is_empty() {
            self.text = text;
        } else {
            self.text.push_str(&text);
        }
        Ok(())
    }

    /// Hashes every id, sorts them by `(hash, id)`, and fails on the first repeated id.
    fn check_duplicates(&mut self) -> Result<()> {
        let text = &self.text;
        let all: Vec<&str> = self.spans.iter().map(|&(s, e)| &text[s..e]).collect();
        self.hashes = ring_hashes(&all);
        let mut order: Vec<(u64, u32)> = self
            .hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        order.sort_unstable();
        // Equal hashes: the same id, or (rarely) a collision. Sort by id, then input order.
        let mut repeated: Option<(u32, u32)> = None;
        for run in order
            .chunk_by_mut(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            run.sort_unstable_by(|a, b| {
                all[a.1 as usize].cmp(all[b.1 as usize]).then(a.1.cmp(&b.1))
            });
            for same in run.chunk_by(|a, b| all[a.1 as usize] == all[b.1 as usize]) {
                if let [(_, first), (_, second), ..] = *same
                    && repeated.is_none_or(|(_, s)| second < s)
                {
                    repeated = Some((first, second));
                }
            }
        }
        if let Some((first, second)) = repeated {
            return Err(Error::DuplicateId {
                id: self.get(second as usize).to_string(),
                first: self.location(first as usize),
                second: self.location(second as usize),
            });
        }
        self.hash_order = order.into_iter().map(|(_, i)| i).collect();
        Ok(())
    }

    /// The number of ids.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there is no id.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Id number `i`, in input order.
    pub fn get(&self, i: usize) -> &str {
        let (start, end) = self.spans[i];
        &self.text[start..end]
    }

    /// The length in bytes of id number `i`, without reading it.
    pub fn len_of(&self, i: usize) -> usize {
        let (start, end) = self.spans[i];
        end - start
    }

    /// [`ring_hash`](crate::ring::ring_hash) of id number `i`, computed once when the ids are read.
    pub fn hash(&self, i: usize) -> u64 {
        self.hashes[i]
    }

    /// Ids that begin or end with whitespace, which is kept as part of the id but is more
    /// often a mistake in the list than a test's name.
    pub fn padded(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| {
            let id = self.get(i);
            id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace)
        })
    }

    /// Id indices in ring order, by `(hash, id)`.
    pub fn hash_order(&self) -> &[u32] {
        &self.hash_order
    }

    /// Every id, in input order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Where id number `i` was read (found by counting lines: for error messages).
    pub fn location(&self, i: usize) -> Location {
        let (start, _) = self.spans[i];
        let source = self.sources.partition_point(|&(_, s)| s <= start) - 1;
        let (name, source_start) = &self.sources[source];
        let (line, _) =
            line_and_column(&self.text.as_bytes()[*source_start..], start - source_start);
        Location {
            source: name.clone(),
            line,
        }
    }

    fn describe_sources(&self) -> String {
        match self.sources.as_slice() {
            [] => "the input".to_string(),
            [(one, _)] => one.clone(),
            many => many
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The 1-based line and column (in bytes) of byte `offset`.
fn line_and_column(bytes: &[u8], offset: usize) -> (u64, u64) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, (offset - start) as u64 + 1)
}

/// False when no byte of `bytes` can start a control character other than `\n`: C0 controls
/// and DEL are single bytes, C1 controls are encoded 0xC2 0x80..=0x9F. Written without an
/// early exit so that it vectorizes; `\r` counts, so CRLF input takes the careful path.
fn may_hold_controls(bytes: &[u8]) -> bool {
    let suspicious = |b: u8| (b < 0x20) & (b != b'\n') | (b == 0x7F) | (b == 0xC2);
    bytes
        .chunks(4096)
        .any(|chunk| chunk.iter().fold(false, |seen, &b| seen | suspicious(b)))
}

/// How ids are gathered into groups that always stay on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Every id is its own group.
    #[default]
    None,
    /// Ids sharing everything before their last segment (a class) form a group; an id with
    /// fewer than three segments (a module-level function) is its own group.
    Class,
    /// Ids sharing their first segment (a file) form a group.
    File,
}

impl GroupBy {
    /// The name used on the command line, in manifests and in fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Class => "class",
            GroupBy::File => "file",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(GroupBy::None),
            "class" => Ok(GroupBy::Class),
            "file" => Ok(GroupBy::File),
            _ => Err(Error::InvalidParameter {
                what: "group-by",
                value: s.to_string(),
                reason: "expected none, class or file".to_string(),
            }),
        }
    }
}

/// Derives group keys from ids: `group-by` and the segment separator.
///
/// An id's segments are found in the part before its first `[`, so a parameter such as
/// `test_x[a::b]` never splits. A group key is always a prefix of the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    by: GroupBy,
    separator: String,
}

impl Grouping {
    /// The separator must be non-empty printable text without `[`.
    pub fn new(by: GroupBy, separator: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidParameter {
            what: "separator",
            value: separator.to_string(),
            reason: reason.to_string(),
        };
        if separator.is_empty() {
            return Err(bad("it must not be empty"));
        }
        if separator.chars().any(char::is_control) {
            return Err(bad("it must not contain control characters"));
        }
        if separator.contains('[') {
            return Err(bad(
                "it must not contain `[`, which starts a test's parameters",
            ));
        }
        Ok(Grouping {
            by,
            separator: separator.to_string(),
        })
    }

    /// How ids are grouped.
    pub fn by(&self) -> GroupBy {
        self.by
    }

    /// The segment separator.
    pub fn separator(&self) -> &str {
        &self.separator
    }

    /// The key of the group `id` belongs to: a prefix of `id`.
    pub fn key<'a>(&self, id: &'a str) -> &'a str {
        if self.by == GroupBy::None {
            return id;
        }
        let head = &id[..id.find('[').unwrap_or(id.len())];
        match self.by {
            GroupBy::None => id,
            // An empty first segment (`::test`) names no file: the id is its own group.
            GroupBy::File => match head.find(self.separator.as_str()) {
                Some(end) if end > 0 => &id[..end],
                _ => id,
            },
            GroupBy::Class => {
                let mut cuts = head.match_indices(self.separator.as_str());
                match (cuts.next(), cuts.last()) {
                    (Some(_), Some((last, _))) => &id[..last],
                    _ => id,
                }
            }
        }
    }
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            by: GroupBy::None,
            separator: "::".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_give_ids_or_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            match read(&bytes) {
                Ok(ids) => {
                    prop_assert!(!ids.is_empty());
                    for id in ids.iter() {
                        prop_assert!(!id.contains('\n') && !id.chars().any(char::is_control));
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn printable_lines_are_read_back_exactly(
            lines in prop::collection::vec("[^\\p{Cc}]{0,12}", 1..40),
            crlf in any::<bool>(),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let text: String = lines.iter().map(|l| format!("{l}{end}")).collect();
            // A byte order mark at the very start is dropped. (line number, id) of each id:
            let first = lines[0].strip_prefix('\u{feff}').unwrap_or(&lines[0]);
            let expected: Vec<(u64, &str)> = std::iter::once(first)
                .chain(lines[1..].iter().map(String::as_str))
                .enumerate()
                .filter(|(_, l)| !l.bytes().all(|b| b.is_ascii_whitespace()))
                .map(|(i, l)| (i as u64 + 1, l))
                .collect();
            let mut seen = std::collections::HashSet::new();
            let has_duplicates = !expected.iter().all(|(_, l)| seen.insert(*l));
            match read(text.as_bytes()) {
                Ok(ids) => {
                    let got: Vec<(u64, &str)> =
                        (0..ids.len()).map(|i| (ids.location(i).line, ids.get(i))).collect();
                    prop_assert_eq!(got, expected.clone());
                }
                Err(Error::DuplicateId { .. }) => prop_assert!(has_duplicates),
                Err(Error::NoIds { .. }) => prop_assert!(expected.is_empty()),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    fn read(text: &[u8]) -> Result<TestIds> {
        TestIds::read([("ids.txt".to_string(), text)])
    }

    #[test]
    fn lines_are_trimmed_of_cr_and_blank_lines_skipped() {
        let ids = read(b"a::b\r\n\n   \r\nc d [\xc3\xa9]\n\ne").unwrap();
        let got: Vec<&str> = ids.iter().collect();
        assert_eq!(got, ["a::b", "c d [é]", "e"]);
        assert_eq!(ids.location(1).to_string(), "ids.txt:4");
        assert_eq!(ids.location(2).to_string(), "ids.txt:6");
    }

    #[test]
    fn blank_lines_may_hold_tabs_and_a_bom_is_dropped() {
        let ids = read(b"\xef\xbb\xbfa\n \t \r\n\tb c \n").unwrap_err();
        // A tab inside an id is still refused.
        assert_eq!(
            ids.to_string(),
            "ids.txt:3:1: test id contains the control character U+0009; ids must be printable text"
        );
        let ids = read(b"\xef\xbb\xbfa\n \t \r\nb c \n").unwrap();
        assert_eq!(ids.iter().collect::<Vec<_>>(), ["a", "b c "]);
        assert_eq!(ids.location(1).line, 3);
        assert_eq!(ids.padded().collect::<Vec<_>>(), [1]);
        let err = read(b"\xef\xbb\xbfa\x1b\n").unwrap_err();
        assert!(err.to_string().starts_with("ids.txt:1:5: "), "{err}");
    }

    #[test]
    fn duplicate_names_both_lines() {
        let err = read(b"x\ny\nz\ny\nx\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate test id `y`: first at ids.txt:2, again at ids.txt:4"
        );
    }

    #[test]
    fn duplicate_across_inputs_names_both_files() {
        let err = TestIds::read([
            ("one.txt".to_string(), &b"a\nb\n"[..]),
            ("two.txt".to_string(), &b"c\nb\n"[..]),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate test id `b`: first at one.txt:2, again at two.txt:2"
        );
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let err = read(b"ok\nab\xffc\n").unwrap_err();
        assert_eq!(err.to_string(), "ids.txt:2:3: test id is not valid UTF-8");
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(read(b"a\r").is_ok());
        let err = read(b"ok\na\rb\n").unwrap_err();
        assert!(err.to_string().starts_with("ids.txt:2:2: "), "{err}");
        let err = read("ok\nab\u{85}\n".as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("ids.txt:2:3: "), "{err}");
        let err = read(b"ok\na\tb\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ids.txt:2:2: test id contains the control character U+0009; ids must be printable text"
        );
    }

    #[test]
    fn no_ids_is_an_error() {
        let err = read(b"\n \r\n").unwrap_err();
        assert_eq!(err.to_string(), "no test ids in ids.txt: nothing to plan");
    }

    #[test]
    fn group_keys() {
        let class = Grouping::new(GroupBy::Class, "::").unwrap();
        let file = Grouping::new(GroupBy::File, "::").unwrap();
        let none = Grouping::default();
        let id = "tests/test_a.py::TestA::test_x[1::2]";
        assert_eq!(class.key(id), "tests/test_a.py::TestA");
        assert_eq!(file.key(id), "tests/test_a.py");
        assert_eq!(none.key(id), id);
        // A module-level function is its own group, as in distributed-nose.
        assert_eq!(class.key("t.py::test_f[a::b::c]"), "t.py::test_f[a::b::c]");
        assert_eq!(class.key("t.py::test_f"), "t.py::test_f");
        assert_eq!(file.key("t.py::test_f"), "t.py");
        assert_eq!(file.key("TestGo"), "TestGo");
        assert_eq!(file.key("::test_x"), "::test_x");
        assert_eq!(class.key("::A::test_x"), "::A");
        // Nested classes: everything before the last segment.
        assert_eq!(class.key("t.py::A::B::test"), "t.py::A::B");
        let dot = Grouping::new(GroupBy::Class, ".").unwrap();
        assert_eq!(dot.key("pkg.mod.Class.test"), "pkg.mod.Class");
    }

    #[test]
    fn separator_is_checked() {
        assert!(Grouping::new(GroupBy::Class, "").is_err());
        assert!(Grouping::new(GroupBy::Class, "[").is_err());
        assert!(Grouping::new(GroupBy::Class, "\t").is_err());
    }
}
