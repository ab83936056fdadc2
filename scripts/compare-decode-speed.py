#!/usr/bin/env python3
"""End-to-end decoding speed, Rebound's CLI against Perl Sisimai's dump, on
the same directory in the same run: `rebound decode -j 1 DIR` (JSON lines)
and `perl -MSisimai -e 'print Sisimai->dump(DIR)'` (JSON), alternating, each
run timed by the CPU time it used (user + system, from wait4) and by wall
time. On a shared host other work stretches both; the best of N runs is the
figure least disturbed by it, and the median shows the spread.

Usage: scripts/compare-decode-speed.py DIR [RUNS] [path/to/rebound]
       (needs `perl -MSisimai`: Debian's libsisimai-perl)
"""
import os, pathlib, statistics, subprocess, sys, time

root = pathlib.Path(__file__).resolve().parent.parent
if len(sys.argv) < 2:
    sys.exit(__doc__)
directory = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
rebound = sys.argv[3] if len(sys.argv) > 3 else str(root / "target/release/rebound")
commands = {
    "rebound": [rebound, "decode", "-j", "1", directory],
    "sisimai": ["perl", "-MSisimai", "-e", "print Sisimai->dump($ARGV[0])", directory],
}


def timed(argv):
    """(cpu seconds, wall seconds) of one run, its output discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{argv[0]} failed: status {status}")
    return usage.ru_utime + usage.ru_stime, wall


samples = {name: [] for name in commands}
for _ in range(runs):
    for name, argv in commands.items():
        samples[name].append(timed(argv))

for name, s in samples.items():
    cpu = [c for c, _ in s]
    wall = [w for _, w in s]
    print(
        f"{name:8} cpu best {min(cpu) * 1000:7.1f} ms  median {statistics.median(cpu) * 1000:7.1f} ms"
        f" | wall best {min(wall) * 1000:7.1f} ms  median {statistics.median(wall) * 1000:7.1f} ms"
    )
r = [c for c, _ in samples["rebound"]]
p = [c for c, _ in samples["sisimai"]]
rw = [w for _, w in samples["rebound"]]
pw = [w for _, w in samples["sisimai"]]
print(
    f"ratio (Sisimai / Rebound): cpu best {min(p) / min(r):.1f}x, median {statistics.median(p) / statistics.median(r):.1f}x;"
    f" wall best {min(pw) / min(rw):.1f}x, median {statistics.median(pw) / statistics.median(rw):.1f}x"
)
