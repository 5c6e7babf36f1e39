//! A report merged both ways: to a writer, and into a file (the path that copies long runs from
//! file to file), which must write the same bytes.

use std::path::Path;

use shardkit::merge::{self, Input, Options};

/// Merges `report` as node-1 (written into `dir`) to a writer and into a file; returns the
/// bytes, the same both ways.
pub fn both_ways(dir: &Path, report: &[u8], options: &Options<'_>) -> Vec<u8> {
    let path = dir.join("node-1.xml");
    std::fs::write(&path, report).unwrap();
    let input = Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let merge = merge::scan(vec![input], options).unwrap();
    let mut out = Vec::new();
    merge.write(&mut out).unwrap();
    let file_path = dir.join("merged.xml");
    let file = std::fs::File::create(&file_path).unwrap();
    merge.write_file(&file).unwrap();
    drop(file);
    let in_file = std::fs::read(&file_path).unwrap();
    assert!(
        in_file == out,
        "the file and the writer differ for {:.200}",
        String::from_utf8_lossy(report)
    );
    out
}
