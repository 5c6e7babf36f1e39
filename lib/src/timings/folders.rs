//! What a module costs by its folder.
//!
//! One cost for every module is a mean over modules whose imports differ: a runner like
//! pytest imports and collects a module whole, all its parametrized cases too, however few of
//! them a process runs, and what a module's import starts (a parser built, a table loaded) goes
//! with it. Modules side by side in a folder tend to cost alike (astropy's units tests, large
//! and parametrized, cost about three times what its coordinates tests do), so each folder's
//! modules get a cost of their own: fitted with the start-up and the cost per test by least
//! squares, each folder's difference from the common module cost held toward 0 (ridge
//! regression), so that a folder seen in few processes keeps about the common cost; once more
//! without the processes the first fit misses by more than three times the median miss.
//!
//! Only with two folders or more and the processes of [`Startup::fit`]'s two-count fit; the
//! samples are sorted first, so the same reports give the same costs in any order.

use std::collections::BTreeMap;

use super::startup::{Sample, Startup, closest};

/// How strongly a folder's difference is held toward 0: as if each folder were seen this many
/// more times costing the common cost.
const RIDGE: f64 = 10.0;

/// One process: its counts and overhead, and the folder of each module its tests came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub sample: Sample,
    pub folders: Vec<String>,
}

/// The model refitted with a module cost per folder (in seconds, the common cost for a folder
/// not named), when `common` is a fit on both counts and the processes name two folders or
/// more; `None` otherwise, or when a cost comes out negative.
pub fn fit(processes: &[Process], common: &Startup) -> Option<(Startup, BTreeMap<String, f64>)> {
    if common.per_module <= 0.0 || common.per_case <= 0.0 || processes.len() <= 4 {
        return None;
    }
    let mut processes: Vec<Process> = processes
        .iter()
        .filter(|p| p.sample.overhead.is_finite())
        .cloned()
        .collect();
    for p in &mut processes {
        p.folders.sort();
    }
    processes.sort_by(|a, b| {
        (a.sample.cases, a.sample.modules, &a.folders)
            .cmp(&(b.sample.cases, b.sample.modules, &b.folders))
            .then(a.sample.overhead.total_cmp(&b.sample.overhead))
    });
    let names: Vec<&String> = {
        let mut names: Vec<&String> = processes.iter().flat_map(|p| &p.folders).collect();
        names.sort();
        names.dedup();
        names
    };
    if names.len() < 2 {
        return None;
    }
    let first = solve(&processes, &names)?;
    let kept = closest(&processes, |p| p.sample.overhead - first.of(p))?;
    let model = if kept.len() < processes.len() && kept.len() > 4 {
        solve(&kept, &names)?
    } else {
        first
    };
    let startup = model.startup;
    if startup.base <= 0.0 || startup.per_module <= 0.0 || startup.per_case < 0.0 {
        return None;
    }
    let per_folder = names
        .iter()
        .zip(&model.differences)
        .map(|(name, d)| ((*name).clone(), (startup.per_module + d).max(0.0)))
        .collect();
    Some((startup, per_folder))
}

/// The fitted model: the common costs and each folder's difference from the module cost.
struct Model<'a> {
    startup: Startup,
    differences: Vec<f64>,
    names: &'a [&'a String],
}

impl Model<'_> {
    /// The overhead it expects of `process`.
    fn of(&self, process: &Process) -> f64 {
        let s = &process.sample;
        process.folders.iter().fold(
            self.startup.of(s.cases, s.modules),
            |sum, folder| match self.names.binary_search(&folder) {
                Ok(i) => sum + self.differences[i],
                Err(_) => sum,
            },
        )
    }
}

/// Ridge least squares of the overhead on (1, modules, cases, modules in each folder), the
/// folders' columns penalized by [`RIDGE`]; `None` when the system is singular.
fn solve<'a>(processes: &[Process], names: &'a [&'a String]) -> Option<Model<'a>> {
    let width = 3 + names.len();
    let row = |p: &Process| -> Vec<f64> {
        let mut row = vec![0.0; width];
        row[0] = 1.0;
        row[1] = p.sample.modules as f64;
        row[2] = p.sample.cases as f64;
        for folder in &p.folders {
            if let Ok(i) = names.binary_search(&folder) {
                row[3 + i] += 1.0;
            }
        }
        row
    };
    // The normal equations (AᵀA + penalty) x = Aᵀy, as one augmented matrix.
    let mut system = vec![vec![0.0; width + 1]; width];
    for p in processes {
        let r = row(p);
        for i in 0..width {
            for j in 0..width {
                system[i][j] += r[i] * r[j];
            }
            system[i][width] += r[i] * p.sample.overhead;
        }
    }
    for (i, line) in system.iter_mut().enumerate().skip(3) {
        line[i] += RIDGE;
    }
    let x = eliminate(system)?;
    Some(Model {
        startup: Startup {
            base: x[0],
            per_module: x[1],
            per_case: x[2],
        },
        differences: x[3..].to_vec(),
        names,
    })
}

/// The solution of an augmented square system by Gaussian elimination with partial pivoting;
/// `None` when it is singular (or nearly: a pivot under 1e-9 of its column's largest entry).
fn eliminate(mut system: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = system.len();
    for col in 0..n {
        let scale = system.iter().map(|r| r[col].abs()).fold(0.0, f64::max);
        let pivot =
            (col..n).max_by(|&a, &b| system[a][col].abs().total_cmp(&system[b][col].abs()))?;
        let largest = system[pivot][col].abs();
        if largest.is_nan() || largest <= 1e-9 * scale {
            return None;
        }
        system.swap(col, pivot);
        let (top, below) = system.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for row in below {
            let factor = row[col] / pivot_row[col];
            if factor != 0.0 {
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let known: f64 = (r + 1..n).map(|c| system[r][c] * x[c]).sum();
        x[r] = (system[r][n] - known) / system[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process of `cases` tests from `units` modules of one folder and `coords` of another,
    /// costing 1 s, 200 ms a units module, 60 ms a coordinates module, 1 ms a test, and `noise`.
    fn process(cases: usize, units: usize, coords: usize, noise: f64) -> Process {
        let folders = std::iter::repeat_n("u/tests".to_string(), units)
            .chain(std::iter::repeat_n("c/tests".to_string(), coords))
            .collect();
        Process {
            sample: Sample {
                cases,
                modules: units + coords,
                overhead: 1.0
                    + 0.2 * units as f64
                    + 0.06 * coords as f64
                    + 0.001 * cases as f64
                    + noise,
            },
            folders,
        }
    }

    fn suite() -> Vec<Process> {
        vec![
            process(600, 2, 30, 0.05),
            process(620, 10, 2, -0.05),
            process(300, 4, 4, 0.02),
            process(310, 1, 6, -0.02),
            process(900, 12, 12, 0.0),
            process(450, 6, 20, 0.03),
            process(1200, 3, 25, -0.03),
            process(800, 15, 5, 0.01),
        ]
    }

    #[test]
    fn each_folders_modules_cost_what_they_cost() {
        let processes = suite();
        let common = Startup {
            base: 1.0,
            per_module: 0.1,
            per_case: 0.001,
        };
        let (startup, per_folder) = fit(&processes, &common).unwrap();
        let units = per_folder["u/tests"];
        let coords = per_folder["c/tests"];
        // Held toward the common cost a little, the two stay far apart, in order.
        assert!(units > 0.17 && units < 0.23, "{per_folder:?}");
        assert!(coords > 0.04 && coords < 0.09, "{per_folder:?}");
        assert!((startup.per_case - 0.001).abs() < 2e-4, "{startup:?}");
        // In any order, the same costs.
        let mut shuffled = processes.clone();
        shuffled.reverse();
        shuffled.swap(1, 5);
        assert_eq!(fit(&shuffled, &common), Some((startup, per_folder)));
    }

    #[test]
    fn one_folder_or_no_two_count_fit_gives_none() {
        let mut processes = suite();
        for p in &mut processes {
            let n = p.folders.len();
            p.folders = vec!["u/tests".to_string(); n];
        }
        let common = Startup {
            base: 1.0,
            per_module: 0.1,
            per_case: 0.001,
        };
        assert_eq!(fit(&processes, &common), None);
        let by_cases_alone = Startup {
            per_module: 0.0,
            ..common
        };
        assert_eq!(fit(&suite(), &by_cases_alone), None);
        assert_eq!(fit(&suite()[..4], &common), None);
    }

    #[test]
    fn a_singular_system_has_no_solution() {
        assert_eq!(
            eliminate(vec![vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 6.0]]),
            None
        );
        let x = eliminate(vec![vec![2.0, 1.0, 5.0], vec![1.0, 3.0, 10.0]]).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12,
            "{x:?}"
        );
    }
}
