//! Any bytes as a node's report, merged (both passes): whatever is accepted comes out as a
//! report our reader reads back whole, with the cases and statuses the merge counted; whatever
//! is refused is an error that names the file and a place in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardkit::junit::cases::{Status, read_cases};
use shardkit::merge::{self, Input, Options};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses whether a broken report is salvaged.
    let Some((&choice, report)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node-1.xml");
    std::fs::write(&path, report).unwrap();
    let input = Input {
        path,
        source: "node-1.xml".into(),
        label: "node-1".into(),
    };
    let options = Options {
        salvage: choice & 1 == 1,
        ..Options::default()
    };
    let merged = match merge::scan(vec![input], &options) {
        Ok(merged) => merged,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("node-1.xml:"), "{message}");
            return;
        }
    };
    let mut out = Vec::new();
    merged.write(&mut out).expect("an accepted report is written");
    let cases = read_cases(&out[..]).expect("the merged report reads back");
    let totals = merged.report().totals;
    let count = |status: Status| cases.iter().filter(|c| c.status == status).count() as u64;
    assert_eq!(cases.len() as u64, totals.tests);
    assert_eq!(count(Status::Failed), totals.failures);
    assert_eq!(count(Status::Errored), totals.errors);
    assert_eq!(count(Status::Skipped), totals.skipped);
    assert!(cases.iter().all(|c| c.property("shard.node").is_some()));
});
