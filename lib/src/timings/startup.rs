//! What starting a process costs, from the processes that earlier reports record.
//!
//! A process's overhead is its wall time less its cases' times: the runner's start, which
//! every process pays; each module (file) its tests come from, which the runner imports and
//! collects whole; and what the runner does per test outside the test's own time (matching
//! its id, reporting it). The model is `base + per_module × modules + per_case × cases`.
//!
//! Fitted by least squares over the processes, once more without those that the first fit
//! misses by more than three times the median miss (a process disturbed by the machine), and
//! only when the processes differ enough in both counts to tell the two costs apart: four of
//! them or more, each count's three largest (half of them, when fewer than six) a quarter or more
//! above its three smallest, and the two counts not in proportion. When that fit starts at 0
//! or below (overheads that grow faster than the counts), it is made again with the start-up
//! held at half the least overhead of any process. A batch of many quick tests
//! from a few modules then costs what it does, where a cost per test alone, fitted to batches
//! that had more modules the more tests they had, takes each test for the modules it came with.
//!
//! Otherwise one count: `base + per_case × cases` by Theil–Sen (the median of the slopes
//! between pairs of processes a quarter or more apart in size, which a few disturbed processes
//! do not move, then the median intercept), under the same spread; else `per_module ×
//! modules` the same way; else the base is the median overhead, which then holds all of it. A
//! fit whose start-up comes out at 0 or below is not taken: it would make processes free to
//! start, and a node's batches as many as allowed.
//!
//! Everything here is sums and medians of sorted values, so the same reports give the same
//! model on every machine, whatever order they were read in.

/// The fitted cost of a process, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Startup {
    /// What every process pays.
    pub base: f64,
    /// What each module (file) of its tests adds.
    pub per_module: f64,
    /// What each of its tests adds, outside the tests' own times.
    pub per_case: f64,
}

/// One process of a report: its tests, the modules they came from, and its overhead (its
/// wall time less its tests' times), in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub cases: usize,
    pub modules: usize,
    pub overhead: f64,
}

/// Counts closer than this ratio tell nothing apart.
const DISTINCT: f64 = 1.25;

/// The most processes fitted: beyond, an even spread of them (by size), so that the pairs
/// stay under half a million.
const MOST: usize = 1000;

/// Processes needed at each end of a count (a quarter apart) for it to be fitted.
const SPREAD: usize = 3;

/// Slopes needed for a one-count fit.
const SLOPES: usize = 3;

/// Processes needed for the two-count fit: one more than its three costs.
const BOTH: usize = 4;

impl Startup {
    /// The model of `samples`; `None` without any.
    pub fn fit(samples: &[Sample]) -> Option<Startup> {
        let mut samples: Vec<Sample> = samples
            .iter()
            .filter(|s| s.overhead.is_finite())
            .map(|s| Sample {
                overhead: s.overhead.max(0.0),
                ..*s
            })
            .collect();
        samples.sort_by(|a, b| {
            (a.cases, a.modules)
                .cmp(&(b.cases, b.modules))
                .then(a.overhead.total_cmp(&b.overhead))
        });
        if samples.len() > MOST {
            let step = samples.len() as f64 / MOST as f64;
            samples = (0..MOST)
                .map(|k| samples[(k as f64 * step) as usize])
                .collect();
        }
        let plain = Startup {
            base: median(samples.iter().map(|s| s.overhead).collect())?,
            per_module: 0.0,
            per_case: 0.0,
        };
        let cases = |s: &Sample| s.cases;
        let modules = |s: &Sample| s.modules;
        if spread(&samples, cases)
            && spread(&samples, modules)
            && let Some(fit) = both(&samples)
        {
            return Some(fit);
        }
        let one = |count: fn(&Sample) -> usize| {
            spread(&samples, count)
                .then(|| theil_sen(&samples, count))
                .flatten()
        };
        if let Some((base, per_case)) = one(cases) {
            return Some(Startup {
                base,
                per_module: 0.0,
                per_case,
            });
        }
        if let Some((base, per_module)) = one(modules) {
            return Some(Startup {
                base,
                per_module,
                per_case: 0.0,
            });
        }
        Some(plain)
    }

    /// What a process of `cases` tests from `modules` modules costs, in seconds.
    pub fn of(&self, cases: usize, modules: usize) -> f64 {
        self.base + self.per_module * modules as f64 + self.per_case * cases as f64
    }
}

/// Whether the three largest of `count` (half of the samples, when fewer than six) are a
/// quarter or more above its three smallest.
fn spread(samples: &[Sample], count: fn(&Sample) -> usize) -> bool {
    let mut counts: Vec<usize> = samples.iter().map(count).collect();
    counts.sort_unstable();
    let ends = (counts.len() / 2).clamp(1, SPREAD);
    counts.len() >= 2 && counts[counts.len() - ends] as f64 >= counts[ends - 1] as f64 * DISTINCT
}

/// The least-squares fit on both counts, then again without the processes it missed by more
/// than three times the median miss; `None` when the counts cannot be told apart or a cost
/// comes out negative.
fn both(samples: &[Sample]) -> Option<Startup> {
    let first = least_squares(samples)?;
    let kept = closest(samples, |s| s.overhead - first.of(s.cases, s.modules))?;
    let (fit, fitted) = if kept.len() < samples.len() && kept.len() > BOTH {
        (least_squares(&kept)?, &kept[..])
    } else {
        (first, samples)
    };
    let fit = if fit.base <= 0.0 { held(fitted)? } else { fit };
    (fit.base > 0.0 && fit.per_module > 0.0 && fit.per_case >= 0.0).then_some(fit)
}

/// `items` without those that `miss` (what a fit missed each by) puts over three times the
/// median miss: processes the machine disturbed. `None` without any item.
pub(crate) fn closest<T: Clone>(items: &[T], miss: impl Fn(&T) -> f64) -> Option<Vec<T>> {
    let misses: Vec<f64> = items.iter().map(|i| miss(i).abs()).collect();
    let typical = median(misses.clone())?;
    Some(
        items
            .iter()
            .zip(&misses)
            .filter(|&(_, &miss)| miss <= 3.0 * typical)
            .map(|(i, _)| i.clone())
            .collect(),
    )
}

/// Least squares on both counts with the start-up held at half the least overhead of any
/// process, for processes whose overheads grow faster than their counts (a runner's garbage
/// collector, say, costs more the more a process holds): a straight line through them starts
/// at 0 or below, which would make processes free to start; `None` when the counts cannot be
/// told apart.
fn held(samples: &[Sample]) -> Option<Startup> {
    let base = samples
        .iter()
        .map(|s| s.overhead)
        .fold(f64::INFINITY, f64::min)
        / 2.0;
    if !base.is_finite() {
        return None;
    }
    let (per_module, per_case) = slopes(samples, (0.0, 0.0, base))?;
    Some(Startup {
        base,
        per_module,
        per_case,
    })
}

/// Ordinary least squares of the overhead on both counts, with an intercept.
fn least_squares(samples: &[Sample]) -> Option<Startup> {
    if samples.len() < BOTH {
        return None;
    }
    let n = samples.len() as f64;
    let mean = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(f).sum::<f64>() / n;
    let (mx, my, mo) = (
        mean(&|s| s.modules as f64),
        mean(&|s| s.cases as f64),
        mean(&|s| s.overhead),
    );
    let (per_module, per_case) = slopes(samples, (mx, my, mo))?;
    Some(Startup {
        base: mo - per_module * mx - per_case * my,
        per_module,
        per_case,
    })
}

/// The costs of a module and of a test that fit `samples` best by least squares, the modules,
/// the cases and the overheads measured from `from` (their means, for a fit with an
/// intercept; 0, 0 and a start-up held, for one without); `None` when the two counts are in
/// proportion (or nearly) and cannot be told apart.
fn slopes(samples: &[Sample], from: (f64, f64, f64)) -> Option<(f64, f64)> {
    let (mx, my, mo) = from;
    let (mut sxx, mut syy, mut sxy, mut sxo, mut syo) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in samples {
        let (x, y, o) = (s.modules as f64 - mx, s.cases as f64 - my, s.overhead - mo);
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
        sxo += x * o;
        syo += y * o;
    }
    let det = sxx * syy - sxy * sxy;
    if det.is_nan() || det <= 1e-6 * sxx * syy {
        return None;
    }
    Some(((sxo * syy - syo * sxy) / det, (syo * sxx - sxo * sxy) / det))
}

/// `(base, slope)` of the overhead on one count by Theil–Sen: the median of the slopes between
/// pairs a quarter or more apart, then the median intercept; `None` with fewer than three such
/// slopes, a slope of 0 or less, or an intercept of 0 or less.
fn theil_sen(samples: &[Sample], count: fn(&Sample) -> usize) -> Option<(f64, f64)> {
    let mut points: Vec<(usize, f64)> = samples.iter().map(|s| (count(s), s.overhead)).collect();
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut slopes = Vec::new();
    for (i, &(n1, o1)) in points.iter().enumerate() {
        for &(n2, o2) in &points[i + 1..] {
            if n2 as f64 >= n1 as f64 * DISTINCT && n2 > n1 {
                slopes.push((o2 - o1) / (n2 - n1) as f64);
            }
        }
    }
    if slopes.len() < SLOPES {
        return None;
    }
    let slope = median(slopes)?;
    if slope <= 0.0 {
        return None;
    }
    let base = median(points.iter().map(|&(n, o)| o - slope * n as f64).collect())?;
    // A line through 0 or below would make processes free to start, and batches as many as
    // allowed: the counts tell nothing then.
    (base > 0.0).then_some((base, slope))
}

/// The median of `values` (the mean of the middle two of an even count); `None` when empty.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Processes of `(cases, modules, overhead)`.
    fn mixed(points: &[(usize, usize, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(cases, modules, overhead)| Sample {
                cases,
                modules,
                overhead,
            })
            .collect()
    }

    /// Processes of `(cases, overhead)`, their tests all from one module.
    fn one_module(points: &[(usize, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(cases, overhead)| Sample {
                cases,
                modules: 1,
                overhead,
            })
            .collect()
    }

    #[test]
    fn overheads_that_grow_faster_than_the_counts_hold_the_start_up_at_half_the_least() {
        // A first round of astropy's tests on one node: two processes of 1,870 tests, two of
        // 935, their overheads more than in proportion. A straight line on both counts starts
        // at -0.11 s; held at half of 2.56 s, the costs of a module and a test are what the
        // next run's processes of 4,396 tests (34 modules) and 1,212 (40) cost: 11.9 s and
        // 10.7 s, 4.9 s and 6.0 s.
        let samples = mixed(&[
            (1870, 45, 7.31),
            (1869, 17, 6.10),
            (932, 6, 2.56),
            (937, 5, 3.19),
        ]);
        let fit = Startup::fit(&samples).unwrap();
        assert!(close(fit.base, 1.28), "{fit:?}");
        assert!((fit.of(4396, 34) - 11.15).abs() < 0.05, "{fit:?}");
        assert!((fit.of(1212, 40) - 5.91).abs() < 0.05, "{fit:?}");
    }

    #[test]
    fn a_base_and_a_cost_per_case_come_from_batches_of_different_sizes() {
        // 2 s a process and 2.5 ms a test, one process disturbed by 3 s.
        let sizes = [84, 255, 460, 480, 500, 1000, 1900, 3000];
        let mut samples: Vec<(usize, f64)> = sizes
            .iter()
            .map(|&n| (n, 2.0 + 0.0025 * n as f64))
            .collect();
        samples[3].1 += 3.0;
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert!(
            close(fit.base, 2.0) && close(fit.per_case, 0.0025),
            "{fit:?}"
        );
        assert!(close(fit.of(400, 1), 3.0));
        // In any order.
        samples.reverse();
        assert_eq!(Startup::fit(&one_module(&samples)), Some(fit));
    }

    #[test]
    fn batches_of_one_size_give_the_median_overhead_alone() {
        // Sizes within a quarter of each other: their differences are noise.
        let samples = [
            (953, 6.4),
            (986, 4.9),
            (1000, 3.9),
            (1000, 4.8),
            (998, 4.0),
            (810, 5.0),
        ];
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert_eq!(fit.per_case, 0.0);
        assert!(close(fit.base, 4.85), "{fit:?}");
        // One id per process.
        let fit = Startup::fit(&one_module(&[(1, 0.3), (1, 0.5), (1, 0.4)])).unwrap();
        assert_eq!(
            fit,
            Startup {
                base: 0.4,
                per_module: 0.0,
                per_case: 0.0
            }
        );
        assert_eq!(Startup::fit(&[]), None);
    }

    #[test]
    fn a_lone_process_of_another_size_sets_no_slope() {
        // Batches of about 1,000 and the last of 636 (a real run's): the five slopes to the
        // last one are all of one process's noise.
        let samples = [
            (988, 4.15),
            (1000, 3.96),
            (991, 2.75),
            (1000, 3.59),
            (993, 3.82),
            (636, 2.60),
        ];
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert_eq!(fit.per_case, 0.0);
        assert!(close(fit.base, 3.705), "{fit:?}");
        // Three of each size do give one.
        let samples: Vec<(usize, f64)> = [600, 600, 600, 990, 1000, 1000, 1000]
            .iter()
            .map(|&n| (n, 1.0 + 0.002 * n as f64))
            .collect();
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert!(
            close(fit.base, 1.0) && close(fit.per_case, 0.002),
            "{fit:?}"
        );
    }

    #[test]
    fn overheads_that_shrink_with_the_batch_give_no_per_case_cost() {
        let samples = [(100, 5.0), (200, 4.0), (400, 3.0), (800, 2.0)];
        assert_eq!(
            Startup::fit(&one_module(&samples)),
            Some(Startup {
                base: 3.5,
                per_module: 0.0,
                per_case: 0.0
            })
        );
    }

    #[test]
    fn overheads_that_grow_faster_than_the_batch_give_the_median_overhead() {
        // 0.1 s at 100 tests, 1 s at 400: the line crosses 0 before 0 tests, and would make a
        // process free to start.
        let samples = [(100, 0.1), (200, 0.4), (300, 0.7), (400, 1.0)];
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert_eq!((fit.base, fit.per_case), (0.55, 0.0), "{fit:?}");
        // A real run's four processes (cases, modules, overhead): by tests alone the line
        // crosses 0, by modules and tests it does not.
        let four = [
            (1870, 45, 5.68),
            (1869, 17, 4.41),
            (949, 5, 2.21),
            (920, 6, 2.58),
        ];
        let samples = mixed(&four);
        let fit = Startup::fit(&samples).unwrap();
        assert!(
            fit.base > 0.3 && fit.per_module > 0.02 && fit.per_case > 0.001,
            "{fit:?}"
        );
        assert_eq!(
            Startup::fit(&one_module(&four.map(|(n, _, o)| (n, o))))
                .unwrap()
                .per_case,
            0.0
        );
    }

    #[test]
    fn many_processes_are_thinned_evenly() {
        let samples: Vec<(usize, f64)> = (1..=5000).map(|n| (n, 1.0 + 0.001 * n as f64)).collect();
        let fit = Startup::fit(&one_module(&samples)).unwrap();
        assert!(
            close(fit.base, 1.0) && close(fit.per_case, 0.001),
            "{fit:?}"
        );
    }

    /// Twelve processes of one run of astropy's tests on three nodes without durations
    /// (cases, modules, overhead): the first round's batches had more modules as well as more
    /// tests than the second's.
    const ROUNDS: [(usize, usize, f64); 12] = [
        (630, 37, 4.01),
        (629, 10, 3.30),
        (326, 4, 1.64),
        (303, 4, 2.40),
        (612, 34, 3.99),
        (611, 14, 3.11),
        (304, 7, 2.29),
        (307, 6, 2.40),
        (625, 44, 5.37),
        (625, 4, 2.51),
        (319, 7, 2.55),
        (317, 4, 2.60),
    ];

    #[test]
    fn modules_and_tests_are_told_apart_when_processes_mix_them_differently() {
        let samples = mixed(&ROUNDS);
        let fit = Startup::fit(&samples).unwrap();
        assert!(fit.per_module > 0.03 && fit.per_module < 0.08, "{fit:?}");
        assert!(fit.per_case > 0.0005 && fit.per_case < 0.002, "{fit:?}");
        // The next run's two batches of one node: 554 tests from 38 modules took 5.1 s, 1,442
        // from 19 took 5.2 s. By tests alone they would be 4 s apart.
        let gap = fit.of(1442, 19) - fit.of(554, 38);
        assert!(gap.abs() < 1.0, "{gap} s apart: {fit:?}");
        let by_tests = Startup::fit(&one_module(
            &ROUNDS.map(|(cases, _, overhead)| (cases, overhead)),
        ))
        .unwrap();
        assert!(
            by_tests.of(1442, 19) - by_tests.of(554, 38) > 3.0,
            "{by_tests:?}"
        );
    }

    #[test]
    fn two_costs_come_out_exact_and_a_disturbed_process_is_left_out() {
        // 1 s a process, 50 ms a module, 1 ms a test; one process disturbed by 3 s.
        let mixes = [
            (100, 2),
            (300, 30),
            (600, 5),
            (800, 40),
            (1500, 10),
            (2000, 60),
            (400, 12),
        ];
        let mut samples: Vec<Sample> = mixes
            .iter()
            .map(|&(cases, modules)| Sample {
                cases,
                modules,
                overhead: 1.0 + 0.05 * modules as f64 + 0.001 * cases as f64,
            })
            .collect();
        samples[2].overhead += 3.0;
        let fit = Startup::fit(&samples).unwrap();
        assert!(
            (fit.base - 1.0).abs() < 1e-6
                && (fit.per_module - 0.05).abs() < 1e-6
                && (fit.per_case - 0.001).abs() < 1e-6,
            "{fit:?}"
        );
        samples.reverse();
        assert_eq!(Startup::fit(&samples), Some(fit));
        // Modules in proportion to tests: one count, by Theil-Sen.
        let proportional: Vec<Sample> = (1..=6)
            .map(|k| Sample {
                cases: 100 * k,
                modules: 10 * k,
                overhead: 1.0 + 0.002 * (100 * k) as f64,
            })
            .collect();
        let fit = Startup::fit(&proportional).unwrap();
        assert!(close(fit.base, 1.0) && close(fit.per_case, 0.002) && fit.per_module == 0.0);
    }
}
