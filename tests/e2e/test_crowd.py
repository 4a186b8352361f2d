"""Attaching to a process with many threads asleep. The warm-up round stops
each of them once: it waits for the worker when the stack copies' pool is
full rather than leave a thread unsampled, which would have it stopped at
every tick until it has a sample. It wakes only a few sleepers at a time, so
that they do not queue for the CPUs behind each other while stopped. And it
is not held to the tracer's CPU budget: a large warm-up alone does not send
the tracer back to the fair scheduler."""
import os

import tefcheck
from lib import (Skip, fgtrace_meta, figure, load_trace, run_fgtrace,
                 start_target, stop_target, tmpdir)

# The queue's pool holds this many copies of --stack-bytes (lib/session.c).
QUEUE_STACKS = 128


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
        low = bucket.split("-")[0].lstrip("<>=")
        if int(low) >= ms * 1000:
            total += count
    return total


def test_warm_up_waits_for_the_pool_rather_than_drop():
    # 4 KiB copies: the pool holds 128 of them, and 400 threads are stopped
    # in the warm-up while the worker is still loading symbols.
    n = 400
    meta = capture_idlers(n, "--stack-bytes=4K")
    figure(f"{n} sleeping threads, a pool of {QUEUE_STACKS} copies: {meta['dropped']} "
           f"dropped, {meta['stops']} stops, {meta['ticks_late']} late ticks, "
           f"warm-up {meta['warmup_ns'] / 1e6:.0f} ms")
    assert meta["dropped"] == 0, \
        f"{meta['dropped']} samples dropped: the warm-up gave up on threads"
    # None of them runs: each is stopped in the warm-up, and then hardly
    # ever (a thread left unsampled was stopped at every tick: 99 here).
    assert meta["stops"] <= meta["threads_seen"] + 20, \
        f"{meta['stops']} stops of {meta['threads_seen']} threads that never run"
    assert meta["ticks_late"] == 0, meta["ticks_late"]


def test_a_large_warm_up_keeps_the_tracer_realtime():
    if os.geteuid() != 0:
        raise Skip("real-time priority needs root or CAP_SYS_NICE")
    n = 1000
    meta = capture_idlers(n)
    if meta["run_watch"] != "on":
        raise Skip(f"run watches are {meta['run_watch']}: every count is read at "
                   "every tick, which is over budget for 1,000 threads")
    figure(f"{n} sleeping threads: warm-up {meta['warmup_ns'] / 1e6:.0f} ms, "
           f"tracer_demoted {meta['tracer_demoted']}, "
           f"{meta['run_watches_opened']} watches opened")
    assert meta["tracer_realtime"] is True, meta["tracer_realtime"]
    assert meta["tracer_demoted"] is None, \
        f"the tracer was demoted ({meta['tracer_demoted']}) by a warm-up of {n} threads"
    # Each went back to sleep after its warm-up stop, and was watched then.
    assert meta["run_watches_opened"] >= n, meta["run_watches_opened"]


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
