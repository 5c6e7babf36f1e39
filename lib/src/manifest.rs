//! The manifest: a whole plan in one file, written once and handed to every node and to the
//! merge step, which check their work against it.
//!
//! Format 1 is UTF-8 text. The first line is a header of tab-separated fields: the magic
//! `#shardkit-manifest`, then `format=1`, the plan's parameters (`algorithm`, `vnodes`,
//! `load-factor`, `group-by`, `separator`, `nodes`), `ids`, `groups` and
//! `fingerprint=sha256:HEX`. Then one line per id: `NODE<TAB>WEIGHT<TAB>GROUP<TAB>ID`, node 1
//! first, each node's ids in reading order.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use crate::error::{Error, Location, Result};
use crate::ids::{GroupBy, Grouping, TestIds};
use crate::plan::{Plan, PlanParams};
use crate::ring::{self, LoadFactor};

/// Version of the manifest's layout, written in its header.
pub const FORMAT: u32 = 1;

/// The first field of a manifest's header line.
pub const MAGIC: &str = "#shardkit-manifest";

/// Writes `plan` as a manifest.
pub fn write(plan: &Plan<'_>, out: &mut dyn Write) -> io::Result<()> {
    write!(out, "{MAGIC}\tformat={FORMAT}")?;
    for (key, value) in plan.params().fields() {
        write!(out, "\t{key}={value}")?;
    }
    writeln!(
        out,
        "\tids={}\tgroups={}\tfingerprint=sha256:{}",
        plan.ids().len(),
        plan.group_count(),
        plan.fingerprint()
    )?;
    for e in plan.entries_by_node() {
        writeln!(out, "{}\t{}\t{}\t{}", e.node, e.weight, e.group, e.id)?;
    }
    Ok(())
}

/// One id of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub node: u32,
    pub weight: u64,
    pub group: String,
    pub id: String,
}

/// A manifest read back, and checked: its lines are exactly the plan that its header's
/// parameters give for its ids, with the fingerprint it states.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The parameters the plan was made with.
    pub params: PlanParams,
    /// The plan's fingerprint, lowercase hex.
    pub fingerprint: String,
    /// Every id, in the file's order.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads and checks a manifest; `name` is used in error messages.
    ///
    /// Fails, naming the line (and column where there is one), on anything that is not a
    /// format-1 manifest of this algorithm, on a file with fewer or more ids than its header
    /// says (a truncated copy), and on a plan that does not follow from its own header (an
    /// edited or damaged file).
    pub fn read(name: &str, mut reader: impl Read) -> Result<Self> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|source| Error::Read {
                source_name: name.to_string(),
                source,
            })?;
        let bad = |line: u64, reason: String| Error::Manifest {
            at: Location {
                source: name.to_string(),
                line,
            },
            reason,
        };
        let mut lines = text.lines();
        let header = lines
            .next()
            .ok_or_else(|| bad(1, "empty file: not a shardkit manifest".into()))?;
        let header = Header::parse(header).map_err(|reason| bad(1, reason))?;

        let mut entries = Vec::with_capacity(header.ids);
        for (index, line) in lines.enumerate() {
            let number = index as u64 + 2;
            let mut fields = line.splitn(4, '\t');
            let (Some(node), Some(weight), Some(group), Some(id)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad(
                    number,
                    "expected NODE<TAB>WEIGHT<TAB>GROUP<TAB>ID".into(),
                ));
            };
            let node: u32 = node
                .parse()
                .ok()
                .filter(|n| (1..=header.params.nodes).contains(n))
                .ok_or_else(|| {
                    bad(
                        number,
                        format!(
                            "node `{node}` is not one of the {} nodes",
                            header.params.nodes
                        ),
                    )
                })?;
            let weight: u64 = weight
                .parse()
                .map_err(|_| bad(number, format!("weight `{weight}` is not a whole number")))?;
            entries.push(ManifestEntry {
                node,
                weight,
                group: group.to_string(),
                id: id.to_string(),
            });
        }
        if entries.len() != header.ids {
            return Err(bad(
                entries.len() as u64 + 2,
                format!(
                    "the header promises {} ids but the file has {}: it is truncated or damaged",
                    header.ids,
                    entries.len()
                ),
            ));
        }
        let manifest = Manifest {
            params: header.params,
            fingerprint: header.fingerprint,
            entries,
        };
        manifest.check(name)?;
        Ok(manifest)
    }

    /// Plans the manifest's ids again with its parameters: the same nodes, groups and
    /// fingerprint, or the file was changed after it was written.
    fn check(&self, name: &str) -> Result<()> {
        let mut list = String::new();
        for e in &self.entries {
            list.push_str(&e.id);
            list.push('\n');
        }
        let ids = TestIds::read([(name.to_string(), list.as_bytes())]).map_err(|e| match e {
            // Line n of the list is line n + 1 of the manifest.
            Error::DuplicateId { id, first, second } => Error::DuplicateId {
                id,
                first: Location {
                    line: first.line + 1,
                    ..first
                },
                second: Location {
                    line: second.line + 1,
                    ..second
                },
            },
            other => other,
        })?;
        let weights = self.entries.iter().map(|e| e.weight).collect();
        let plan = Plan::new(&ids, weights, self.params.clone())?;
        let damaged = |line: usize, reason: String| Error::Manifest {
            at: Location {
                source: name.to_string(),
                line: line as u64 + 2,
            },
            reason: format!("{reason}: the file was changed after shard-plan wrote it"),
        };
        let planned: HashMap<&str, (u32, &str)> =
            plan.entries().map(|e| (e.id, (e.node, e.group))).collect();
        for (line, e) in self.entries.iter().enumerate() {
            let (node, group) = planned[e.id.as_str()];
            if group != e.group {
                return Err(damaged(
                    line,
                    format!("`{}` is in group `{group}`, not `{}`", e.id, e.group),
                ));
            }
            if node != e.node {
                return Err(damaged(
                    line,
                    format!("`{}` is planned on node {node}, not {}", e.id, e.node),
                ));
            }
        }
        if plan.fingerprint() != self.fingerprint {
            return Err(damaged(
                0,
                format!("the fingerprint is sha256:{}", plan.fingerprint()),
            ));
        }
        Ok(())
    }

    /// The ids planned on `node`, in the file's order.
    pub fn node_ids(&self, node: u32) -> impl Iterator<Item = &str> + '_ {
        self.entries
            .iter()
            .filter(move |e| e.node == node)
            .map(|e| e.id.as_str())
    }
}

/// The header line, parsed.
struct Header {
    params: PlanParams,
    ids: usize,
    fingerprint: String,
}

impl Header {
    fn parse(line: &str) -> Result<Self, String> {
        let mut fields = line.split('\t');
        if fields.next() != Some(MAGIC) {
            return Err(format!(
                "not a shardkit manifest: the first line must start with `{MAGIC}`"
            ));
        }
        let mut values: HashMap<&str, &str> = HashMap::new();
        for field in fields {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("header field `{field}` is not key=value"))?;
            if values.insert(key, value).is_some() {
                return Err(format!("header field `{key}` appears twice"));
            }
        }
        let mut take = |key: &str| {
            values
                .remove(key)
                .ok_or_else(|| format!("the header has no `{key}`"))
        };
        let format = take("format")?;
        if format != FORMAT.to_string() {
            return Err(format!(
                "manifest format {format}: this shardkit reads format {FORMAT}"
            ));
        }
        let algorithm = take("algorithm")?;
        if algorithm != ring::ALGORITHM {
            return Err(format!(
                "planned by algorithm {algorithm}: this shardkit plans with {}",
                ring::ALGORITHM
            ));
        }
        let number = |key: &str, value: &str| -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("`{key}={value}` is not a whole number"))
        };
        let vnodes = take("vnodes")?;
        let vnodes = number("vnodes", vnodes)?;
        let load_factor: LoadFactor = take("load-factor")?
            .parse()
            .map_err(|e: Error| e.to_string())?;
        let by: GroupBy = take("group-by")?
            .parse()
            .map_err(|e: Error| e.to_string())?;
        let grouping = Grouping::new(by, take("separator")?).map_err(|e| e.to_string())?;
        let nodes = take("nodes")?;
        let nodes = number("nodes", nodes)?;
        let ids = take("ids")?;
        let ids = number("ids", ids)?;
        take("groups")?;
        let fingerprint = take("fingerprint")?;
        let fingerprint = fingerprint
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("`fingerprint={fingerprint}` is not sha256:<64 hex digits>"))?
            .to_ascii_lowercase();
        if let Some(key) = values.keys().next() {
            return Err(format!("unknown header field `{key}`"));
        }
        let too_big = |key: &str| format!("`{key}` is out of range");
        Ok(Header {
            params: PlanParams {
                nodes: u32::try_from(nodes).map_err(|_| too_big("nodes"))?,
                vnodes: u32::try_from(vnodes).map_err(|_| too_big("vnodes"))?,
                load_factor,
                grouping,
            },
            ids: usize::try_from(ids).map_err(|_| too_big("ids"))?,
            fingerprint,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_plan_reads_back_as_written(
            ids in prop::collection::btree_set("[a-c]{1,2}(::[A-C]{1,2}){0,2}::t[0-9]{1,2}( [xé])?", 1..80),
            weights in prop::collection::vec(0..50u64, 80),
            nodes in 1..12u32,
            by in prop_oneof![Just(GroupBy::None), Just(GroupBy::Class), Just(GroupBy::File)],
        ) {
            let lines: Vec<&String> = ids.iter().collect();
            let set = TestIds::from_lines(&lines).unwrap();
            let params = PlanParams {
                vnodes: 16,
                grouping: Grouping::new(by, "::").unwrap(),
                ..PlanParams::new(nodes)
            };
            let plan = Plan::new(&set, weights[..set.len()].to_vec(), params.clone()).unwrap();
            let mut out = Vec::new();
            write(&plan, &mut out).unwrap();
            let m = Manifest::read("m", &out[..]).unwrap();
            prop_assert_eq!(&m.params, &params);
            prop_assert_eq!(&m.fingerprint, &plan.fingerprint());
            let expected: Vec<ManifestEntry> = plan
                .entries_by_node()
                .map(|e| ManifestEntry { node: e.node, weight: e.weight, group: e.group.to_string(), id: e.id.to_string() })
                .collect();
            prop_assert_eq!(m.entries, expected);
        }
    }

    /// A manifest of five ids on three nodes, as written.
    pub(crate) fn sample() -> String {
        let ids = TestIds::from_lines(&[
            "t.py::A::a",
            "t.py::A::b",
            "t.py::f",
            "u.py::B::c[x y]",
            "u.py::g",
        ])
        .unwrap();
        let params = PlanParams {
            grouping: Grouping::new(GroupBy::Class, "::").unwrap(),
            ..PlanParams::new(3)
        };
        let plan = Plan::by_count(&ids, params).unwrap();
        let mut out = Vec::new();
        write(&plan, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn read(text: &str) -> Result<Manifest> {
        Manifest::read("plan.tsv", text.as_bytes())
    }

    #[test]
    fn a_written_manifest_reads_back() {
        let text = sample();
        let m = read(&text).unwrap();
        assert_eq!(m.entries.len(), 5);
        assert_eq!(m.params.nodes, 3);
        assert_eq!(m.params.grouping.by(), GroupBy::Class);
        let all: usize = (1..=3).map(|k| m.node_ids(k).count()).sum();
        assert_eq!(all, 5);
        let a = m.entries.iter().find(|e| e.id == "t.py::A::a").unwrap();
        let b = m.entries.iter().find(|e| e.id == "t.py::A::b").unwrap();
        assert_eq!((a.node, a.group.as_str()), (b.node, "t.py::A"));
    }

    #[test]
    fn damage_is_found_and_placed() {
        let text = sample();
        let lines: Vec<&str> = text.lines().collect();
        // Truncated: a line lost.
        let truncated = lines[..lines.len() - 1].join("\n");
        let err = read(&truncated).unwrap_err().to_string();
        assert!(
            err.starts_with("plan.tsv:6: the header promises 5 ids but the file has 4"),
            "{err}"
        );
        // A node changed by hand: out of range, or another node.
        let with_line = |replacement: String| {
            let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            edited[1] = replacement;
            edited.join("\n")
        };
        let (node, rest) = lines[1].split_once('\t').unwrap();
        let err = read(&with_line(format!("9\t{rest}")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("plan.tsv:2: node `9` is not one of the 3 nodes"),
            "{err}"
        );
        let other = if node == "1" { "2" } else { "1" };
        let err = read(&with_line(format!("{other}\t{rest}")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("plan.tsv:2: ")
                && err.contains("was changed after shard-plan wrote it"),
            "{err}"
        );
        // An id changed by hand: the fingerprint no longer fits.
        let edited = text.replace("u.py::g", "u.py::h");
        let err = read(&edited).unwrap_err().to_string();
        assert!(err.contains("the fingerprint is sha256:"), "{err}");
        // Not a manifest, another format, another algorithm.
        for (text, needle) in [
            ("", "plan.tsv:1: empty file"),
            ("a\tb\n", "plan.tsv:1: not a shardkit manifest"),
            (&text.replace("format=1", "format=2"), "manifest format 2"),
            (
                &text.replace("bounded-ring/2", "bounded-ring/9"),
                "planned by algorithm bounded-ring/9",
            ),
            (
                &text.replace("\tgroups=", "\tcolour=blue\tgroups="),
                "unknown header field `colour`",
            ),
            (
                &text.replacen("\t1\tt.py::", "\tone\tt.py::", 1),
                "weight `one` is not a whole number",
            ),
        ] {
            let err = read(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }
}
