#!/usr/bin/env python3
"""Prints COUNT distinct pytest-style test ids, the same on every run (fixed seed).

usage: gen_ids.py COUNT [SEED]
"""
import random
import sys


def main():
    count = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    params = ["1", "2-3", "a b", "x/y", "é", "None", "True-False", "[0]"]
    out = []
    module = 0
    while len(out) < count:
        module += 1
        path = f"tests/pkg_{rng.randrange(40)}/test_mod_{module}.py"
        for unit in range(1 + rng.randrange(12)):
            if rng.randrange(10) < 3:
                prefix, methods = path, 1
            else:
                prefix, methods = f"{path}::TestClass{unit}", 1 + rng.randrange(20)
            for method in range(methods):
                name = f"{prefix}::test_case_{unit}_{method}"
                if rng.randrange(5) == 0:
                    for p in range(1 + rng.randrange(6)):
                        out.append(f"{name}[{rng.choice(params)}-{p}]")
                else:
                    out.append(name)
    sys.stdout.write("\n".join(out[:count]) + "\n")


if __name__ == "__main__":
    main()
