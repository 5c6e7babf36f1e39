//! The inputs of a merge: which files are reports, and the node each is labelled with when it
//! does not say so itself.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::junit::reader::{Decoded, locate_all};

use super::edits::Stamp;

/// One report to merge.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where to read it (a spooled copy for standard input).
    pub path: PathBuf,
    /// How to name it: in `shard.source`, messages and the summary.
    pub source: String,
    /// The node it came from, unless it says so itself with a `shard.node` property.
    pub label: String,
}

/// How a node's label is taken from a report's path when the report does not carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelFrom {
    /// The file name without its extension: `reports/node-3.xml` is `node-3`.
    #[default]
    Stem,
    /// The directory holding the file: `reports/node-3/TEST-a.xml` is `node-3`.
    Parent,
}

/// The node label of the report at `path`.
pub fn label_of(path: &Path, from: LabelFrom) -> String {
    let name = match from {
        LabelFrom::Stem => path.file_stem().map(|n| n.to_os_string()),
        LabelFrom::Parent => {
            let parent = path.parent().unwrap_or(Path::new(""));
            let dir = if parent.as_os_str().is_empty() {
                std::env::current_dir().ok()
            } else {
                std::path::absolute(parent).ok()
            };
            dir.and_then(|d| d.file_name().map(|n| n.to_os_string()))
        }
    };
    match name {
        Some(name) if !name.is_empty() => name.to_string_lossy().into_owned(),
        _ => path.display().to_string(),
    }
}

/// The `*.xml` files under each path, in a fixed order: a file named is taken as it is (any
/// extension); a directory is walked, its entries sorted by name. `skip` (the output, and the
/// earlier versions kept beside it) is left out of walks.
pub fn find_reports(paths: &[PathBuf], skip: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let skip: Vec<PathBuf> = skip.iter().filter_map(|s| s.canonicalize().ok()).collect();
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Read {
            source_name: path.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            found.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::Read {
                source_name: e.path().unwrap_or(path).display().to_string(),
                source: e.into(),
            })?;
            let is_xml = entry
                .path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("xml"));
            if !entry.file_type().is_file() || !is_xml {
                continue;
            }
            if !skip.is_empty()
                && entry
                    .path()
                    .canonicalize()
                    .is_ok_and(|path| skip.contains(&path))
            {
                continue;
            }
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

/// The number a node label names: its trailing digits (`3`, `node-3`, `junit3`).
pub fn node_number(label: &str) -> Option<u32> {
    let digits = label.len() - label.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    label[label.len() - digits..].parse().ok()
}

/// A file's length and modification time, to tell whether it changed between the passes.
pub(super) fn stamp_of(file: &File) -> Option<Stamp> {
    let meta = file.metadata().ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok()?,
    })
}

/// Opens an input to read, naming it when it cannot be.
pub(super) fn open(input: &Input) -> Result<File> {
    File::open(&input.path).map_err(|source| Error::Read {
        source_name: input.source.clone(),
        source,
    })
}

/// Lines and columns of offsets in the input, reading it once.
pub(super) fn place(input: &Input, offsets: &[u64]) -> Result<Vec<(u64, u64)>> {
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    locate_all(Decoded::new(open(input)?), offsets).map_err(|source| Error::Read {
        source_name: input.source.clone(),
        source,
    })
}
