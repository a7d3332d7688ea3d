"""Where a forward pass's (or another case's) GPU time goes, kernel by kernel, from
`xai bench --json --runs N` run with cubecl's profiler on: a cubecl.toml in the working
directory with `[profiling.logger]`, `level = "basic"`, `stdout = true`.

The profiler logs each kernel as it completes ("| 1.2ms | name_hash") and waits for each, so its
durations are device times, not the pass's wall time. The timed runs of a case launch the same
kernels in the same order, so the last run is the shortest tail of the case's log that its last
`--runs` runs repeat. Prints that run's kernels by total time, grouped by name (the hash dropped),
and, given the JSON of an unprofiled run (`--wall`), how much of the case's wall time the device
time leaves (launches, copies to and from the host, waiting)."""

import argparse
import json
import re
from collections import defaultdict

UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
LAUNCH = re.compile(r"^\| *([0-9.]+)(ns|µs|us|ms|s) *\| (.*)$")


def short(name):
    """A kernel's name, its long list of type parameters elided."""
    parts = name.split(" | ")
    return name if len(parts) <= 4 else " | ".join(parts[:2] + ["...", parts[-1]])


def case_line(lines, case):
    """The index of the case's JSON line, None if the run ended before it."""
    return next((i for i, line in enumerate(lines) if line.startswith("{") and json.loads(line)["name"] == case), None)


def last_run(launches, runs):
    """The shortest tail that the case's last `runs` runs repeat."""
    names = [name for name, _ in launches]
    for length in range(1, len(names) // runs + 1):
        if names[-runs * length :] == names[-length:] * runs:
            return launches[-length:]
    raise SystemExit(f"the log does not end in {runs} runs of the same kernels")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log", help="stdout of the profiled `xai bench --json`")
    parser.add_argument("--case", default="forward", help="a case of the bench (its runs end its part of the log)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the case (at least 2)")
    parser.add_argument("--wall", help="stdout of an unprofiled `xai bench --json`")
    args = parser.parse_args()
    lines = open(args.log, encoding="utf-8").read().splitlines()
    launches = []
    end = case_line(lines, args.case)
    if end is None:
        raise SystemExit(f"the profiled run ended before its {args.case} case did")
    for line in lines[:end]:
        if match := LAUNCH.match(line):
            value, unit, name = match.groups()
            launches.append((name.strip(), float(value) * UNITS[unit]))
    run = last_run(launches, max(args.runs, 2))
    kernels = defaultdict(lambda: [0.0, 0])
    for name, ms in run:
        kernel = kernels[re.sub(r"_[0-9a-f]{8}$", "", name)]
        kernel[0] += ms
        kernel[1] += 1
    device = sum(ms for _, ms in run)
    print(f"{args.case}: {len(run)} kernel launches, {device:.3f} ms of device time")
    if args.wall:
        lines = open(args.wall, encoding="utf-8").read().splitlines()
        at = case_line(lines, args.case)
        if at is None:
            print("no wall time: the unprofiled run ended before its case did")
        else:
            wall = json.loads(lines[at])["median_ms"]
            print(f"wall time without the profiler (median): {wall:.3f} ms, {wall - device:.3f} ms off the device")
    print(f"{'ms':>9} {'share':>6} {'launches':>8}  kernel")
    for name, (ms, count) in sorted(kernels.items(), key=lambda item: -item[1][0]):
        print(f"{ms:9.3f} {ms / device:6.1%} {count:8d}  {short(name)}")


if __name__ == "__main__":
    main()
