#!/usr/bin/env python3
"""fgtrace bench: samples dropped at launch on a loaded machine, two builds.

At the start of a launched program, fgtrace's worker names the first pcs of
each library, which can take over 100 ms (libdw inflating compressed debug
sections). Meanwhile the tracer keeps copying stacks; when the copies waiting
for the worker use up their memory, samples are dropped and the timeline
shows gaps. This launches the bench target (one busy thread, depth 5) under
each build at 999 Hz, with a CPU hog and a fork loop running alongside, the
builds interleaved (ABBA), and counts the runs that dropped samples. After
--, another program to launch instead: it must end by itself.

Usage: bench/launchdrops.py OLD_FGTRACE NEW_FGTRACE [--runs 60] [--window 0.4]
                            [-- COMMAND [ARG...]]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TARGET = BENCH / "build" / "target"


def load_meta(path):
    """The args of the trace's fgtrace metadata event."""
    events = json.loads(Path(path).read_text())
    if isinstance(events, dict):
        events = events["traceEvents"]
    return next(e["args"] for e in events if e.get("ph") == "M" and e.get("name") == "fgtrace")


def one_run(exe, out, window, command):
    """Launches command, or else the bench target, under exe. The bench
    target runs window seconds after it is ready, then its stdin closes and
    it exits. Returns (dropped, gaps)."""
    own = [str(TARGET), "--busy", "1", "--depth", "5"]
    cmd = [exe, "-q", "-F", "999", "-o", str(out), "--"] + (command or own)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if not command:
        line = p.stdout.readline()
        if line.strip() != "ready":
            p.kill()
            raise RuntimeError(f"{exe}: the target did not start: {line!r}")
        time.sleep(window)
    p.stdin.close()
    p.stdout.read()
    err = p.stderr.read()
    if p.wait(timeout=60) != 0:
        raise RuntimeError(f"{exe} exited {p.returncode}: {err.strip()}")
    meta = load_meta(out)
    return meta["dropped"], meta["timeline_gaps"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs=2, help="two fgtrace binaries: A and B")
    ap.add_argument("--runs", type=int, default=60, help="launches per build")
    ap.add_argument("--window", type=float, default=0.4,
                    help="seconds the target runs after it is ready")
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if not command and not TARGET.exists():
        sys.exit(f"{TARGET} is not built: run make -C bench")
    load = [subprocess.Popen(["sh", "-c", "while :; do :; done"]),
            subprocess.Popen(["sh", "-c", "while :; do /bin/true; done"])]
    results = {b: [] for b in args.builds}
    try:
        with tempfile.TemporaryDirectory() as d:
            for i in range(args.runs):
                order = args.builds if i % 2 == 0 else args.builds[::-1]
                for b in order:
                    results[b].append(one_run(b, Path(d) / "launch.json", args.window,
                                              command))
    finally:
        for p in load:
            p.kill()
            p.wait()
    what = " ".join(command) if command else "the bench target, 1 busy thread"
    print(f"{what}: launched at 999 Hz with a CPU hog and a fork loop alongside, "
          f"{args.runs} times per build")
    for label, b in zip("AB", args.builds):
        r = results[b]
        drops = [d for d, _ in r]
        print(f"{label} {b}: runs with drops {sum(1 for d in drops if d)}/{len(r)}, "
              f"dropped {sum(drops)} (at worst {max(drops)}), "
              f"timeline gaps {sum(g for _, g in r)}")


if __name__ == "__main__":
    main()
