#!/usr/bin/env python3
"""Writes pytest-style JUnit reports for benchmarks, the same on every run (fixed seed).

usage: gen_junit.py nodes DIR NODES CASES [SEED]   DIR/node-1.xml .. node-NODES.xml, CASES each
       gen_junit.py exec-nodes DIR NODES CASES SLOTS [SEED]
                                                   the same as shard-exec writes them: each case
                                                   with its id, node, slot, process and the
                                                   process's start and end (batches of 20 to 80
                                                   cases run on SLOTS slots)
       gen_junit.py bigtext FILE MIB [SEED]        one report, one <system-out> of MIB MiB of log
                                                   text, written as it is made (streamed)

Node reports mix ~2% failures (with a traceback and a few hundred bytes of <system-out>),
~1% skips and ~0.5% errors; test ids are distinct across nodes, as in a sharded run.
"""
import random
import sys
from xml.sax.saxutils import escape, quoteattr

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
PARAMS = ["1", "2-3", "a b", "x/y", "é", "None", "True-False", "a&b", "<lt>", "0.5"]


def suite_open(node, tests, failures, errors, skipped, time):
    return (f'<testsuite name="pytest" errors="{errors}" failures="{failures}" '
            f'skipped="{skipped}" tests="{tests}" time="{time:.3f}" '
            f'timestamp="2024-05-01T12:00:00.000000" hostname="node-{node}">\n')


def failure(rng, path, line):
    got, want = rng.randrange(100), rng.randrange(100)
    module = path[:-3].replace("/", ".")
    return f"assert {got} == {want}", (
        f"self = &lt;{module}.TestClass object at 0x7f{rng.randrange(16**10):010x}&gt;\n\n"
        f"    def test_it(self):\n        result = compute({got})\n"
        f">       assert result == {want}\nE       assert {got} == {want}\n"
        f"E        +  where {got} = compute({got})\n\n{path}:{line}: AssertionError")


def case(rng, classname, name, path):
    time = rng.lognormvariate(-4.5, 1.2)
    attrs = f"classname={quoteattr(classname)} name={quoteattr(name)} time=\"{time:.4f}\""
    roll = rng.random()
    if roll < 0.02:
        line = rng.randrange(10, 400)
        out = "".join(f"DEBUG fixture setup step {i}: ok &amp; ready (seed={rng.randrange(10**6)})\n"
                      for i in range(rng.randrange(3, 8)))
        message, text = failure(rng, path, line)
        body = (f'<failure message="{message}">{text}</failure>'
                f"<system-out>{out}</system-out>")
        return "failure", time, f"<testcase {attrs}>{body}</testcase>\n"
    if roll < 0.03:
        body = f'<skipped type="pytest.skip" message="needs network">{path}:{rng.randrange(400)}: needs network</skipped>'
        return "skipped", time, f"<testcase {attrs}>{body}</testcase>\n"
    if roll < 0.035:
        body = (f'<error message="failed on setup with &quot;ConnectionError&quot;">'
                f"{escape('fixture db: ConnectionError: <refused> & retried 3 times')}</error>")
        return "error", time, f"<testcase {attrs}>{body}</testcase>\n"
    return "passed", time, f"<testcase {attrs} />\n"


def stamp(seconds):
    """RFC 3339 in UTC with milliseconds, `seconds` after 2024-05-01T12:00:00Z."""
    ms = round(seconds * 1000)
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"2024-05-01T{12 + h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"


def with_processes(rng, node, lines, slots):
    """Runs `lines` (case texts, with their times) in batches on `slots` slots, as shard-exec
    would, and gives each case its properties; returns the texts and the node's end."""
    free = [rng.uniform(0, 2) for _ in range(slots)]  # a node may start a little late
    start = min(free)
    out, i, process = [], 0, 0
    while i < len(lines):
        batch = lines[i:i + rng.randrange(20, 81)]
        i += len(batch)
        process += 1
        slot = min(range(slots), key=lambda k: free[k])
        begin = free[slot]
        end = begin + 0.3 + sum(t for t, _ in batch)
        free[slot] = end
        for _, text in batch:
            name = text.split(' name="', 1)[1].split('"', 1)[0]
            classname = text.split('classname="', 1)[1].split('"', 1)[0]
            props = (f'<properties><property name="shard.id" value="{classname}::{name}"/>'
                     f'<property name="shard.node" value="{node}"/>'
                     f'<property name="shard.slot" value="{slot + 1}"/>'
                     f'<property name="shard.process" value="{process}"/>'
                     f'<property name="shard.process.start" value="{stamp(begin)}"/>'
                     f'<property name="shard.process.end" value="{stamp(end)}"/></properties>')
            if text.endswith(" />\n"):
                text = text[:-4] + ">" + props + "</testcase>\n"
            else:
                head, rest = text.split(">", 1)
                text = head + ">" + props + rest
            out.append(text)
    return out, start, max(free)


def nodes(directory, count, cases, seed, slots=None):
    for node in range(1, count + 1):
        rng = random.Random(f"{seed}-{node}")
        module = (node - 1) * cases  # distinct module numbers across nodes
        lines, counts, total = [], {"failure": 0, "error": 0, "skipped": 0, "passed": 0}, 0.0
        while len(lines) < cases:
            module += 1
            path = f"tests/pkg_{rng.randrange(40)}/test_mod_{module}.py"
            classname = path[:-3].replace("/", ".") + ".TestClass"
            for method in range(1 + rng.randrange(30)):
                names = [f"test_case_{method}"]
                if rng.randrange(5) == 0:
                    names = [f"test_case_{method}[{rng.choice(PARAMS)}-{p}]" for p in range(1 + rng.randrange(6))]
                for name in names[: cases - len(lines)]:
                    kind, time, text = case(rng, classname, name, path)
                    counts[kind] += 1
                    total += time
                    lines.append((time, text))
        head = suite_open(node, cases, counts["failure"], counts["error"], counts["skipped"], total)
        texts = [text for _, text in lines]
        if slots:
            texts, start, end = with_processes(rng, node, lines, slots)
            head += (f'<properties><property name="shard.node" value="{node}"/>'
                     f'<property name="shard.start" value="{stamp(start)}"/>'
                     f'<property name="shard.end" value="{stamp(end)}"/></properties>\n')
        with open(f"{directory}/node-{node}.xml", "w", encoding="utf-8") as f:
            f.write(HEAD)
            f.write(head)
            f.writelines(texts)
            f.write("</testsuite>\n</testsuites>\n")


def bigtext(path, mib, seed):
    rng = random.Random(seed)
    target = mib * 2**20
    words = ["worker", "request", "cache", "retry", "flush", "GET /api/v1/items?id=7&amp;page=2",
             "value &lt; limit", "queue", "&lt;empty&gt;", "ok", "timeout", "db"]
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEAD + suite_open(1, 3, 0, 0, 0, 61.5))
        f.write('<testcase classname="tests.pkg_1.test_mod_1.TestClass" name="test_small" time="0.0123" />\n')
        f.write('<testcase classname="tests.pkg_1.test_mod_1.TestClass" name="test_verbose" time="61.4">'
                "<system-out>")
        written, line_no = 0, 0
        while written < target:
            block = []
            for _ in range(1000):
                line_no += 1
                msg = " ".join(rng.choices(words, k=rng.randrange(4, 14)))
                block.append(f"2024-05-01T12:{line_no // 60000 % 60:02d}:{line_no // 1000 % 60:02d}."
                             f"{line_no % 1000:03d} INFO [{rng.randrange(64)}] step {line_no}: {msg}\n")
            text = "".join(block)
            f.write(text)
            written += len(text.encode())
        f.write("</system-out></testcase>\n")
        f.write('<testcase classname="tests.pkg_1.test_mod_1.TestClass" name="test_after[a&amp;b]" time="0.0456" />\n')
        f.write("</testsuite>\n</testsuites>\n")


def main():
    mode = sys.argv[1]
    if mode == "nodes":
        seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        nodes(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), seed)
    elif mode == "exec-nodes":
        seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
        nodes(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), seed, slots=int(sys.argv[5]))
    elif mode == "bigtext":
        bigtext(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
