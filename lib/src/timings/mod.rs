//! Durations from earlier runs: the JUnit reports of a previous run (the merged report, or a
//! node's own) say how long each id took, and become the weights that plans balance and the
//! order in which a node starts its work.
//!
//! An id's duration is the time of the case that names it (the [`Matcher`] of shard-merge's
//! `--plan`: its `shard.id`, else pytest's rule, else `classname::name`); when several reports
//! give one id, the mean of their times, leaving out the runs where it failed or errored when
//! it also ran without failing (a failure's time is how long failing took: a hang killed at
//! its timeout, an assertion at once). The mean, not the median: what a node's wall time sums
//! is each test's expected time, and a test that is slow one run in three (the first in its
//! process to load something, or running beside threads an earlier test left behind) costs a
//! third of that slowness on average, which a median never counts. Cases that name no id are
//! ignored. Weights are durations quantized to steps of about 5% (integer arithmetic, the same
//! on every machine), so that the ordinary noise of measured times moves no test; ids with no
//! recorded duration weigh the median known duration.
//!
//! Reports written by shard-exec also say where and when each case ran (its process and the
//! process's start and end): a process's wall time less its cases' times is what starting it
//! cost (the runner's start-up, imports, collection). Fitted over the processes, as a cost
//! per process and a cost per test ([`Startup`]), it is what shard-exec weighs against balance
//! when it sizes batches, and what shard-plan adds to each id's weight.

mod folders;
mod modules;
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
use crate::junit::cases::{Status, for_each_case};
use crate::junit::matching::{ID_PROPERTY, Matcher};
use crate::junit::reader::{Decoded, locate};
use crate::merge::find_reports;

/// The smallest weight, in microseconds: every test costs something (1 ms).
pub const MIN_WEIGHT: u64 = 1000;

/// What earlier reports say about a list of ids.
#[derive(Debug, Default)]
pub struct Timings {
    /// Per id (in the order given): the mean of its recorded times, in seconds (of the runs
    /// where it did not fail, when there are any).
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
        let mut samples: Vec<Runs> = vec![Runs::default(); ids.len()];
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
                        for time in found {
                            samples[time.id].add(&time);
                        }
                        startups.extend(processes.startups());
                    }
                    Err(e) => timings.problems.push(e),
                }
            }
        }
        timings.durations = samples.into_iter().map(Runs::duration).collect();
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
        let known: Vec<f64> = self.durations.iter().flatten().copied().collect();
        let Some(fallback) = median(known) else {
            return vec![1; self.durations.len()];
        };
        self.durations
            .iter()
            .map(|d| micros(d.unwrap_or(fallback)))
            .collect()
    }

    /// The weights a plan of `ids` (the ids read, in their order) on `nodes` balances, its
    /// groups made by `grouping`: [`weights`](Self::weights), and when the reports measured
    /// what each test costs its process beyond its own time (collecting it, reporting it),
    /// that too, so that a node of many quick tests is not taken for a light one; and when
    /// they measured what a module costs, each id's share of what its module is expected to
    /// cost the nodes (see `timings/modules.rs`), so that a node of many modules is not
    /// either. Costs are kept to two significant digits, so that their noise between runs
    /// moves no test.
    pub fn plan_weights(&self, ids: &[&str], grouping: &Grouping, nodes: u32) -> Vec<u64> {
        let mut weights = self.weights();
        let Some(startup) = self.startup.filter(|_| self.known() > 0) else {
            return weights;
        };
        let per_case = two_digits(micros(startup.per_case));
        for w in &mut weights {
            *w += per_case;
        }
        let files = Grouping::new(GroupBy::File, grouping.separator());
        if let (Ok(files), true) = (
            files,
            startup.per_module > 0.0 && ids.len() == weights.len(),
        ) {
            let cost = |module: &str| {
                let folder = folder(module);
                self.per_folder
                    .get(folder)
                    .copied()
                    .unwrap_or(startup.per_module)
            };
            let shares = modules::module_shares(ids, &files, grouping, nodes, cost);
            for (w, share) in weights.iter_mut().zip(shares) {
                *w = w.saturating_add(share);
            }
        }
        weights
    }
}

/// A case's time, for the id it names (its index), and whether it failed or errored.
struct Time {
    id: usize,
    seconds: f64,
    failed: bool,
}

/// One id's recorded times: of the runs where it passed or was skipped, and of those where it
/// failed or errored.
#[derive(Debug, Clone, Default)]
struct Runs {
    ok: Vec<f64>,
    failed: Vec<f64>,
}

impl Runs {
    fn add(&mut self, time: &Time) {
        let list = if time.failed {
            &mut self.failed
        } else {
            &mut self.ok
        };
        list.push(time.seconds);
    }

    /// The mean of the times of the runs that did not fail, else of those that did; `None`
    /// when there are none.
    fn duration(self) -> Option<f64> {
        mean(if self.ok.is_empty() {
            self.failed
        } else {
            self.ok
        })
    }
}

/// The mean of `values`, each divided by their count and summed from the smallest up: the same
/// whatever order the reports were read in, to the last bit (a plan quantizes it, and every node
/// must agree), and finite for any finite times; `None` when empty.
fn mean(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let count = values.len() as f64;
    Some(values.iter().map(|v| v / count).sum())
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

/// The time of every case of one report that names an id, and its processes.
fn read_one(
    path: &PathBuf,
    matcher: &Matcher<'_>,
    ids: &[&str],
    module: &dyn Fn(&str) -> String,
) -> Result<(Vec<Time>, Processes)> {
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
            let failed = matches!(case.status, Status::Failed | Status::Errored);
            found.push(Time {
                id: i,
                seconds,
                failed,
            });
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
    let micros = micros(seconds);
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

/// Seconds as whole microseconds: 0 for anything not finite and positive, at most half of
/// `u64::MAX`. Exact IEEE operations only (a product and a rounding), so every machine agrees.
fn micros(seconds: f64) -> u64 {
    let micros = (seconds * 1e6).round();
    if micros.is_finite() && micros > 0.0 {
        micros.min(u64::MAX as f64 / 2.0) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
