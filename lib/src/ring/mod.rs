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

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::thread;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

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

/// The result of placing weighted items on a ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The node (1-based) of each item, in the order the items were given.
    pub node_of: Vec<u32>,
    /// Total weight on each node; `loads[0]` is node 1.
    pub loads: Vec<u64>,
    /// The capacity every node was held to.
    pub capacity: u64,
    /// How many items found no node with room and went to the least-loaded node.
    pub overflowed: usize,
}

/// A node's capacity: `max(floor(c * total / nodes), ceil(total / nodes), largest)`, in exact
/// integer arithmetic. The middle term lets unit weights always fit; the first keeps every
/// node within `c` times the mean whenever it is the largest.
pub(crate) fn capacity(load_factor: LoadFactor, total: u64, nodes: u32, largest: u64) -> u64 {
    let total = u128::from(total);
    let nodes = u128::from(nodes);
    let bounded = u128::from(load_factor.millionths()) * total / (1_000_000 * nodes);
    let even = total.div_ceil(nodes);
    u64::try_from(bounded.max(even))
        .unwrap_or(u64::MAX)
        .max(largest)
}

/// Places items, given as `(hash, weight)` in ascending ring order (the caller sorts them by
/// `(hash, key)`), on `ring`: the large ones first where they fit, the rest at home, then what
/// over-full nodes give back (see the module's description).
pub(crate) fn place(ring: &Ring, items: &[(u64, u64)], load_factor: LoadFactor) -> Placement {
    let total: u64 = items.iter().map(|&(_, w)| w).sum();
    let largest = items.iter().map(|&(_, w)| w).max().unwrap_or(0);
    let cap = capacity(load_factor, total, ring.nodes, largest);
    debug_assert!(
        items.windows(2).all(|p| p[0].0 <= p[1].0),
        "items not sorted"
    );
    let mut placer = Placer {
        items,
        cap,
        walk: Walk {
            points: &ring.points,
            loads: vec![0u64; ring.nodes as usize],
            seen: vec![0usize; ring.nodes as usize],
            stamp: 0,
            overflowed: 0,
        },
        node_of: vec![GIVEN_BACK; items.len()],
    };
    placer.place_large();
    placer.place_at_home();
    let given_back = placer.give_back_over_capacity();
    placer.place_given_back(given_back);
    Placement {
        node_of: placer.node_of,
        loads: placer.walk.loads,
        capacity: cap,
        overflowed: placer.walk.overflowed,
    }
}

/// The node (1-based) of a group given back and waiting to be placed again: none.
const GIVEN_BACK: u32 = 0;

/// The groups being placed, each step of the placement a method.
struct Placer<'a> {
    /// `(hash, weight)` of every group, in ring order.
    items: &'a [(u64, u64)],
    /// The capacity every node is held to.
    cap: u64,
    walk: Walk<'a>,
    /// The node (1-based) of each group so far, or [`GIVEN_BACK`].
    node_of: Vec<u32>,
}

impl Placer<'_> {
    /// Whether a group of `weight` is large: more than 1/[`LARGE_SHARE`] of the capacity.
    fn large(&self, weight: u64) -> bool {
        u128::from(weight) * u128::from(LARGE_SHARE) > u128::from(self.cap)
    }

    /// 1. Large groups first, in ring order, each where it fits: placed late, a large group
    ///    would find every node too full for it.
    fn place_large(&mut self) {
        for (index, &(hash, weight)) in self.items.iter().enumerate() {
            if self.large(weight) {
                self.node_of[index] = self.walk.first_fit(hash, weight, self.cap);
            }
        }
    }

    /// 2. Every other group at home: the node of the first point after its hash. A group
    ///    moves only when its home is over capacity, so adding tests or measuring them again
    ///    moves few: no sweep whose every step depends on the steps before it.
    fn place_at_home(&mut self) {
        for (index, &(hash, weight)) in self.items.iter().enumerate() {
            if !self.large(weight) {
                let node = self.walk.points[self.walk.start(hash)].1;
                self.node_of[index] = node;
                self.walk.loads[node as usize - 1] += weight;
            }
        }
    }

    /// 3. A node over capacity gives back its heaviest groups (ties in ring order) until it
    ///    is within capacity: few groups move, and they are the ones worth moving. Returns
    ///    the groups given back.
    fn give_back_over_capacity(&mut self) -> Vec<usize> {
        let mut given_back: Vec<usize> = Vec::new();
        let over: Vec<bool> = self.walk.loads.iter().map(|&l| l > self.cap).collect();
        if !over.iter().any(|&o| o) {
            return given_back;
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); over.len()];
        for (index, &(_, weight)) in self.items.iter().enumerate() {
            let node = self.node_of[index] as usize - 1;
            if over[node] && !self.large(weight) {
                members[node].push(index);
            }
        }
        for (node, mine) in members.into_iter().enumerate() {
            given_back.extend(self.give_back(node, mine));
        }
        given_back
    }

    /// 4. The given-back groups, heaviest first (ties in ring order), each on the first node
    ///    clockwise from its hash with room. The free room may be in pieces too small for a
    ///    heavy group; then a node makes room by giving back lighter groups.
    fn place_given_back(&mut self, mut given_back: Vec<usize>) {
        let items = self.items;
        given_back.sort_by_key(|&i| (std::cmp::Reverse(items[i].1), i));
        let mut queue: VecDeque<usize> = given_back.into();
        let mut repairs = 0;
        while let Some(index) = queue.pop_front() {
            let (hash, weight) = items[index];
            if let Some(node) = self.walk.fit(hash, weight, self.cap) {
                self.walk.loads[node] += weight;
                self.node_of[index] = node as u32 + 1;
                continue;
            }
            // No node has room: the first node clockwise that can make room by giving back
            // groups lighter than this one takes it and gives those back (heaviest first);
            // they are placed after the others. At most REPAIRS such repairs, so that coarse
            // groups cannot cycle; each costs one pass over the groups.
            let repair = if repairs < REPAIRS {
                self.node_that_can_make_room(hash, weight)
            } else {
                None
            };
            let node = repair.unwrap_or_else(|| least_loaded(&self.walk.loads));
            self.walk.loads[node] += weight;
            self.node_of[index] = node as u32 + 1;
            if repair.is_some() {
                repairs += 1;
                let lighter: Vec<usize> = (0..items.len())
                    .filter(|&i| {
                        i != index
                            && self.node_of[i] as usize == node + 1
                            && !self.large(items[i].1)
                            && items[i].1 < weight
                    })
                    .collect();
                queue.extend(self.give_back(node, lighter));
            }
            if self.walk.loads[node] > self.cap {
                self.walk.overflowed += 1;
            }
        }
    }

    /// The first node (0-based) clockwise from `hash` that would be within capacity with a
    /// group of `weight` once it gave back its groups lighter than that one.
    fn node_that_can_make_room(&self, hash: u64, weight: u64) -> Option<usize> {
        let nodes = self.walk.loads.len();
        let mut spare = vec![0u64; nodes];
        for (i, &(_, w)) in self.items.iter().enumerate() {
            // Groups waiting in the queue are on no node.
            if self.node_of[i] != GIVEN_BACK && !self.large(w) && w < weight {
                spare[self.node_of[i] as usize - 1] += w;
            }
        }
        let points = self.walk.points;
        let mut i = self.walk.start(hash);
        let mut seen = vec![false; nodes];
        for _ in 0..points.len() {
            let node = points[i].1 as usize - 1;
            if !seen[node] {
                seen[node] = true;
                if self.walk.loads[node] + weight <= self.cap + spare[node] {
                    return Some(node);
                }
            }
            i = (i + 1) % points.len();
        }
        None
    }

    /// Node `node` (0-based) gives back `members`, heaviest first (ties in ring order), until
    /// it is within capacity; returns the groups given back, in that order.
    fn give_back(&mut self, node: usize, mut members: Vec<usize>) -> Vec<usize> {
        let items = self.items;
        members.sort_by_key(|&i| (std::cmp::Reverse(items[i].1), i));
        let mut given_back = Vec::new();
        for index in members {
            if self.walk.loads[node] <= self.cap {
                break;
            }
            self.walk.loads[node] -= items[index].1;
            self.node_of[index] = GIVEN_BACK;
            given_back.push(index);
        }
        given_back
    }
}

/// Walking the ring clockwise from a hash.
struct Walk<'a> {
    points: &'a [(u64, u32)],
    loads: Vec<u64>,
    /// `seen[n] == stamp` marks node n+1 as already tried for the current group.
    seen: Vec<usize>,
    stamp: usize,
    overflowed: usize,
}

impl Walk<'_> {
    /// The index of the first point strictly after `hash`, wrapping.
    fn start(&self, hash: u64) -> usize {
        let i = self.points.partition_point(|p| p.0 <= hash);
        if i == self.points.len() { 0 } else { i }
    }

    /// The first node (0-based) clockwise from `hash` whose load plus `weight` stays within
    /// `cap`, if any.
    fn fit(&mut self, hash: u64, weight: u64, cap: u64) -> Option<usize> {
        let nodes = self.loads.len();
        self.stamp += 1;
        let mut tried = 0;
        let mut i = self.start(hash);
        loop {
            let node = self.points[i].1 as usize - 1;
            if self.seen[node] != self.stamp {
                if self.loads[node] + weight <= cap {
                    return Some(node);
                }
                self.seen[node] = self.stamp;
                tried += 1;
                if tried == nodes {
                    return None;
                }
            }
            i += 1;
            if i == self.points.len() {
                i = 0;
            }
        }
    }

    /// Puts a group where it [`fit`]s, or on the least-loaded node when none has room;
    /// returns the node (1-based).
    ///
    /// [`fit`]: Walk::fit
    fn first_fit(&mut self, hash: u64, weight: u64, cap: u64) -> u32 {
        let chosen = self.fit(hash, weight, cap).unwrap_or_else(|| {
            self.overflowed += 1;
            least_loaded(&self.loads)
        });
        self.loads[chosen] += weight;
        chosen as u32 + 1
    }
}

/// The most groups that make room for themselves on a full node (placement step 4).
pub(crate) const REPAIRS: usize = 16;

/// A group is large when its weight is more than 1/`LARGE_SHARE` of a node's capacity.
pub(crate) const LARGE_SHARE: u64 = 4;

fn least_loaded(loads: &[u64]) -> usize {
    let mut best = 0;
    for (i, &load) in loads.iter().enumerate() {
        if load < loads[best] {
            best = i;
        }
    }
    best
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
    fn capacity_rounds_up_and_admits_the_largest_weight() {
        let c = LoadFactor::DEFAULT;
        assert_eq!(capacity(c, 100, 4, 1), 26); // floor(26.25)
        assert_eq!(capacity(c, 100, 5, 1), 21); // exactly 21
        assert_eq!(capacity(c, 100, 4, 40), 40); // the largest group
        assert_eq!(capacity(c, 10, 8, 1), 2); // ceil(10 / 8) beats floor(1.3125)
        assert_eq!(capacity(c, 0, 3, 0), 0);
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

    #[test]
    fn overflow_goes_to_the_least_loaded_node() {
        // Three groups of weight 3 on two nodes: capacity max(floor(1.05*9/2), ceil(9/2), 3)
        // = 5, so the third group fits nowhere.
        let ring = Ring::new(2, 8).unwrap();
        let items = [(1u64, 3u64), (2, 3), (3, 3)];
        let placed = place(&ring, &items, LoadFactor::DEFAULT);
        assert_eq!(placed.capacity, 5);
        assert_eq!(placed.overflowed, 1);
        let mut loads = placed.loads.clone();
        loads.sort_unstable();
        assert_eq!(loads, [3, 6]);
    }

    #[test]
    fn unit_weights_never_overflow() {
        for nodes in 1..=20u32 {
            let ring = Ring::new(nodes, 16).unwrap();
            for count in [1u64, 2, 7, 19, 20, 21, 50] {
                let items: Vec<(u64, u64)> = (0..count)
                    .map(|i| ring_hash(&i.to_le_bytes()))
                    .map(|h| (h, 1))
                    .collect::<Vec<_>>();
                let mut items = items;
                items.sort_unstable();
                let placed = place(&ring, &items, LoadFactor::DEFAULT);
                assert_eq!(placed.overflowed, 0, "{count} items on {nodes} nodes");
                assert!(placed.loads.iter().all(|&l| l <= placed.capacity));
            }
        }
    }
}
