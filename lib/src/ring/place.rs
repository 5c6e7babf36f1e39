//! The bounded-load placement of weighted groups on a ring, in the four steps of the module's
//! story: large groups where they fit, the others at home, over-full nodes give back their
//! heaviest groups, and those are placed again, making room on a full node when needed.

use std::collections::VecDeque;

use super::{LoadFactor, Ring};

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
    use crate::ring::ring_hash;

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
