#!/usr/bin/env python3
"""fgtrace bench: what sampling a thread pool's sleeping workers costs them.

The targets of bench/run.py have threads that never run and threads that never
sleep. A thread pool's workers do both: each sleeps on a condition variable
until a task comes, runs it, and sleeps again. A sampler that stops a worker
asleep in its wait wakes it, and one that holds a worker as it takes a task
delays the task. This runs bench/build/pool (16 workers, one task of 100 us
every 1 ms) and measures each task's wait for a worker, from being queued to
being taken, in windows of --window seconds: with no profiler, and under each
fgtrace build given, in turn (each round in another order). It prints each
window, then per build the median and 99th percentile of the wait, fgtrace's
stops and the total time they held threads (from its metadata, over the whole
capture), and its CPU.

Usage: bench/pool.py FGTRACE [FGTRACE...] [--hz 99] [--rounds 3] [--window 4]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as R  # noqa: E402  (the harness: percentiles, attach, metadata)

POOL = Path(__file__).resolve().parent / "build" / "pool"
SETTLE = 0.3  # seconds between fgtrace's clock starting and the window


class Pool(R.Target):
    """bench/build/pool; Target's thread listing and tracer checks apply."""

    def __init__(self, args):  # Target.__init__ starts the other program
        self.proc = subprocess.Popen([str(POOL)] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"pool did not start: {line!r}")
        self.pid = self.proc.pid

    def report(self):
        """The tasks queued and taken, and their waits, since the last report."""
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        r = json.loads(self.proc.stdout.readline())
        r["hist"] = {int(k): v for k, v in r["hist"].items()}
        return r


def waits(r):
    """(median, 99th percentile) of the window's waits, in us."""
    return (R.percentile(r["hist"], 0.5) / 1000, R.percentile(r["hist"], 0.99) / 1000)


def measure(pool, exe, hz, secs):
    """One window: untraced when exe is None. Returns a dict of figures."""
    if exe is None:
        pool.report()
        time.sleep(secs)
        r = pool.report()
        return {"wait": waits(r), "taken": r["taken"], "overflows": r["overflows"]}
    out = R.RUNS / "pool.json"
    cmd = [exe, "-p", str(pool.pid), "-d", f"{secs + 1.5:.1f}s", "-F", str(hz),
           "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        R.wait_attached(pool, proc, R.clock_running)
        time.sleep(SETTLE)
        pool.report()
        cpu0 = R.task_cpu_ns(proc.pid)
        time.sleep(secs)
        cpu1 = R.task_cpu_ns(proc.pid)
        r = pool.report()
        _, err = proc.communicate(timeout=secs + 60)
    finally:
        R.stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed ({proc.returncode}): {err.strip()}")
    m = R.fgtrace_metadata(out)
    return {"wait": waits(r), "taken": r["taken"], "overflows": r["overflows"],
            "stops": m["stops"], "held_ms": m["stop_held_ns_total"] / 1e6,
            "cpu": 100 * (cpu1 - cpu0) / 1e9 / secs}


def mean_sd(xs):
    return statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", help="fgtrace binaries to compare")
    ap.add_argument("--hz", type=int, default=99)
    ap.add_argument("--rounds", type=int, default=3, help="windows per build")
    ap.add_argument("--window", type=float, default=4.0, help="seconds per window")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--period-us", type=int, default=1000)
    ap.add_argument("--task-us", type=int, default=100)
    cfg = ap.parse_args()
    R.RUNS.mkdir(parents=True, exist_ok=True)
    pool = Pool(["--workers", str(cfg.workers), "--period-us", str(cfg.period_us),
                 "--task-us", str(cfg.task_us)])
    runs = [None] + cfg.builds
    seen = {i: [] for i in range(len(runs))}
    try:
        for k in range(cfg.rounds):
            order = list(range(len(runs)))
            order = order[k % len(order):] + order[:k % len(order)]
            for i in order:
                f = measure(pool, runs[i], cfg.hz, cfg.window)
                seen[i].append(f)
                extra = ("" if runs[i] is None else
                         f", stops {f['stops']}, held {f['held_ms']:.1f} ms, "
                         f"CPU {f['cpu']:.1f}%")
                print(f"{runs[i] or 'untraced'} round {k + 1}: wait median "
                      f"{f['wait'][0]:.1f} us, p99 {f['wait'][1]:.1f} us, "
                      f"{f['taken']} tasks{extra}", flush=True)
                if f["overflows"]:
                    print(f"  {f['overflows']} tasks not queued: the pool fell behind")
    finally:
        pool.close()
    print(f"\npool: {cfg.workers} workers, one {cfg.task_us} us task every "
          f"{cfg.period_us} us; fgtrace at {cfg.hz} Hz; {cfg.rounds} windows of "
          f"{cfg.window:g} s each (mean ± standard deviation; waits are bucket upper "
          "edges, 19 % wide)")
    print("\n| run | wait median us | wait p99 us | stops a capture | held ms a capture "
          "| CPU % |")
    print("|---|---|---|---|---|---|")
    for i, exe in enumerate(runs):
        fs = seen[i]
        p50 = mean_sd([f["wait"][0] for f in fs])
        p99 = mean_sd([f["wait"][1] for f in fs])
        row = f"| {exe or 'untraced'} | {p50[0]:.1f} ± {p50[1]:.1f} | {p99[0]:.1f} ± {p99[1]:.1f}"
        if exe is None:
            row += " | – | – | – |"
        else:
            stops = mean_sd([f["stops"] for f in fs])
            held = mean_sd([f["held_ms"] for f in fs])
            cpu = mean_sd([f["cpu"] for f in fs])
            row += (f" | {stops[0]:.0f} ± {stops[1]:.0f} | {held[0]:.1f} ± {held[1]:.1f}"
                    f" | {cpu[0]:.1f} ± {cpu[1]:.1f} |")
        print(row)


if __name__ == "__main__":
    main()
