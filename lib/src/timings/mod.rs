//! Durations from earlier runs: the JUnit reports of a previous run (the merged report, or a
//! node's own) say how long each id took, and become the weights that plans balance and the
//! order in which a node starts its work.
//!
//! An id's duration is the time of the case that names it (the [`Matcher`] of shard-merge's
//! `--plan`: its `shard.id`, else pytest's rule, else `classname::name`); when several reports
//! give one id, the median of their times. Cases that name no id are ignored. Weights are
//! durations quantized to steps of about 5% (integer arithmetic, the same on every machine),
//! so that the ordinary noise of measured times moves no test; ids with no recorded duration
//! weigh the median known duration.
//!
//! Reports written by shard-exec also say where and when each case ran (its process and the
//! process's start and end): a process's wall time less its cases' times is what starting it
//! cost (the runner's start-up, imports, collection). Fitted over the processes, as a cost
//! per process and a cost per test ([`Startup`]), it is what shard-exec weighs against balance
//! when it sizes batches, and what shard-plan adds to each id's weight.

mod folders;
mod startup;

use startup::median;
pub use startup::{Sample, Startup};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::exec::report::{PROCESS_END_PROPERTY, PROCESS_PROPERTY, PROCESS_START_PROPERTY};
use crate::ids::{GroupBy, Grouping};
use crate::junit::cases::for_each_case;
use crate::junit::matching::{ID_PROPERTY, Matcher};
use crate::junit::reader::{Decoded, locate};
use crate::merge::find_reports;

/// The smallest weight, in microseconds: every test costs something (1 ms).
pub const MIN_WEIGHT: u64 = 1000;

/// What earlier reports say about a list of ids.
#[derive(Debug, Default)]
pub struct Timings {
    /// Per id (in the order given): the median of its recorded times, in seconds.
    pub durations: Vec<Option<f64>>,
    /// Reports read whole.
    pub files: usize,
    /// Cases in them that named an id.
    pub matched: usize,
    /// Reports that could not be read, and why: their times are not used.
    pub problems: Vec<Error>,
    /// What starting a process costs, when the reports record processes.
    pub startup: Option<Startup>,
    /// What a module costs by its folder (fitted with the start-up), in seconds, when the reports'
    /// processes tell folders apart; a folder not named costs `startup`'s `per_module`.
    pub per_folder: BTreeMap<String, f64>,
    /// How many processes that is fitted to.
    pub processes: usize,
}

impl Timings {
    /// Reads the reports under `paths` (files, or directories walked for `*.xml`) for `ids`,
    /// whose segments `separator` divides (the first is a test's module, for what a process
    /// costs). A report that cannot be read whole is left out and named in `problems`; a path
    /// that does not exist too.
    pub fn read<'a>(
        ids: impl IntoIterator<Item = &'a str>,
        paths: &[PathBuf],
        separator: &str,
    ) -> Self {
        let ids: Vec<&str> = ids.into_iter().collect();
        let matcher = Matcher::new(ids.iter().copied());
        let files = Grouping::new(GroupBy::File, separator).unwrap_or_default();
        // A separator the grouping refuses names no modules: every id is its own.
        let module = |id: &str| files.key(id).to_string();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ids.len()];
        let mut timings = Timings::default();
        let mut startups = Vec::new();
        for path in paths {
            let files = match find_reports(std::slice::from_ref(path), &[]) {
                Ok(files) => files,
                Err(e) => {
                    timings.problems.push(e);
                    continue;
                }
            };
            for file in files {
                match read_one(&file, &matcher, &ids, &module) {
                    Ok((found, processes)) => {
                        timings.files += 1;
                        timings.matched += found.len();
                        for (i, seconds) in found {
                            samples[i].push(seconds);
                        }
                        startups.extend(processes.startups());
                    }
                    Err(e) => timings.problems.push(e),
                }
            }
        }
        timings.durations = samples.into_iter().map(median).collect();
        timings.processes = startups.len();
        let samples: Vec<Sample> = startups.iter().map(|p| p.sample).collect();
        timings.startup = Startup::fit(&samples);
        if let Some((startup, per_folder)) = timings
            .startup
            .and_then(|common| folders::fit(&startups, &common))
        {
            timings.startup = Some(startup);
            timings.per_folder = per_folder;
        }
        timings
    }

    /// How many ids have a recorded duration.
    pub fn known(&self) -> usize {
        self.durations.iter().filter(|d| d.is_some()).count()
    }

    /// The weights of a plan: each id's quantized duration, the median known duration for an
    /// id with none, and 1 for every id when no duration is known at all (a plan by count).
    pub fn weights(&self) -> Vec<u64> {
        let known: Vec<f64> = self.durations.iter().flatten().copied().collect();
        let Some(fallback) = median(known) else {
            return vec![1; self.durations.len()];
        };
        let fallback = quantize(fallback);
        self.durations
            .iter()
            .map(|d| d.map_or(fallback, quantize))
            .collect()
    }
}

impl Timings {
    /// The weights one node's run balances its batches by: each id's duration in microseconds
    /// as measured, the median for an id with none, 1 for every id when none is known. Not
    /// rounded to steps, nor raised to a millisecond, as a plan's are: a node's own batches
    /// need no other machine to agree, and a suite of many tests of a tenth of a millisecond
    /// would weigh ten times what they take.
    pub fn run_weights(&self) -> Vec<u64> {
        let micros = |d: f64| (d * 1e6).round().clamp(0.0, u64::MAX as f64 / 2.0) as u64;
        let known: Vec<f64> = self.durations.iter().flatten().copied().collect();
        let Some(fallback) = median(known) else {
            return vec![1; self.durations.len()];
        };
        self.durations
            .iter()
            .map(|d| micros(d.unwrap_or(fallback)))
            .collect()
    }

    /// The weights a plan balances: [`weights`](Self::weights), and when the reports measured
    /// what each test costs its process beyond its own time (collecting it, reporting it),
    /// that too, so that a node of many quick tests is not taken for a light one. The cost is
    /// kept to two significant digits, so that its noise between runs moves no test.
    pub fn plan_weights(&self) -> Vec<u64> {
        let mut weights = self.weights();
        let per_case = match self.startup {
            Some(s) if self.known() > 0 => two_digits((s.per_case * 1e6).round() as u64),
            _ => 0,
        };
        for w in &mut weights {
            *w += per_case;
        }
        weights
    }
}

/// `n` to two significant digits, rounding down: 2,437 is 2,400.
fn two_digits(n: u64) -> u64 {
    let mut scale = 1;
    while n / scale >= 100 {
        scale *= 10;
    }
    n / scale * scale
}

/// The processes of one report: per node and process number, its start and end (ms since
/// 1970), the sum of its cases' times, their count and their modules.
#[derive(Debug, Default)]
struct Processes(HashMap<(String, String), Process>);

#[derive(Debug)]
struct Process {
    start: i64,
    end: i64,
    seconds: f64,
    cases: usize,
    modules: HashSet<String>,
}

impl Processes {
    fn add(&mut self, case: &crate::junit::cases::Case, seconds: f64, module: Option<String>) {
        let property = |name| case.property(name);
        let stamp = |name| {
            let at = humantime::parse_rfc3339_weak(property(name)?).ok()?;
            let ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
            i64::try_from(ms).ok()
        };
        let (Some(node), Some(process), Some(start), Some(end)) = (
            property(crate::verify::NODE_PROPERTY),
            property(PROCESS_PROPERTY),
            stamp(PROCESS_START_PROPERTY),
            stamp(PROCESS_END_PROPERTY),
        ) else {
            return;
        };
        let entry = self
            .0
            .entry((node.to_string(), process.to_string()))
            .or_insert(Process {
                start,
                end,
                seconds: 0.0,
                cases: 0,
                modules: HashSet::new(),
            });
        entry.seconds += seconds;
        entry.cases += 1;
        entry.modules.extend(module);
    }

    /// Each process's cases, their modules (and each one's folder) and what starting it cost:
    /// its wall time less its cases' times, in seconds.
    fn startups(&self) -> impl Iterator<Item = folders::Process> + '_ {
        self.0.values().map(|p| folders::Process {
            sample: Sample {
                cases: p.cases,
                modules: p.modules.len().max(1),
                overhead: ((p.end - p.start) as f64 / 1000.0 - p.seconds).max(0.0),
            },
            folders: p.modules.iter().map(|m| folder(m).to_string()).collect(),
        })
    }
}

/// The `(id index, seconds)` of every case of one report that names an id, and its processes.
fn read_one(
    path: &PathBuf,
    matcher: &Matcher<'_>,
    ids: &[&str],
    module: &dyn Fn(&str) -> String,
) -> Result<(Vec<(usize, f64)>, Processes)> {
    let name = path.display().to_string();
    let open = || {
        File::open(path).map_err(|source| Error::Read {
            source_name: name.clone(),
            source,
        })
    };
    let mut found = Vec::new();
    let mut processes = Processes::default();
    let read = for_each_case(BufReader::new(open()?), |case| {
        let Some(seconds) = case.time.filter(|t| t.is_finite() && *t >= 0.0) else {
            return;
        };
        let id = case.property(ID_PROPERTY);
        let found_id = matcher.find(id, case.classname.as_deref(), &case.name);
        let named = found_id.map(|i| ids[i]).or(id);
        processes.add(&case, seconds, named.map(module));
        if let Some(i) = found_id {
            found.push((i, seconds));
        }
    });
    match read {
        Ok(()) => Ok((found, processes)),
        Err(e) => {
            let (line, column) = locate(Decoded::new(open()?), e.offset).unwrap_or((0, 0));
            Err(Error::Report {
                source_name: name,
                line,
                column,
                message: e.message,
            })
        }
    }
}

/// The folder of a module (its path up to the last `/`; none without one).
pub fn folder(module: &str) -> &str {
    module.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// A duration as a weight: microseconds, rounded to the nearest of the steps
/// `s(0) = 1000`, `s(k+1) = s(k) + s(k) / 20` (about 5% apart), the lower on a tie.
pub fn quantize(seconds: f64) -> u64 {
    // Exact IEEE operations only (a product and a rounding), so every machine agrees.
    let micros = (seconds * 1e6).round();
    let micros = if micros.is_finite() && micros > 0.0 {
        micros.min(u64::MAX as f64 / 2.0) as u64
    } else {
        0
    };
    let mut step = MIN_WEIGHT;
    loop {
        let next = step + step / 20;
        if micros < next {
            return if micros - step.min(micros) <= next - micros {
                step
            } else {
                next
            };
        }
        step = next;
    }
}

#[cfg(test)]
mod tests {
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
        let plain = timings.weights();
        assert_eq!(timings.plan_weights(), plain);
        timings.startup = Some(Startup {
            base: 2.0,
            per_module: 0.05,
            per_case: 0.002437,
        });
        assert_eq!(
            timings.plan_weights(),
            plain.iter().map(|w| w + 2400).collect::<Vec<_>>()
        );
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
            [Some(4.0), Some(7.0), Some(1500.5), None]
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
        // The unknown id weighs the median known duration (4, 7, 1500.5 -> 7).
        let weights = timings.weights();
        assert_eq!(
            weights,
            [
                quantize(4.0),
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
}
