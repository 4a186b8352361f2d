"""Attaching to a process with many threads asleep. The warm-up round
samples each of them once, from /proc, without a stop: it waits for the
worker when the stack copies' pool is full rather than leave a thread
unsampled, which would have it looked at again at every tick until it has a
sample. It wakes none of them, so that none queues for a CPU while stopped,
and it samples them all before it stops a busy thread, so that the busy
thread is not held meanwhile. And it is not held to the tracer's CPU budget:
a large warm-up alone does not send the tracer back to the fair
scheduler."""
import os

import tefcheck
from lib import (Skip, fgtrace_meta, figure, load_trace, run_fgtrace,
                 start_target, stop_target, tmpdir)

# The queue's pool holds this many copies of --stack-bytes (lib/session.c).
QUEUE_STACKS = 128


def capture_idlers(n, *args, busy=0, own_busy=False):
    """A 1 s capture at 99 Hz of n threads blocked in read(), with busy
    spinning threads of another process taking the CPUs, and with own_busy
    one spinning thread of their own. Returns the metadata."""
    spinner = None
    if busy:
        # The spinner target spins its even threads and lets the odd sleep.
        spinner = start_target("spinner", [2 * busy])
    idlers = start_target("idlers", [n, "busy"] if own_busy else [n])
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
    assert meta["threads_seen"] == n + 1 + own_busy, meta["threads_seen"]
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
    # 4 KiB copies: the pool holds 128 of them, and 400 threads are sampled
    # in the warm-up while the worker is still loading symbols.
    n = 400
    meta = capture_idlers(n, "--stack-bytes=4K")
    figure(f"{n} sleeping threads, a pool of {QUEUE_STACKS} copies: {meta['dropped']} "
           f"dropped, {meta['stops']} stops, {meta['ticks_late']} late ticks, "
           f"warm-up {meta['warmup_ns'] / 1e6:.0f} ms")
    assert meta["dropped"] == 0, \
        f"{meta['dropped']} samples dropped: the warm-up gave up on threads"
    # None of them runs: none needs a stop (a thread left unsampled was
    # stopped at every tick: 99 here).
    assert meta["stops"] <= meta["threads_seen"] + 20, \
        f"{meta['stops']} stops of {meta['threads_seen']} threads that never run"
    assert meta["ticks_late"] == 0, meta["ticks_late"]


def test_a_large_warm_up_keeps_the_tracer_realtime():
    # Sampling 3,000 sleepers takes the tracer well over the 100 ms that a
    # real-time thread may run without sleeping (RLIMIT_RTTIME): it must
    # sleep now and then while it does. With 1 MiB copies the pool (128 of
    # them) never runs short, which would make the warm-up wait anyway.
    if os.geteuid() != 0:
        raise Skip("real-time priority needs root or CAP_SYS_NICE")
    n = 3000
    meta = capture_idlers(n, "--stack-bytes=1M")
    if meta["run_watch"] != "on":
        raise Skip(f"run watches are {meta['run_watch']}: every count is read at "
                   f"every tick, which is over budget for {n} threads")
    figure(f"{n} sleeping threads: warm-up {meta['warmup_ns'] / 1e6:.0f} ms, "
           f"tracer_demoted {meta['tracer_demoted']}, "
           f"{meta['run_watches_opened']} watches opened")
    assert meta["tracer_realtime"] is True, meta["tracer_realtime"]
    assert meta["tracer_demoted"] is None, \
        f"the tracer was demoted ({meta['tracer_demoted']}) by a warm-up of {n} threads"
    # Each was watched from its warm-up sample on.
    assert meta["run_watches_opened"] >= n, meta["run_watches_opened"]


def test_sleepers_are_not_woken_when_the_cpus_are_busy():
    # A stop wakes a sleeper, which then waits for a CPU to reach it: with
    # the CPUs taken, a quarter of the warm-up's stops of these threads once
    # held their thread 8 ms or more. Asleep in a call, each is sampled from
    # /proc instead, and none is held at all.
    n = 1000
    cpus = os.cpu_count() or 1
    meta = capture_idlers(n, busy=cpus)
    slow = held_over(meta, 8)
    figure(f"{n} sleeping threads, {cpus} spinning: {meta['stops']} stops "
           f"({slow} held 8 ms or more), {meta['samples_without_stop']} samples "
           f"without one, warm-up {meta['warmup_ns'] / 1e6:.0f} ms")
    assert meta["samples_without_stop"] >= n, \
        f"only {meta['samples_without_stop']} samples without a stop of {n} sleepers"
    assert meta["stops"] <= n // 100, \
        f"{meta['stops']} stops of {n} threads asleep throughout"


def test_a_busy_thread_is_not_held_while_sleepers_are_sampled():
    # The warm-up samples 1,000 sleepers from /proc, about 20 us each, and
    # stops the busy thread. Sampled between the interrupt and the stop's
    # reaping, they held it 18 to 69 ms in every capture; all the round's
    # looks come first. A VM can lose its CPU for 20 ms at any moment, and
    # once in about twenty runs a stop of this test did (21.6 ms, against
    # 1.5 to 5.4 ms): such a stop is the machine's when a second capture
    # does not repeat it.
    n = 1000
    for _ in range(2):
        meta = capture_idlers(n, own_busy=True)
        held_max = meta["stop_held_ns_max"] / 1e6
        figure(f"{n} sleeping threads and a busy one: {meta['stops']} stops, the "
               f"longest {held_max:.1f} ms, warm-up {meta['warmup_ns'] / 1e6:.0f} ms")
        assert meta["samples_without_stop"] >= n, meta["samples_without_stop"]
        if held_max < 10:
            break
    assert held_max < 10, \
        f"a stop of the busy thread held it {held_max:.1f} ms, in two captures in a row"
