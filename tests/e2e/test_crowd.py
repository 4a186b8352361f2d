"""Attaching to a process with many threads asleep. The warm-up round stops
each of them once, and wakes only a few sleepers at a time, so that they do
not queue for the CPUs behind each other while stopped."""
import os

import tefcheck
from lib import (fgtrace_meta, figure, load_trace, run_fgtrace, start_target, stop_target,
                 tmpdir)


def capture_idlers(n, *args, busy=0):
    """A 1 s capture at 99 Hz of n threads blocked in read(), with busy
    spinning threads of another process taking the CPUs. Returns the
    metadata."""
    spinner = None
    if busy:
        # The spinner target spins its even threads and lets the odd sleep.
        spinner = start_target("spinner", [2 * busy])
    idlers = start_target("idlers", [n])
    try:
        d = tmpdir()
        rc, _, err = run_fgtrace(["-F", "99", "-d", "1s", "-p", idlers.pid,
                                  "-o", d / "t.json", *args], timeout=120)
        assert rc == 0, f"fgtrace exited {rc}: {err}"
        tefcheck.check(d / "t.json")
        meta = fgtrace_meta(load_trace(d / "t.json"))
    finally:
        assert stop_target(idlers) == 0
        if spinner:
            assert stop_target(spinner) == 0
    assert meta["threads_seen"] == n + 1, meta["threads_seen"]
    return meta


def held_over(meta, ms):
    """Stops held at least ms milliseconds (a power of two), by the
    histogram."""
    total = 0
    for bucket, count in meta["stop_held_us_histogram"].items():
        low = bucket.split("-")[0].lstrip("<")
        if int(low) >= ms * 1000:
            total += count
    return total


def test_sleepers_are_woken_a_few_at_a_time():
    # With the CPUs taken, each sleeper the warm-up interrupts waits for a
    # CPU to reach its stop. Woken by the hundred, they queued behind each
    # other: a quarter of the stops held their thread 8 ms or more.
    n = 1000
    cpus = os.cpu_count() or 1
    meta = capture_idlers(n, busy=cpus)
    slow = held_over(meta, 8)
    figure(f"{n} sleeping threads, {cpus} spinning: {slow} of {meta['stops']} stops "
           f"held 8 ms or more, the longest {meta['stop_held_ns_max'] / 1e6:.1f} ms")
    assert slow <= meta["stops"] * 8 // 100, \
        f"{slow} of {meta['stops']} stops held their thread 8 ms or more"
