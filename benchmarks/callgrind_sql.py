"""Instructions per autotrace.sql.summarize cache miss, counted by callgrind.

Run: python benchmarks/callgrind_sql.py [--statements N]

Runs valgrind twice on the same script, summarising N and 3N distinct statements
(generated identically in both runs), and divides the difference in instruction
counts by 2N: start-up, imports and statement generation cancel out. Wall-clock
timings on a shared machine are noisy; instruction counts are not.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(mode, count, total):
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, os.pardir))
    import bench_sql
    from autotrace import sql
    statements = bench_sql.make_statements(total, seed=7, new_shapes=(mode == "shapes"))
    sql._CACHE.clear()
    sql._PARSED.clear()
    summarize = sql.summarize
    for statement in statements[:count]:
        summarize(statement)


def instructions(mode, count, total):
    with tempfile.TemporaryDirectory() as directory:
        output = os.path.join(directory, "callgrind.out")
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + output,
             sys.executable, os.path.abspath(__file__), "--child", mode, str(count), str(total)],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(output) as stream:
            for line in stream:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(re.findall(r"\d+", line)[0])
    raise RuntimeError("no totals in callgrind output")


def main():
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=1000)
    options = parser.parse_args()
    count = options.statements
    for mode in ("values", "shapes"):
        small = instructions(mode, count, 3 * count)
        large = instructions(mode, 3 * count, 3 * count)
        print("cache miss, new %s: %.0f instructions per statement" % (mode, (large - small) / (2 * count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
