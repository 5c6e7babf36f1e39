//! What starting a process costs, from the processes that earlier reports record.
//!
//! A process's overhead is its wall time less its cases' times: the runner's start and
//! imports, which every process pays, and what the runner does per test outside the test's
//! own time (collecting it, reporting it), which grows with the batch. The model is
//! `base + per_case × cases`, fitted by Theil–Sen (the median of the slopes between pairs of
//! processes), which a few disturbed processes do not move. Only pairs whose sizes differ by
//! a quarter or more give a slope: between processes of about the same size the difference
//! is noise; and the sizes must spread: three processes (half of them, when fewer than six)
//! a quarter or more smaller than three others, so that no lone process of another size sets
//! the slope. When they do not (every batch of one size but the last, one id per process), the
//! per-case cost is 0 and the base is the median overhead, which then holds both.
//!
//! Everything here is medians of sorted values, so the same reports give the same model on
//! every machine, whatever order they were read in.

/// The fitted cost of a process, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Startup {
    /// What every process pays.
    pub base: f64,
    /// What each of its tests adds, outside the tests' own times.
    pub per_case: f64,
}

/// Pairs of sizes closer than this ratio give no slope.
const DISTINCT: f64 = 1.25;

/// The most processes fitted: beyond, an even spread of them (by size), so that the pairs
/// stay under half a million.
const MOST: usize = 1000;

/// Processes needed at each end of the sizes (a quarter apart) for a per-case cost.
const SPREAD: usize = 3;

/// Slopes needed for a per-case cost.
const SLOPES: usize = 3;

impl Startup {
    /// The model of `samples`, each a process's (cases, overhead in seconds); `None` without
    /// any.
    pub fn fit(samples: &[(usize, f64)]) -> Option<Startup> {
        let mut samples: Vec<(usize, f64)> = samples
            .iter()
            .copied()
            .filter(|(_, o)| o.is_finite())
            .map(|(n, o)| (n, o.max(0.0)))
            .collect();
        samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        if samples.len() > MOST {
            let step = samples.len() as f64 / MOST as f64;
            samples = (0..MOST)
                .map(|k| samples[(k as f64 * step) as usize])
                .collect();
        }
        let overheads: Vec<f64> = samples.iter().map(|s| s.1).collect();
        let plain = Startup {
            base: median(overheads)?,
            per_case: 0.0,
        };
        let mut slopes = Vec::new();
        for (i, &(n1, o1)) in samples.iter().enumerate() {
            for &(n2, o2) in &samples[i + 1..] {
                if n2 as f64 >= n1 as f64 * DISTINCT && n2 > n1 {
                    slopes.push((o2 - o1) / (n2 - n1) as f64);
                }
            }
        }
        let ends = (samples.len() / 2).clamp(1, SPREAD);
        let spread = samples.len() >= 2
            && samples[samples.len() - ends].0 as f64 >= samples[ends - 1].0 as f64 * DISTINCT;
        if slopes.len() < SLOPES || !spread {
            return Some(plain);
        }
        let per_case = median(slopes)?;
        if per_case <= 0.0 {
            return Some(plain);
        }
        let base = median(
            samples
                .iter()
                .map(|&(n, o)| o - per_case * n as f64)
                .collect(),
        )?;
        Some(if base >= 0.0 {
            Startup { base, per_case }
        } else {
            // All of it grows with the batch.
            let per_case = median(
                samples
                    .iter()
                    .filter(|s| s.0 > 0)
                    .map(|&(n, o)| o / n as f64)
                    .collect(),
            )?;
            Startup {
                base: 0.0,
                per_case,
            }
        })
    }

    /// What a process of `cases` tests costs, in seconds.
    pub fn of(&self, cases: usize) -> f64 {
        self.base + self.per_case * cases as f64
    }
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

    #[test]
    fn a_base_and_a_cost_per_case_come_from_batches_of_different_sizes() {
        // 2 s a process and 2.5 ms a test, one process disturbed by 3 s.
        let sizes = [84, 255, 460, 480, 500, 1000, 1900, 3000];
        let mut samples: Vec<(usize, f64)> = sizes
            .iter()
            .map(|&n| (n, 2.0 + 0.0025 * n as f64))
            .collect();
        samples[3].1 += 3.0;
        let fit = Startup::fit(&samples).unwrap();
        assert!(
            close(fit.base, 2.0) && close(fit.per_case, 0.0025),
            "{fit:?}"
        );
        assert!(close(fit.of(400), 3.0));
        // In any order.
        samples.reverse();
        assert_eq!(Startup::fit(&samples), Some(fit));
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
        let fit = Startup::fit(&samples).unwrap();
        assert_eq!(fit.per_case, 0.0);
        assert!(close(fit.base, 4.85), "{fit:?}");
        // One id per process.
        let fit = Startup::fit(&[(1, 0.3), (1, 0.5), (1, 0.4)]).unwrap();
        assert_eq!(
            fit,
            Startup {
                base: 0.4,
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
        let fit = Startup::fit(&samples).unwrap();
        assert_eq!(fit.per_case, 0.0);
        assert!(close(fit.base, 3.705), "{fit:?}");
        // Three of each size do give one.
        let samples: Vec<(usize, f64)> = [600, 600, 600, 990, 1000, 1000, 1000]
            .iter()
            .map(|&n| (n, 1.0 + 0.002 * n as f64))
            .collect();
        let fit = Startup::fit(&samples).unwrap();
        assert!(
            close(fit.base, 1.0) && close(fit.per_case, 0.002),
            "{fit:?}"
        );
    }

    #[test]
    fn overheads_that_shrink_with_the_batch_give_no_per_case_cost() {
        let samples = [(100, 5.0), (200, 4.0), (400, 3.0), (800, 2.0)];
        assert_eq!(
            Startup::fit(&samples),
            Some(Startup {
                base: 3.5,
                per_case: 0.0
            })
        );
    }

    #[test]
    fn overheads_that_grow_faster_than_the_batch_are_all_per_case() {
        // 0.1 s at 100 tests, 1 s at 400: the line crosses 0 before 0 tests.
        let samples = [(100, 0.1), (200, 0.4), (300, 0.7), (400, 1.0)];
        let fit = Startup::fit(&samples).unwrap();
        assert_eq!(fit.base, 0.0);
        assert!(fit.per_case > 0.001 && fit.per_case < 0.0025, "{fit:?}");
    }

    #[test]
    fn many_processes_are_thinned_evenly() {
        let samples: Vec<(usize, f64)> = (1..=5000).map(|n| (n, 1.0 + 0.001 * n as f64)).collect();
        let fit = Startup::fit(&samples).unwrap();
        assert!(
            close(fit.base, 1.0) && close(fit.per_case, 0.001),
            "{fit:?}"
        );
    }
}
