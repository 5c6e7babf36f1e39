//! The consistent hash ring and bounded-load placement of weighted groups on it.
//!
//! Algorithm `bounded-ring/2` (docs/algorithm.md gives it in full, to be re-implemented elsewhere):
//! node `n` (1-based) has the ring points `h("{n}-{j}")` for `j` in `0..vnodes`, where `h(s)`
//! is the first 8 bytes of SHA-256(s) read as a big-endian u64. A group with key `k` hashes to
//! `h(k)`; its home is the node of the first point clockwise from `h(k)` (the first point
//! `> h(k)`, wrapping; points sorted by `(point, node)`). The capacity is `max(floor(c * W /
//! N), ceil(W / N), largest weight)`. Large groups (4 x weight > capacity) are placed first, in
//! ascending `(h(k), k)` order, each on the first node clockwise whose load plus the group's
//! weight stays within the capacity; every other group goes home; a node over capacity gives
//! back its heaviest groups until it is within, and those are placed, heaviest first, like the
//! large ones. When no node has room, a large group goes to the least-loaded node (the
//! lowest-numbered on ties); a given-back group too, and that node then gives back its lightest
//! groups, which are placed after the others.
//!
//! Here are the hash, the load factor and the ring; `place.rs` holds the placement.

mod place;

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::thread;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub(crate) use self::place::place;

/// The name and version of the placement algorithm; bumped whenever any plan could change.
pub const ALGORITHM: &str = "bounded-ring/2";

/// Ring points per node unless told otherwise (see docs/measurements.md).
pub const DEFAULT_VNODES: u32 = 1024;

/// The largest number of ring points per node accepted.
pub const MAX_VNODES: u32 = 65_536;

/// The largest number of nodes accepted.
pub const MAX_NODES: u32 = 10_000;

/// The most ring points in all (nodes x vnodes): 16 Mi points take 256 MiB.
pub const MAX_POINTS: u64 = 1 << 24;

/// The first 8 bytes of SHA-256(`bytes`) as a big-endian integer: a position on the ring.
pub fn ring_hash(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head)
}

/// [`ring_hash`] of every key, on every available core when there are many.
pub fn ring_hashes<K: AsRef<[u8]> + Sync>(keys: &[K]) -> Vec<u64> {
    const PER_THREAD: usize = 16_384;
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || keys.len() < 2 * PER_THREAD {
        return keys.iter().map(|k| ring_hash(k.as_ref())).collect();
    }
    let chunk = keys.len().div_ceil(threads);
    let mut hashes = vec![0u64; keys.len()];
    thread::scope(|scope| {
        for (out, keys) in hashes.chunks_mut(chunk).zip(keys.chunks(chunk)) {
            scope.spawn(move || {
                for (slot, key) in out.iter_mut().zip(keys) {
                    *slot = ring_hash(key.as_ref());
                }
            });
        }
    });
    hashes
}

/// The load factor `c`: a node's capacity is `c` times the mean load (at least the largest
/// group). Held exactly, in millionths, so every platform computes the same capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoadFactor {
    millionths: u64,
}

impl LoadFactor {
    /// The default, chosen by measurement (docs/measurements.md).
    pub const DEFAULT: LoadFactor = LoadFactor {
        millionths: 1_050_000,
    };

    /// The default when weights are durations ([`crate::timings`]): measured (docs/measurements.md) to keep
    /// every node within 3% of the mean time for 2 to 32 nodes on heavy-tailed durations.
    pub const WITH_DURATIONS: LoadFactor = LoadFactor {
        millionths: 1_020_000,
    };

    /// `c` in millionths.
    pub fn millionths(self) -> u64 {
        self.millionths
    }
}

impl Default for LoadFactor {
    fn default() -> Self {
        LoadFactor::DEFAULT
    }
}

impl FromStr for LoadFactor {
    type Err = Error;

    /// A plain decimal from 1 to 100 with at most six decimals, such as `1.05`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidParameter {
            what: "load factor",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
            return Err(bad("expected a decimal number such as 1.05"));
        }
        if frac.len() > 6 {
            return Err(bad("at most six decimals"));
        }
        let int: u64 = int
            .parse()
            .map_err(|_| bad("expected a number from 1 to 100"))?;
        let frac_millionths: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
        let millionths = int
            .checked_mul(1_000_000)
            .and_then(|m| m.checked_add(frac_millionths))
            .ok_or_else(|| bad("expected a number from 1 to 100"))?;
        if !(1_000_000..=100_000_000).contains(&millionths) {
            return Err(bad(
                "it must be at least 1 (every node may take the mean load) and at most 100",
            ));
        }
        Ok(LoadFactor { millionths })
    }
}

impl fmt::Display for LoadFactor {
    /// The shortest decimal: `1.05`, `1`, `1.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.millionths / 1_000_000;
        let frac = self.millionths % 1_000_000;
        if frac == 0 {
            write!(f, "{int}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The ring of `nodes` nodes with `vnodes` points each, sorted by `(point, node)`.
#[derive(Debug, Clone)]
pub struct Ring {
    nodes: u32,
    points: Vec<(u64, u32)>,
}

impl Ring {
    /// Builds the ring; `nodes` and `vnodes` must be at least 1.
    pub fn new(nodes: u32, vnodes: u32) -> Result<Self> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(Error::InvalidParameter {
                what: "number of nodes",
                value: nodes.to_string(),
                reason: format!("expected 1 to {MAX_NODES}"),
            });
        }
        if vnodes == 0 || vnodes > MAX_VNODES {
            return Err(Error::InvalidParameter {
                what: "vnodes",
                value: vnodes.to_string(),
                reason: format!("expected 1 to {MAX_VNODES} points per node"),
            });
        }
        if u64::from(nodes) * u64::from(vnodes) > MAX_POINTS {
            return Err(Error::InvalidParameter {
                what: "vnodes",
                value: vnodes.to_string(),
                reason: format!(
                    "{nodes} nodes x {vnodes} points is more than the {MAX_POINTS} ring points allowed; use fewer --vnodes"
                ),
            });
        }
        // Node by node, on every core; each label is formatted into one reused buffer.
        let points_of = |first: u32, last: u32| -> Vec<(u64, u32)> {
            let mut label = String::new();
            let mut points = Vec::with_capacity(((last - first + 1) * vnodes) as usize);
            for n in first..=last {
                for j in 0..vnodes {
                    label.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(label, "{n}-{j}");
                    points.push((ring_hash(label.as_bytes()), n));
                }
            }
            points
        };
        let threads = thread::available_parallelism().map_or(1, |t| t.get()) as u32;
        let threads = if u64::from(nodes) * u64::from(vnodes) < 1 << 15 {
            1
        } else {
            threads.min(nodes)
        };
        let per_thread = nodes.div_ceil(threads);
        let mut points: Vec<(u64, u32)> = thread::scope(|scope| {
            let parts: Vec<_> = (0..threads)
                .map(|t| t * per_thread + 1)
                .filter(|&first| first <= nodes)
                .map(|first| {
                    let last = (first + per_thread - 1).min(nodes);
                    scope.spawn(move || points_of(first, last))
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        points.sort_unstable();
        Ok(Ring { nodes, points })
    }

    /// The number of nodes.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Index of the first point strictly after `hash`, wrapping to 0.
    fn successor(&self, hash: u64) -> usize {
        let i = self.points.partition_point(|&(p, _)| p <= hash);
        if i == self.points.len() { 0 } else { i }
    }

    /// The node a key hash falls on with no load bound (the plain consistent-hash answer).
    pub fn owner(&self, hash: u64) -> u32 {
        self.points[self.successor(hash)].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_factor_parses_exactly() {
        let c: LoadFactor = "1.05".parse().unwrap();
        assert_eq!(c.millionths(), 1_050_000);
        assert_eq!(c.to_string(), "1.05");
        assert_eq!("1".parse::<LoadFactor>().unwrap().to_string(), "1");
        assert_eq!(
            "2.000001".parse::<LoadFactor>().unwrap().millionths(),
            2_000_001
        );
        for bad in [
            "",
            "0.99",
            "1.",
            ".5",
            "1.0000001",
            "abc",
            "-1",
            "1e3",
            "101",
        ] {
            assert!(bad.parse::<LoadFactor>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ring_points_follow_the_documented_strings() {
        let ring = Ring::new(3, 4).unwrap();
        let mut expected: Vec<(u64, u32)> = (1..=3u32)
            .flat_map(|n| (0..4).map(move |j| (ring_hash(format!("{n}-{j}").as_bytes()), n)))
            .collect();
        expected.sort_unstable();
        assert_eq!(ring.points, expected);
        // First point strictly after the hash, wrapping around.
        let (first, node) = ring.points[0];
        assert_eq!(ring.owner(first), ring.points[1].1);
        assert_eq!(ring.owner(first - 1), node);
        assert_eq!(ring.owner(u64::MAX), node);
    }

    #[test]
    fn ring_size_is_bounded() {
        assert!(Ring::new(0, 1).is_err());
        assert!(Ring::new(MAX_NODES + 1, 1).is_err());
        assert!(Ring::new(1, 0).is_err());
        assert!(Ring::new(1, MAX_VNODES + 1).is_err());
        let err = Ring::new(MAX_NODES, MAX_VNODES).unwrap_err().to_string();
        assert!(err.contains("ring points allowed"), "{err}");
    }

    #[test]
    fn ring_hash_is_sha256_prefix() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(ring_hash(b"abc"), 0xba78_16bf_8f01_cfea);
    }

    #[test]
    fn parallel_hashes_match_serial_ones() {
        let keys: Vec<String> = (0..70_000).map(|i| format!("k{i}")).collect();
        let serial: Vec<u64> = keys.iter().map(|k| ring_hash(k.as_bytes())).collect();
        assert_eq!(ring_hashes(&keys), serial);
    }
}
