//! The tests of reading durations: weights, means, start-up costs and their reports.

use super::*;

#[test]
fn weights_are_steps_about_five_percent_apart() {
    assert_eq!(quantize(0.0), MIN_WEIGHT);
    assert_eq!(quantize(-1.0), MIN_WEIGHT);
    assert_eq!(quantize(f64::NAN), MIN_WEIGHT);
    assert_eq!(quantize(0.001), 1000);
    assert_eq!(quantize(0.00105), 1050);
    assert_eq!(quantize(0.001024), 1000);
    assert_eq!(quantize(0.001026), 1050);
    // Noise within a step does not change the weight; a real change does.
    let w = quantize(2.0);
    assert!([1.99, 2.0, 2.01].iter().all(|&s| quantize(s) == w));
    assert!(quantize(2.2) > w && quantize(1.8) < w);
    // Steps stay about 5% apart all the way up.
    let mut step = MIN_WEIGHT;
    while step < 3_600_000_000 {
        let next = step + step / 20;
        assert!((1.045..=1.051).contains(&(next as f64 / step as f64)) || step < 20_000);
        step = next;
    }
    assert!(quantize(1e30) > 0);
}

#[test]
fn a_plan_weighs_what_each_test_costs_its_process() {
    assert_eq!(
        (two_digits(2437), two_digits(87), two_digits(100_999)),
        (2400, 87, 100_000)
    );
    let mut timings = Timings {
        durations: vec![Some(0.5), None],
        ..Timings::default()
    };
    let ids = ["a.py::t", "a.py::u"];
    let classes = Grouping::new(GroupBy::Class, "::").unwrap();
    let plain = timings.weights();
    assert_eq!(timings.plan_weights(&ids, &classes, 3), plain);
    let plus = |extra: u64| plain.iter().map(|w| w + extra).collect::<Vec<_>>();
    let startup = |per_module| {
        Some(Startup {
            base: 2.0,
            per_module,
            per_case: 0.002437,
        })
    };
    timings.startup = startup(0.0);
    assert_eq!(timings.plan_weights(&ids, &classes, 3), plus(2400));
    // A module's cost too, shared by its groups: two groups on 3 nodes are held by 5/3 nodes
    // on average, so each of a.py's tests carries 5/6 of 0.05 s; a folder's own cost first.
    timings.startup = startup(0.05);
    assert_eq!(timings.plan_weights(&ids, &classes, 3), plus(2400 + 41_667));
    timings.per_folder.insert("t".to_string(), 0.5);
    let ids = ["t/a.py::t", "t/a.py::u"];
    assert_eq!(
        timings.plan_weights(&ids, &classes, 3),
        plus(2400 + 416_667)
    );
    // No durations known: a plan by count, whatever the reports' processes said.
    timings.durations = vec![None, None];
    assert_eq!(timings.plan_weights(&ids, &classes, 3), [1, 1]);
}

#[test]
fn a_nodes_run_weighs_each_test_as_measured() {
    let timings = Timings {
        durations: vec![Some(0.0001), Some(0.5), None, Some(0.0)],
        ..Timings::default()
    };
    // A plan's: a millisecond at least, in steps; the run's: what was measured.
    assert_eq!(timings.weights()[0], 1000);
    assert_eq!(timings.run_weights(), [100, 500_000, 100, 0]);
    let none = Timings {
        durations: vec![None, None],
        ..Timings::default()
    };
    assert_eq!(none.run_weights(), [1, 1]);
}

#[test]
fn medians() {
    assert_eq!(median(vec![]), None);
    assert_eq!(median(vec![3.0]), Some(3.0));
    assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
    assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
}

fn write(dir: &std::path::Path, name: &str, xml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, xml).unwrap();
    path
}

#[test]
fn the_start_up_cost_is_the_median_of_each_processs_wall_time_less_its_cases() {
    let dir = tempfile::tempdir().unwrap();
    let case = |name: &str, time: &str, node: &str, process: &str, span: (&str, &str)| {
        format!(
            r#"<testcase name="{name}" time="{time}"><properties><property name="shard.node" value="{node}"/><property name="shard.process" value="{process}"/><property name="shard.process.start" value="2024-05-01T12:00:{}Z"/><property name="shard.process.end" value="2024-05-01T12:00:{}Z"/></properties></testcase>"#,
            span.0, span.1
        )
    };
    let xml = [
        "<testsuite>".to_string(),
        // Node 1, process 1: 2 s for 1.2 s of cases; process 2: 1 s for 0.4 s.
        case("a", "0.5", "1", "1", ("00.000", "02.000")),
        case("b", "0.7", "1", "1", ("00.000", "02.000")),
        case("c", "0.4", "1", "2", ("02.000", "03.000")),
        // Node 2's process 1 is another process: 1.5 s for 0.5 s.
        case("d", "0.5", "2", "1", ("00.000", "01.500")),
        // A case without its process says nothing of start-up.
        r#"<testcase name="e" time="3"/>"#.to_string(),
        "</testsuite>".to_string(),
    ]
    .concat();
    let report = write(dir.path(), "r.xml", &xml);
    let timings = Timings::read(["a", "b", "c", "d", "e"], &[report], "::");
    assert_eq!(timings.processes, 3);
    // Sizes 2, 1 and 1 give too few slopes: the median of 0.8, 0.6 and 1.0.
    let startup = timings.startup.unwrap();
    assert!((startup.base - 0.8).abs() < 1e-9, "{startup:?}");
    assert_eq!(startup.per_case, 0.0);
    let plain = write(
        dir.path(),
        "plain.xml",
        r#"<testsuite><testcase name="a" time="1"/></testsuite>"#,
    );
    let timings = Timings::read(["a"], &[plain], "::");
    assert_eq!((timings.startup, timings.processes), (None, 0));
}

#[test]
fn a_reports_processes_give_each_folders_modules_their_cost() {
    // Eight processes of tests from modules of two folders: each costs 1 s, 200 ms a
    // module of `u/tests`, 60 ms one of `c/tests` and 1 ms a test beyond its cases' times.
    let shapes = [
        (600, 2, 30),
        (620, 10, 2),
        (300, 4, 4),
        (310, 1, 6),
        (900, 12, 12),
        (450, 6, 20),
        (1200, 3, 25),
        (800, 15, 5),
    ];
    let mut xml = String::from("<testsuite>");
    let mut ids = Vec::new();
    for (process, &(cases, units, coords)) in shapes.iter().enumerate() {
        let modules: Vec<String> = (0..units)
            .map(|m| format!("u/tests/test_{m}.py"))
            .chain((0..coords).map(|m| format!("c/tests/test_{m}.py")))
            .collect();
        let overhead = 1.0 + 0.2 * units as f64 + 0.06 * coords as f64 + 0.001 * cases as f64;
        let end = overhead + 0.002 * cases as f64;
        for case in 0..cases {
            let id = format!("{}::test_{process}_{case}", modules[case % modules.len()]);
            xml += &format!(
                r#"<testcase name="t" time="0.002"><properties><property name="shard.id" value="{id}"/><property name="shard.node" value="1"/><property name="shard.process" value="{process}"/><property name="shard.process.start" value="2024-05-01T12:00:00.000Z"/><property name="shard.process.end" value="2024-05-01T12:00:{end:06.3}Z"/></properties></testcase>"#
            );
            ids.push(id);
        }
    }
    xml += "</testsuite>";
    let dir = tempfile::tempdir().unwrap();
    let report = write(dir.path(), "r.xml", &xml);
    let timings = Timings::read(ids.iter().map(String::as_str), &[report], "::");
    assert_eq!((timings.processes, timings.known()), (8, ids.len()));
    let folders: Vec<&str> = timings.per_folder.keys().map(String::as_str).collect();
    assert_eq!(folders, ["c/tests", "u/tests"]);
    let (units, coords) = (timings.per_folder["u/tests"], timings.per_folder["c/tests"]);
    assert!(units > 0.17 && units < 0.23, "{:?}", timings.per_folder);
    assert!(coords > 0.04 && coords < 0.09, "{:?}", timings.per_folder);
    let startup = timings.startup.unwrap();
    assert!((startup.per_case - 0.001).abs() < 2e-4, "{startup:?}");
    // A report from one folder alone has none.
    let one: String = xml.replace("c/tests/", "u/tests/other_");
    let report = write(dir.path(), "one.xml", &one);
    let ids: Vec<String> = ids
        .iter()
        .map(|i| i.replace("c/tests/", "u/tests/other_"))
        .collect();
    let timings = Timings::read(ids.iter().map(String::as_str), &[report], "::");
    assert!(timings.per_folder.is_empty(), "{:?}", timings.per_folder);
}

#[test]
fn durations_come_from_the_cases_that_name_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.xml",
        r#"<testsuite><testcase classname="t.test_a.TestA" name="test_x" time="2"/>
<testcase name="anything" time="7"><properties><property name="shard.id" value="t/test_a.py::test_f"/></properties></testcase>
<testcase classname="other" name="unrelated" time="100"/></testsuite>"#,
    );
    write(
        dir.path(),
        "b.xml",
        r#"<testsuites><testsuite><testcase classname="t.test_a.TestA" name="test_x" time="4"/>
<testcase classname="t.test_a.TestA" name="test_x" time="9"/><testcase classname="mod" name="t" time="1,500.5"/></testsuite></testsuites>"#,
    );
    let broken = write(dir.path(), "broken.xml", "<testsuite><testcase name=");
    let ids = [
        "t/test_a.py::TestA::test_x",
        "t/test_a.py::test_f",
        "mod::t",
        "new::test",
    ];
    let timings = Timings::read(
        ids,
        &[
            a,
            dir.path().join("b.xml"),
            broken,
            dir.path().join("missing"),
        ],
        "::",
    );
    assert_eq!(
        timings.durations,
        [Some(5.0), Some(7.0), Some(1500.5), None]
    );
    assert_eq!(timings.files, 2);
    assert_eq!(timings.matched, 5);
    assert_eq!(timings.problems.len(), 2);
    assert!(
        timings.problems[0]
            .to_string()
            .starts_with(&format!("{}:1:", dir.path().join("broken.xml").display())),
        "{}",
        timings.problems[0]
    );
    assert!(timings.problems[1].to_string().contains("missing"));
    // The unknown id weighs the median known duration (5, 7, 1500.5 -> 7).
    let weights = timings.weights();
    assert_eq!(
        weights,
        [
            quantize(5.0),
            quantize(7.0),
            quantize(1500.5),
            quantize(7.0)
        ]
    );
    // A directory is walked for *.xml.
    let walked = Timings::read(ids, &[dir.path().to_path_buf()], "::");
    assert_eq!(walked.files, 2);
    // Nothing known: a plan by count.
    let none = Timings::read(["x"], &[], "::");
    assert_eq!(none.weights(), [1]);
}

/// What a node's wall time sums is each test's expected time: a test slow one run in three
/// weighs a third of it; a run that failed (a hang killed at its timeout) does not count
/// while the test has runs that did not fail; the order of the reports changes no bit.
#[test]
fn an_ids_duration_is_the_mean_of_its_runs_that_did_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let case = |name: &str, time: &str, child: &str| {
        format!(r#"<testcase classname="m" name="{name}" time="{time}">{child}</testcase>"#)
    };
    let runs = [
        ["0.03", "1", "600", "2", "0"],
        ["4.12", "1", "1", "3", "0.1"],
        ["0.02", "1", "3", "0.1", "0.2"],
    ];
    let mut paths = Vec::new();
    for (run, times) in runs.iter().enumerate() {
        let timeout = r#"<error message="timed out"/>"#;
        let cases = [
            case("spiky", times[0], ""),
            case("steady", times[1], ""),
            case("hung", times[2], if run == 0 { timeout } else { "" }),
            case("always_fails", times[3], "<failure/>"),
            case(
                "skipped_once",
                times[4],
                if run == 0 { "<skipped/>" } else { "" },
            ),
        ];
        let report = format!("<testsuite>{}</testsuite>", cases.concat());
        paths.push(write(dir.path(), &format!("run-{run}.xml"), &report));
    }
    let ids = [
        "m::spiky",
        "m::steady",
        "m::hung",
        "m::always_fails",
        "m::skipped_once",
    ];
    let timings = Timings::read(ids, &paths, "::");
    let close = |d: Option<f64>, want: f64| d.is_some_and(|d| (d - want).abs() < 1e-9);
    let want = [4.17 / 3.0, 1.0, 2.0, 5.1 / 3.0, 0.1];
    for ((id, got), want) in ids.iter().zip(&timings.durations).zip(want) {
        assert!(close(*got, want), "{id}: {got:?}, not {want}");
    }
    // Any order of the same reports gives the same bits.
    paths.reverse();
    assert_eq!(
        Timings::read(ids, &paths, "::").durations,
        timings.durations
    );
    paths.swap(0, 1);
    assert_eq!(
        Timings::read(ids, &paths, "::").durations,
        timings.durations
    );
}

#[test]
fn a_plan_that_counts_modules_spreads_the_costly_ones() {
    // 30 modules of one quick test each whose import costs 1 s, beside 3,000 tests of 10 ms
    // in three modules that every node holds anyway. By the tests' times alone the 30 land
    // as the ring puts them; each node then pays 1 s for each it holds (here the nodes come
    // to 1.096 of their mean; counting the modules, to 1.010).
    let mut ids: Vec<String> = (0..30).map(|m| format!("slow/test_{m}.py::test")).collect();
    ids.extend((0..3000).map(|t| format!("fast/test_{}.py::test_{t}", t % 3)));
    let timings = Timings {
        durations: ids
            .iter()
            .map(|id| Some(if id.starts_with("slow") { 0.001 } else { 0.01 }))
            .collect(),
        startup: Some(Startup {
            base: 1.0,
            per_module: 0.02,
            per_case: 0.0,
        }),
        per_folder: [("slow".to_string(), 1.0), ("fast".to_string(), 0.02)].into(),
        ..Timings::default()
    };
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let set = crate::ids::TestIds::from_lines(&names).unwrap();
    let classes = Grouping::new(GroupBy::Class, "::").unwrap();
    let params = crate::plan::PlanParams {
        load_factor: crate::ring::LoadFactor::WITH_DURATIONS,
        grouping: classes.clone(),
        ..crate::plan::PlanParams::new(3)
    };
    // What each node costs: its tests' times and 1 s or 0.02 s for each module it holds.
    let spread = |weights: Vec<u64>| {
        let plan = crate::plan::Plan::new(&set, weights, params.clone()).unwrap();
        let mut cost = [0.0f64; 3];
        let mut held: HashSet<(u32, &str)> = HashSet::new();
        for entry in plan.entries() {
            let node = entry.node as usize - 1;
            cost[node] += if entry.id.starts_with("slow") {
                0.001
            } else {
                0.01
            };
            let module = entry.id.split("::").next().unwrap();
            if held.insert((entry.node, module)) {
                cost[node] += if module.starts_with("slow") {
                    1.0
                } else {
                    0.02
                };
            }
        }
        cost.iter().copied().fold(0.0, f64::max) / (cost.iter().sum::<f64>() / 3.0)
    };
    let by_modules = spread(timings.plan_weights(&names, &classes, 3));
    let by_tests = spread(timings.weights());
    assert!(by_tests > 1.05, "{by_tests}");
    assert!(by_modules < 1.03, "{by_modules}");
}
