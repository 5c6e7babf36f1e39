//! The count of failures after which a run starts no new work: `--max-fail N`, and
//! `--fail-fast` as its count of one. A count, never 0, so there is no sentinel.

use std::cmp::Ordering;
use std::num::NonZeroUsize;

use crate::error::Result;

use super::at_least_one;

/// After how many failed ids (failed for good, after their retries) a run starts no new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaxFail(NonZeroUsize);

impl MaxFail {
    /// `--fail-fast`: no new work after the first failure.
    pub const FIRST: MaxFail = MaxFail(NonZeroUsize::MIN);

    /// No new work after `failures` failures; there is no stopping before any.
    pub fn new(failures: usize) -> Result<Self> {
        NonZeroUsize::new(failures)
            .map(MaxFail)
            .ok_or_else(|| at_least_one("max-fail", failures))
    }

    /// The number of failures.
    pub fn get(self) -> usize {
        self.0.get()
    }

    /// Whether `failed` failures are enough to stop.
    pub fn reached(self, failed: usize) -> bool {
        failed >= self.get()
    }
}

/// A failure count compares with a [`MaxFail`]: `failed >= max` reads as it says.
impl PartialEq<MaxFail> for usize {
    fn eq(&self, max: &MaxFail) -> bool {
        *self == max.get()
    }
}

impl PartialOrd<MaxFail> for usize {
    fn partial_cmp(&self, max: &MaxFail) -> Option<Ordering> {
        Some(self.cmp(&max.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_zero_is_an_error() {
        let err = MaxFail::new(0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid max-fail `0`: it must be at least 1"
        );
    }

    #[test]
    fn a_max_fail_is_reached_at_its_count_of_failures() {
        let max = MaxFail::new(2).unwrap();
        assert!(!max.reached(1));
        assert!(max.reached(2));
        assert!(max.reached(3));
        assert!(1 < max && 2 >= max && 2 == max && 3 > max);
    }

    #[test]
    fn fail_fast_is_a_count_of_one() {
        assert_eq!(MaxFail::FIRST, MaxFail::new(1).unwrap());
        assert!(MaxFail::FIRST.reached(1));
    }
}
