//! Measures plan quality on a synthetic pytest-style suite, for choosing the ring's defaults.
//!
//! `cargo run --release -p shardkit-cli --example plan_quality -- [IDS] [VNODES,...] [C,...] [GROUP_BY]`
//! prints, per (vnodes, load factor): the worst count max/mean over N = 2..32, the worst
//! N -> N+1 movement over N = 2..16 as a multiple of the ideal 1/(N+1), the worst share of
//! existing ids moved by adding 1% new ids (N = 2..32), and the time of one 16-node plan.

#[path = "../../lib/tests/support/suite.rs"]
#[allow(dead_code)]
mod suite;

use std::collections::HashMap;
use std::time::Instant;

use shardkit::{GroupBy, Grouping, LoadFactor, Plan, PlanParams, TestIds};

fn assignment(ids: &TestIds, params: &PlanParams) -> HashMap<String, u32> {
    let plan = Plan::by_count(ids, params.clone()).expect("plan");
    plan.entries().map(|e| (e.id.to_string(), e.node)).collect()
}

fn moved(before: &HashMap<String, u32>, after: &HashMap<String, u32>) -> f64 {
    let changed = before.iter().filter(|(id, n)| after[*id] != **n).count();
    changed as f64 / before.len() as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().map_or(100_000, |a| a.parse().expect("IDS"));
    let list = |i: usize, default: &str| -> Vec<String> {
        args.get(i)
            .map_or(default, String::as_str)
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let vnodes: Vec<u32> = list(1, "64,128,256,512")
        .iter()
        .map(|v| v.parse().expect("VNODES"))
        .collect();
    let factors: Vec<LoadFactor> = list(2, "1.02,1.05,1.10")
        .iter()
        .map(|c| c.parse().expect("C"))
        .collect();

    let by: GroupBy = args
        .get(3)
        .map_or("none", String::as_str)
        .parse()
        .expect("GROUP_BY");
    let grouping = Grouping::new(by, "::").expect("grouping");

    let base = suite::pytest_ids(count, 1);
    let mut grown = base.clone();
    grown.extend(suite::new_ids(count / 100, 2));
    let base_ids = TestIds::from_lines(&base).unwrap();
    let grown_ids = TestIds::from_lines(&grown).unwrap();

    println!("ids: {count}, group-by {by}");
    println!(
        "| vnodes | c | count max/mean (N 2..32) | N->N+1 moved / ideal (N 2..16) | +1% ids: existing moved | 16-node plan |"
    );
    println!("|---|---|---|---|---|---|");
    for &v in &vnodes {
        for &c in &factors {
            let params = |n: u32| PlanParams {
                vnodes: v,
                load_factor: c,
                grouping: grouping.clone(),
                ..PlanParams::new(n)
            };
            let mut worst_balance: f64 = 0.0;
            let mut worst_move: f64 = 0.0;
            let mut worst_churn: f64 = 0.0;
            let mut prev: Option<HashMap<String, u32>> = None;
            for n in 2..=32u32 {
                let plan = Plan::by_count(&base_ids, params(n)).unwrap();
                let loads = plan.loads();
                let max = loads.iter().map(|l| l.weight).max().unwrap() as f64;
                let mean = count as f64 / f64::from(n);
                worst_balance = worst_balance.max(max / mean);
                let now: HashMap<String, u32> =
                    plan.entries().map(|e| (e.id.to_string(), e.node)).collect();
                if let Some(prev) = &prev
                    && n <= 17
                {
                    worst_move = worst_move.max(moved(prev, &now) * f64::from(n));
                }
                let after = assignment(&grown_ids, &params(n));
                worst_churn = worst_churn.max(moved(&now, &after));
                prev = Some(now);
            }
            let start = Instant::now();
            let plan = Plan::by_count(&base_ids, params(16)).unwrap();
            let _ = plan.fingerprint();
            let took = start.elapsed();
            println!(
                "| {v} | {c} | {worst_balance:.4} | {worst_move:.3} | {:.3}% | {:.0} ms |",
                worst_churn * 100.0,
                took.as_secs_f64() * 1000.0
            );
        }
    }
}
