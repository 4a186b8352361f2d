"""More busy threads than CPUs: a stop can take milliseconds to arrive, since
a thread that waits for a CPU reaches it only when it next runs. The thread
runs no user code in between, so its coming sample stands for every tick it
waits through: each thread is counted once per tick, late or not. And an
attach starts its clock only after a first round, so no tick is lost to the
worker loading symbols."""
import os

from lib import (fgtrace_meta, figure, load_trace, read_text, run_fgtrace, start_target,
                 stop_target, target, tmpdir)


def per_thread_counts(path):
    counts = {}
    for line in read_text(path).splitlines():
        stack, n = line.rsplit(" ", 1)
        thread = stack.split(";", 1)[0]
        counts[thread] = counts.get(thread, 0) + int(n)
    return counts


def test_every_thread_counts_once_per_tick():
    cpus = os.cpu_count() or 1
    n = 6 * cpus  # 3 spinners per CPU, and as many sleepers
    spin = start_target("spinner", [str(n)])
    try:
        d = tmpdir()
        rc, _, err = run_fgtrace(["-q", "-F", "199", "-d", "1s", "-p", spin.pid,
                                  "--per-thread", "-o", d / "t.json", "-o", d / "f.folded"],
                                 timeout=60)
        assert rc == 0, f"fgtrace exited {rc}: {err}"
        meta = fgtrace_meta(load_trace(d / "t.json"))
        ticks, late, dropped = meta["ticks"], meta["late"], meta["dropped"]
        counts = per_thread_counts(d / "f.folded")
        names = [f"spin-{k}" for k in range(n)]
        missing = [t for t in names if t not in counts]
        assert not missing, f"threads never sampled: {missing}"
        low = min(counts[t] for t in names)
        figure(f"{n} threads on {cpus} CPUs at 199 Hz: {ticks} ticks, {late} thread-ticks "
               f"spent waiting for a stop, counts per thread {low}..{max(counts[t] for t in names)}, "
               f"{meta['missed_ticks']} missed, {meta['ticks_late']} late rounds, "
               f"warm-up {meta['warmup_ns'] / 1e6:.0f} ms")
        # The last stops may still be pending when the capture ends: a few
        # ticks of slack. Were late ticks lost, as they once were, the busy
        # threads would miss about late / (n / 2) ticks each.
        slack = max(5, ticks // 20) + dropped
        for t in names:
            assert counts[t] <= ticks, \
                f"{t} counted {counts[t]} times in {ticks} ticks: a tick counted twice"
            assert counts[t] >= ticks - slack, \
                f"{t} counted {counts[t]} times in {ticks} ticks ({late} thread-ticks " \
                f"waited for a stop): ticks a pending stop stood for were lost"
        assert 0 < meta["warmup_ns"] <= 2.1e9, \
            f"attach warm-up {meta['warmup_ns']} ns: expected one round, at most 2 s"
    finally:
        stop_target(spin)


def test_launch_has_no_warm_up():
    # A launched command starts with nothing loaded: its clock starts at once.
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-F", "99", "-o", d / "t.json", "--",
                              str(target("exitcode")), "0"], timeout=60)
    assert rc == 0, f"fgtrace exited {rc}: {err}"
    assert fgtrace_meta(load_trace(d / "t.json"))["warmup_ns"] == 0
