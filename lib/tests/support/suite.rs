//! Synthetic pytest-style test suites, the same on every machine (a fixed-seed generator).

/// splitmix64: a small, well-known generator; enough for synthetic suites.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `count` distinct pytest-style ids: packages, modules, classes with methods, module-level
/// functions, and parametrized tests (with spaces, slashes and non-ASCII in some parameters).
pub fn pytest_ids(count: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut ids = Vec::with_capacity(count);
    let params = ["1", "2-3", "a b", "x/y", "é", "None", "True-False", "[0]"];
    let mut module = 0u64;
    while ids.len() < count {
        module += 1;
        let package = rng.below(40);
        let file = format!("tests/pkg_{package}/test_mod_{module}.py");
        let units = 1 + rng.below(12);
        for unit in 0..units {
            let (prefix, methods) = if rng.below(10) < 3 {
                (file.clone(), 1)
            } else {
                (format!("{file}::TestClass{unit}"), 1 + rng.below(20))
            };
            for method in 0..methods {
                let name = format!("{prefix}::test_case_{unit}_{method}");
                if rng.below(5) == 0 {
                    for p in 0..1 + rng.below(6) {
                        let param = params[rng.below(params.len() as u64) as usize];
                        ids.push(format!("{name}[{param}-{p}]"));
                    }
                } else {
                    ids.push(name);
                }
            }
        }
    }
    ids.truncate(count);
    ids
}

/// `count` more ids, distinct from every id of `pytest_ids` (a new module's worth each time).
pub fn new_ids(count: usize, seed: u64) -> Vec<String> {
    pytest_ids(count, seed)
        .into_iter()
        .map(|id| id.replacen("tests/", "tests/new/", 1))
        .collect()
}

/// A standard normal sample (Box-Muller).
pub fn normal(rng: &mut Rng) -> f64 {
    let unit = |rng: &mut Rng| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let (u1, u2) = (unit(rng).max(1e-300), unit(rng));
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `count` heavy-tailed test durations in seconds: lognormal with median 1 s and `sigma`.
pub fn lognormal_durations(count: usize, sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| (sigma * normal(&mut rng)).exp())
        .collect()
}
