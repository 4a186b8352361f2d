#!/usr/bin/env python3
"""fgtrace bench A/B: two fgtrace builds on one target, in alternating windows.

A full bench run measures each profiler once per target, so a difference of a few
per cent between two runs on a shared machine is mostly the machine. This compares two
builds side by side instead: the same target process, one rate, windows of build A and
build B in turn (ABBA order), each between two baseline windows of its own. It prints
each window and the mean and spread per build of the figures that move most: the
target's throughput ratio, the stall per sample inside the target, and fgtrace's CPU.

Usage: bench/ab.py OLD_FGTRACE NEW_FGTRACE [--target b5] [--hz 999] [--rounds 4]
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as R  # noqa: E402  (the harness: targets, snapshots, windows)


def baseline(target, secs):
    r0 = target.snap()
    time.sleep(secs)
    return R.window(r0, target.snap())


def measure(target, exe, hz, secs):
    """One window of exe on target, between two baselines: (throughput ratio,
    stall per sample in us beyond the baselines', CPU % of a core)."""
    before = baseline(target, secs)
    cmd = [exe, "-p", str(target.pid), "-d", f"{secs + 1.5:.1f}s", "-F", str(hz),
           "-o", str(R.RUNS / "ab.json"), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        R.wait_attached(target, proc, R.clock_running)
        time.sleep(0.3)
        cpu0, r0 = R.task_cpu_ns(proc.pid), target.snap()
        time.sleep(secs)
        r1, cpu1 = target.snap(), R.task_cpu_ns(proc.pid)
        _, err = proc.communicate(timeout=secs + 60)
    finally:
        R.stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed ({proc.returncode}): {err.strip()}")
    w = R.window(r0, r1, (cpu1 - cpu0) / 1e9)
    after = baseline(target, secs)
    rate = w["rate"] / ((before["rate"] + after["rate"]) / 2)
    base_stall = (before["stall_ns"] / before["dt"] + after["stall_ns"] / after["dt"]) / 2
    stall_us = (w["stall_ns"] / w["dt"] - base_stall) / w["busy"] / hz / 1e3
    return rate, stall_us, 100 * w["cpu"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs=2, help="two fgtrace binaries: A and B")
    ap.add_argument("--target", default="b5", choices=[n for n, _, _ in R.TARGETS])
    ap.add_argument("--hz", type=int, default=999)
    ap.add_argument("--rounds", type=int, default=4, help="windows per build")
    ap.add_argument("--window", type=float, default=4.0, help="seconds per window")
    cfg = ap.parse_args()
    R.RUNS.mkdir(parents=True, exist_ok=True)
    args = next(a for n, _, a in R.TARGETS if n == cfg.target)
    target = R.Target(args)
    names = {"A": cfg.builds[0], "B": cfg.builds[1]}
    seen = {"A": [], "B": []}
    try:
        for i in range(cfg.rounds):
            for k in ("A", "B") if i % 2 == 0 else ("B", "A"):
                rate, stall, cpu = measure(target, names[k], cfg.hz, cfg.window)
                seen[k].append((rate, stall, cpu))
                print(f"{k} round {i + 1}: throughput {rate:.3f}, stall/sample "
                      f"{stall:.1f} us, CPU {cpu:.1f}%", flush=True)
    finally:
        target.close()
    print(f"\ntarget {cfg.target}, {cfg.hz} Hz, {cfg.rounds} windows of {cfg.window:g} s "
          "per build (mean ± standard deviation)")
    for k in ("A", "B"):
        cols = list(zip(*seen[k]))
        spread = [statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols]
        print(f"{k} {names[k]}: throughput {statistics.mean(cols[0]):.3f} ± {spread[0]:.3f}, "
              f"stall/sample {statistics.mean(cols[1]):.1f} ± {spread[1]:.1f} us, "
              f"CPU {statistics.mean(cols[2]):.2f} ± {spread[2]:.2f}%")


if __name__ == "__main__":
    main()
