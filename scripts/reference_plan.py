#!/usr/bin/env python3
"""shardkit's plan algorithm bounded-ring/2, re-implemented from docs/algorithm.md alone.

Reads test ids (one per line) on stdin and prints every id as NODE<TAB>ID in shard-plan's
--all order, then a line `# fingerprint sha256:HEX`. The test suite checks that it agrees
with shard-plan, which shows that docs/algorithm.md describes the algorithm completely.

usage: reference_plan.py NODES [--vnodes V] [--load-factor C] [--group-by none|class|file]
                                 [--separator SEP] < ids.txt
"""
import argparse
import bisect
import hashlib
import sys
from decimal import Decimal

ALGORITHM = "bounded-ring/2"


def h(text):
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def group_key(test_id, by, sep):
    head = test_id.split("[", 1)[0]
    if by == "none":
        return test_id
    parts = head.split(sep)
    if by == "file":
        return parts[0] if len(parts) > 1 and parts[0] else test_id
    if len(parts) >= 3:
        return test_id[: len(sep.join(parts[:-1]))]
    return test_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nodes", type=int)
    ap.add_argument("--vnodes", type=int, required=True)
    ap.add_argument("--load-factor", default="1.05")
    ap.add_argument("--group-by", default="none")
    ap.add_argument("--separator", default="::")
    args = ap.parse_args()
    n, v = args.nodes, args.vnodes
    c_millionths = int(Decimal(args.load_factor) * 1_000_000)

    ids = []
    text = sys.stdin.buffer.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip(" \t\n\x0c\r"):
            ids.append(line)

    groups = {}
    for test_id in ids:
        groups.setdefault(group_key(test_id, args.group_by, args.separator), []).append(test_id)
    for members in groups.values():
        members.sort()
    weight = {k: len(m) for k, m in groups.items()}

    points = sorted((h(f"{node}-{j}"), node) for node in range(1, n + 1) for j in range(v))
    positions = [p for p, _ in points]
    total = sum(weight.values())
    capacity = max(c_millionths * total // (1_000_000 * n), -(-total // n), max(weight.values()))

    loads = {node: 0 for node in range(1, n + 1)}
    node_of = {}
    ring_order = sorted(groups, key=lambda k: (h(k), k))
    rank = {k: r for r, k in enumerate(ring_order)}

    def first_fit(key):
        w = weight[key]
        i = bisect.bisect_right(positions, h(key)) % len(points)
        tried = set()
        while True:
            node = points[i][1]
            if node not in tried:
                if loads[node] + w <= capacity:
                    break
                tried.add(node)
                if len(tried) == n:
                    node = min(loads, key=lambda k: (loads[k], k))
                    break
            i = (i + 1) % len(points)
        loads[node] += weight[key]
        node_of[key] = node

    def large(key):
        return 4 * weight[key] > capacity

    # 1. large groups, in ring order, where they fit
    for key in ring_order:
        if large(key):
            first_fit(key)
    # 2. every other group at home
    for key in ring_order:
        if not large(key):
            home = points[bisect.bisect_right(positions, h(key)) % len(points)][1]
            node_of[key] = home
            loads[home] += weight[key]
    # 3. nodes over capacity give back their heaviest groups, ties in ring order
    given_back = []
    for node in range(1, n + 1):
        if loads[node] <= capacity:
            continue
        mine = [k for k in ring_order if node_of[k] == node and not large(k)]
        for key in sorted(mine, key=lambda k: (-weight[k], rank[k])):
            if loads[node] <= capacity:
                break
            loads[node] -= weight[key]
            node_of[key] = None
            given_back.append(key)
    # 4. those, heaviest first (ties in ring order), where they fit
    queue = sorted(given_back, key=lambda k: (-weight[k], rank[k]))
    repairs = 0
    while queue:
        key = queue.pop(0)
        w = weight[key]
        i = bisect.bisect_right(positions, h(key)) % len(points)
        tried, chosen = set(), None
        while len(tried) < n:
            node = points[i][1]
            if node not in tried:
                if loads[node] + w <= capacity:
                    chosen = node
                    break
                tried.add(node)
            i = (i + 1) % len(points)
        if chosen is not None:
            loads[chosen] += w
            node_of[key] = chosen
            continue
        # fits nowhere: the first node clockwise that can make room by giving back groups
        # lighter than it takes it (at most 16 such repairs), else the least-loaded node
        def lighter_on(node):
            return [k for k in ring_order if node_of.get(k) == node and not large(k) and weight[k] < w]

        repair = None
        if repairs < 16:
            i = bisect.bisect_right(positions, h(key)) % len(points)
            seen = set()
            for _ in range(len(points)):
                node = points[i][1]
                if node not in seen:
                    seen.add(node)
                    if loads[node] + w <= capacity + sum(weight[k] for k in lighter_on(node)):
                        repair = node
                        break
                i = (i + 1) % len(points)
        node = repair if repair is not None else min(loads, key=lambda k: (loads[k], k))
        loads[node] += w
        node_of[key] = node
        if repair is not None:
            repairs += 1
            for other in sorted(lighter_on(node), key=lambda k: (-weight[k], rank[k])):
                if loads[node] <= capacity:
                    break
                loads[node] -= weight[other]
                node_of[other] = None
                queue.append(other)

    out = sys.stdout
    for key in sorted(groups, key=lambda k: (node_of[k], k)):
        for test_id in groups[key]:
            out.write(f"{node_of[key]}\t{test_id}\n")

    fp = hashlib.sha256()
    fp.update(b"shardkit-plan-fingerprint/1\n")
    load_factor = str(Decimal(c_millionths) / 1_000_000)
    load_factor = load_factor.rstrip("0").rstrip(".") if "." in load_factor else load_factor
    for name, value in [
        ("algorithm", ALGORITHM),
        ("vnodes", v),
        ("load-factor", load_factor),
        ("group-by", args.group_by),
        ("separator", args.separator),
        ("nodes", n),
    ]:
        fp.update(f"{name}={value}\n".encode("utf-8"))
    for key in ring_order:
        for test_id in groups[key]:
            fp.update(f"{key}\t{test_id}\t1\n".encode("utf-8"))
    out.write(f"# fingerprint sha256:{fp.hexdigest()}\n")


if __name__ == "__main__":
    main()
