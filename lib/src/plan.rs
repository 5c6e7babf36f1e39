//! A plan: every id's group and node, its manifest, its fingerprint and per-node totals.

use std::sync::Mutex;
use std::thread;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::{GroupBy, Grouping, TestIds};
use crate::ring::{self, LoadFactor, Ring};

/// What a plan depends on besides the ids and their weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanParams {
    /// The number of nodes, N.
    pub nodes: u32,
    /// Ring points per node.
    pub vnodes: u32,
    /// Capacity as a multiple of the mean load.
    pub load_factor: LoadFactor,
    /// How ids form groups that stay on one node.
    pub grouping: Grouping,
}

impl PlanParams {
    /// N nodes with the default vnodes, load factor and grouping.
    pub fn new(nodes: u32) -> Self {
        PlanParams {
            nodes,
            vnodes: ring::DEFAULT_VNODES,
            load_factor: LoadFactor::DEFAULT,
            grouping: Grouping::default(),
        }
    }

    /// The parameters as `key=value` pairs, in the order of manifests and fingerprints.
    pub fn fields(&self) -> [(&'static str, String); 6] {
        [
            ("algorithm", ring::ALGORITHM.to_string()),
            ("vnodes", self.vnodes.to_string()),
            ("load-factor", self.load_factor.to_string()),
            ("group-by", self.grouping.by().to_string()),
            ("separator", self.grouping.separator().to_string()),
            ("nodes", self.nodes.to_string()),
        ]
    }
}

/// One group of the plan: ids `order[start..end]`, their summed weight, and the node. Its key
/// is the first `key_len` bytes of any of its ids. Small and free of pointers, so that a million
/// of them are cheap to build without touching the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Group {
    start: u32,
    end: u32,
    key_len: u32,
    node: u32,
    weight: u64,
    /// The group is one id, whose key is the whole id.
    own_id: bool,
}

/// Totals of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLoad {
    /// 1-based node number.
    pub node: u32,
    pub tests: usize,
    pub groups: usize,
    pub weight: u64,
}

/// Every id of a set placed on one of N nodes.
///
/// Groups are placed in ring order: by the hash of their key, then by key. People see each
/// node's ids in reading order: by group key, then by id, comparing bytes. Neither order
/// depends on the order the ids were read in.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    ids: &'a TestIds,
    /// Every id, in input order: one load to reach an id from its index.
    id_strs: Vec<&'a str>,
    params: PlanParams,
    weights: Vec<u64>,
    /// Id indices, group by group in ring order; by id within a group.
    order: Vec<u32>,
    /// In ring order.
    groups: Vec<Group>,
    capacity: u64,
    overflowed: usize,
}

impl<'a> Plan<'a> {
    /// Plans `ids`, each weighing 1 (balance by test count).
    pub fn by_count(ids: &'a TestIds, params: PlanParams) -> Result<Self> {
        Self::new(ids, vec![1; ids.len()], params)
    }

    /// Plans `ids` with `weights[i]` the weight of id `i` (input order); a group weighs the
    /// sum of its ids.
    pub fn new(ids: &'a TestIds, weights: Vec<u64>, params: PlanParams) -> Result<Self> {
        if weights.len() != ids.len() {
            return Err(Error::InvalidParameter {
                what: "weights",
                value: weights.len().to_string(),
                reason: format!("expected one weight per id ({})", ids.len()),
            });
        }
        let ring = Ring::new(params.nodes, params.vnodes)?;
        let grouping = &params.grouping;
        let (order, mut groups, items) = if grouping.by() == GroupBy::None {
            // Every id is its own group, and the ids already know their ring order.
            let order = ids.hash_order().to_vec();
            let groups: Vec<Group> = order
                .iter()
                .enumerate()
                .map(|(pos, &i)| Group {
                    start: pos as u32,
                    end: pos as u32 + 1,
                    key_len: ids.len_of(i as usize) as u32,
                    node: 0,
                    weight: weights[i as usize],
                    own_id: true,
                })
                .collect();
            let items = order
                .iter()
                .map(|&i| (ids.hash(i as usize), weights[i as usize]))
                .collect();
            (order, groups, items)
        } else {
            group(ids, &weights, grouping)
        };
        let placement = ring::place(&ring, &items, params.load_factor);
        for (g, &node) in groups.iter_mut().zip(&placement.node_of) {
            g.node = node;
        }

        Ok(Plan {
            ids,
            id_strs: ids.iter().collect(),
            params,
            weights,
            order,
            groups,
            capacity: placement.capacity,
            overflowed: placement.overflowed,
        })
    }

    /// The ids planned.
    pub fn ids(&self) -> &'a TestIds {
        self.ids
    }

    /// The parameters the plan was made with.
    pub fn params(&self) -> &PlanParams {
        &self.params
    }

    /// The capacity every node was held to.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Groups that fit on no node within capacity and went to the least-loaded node.
    pub fn overflowed(&self) -> usize {
        self.overflowed
    }

    /// The number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Every entry in ring order (all nodes): the order of the fingerprint.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.groups
            .iter()
            .flat_map(move |g| self.group_entries(self.key(g), g))
    }

    /// The entries of node `node` (1-based) in reading order: by group key, then by id.
    pub fn node_entries(&self, node: u32) -> impl Iterator<Item = Entry<'_>> + '_ {
        let mut groups = self.keyed(|g| g.node == node);
        groups.sort_unstable();
        groups
            .into_iter()
            .flat_map(move |(key, g)| self.group_entries(key, &self.groups[g as usize]))
    }

    /// Every entry, node 1 first, each node's in reading order.
    pub fn entries_by_node(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        let mut nodes: Vec<Vec<(&'a str, u32)>> = vec![Vec::new(); self.params.nodes as usize];
        for (key, g) in self.keyed(|_| true) {
            nodes[self.groups[g as usize].node as usize - 1].push((key, g));
        }
        // Each node's groups are sorted on their own, on every core.
        let threads = thread::available_parallelism().map_or(1, |n| n.get());
        let queue = Mutex::new(nodes.iter_mut());
        thread::scope(|scope| {
            for _ in 0..threads.min(self.params.nodes as usize) {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                        let Some(groups) = next else { break };
                        groups.sort_unstable();
                    }
                });
            }
        });
        nodes
            .into_iter()
            .flatten()
            .flat_map(move |(key, g)| self.group_entries(key, &self.groups[g as usize]))
    }

    /// `(key, index)` of each group that `keep` keeps.
    fn keyed(&self, keep: impl Fn(&Group) -> bool) -> Vec<(&'a str, u32)> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| keep(g))
            .map(|(i, g)| (self.key(g), i as u32))
            .collect()
    }

    fn key(&self, g: &Group) -> &'a str {
        &self.id_strs[self.order[g.start as usize] as usize][..g.key_len as usize]
    }

    fn group_entries<'s>(
        &'s self,
        key: &'a str,
        g: &'s Group,
    ) -> impl Iterator<Item = Entry<'s>> + 's {
        // An id that is its own group is its key: no need to look it up.
        let own = (g.end - g.start == 1 && g.own_id).then_some(Entry {
            node: g.node,
            group: key,
            group_weight: g.weight,
            weight: g.weight,
            id: key,
        });
        let members = if own.is_some() {
            &[][..]
        } else {
            &self.order[g.start as usize..g.end as usize]
        };
        own.into_iter().chain(members.iter().map(move |&i| Entry {
            node: g.node,
            group: key,
            group_weight: g.weight,
            weight: self.weights[i as usize],
            id: self.id_strs[i as usize],
        }))
    }

    /// Totals per node, node 1 first; a node with nothing planned has zeros.
    pub fn loads(&self) -> Vec<NodeLoad> {
        let mut loads: Vec<NodeLoad> = (1..=self.params.nodes)
            .map(|node| NodeLoad {
                node,
                tests: 0,
                groups: 0,
                weight: 0,
            })
            .collect();
        for g in &self.groups {
            let load = &mut loads[g.node as usize - 1];
            load.tests += (g.end - g.start) as usize;
            load.groups += 1;
            load.weight += g.weight;
        }
        loads
    }

    /// SHA-256 over the algorithm, its parameters, N and every `(group, id, weight)` in ring
    /// order, as lowercase hex. See docs/algorithm.md for the exact bytes.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"shardkit-plan-fingerprint/1\n");
        for (key, value) in self.params.fields() {
            hasher.update(format!("{key}={value}\n").as_bytes());
        }
        // Lines are gathered into large blocks: one hasher call per line is slower.
        let mut block = Vec::with_capacity(1 << 16);
        let mut digits = [0u8; 20];
        for e in self.entries() {
            block.extend_from_slice(e.group.as_bytes());
            block.push(b'\t');
            block.extend_from_slice(e.id.as_bytes());
            block.push(b'\t');
            block.extend_from_slice(decimal(e.weight, &mut digits));
            block.push(b'\n');
            if block.len() >= 1 << 16 {
                hasher.update(&block);
                block.clear();
            }
        }
        hasher.update(&block);
        to_hex(&hasher.finalize())
    }
}

/// The id order, the groups and the placement items of a plan.
type Grouped = (Vec<u32>, Vec<Group>, Vec<(u64, u64)>);

/// Ids gathered into groups by `grouping`: the id order (group by group in ring order, by id
/// within a group), the groups, and each group's `(hash, weight)` in ring order.
fn group(ids: &TestIds, weights: &[u64], grouping: &Grouping) -> Grouped {
    let keys: Vec<&str> = ids.iter().map(|id| grouping.key(id)).collect();

    // Ring positions of the keys; an id that is its own group already has its hash.
    let (own, shared): (Vec<usize>, Vec<usize>) =
        (0..ids.len()).partition(|&i| keys[i].len() == ids.get(i).len());
    let mut key_hash = vec![0u64; ids.len()];
    for i in own {
        key_hash[i] = ids.hash(i);
    }
    let shared_keys: Vec<&str> = shared.iter().map(|&i| keys[i]).collect();
    for (&i, h) in shared.iter().zip(ring::ring_hashes(&shared_keys)) {
        key_hash[i] = h;
    }

    // Ring order: by key hash, then key, then id. Equal hashes are rare outside a group.
    let mut by_hash: Vec<(u64, u32)> = (0..ids.len()).map(|i| (key_hash[i], i as u32)).collect();
    by_hash.sort_unstable();
    let mut order: Vec<u32> = by_hash.iter().map(|&(_, i)| i).collect();
    let mut start = 0;
    for run in by_hash.chunk_by(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            order[start..start + run.len()].sort_unstable_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                keys[a]
                    .cmp(keys[b])
                    .then_with(|| ids.get(a).cmp(ids.get(b)))
            });
        }
        start += run.len();
    }

    let mut groups: Vec<Group> = Vec::new();
    let mut current = "";
    for (pos, &i) in order.iter().enumerate() {
        let (key, weight) = (keys[i as usize], weights[i as usize]);
        match groups.last_mut() {
            Some(g) if current == key => {
                g.end = pos as u32 + 1;
                g.weight = g.weight.saturating_add(weight);
                g.own_id = false;
            }
            _ => {
                current = key;
                groups.push(Group {
                    start: pos as u32,
                    end: pos as u32 + 1,
                    key_len: key.len() as u32,
                    node: 0,
                    weight,
                    own_id: key.len() == ids.len_of(i as usize),
                });
            }
        }
    }
    let items = groups
        .iter()
        .map(|g| (key_hash[order[g.start as usize] as usize], g.weight))
        .collect();
    (order, groups, items)
}

/// One id of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// 1-based node number.
    pub node: u32,
    /// The key of the id's group.
    pub group: &'a str,
    /// The summed weight of the id's group.
    pub group_weight: u64,
    /// The id's own weight.
    pub weight: u64,
    pub id: &'a str,
}

/// `value` in decimal, written into the end of `digits`.
fn decimal(mut value: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &digits[at..];
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let mut digits = [0u8; 20];
        for value in [0, 7, 10, 1234567890, u64::MAX] {
            assert_eq!(decimal(value, &mut digits), value.to_string().as_bytes());
        }
    }
}
