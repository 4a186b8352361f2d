"""The skip rule (a thread whose run count has not moved is not stopped),
checked where it can go wrong: the kernel facts it rests on, verified on this
kernel with ptrace from the test itself, and its safe side, seen from the
target: a thread that keeps running is stopped on (nearly) every tick, a
thread asleep is never woken, and one that wakes now and then is sampled
each time without a stop, and shown where it sleeps.
Also the run watches that spare the reads of idle threads' counts: a watched
thread that wakes is stopped at once, a thread that switches often loses its
watch, and without perf events every count is read."""
import os
import re
import subprocess
import time

import tefcheck
from lib import (FGTRACE, PTRACE_CONT, PTRACE_DETACH, PTRACE_INTERRUPT, PTRACE_SEIZE,
                 fgtrace_meta, figure, load_trace, ns_to_trace_us, proc_state, ptrace,
                 read_folded, read_line, read_truth, run_count, run_fgtrace, samples_with,
                 start_fgtrace, start_target, status_field, stop_target, target, thread_named,
                 thread_spans, tmpdir, wait_for, wait_stop)


def named(pid, name):
    tid = thread_named(pid, name)
    assert tid, f"no thread named {name} in {pid}"
    return tid


def test_kernel_facts_of_the_rule():
    # sigcount's blk-read thread sleeps in read() on a pipe nobody writes.
    p = start_target("sigcount")
    try:
        tid = named(p.pid, "blk-read")
        wait_for(lambda: proc_state(p.pid, tid) == "S", 5, "blk-read to block")
        before = run_count(p.pid, tid)
        ptrace(PTRACE_SEIZE, tid)
        try:
            assert run_count(p.pid, tid) == before, "PTRACE_SEIZE alone moved the run count"
            ptrace(PTRACE_INTERRUPT, tid)
            wait_stop(tid)
            at_stop = run_count(p.pid, tid)
            # Fact 1: the count does not move while the thread is stopped.
            for _ in range(50):
                os.sched_yield()
            assert run_count(p.pid, tid) == at_stop, "the run count moved during a stop"
            # Fact 2: the interrupt woke it once (+1 at the stop) ...
            assert at_stop == before + 1, \
                f"run count {before} -> {at_stop} at the stop, expected +1"
            ptrace(PTRACE_CONT, tid)
            wait_for(lambda: proc_state(p.pid, tid) == "S", 5, "blk-read to block again")
            after = run_count(p.pid, tid)
            # ... and the resume once more, to restart read() and sleep: +2 in all.
            assert after == before + 2, \
                f"run count {before} -> {after} after a stop of a sleeping thread, " \
                f"expected exactly +2: the skip rule's premise does not hold here"
            # Fact 3: asleep, it stays put.
            for _ in range(50):
                os.sched_yield()
            assert run_count(p.pid, tid) == after, "the run count moved while asleep"
            figure(f"run count of a thread asleep in read(): {before} before, {at_stop} "
                   f"stopped, {after} after the resume")
        finally:
            ptrace(PTRACE_INTERRUPT, tid)
            wait_stop(tid)
            ptrace(PTRACE_DETACH, tid)
    finally:
        stop_target(p)


def voluntary(pid, tid):
    return int(status_field(pid, "voluntary_ctxt_switches", tid))


def preempted(pid, tid):
    return int(status_field(pid, "nonvoluntary_ctxt_switches", tid))


def test_running_thread_is_stopped_and_sleeping_one_is_not():
    # spinner 2: spin-0 never leaves the CPU of its own will, spin-1 sleeps in
    # short nanosleeps. A ptrace stop of a running thread is a voluntary
    # switch (it sleeps in TASK_TRACED), so spin-0's count of them is the
    # number of times fgtrace stopped it. sigcount's blk-read never wakes:
    # asleep in a call, it is sampled without a stop, and never woken.
    spin = start_target("spinner", ["2"])
    idle = start_target("sigcount")
    try:
        busy = named(spin.pid, "spin-0")
        reader = named(idle.pid, "blk-read")
        wait_for(lambda: proc_state(idle.pid, reader) == "S", 5, "blk-read to block")
        d = tmpdir()
        hz = 99
        for p, out in ((spin, "spin.json"), (idle, "idle.json")):
            b0, r0 = (voluntary(spin.pid, busy), run_count(idle.pid, reader))
            v0, n0 = voluntary(idle.pid, reader), preempted(idle.pid, reader)
            rc, _, err = run_fgtrace(["-q", "-F", hz, "-d", "1s", "-p", p.pid,
                                      "-o", d / out], timeout=30)
            assert rc == 0, f"fgtrace exited {rc}: {err}"
            if p is spin:
                stops = voluntary(spin.pid, busy) - b0
                ticks = fgtrace_meta(load_trace(d / out))["ticks"]
                figure(f"a thread that never sleeps: stopped {stops} times in {ticks} ticks")
                assert stops >= 0.8 * ticks, \
                    f"spin-0 never sleeps, yet was stopped only {stops} times in {ticks} " \
                    f"ticks: the skip rule reused the stack of a running thread"
            else:
                moved = run_count(idle.pid, reader) - r0
                vol = voluntary(idle.pid, reader) - v0
                pre = preempted(idle.pid, reader) - n0
                # Attach, samples from /proc, detach (a sleeping thread is
                # left to the kernel's detach at the tracer thread's exit):
                # none wakes it. A thread asleep cannot be preempted.
                figure(f"a thread asleep for good: run count +{moved} over {hz} ticks, "
                       f"{vol} voluntary switches, {pre} preemptions")
                assert vol == 0 and moved == 0 and pre == 0, \
                    f"blk-read, asleep for good, was switched in {moved} times during a " \
                    f"{hz} Hz capture ({vol} voluntary switches, {pre} preemptions): " \
                    f"the capture woke it"
    finally:
        stop_target(spin)
        stop_target(idle)


def loops(p):
    """sigcount's loops_* counters: each a wake-up of that thread's own."""
    p.stdin.write("report\n")
    p.stdin.flush()
    while True:
        line = read_line(p)
        if line.startswith("report"):
            return {k: int(v) for k, v in re.findall(r"loops_(\w+)=(\d+)", line)}


def test_thread_back_in_a_resumed_call_is_not_stopped_again():
    # blk-sleep (nanosleep) and blk-futex (FUTEX_WAIT with a timeout) wake
    # every 50 ms. A stop ends their call with -ERESTART_RESTARTBLOCK, and the
    # resume goes on in restart_syscall, not in the call itself: that must
    # count as the same call, or they would be stopped on every tick.
    p = start_target("sigcount")
    try:
        tids = {name: named(p.pid, f"blk-{name}") for name in ("sleep", "futex")}
        counts = {name: run_count(p.pid, tid) for name, tid in tids.items()}
        before = loops(p)
        hz = 999
        rc, _, err = run_fgtrace(["-q", "-F", hz, "-d", "1s", "-p", p.pid,
                                  "-o", tmpdir() / "t.json"], timeout=30)
        assert rc == 0, f"fgtrace exited {rc}: {err}"
        after = loops(p)
        for name, tid in tids.items():
            moved = run_count(p.pid, tid) - counts[name]
            woke = after[name] - before[name]
            figure(f"blk-{name}: run count +{moved} over {hz} ticks, {woke} wake-ups "
                   f"of its own")
            # Each wake-up: +1 of its own and +2 for one stop, with room
            # for a preemption on the way.
            assert moved <= 4 * woke + 4, \
                f"blk-{name} woke {woke} times but was switched in {moved} times " \
                f"at {hz} Hz: it was stopped while back in the call a stop resumed"
    finally:
        stop_target(p)


def test_sleeping_thread_is_not_woken_and_its_waits_are_shown():
    # quietwake's waiter sleeps in wait_short on a futex word that changes
    # while it sleeps, with no wake: a stop that restarted its futex_wait
    # would send it on to wait_long at once, 30 ms early. A thread asleep in
    # a call is sampled from /proc, without a stop, so the capture must not
    # change how long any wait_short lasts; and every wait_long must be on
    # the timeline as wait_long, not as the wait_short before it.
    hz = 999
    d = tmpdir()
    truth_file = d / "truth"
    rc, _, err = run_fgtrace(["-q", "-F", hz, "-o", d / "t.json", "--",
                              target("quietwake"), 2000],
                             env=dict(os.environ, FGTRACE_TRUTH=str(truth_file)), timeout=60)
    assert rc == 0, f"fgtrace exited {rc}: {err.strip()!r}"
    tefcheck.check(d / "t.json")
    events = load_trace(d / "t.json")
    meta = fgtrace_meta(events)
    truth = read_truth(truth_file)
    waiter = truth[0][1]
    ss = thread_spans(events, waiter)
    period_us = 1e6 / hz
    short = [(t1 - t0) / 1e6 for wait, _, t0, t1 in truth if wait == "wait_short"]
    # A wait_short ends when the mover wakes it, 30 ms after it saw the
    # waiter asleep.
    cut = [f"{ms:.1f} ms" for ms in short if ms < 28]
    checked = gaps = 0
    problems = []
    for i, (wait, _, t0, t1) in enumerate(truth):
        if wait != "wait_long":
            continue
        lo = ns_to_trace_us(t0, meta) + 3 * period_us
        hi = ns_to_trace_us(t1, meta) - 3 * period_us
        if hi <= lo:
            continue
        checked += 1
        cover = {name: sum(max(0.0, min(hi, s.end) - max(lo, s.begin))
                           for s in ss if s.name == name)
                 for name in ("waiter", "wait_long", "wait_short")}
        # Samples lost while the worker was behind leave a gap (all of the
        # waiter's spans end): only what is shown is checked.
        shown = cover["waiter"]
        gaps += shown < 0.9 * (hi - lo)
        if cover["wait_long"] < 0.9 * shown or cover["wait_short"] > 0.1 * (hi - lo):
            problems.append(f"round {i} ({(t1 - t0) / 1e6:.1f} ms): of its middle "
                            f"{(hi - lo) / 1000:.1f} ms, {shown / 1000:.1f} shown, "
                            f"wait_long {cover['wait_long'] / 1000:.1f}, wait_short "
                            f"{cover['wait_short'] / 1000:.1f}")
    figure(f"quietwake: {len(short)} wait_short rounds, {len(cut)} cut short; "
           f"{checked} wait_long rounds checked, {gaps} partly lost "
           f"({meta['dropped']} samples dropped)")
    assert len(short) >= 10, f"only {len(short)} wait_short rounds in {len(truth)}: {truth}"
    assert not cut, (f"{len(cut)} of {len(short)} wait_short rounds ended early, "
                     f"woken by the capture: {cut}")
    assert checked - gaps >= 10, \
        f"only {checked - gaps} wait_long rounds shown whole in {len(truth)}: {truth}"
    assert not problems, "the waiter's stack is stale:\n  " + "\n  ".join(problems)


def perf_events(pid):
    """How many perf events process pid has open: fgtrace's run watches."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]"
        except OSError:
            pass  # closed meanwhile
    return n


def test_watched_thread_that_wakes_is_stopped_and_busy_switchers_lose_their_watch():
    # wakers: sleeper, ping and pong block in read() until told. fgtrace
    # watches them (a perf event each) once it finds them asleep, and then
    # reads no run count of theirs while their pages hold still. Woken, the
    # sleeper spins for good: each tick from then on must stop it and show
    # it in woken_spin. A watch that missed its switch-in would show it
    # asleep in read() until the next check against a read (64 ticks), and
    # that check would turn the watches off ("contradicted"). ping and pong,
    # woken, hand a futex word to each other: tens of thousands of
    # switch-ins a second, which must cost them their watches.
    p = start_target("wakers")
    sleeper, ping, pong = (int(x) for x in p.ready_args)
    try:
        for tid in (sleeper, ping, pong):
            wait_for(lambda: proc_state(p.pid, tid) == "S", 5, f"thread {tid} to block")
        d = tmpdir()
        hz = 99
        started = time.monotonic()
        fg = start_fgtrace(["-q", "-F", hz, "-d", "3s", "-p", p.pid,
                            "-o", d / "t.folded", "-o", d / "t.json"])
        # All four threads sleep: the main one in fgets.
        wait_for(lambda: perf_events(fg.pid) >= 4, 10, "fgtrace to watch the sleepers")
        # Then ticks that skip them with their watches: the tracer thread is
        # switched in once a tick or more while nothing runs, so these 10
        # mean 10 ticks at most, and about that many.
        tracer = named(fg.pid, "fgtrace-tracer")
        ran = run_count(fg.pid, tracer)
        wait_for(lambda: run_count(fg.pid, tracer) >= ran + 10, 10, "10 more ticks")
        woke = time.monotonic()
        p.stdin.write("w\np\n")
        p.stdin.flush()
        assert sorted([read_line(p).strip(), read_line(p).strip()]) == ["pingpong", "woken"]
        _, err = fg.communicate(timeout=60)
        assert fg.returncode == 0, f"fgtrace exited {fg.returncode}: {err}"
        meta = fgtrace_meta(load_trace(d / "t.json"))
        folded = read_folded(d / "t.folded")
    finally:
        assert stop_target(p) == 0
    spun = samples_with(folded, "woken_spin")
    # Ticks begin after the warm-up, so at most this many came before the wake.
    before = int((woke - started) * hz) + 1
    figure(f"watched threads: {meta['run_watches_opened']} opened, "
           f"{meta['run_watches_dropped']} dropped, {meta['run_reads_saved']} reads "
           f"saved; the sleeper spun in {spun} samples of {meta['ticks']} ticks, "
           f"at most {before} before its wake")
    assert meta["run_watch"] == "on", meta["run_watch"]
    assert meta["run_watches_opened"] >= 4, meta["run_watches_opened"]
    assert meta["run_reads_saved"] > 0, "no run count was told by a watch"
    assert spun >= meta["ticks"] - before - 2 - meta["ticks"] // 50, \
        f"the sleeper spun in woken_spin from tick {before} at the latest of " \
        f"{meta['ticks']}, yet only {spun} samples show it: a watch hid its wake"
    assert meta["run_watches_dropped"] >= 2, \
        f"ping and pong switch tens of thousands of times a second, yet " \
        f"{meta['run_watches_dropped']} watches were dropped"


def test_without_perf_events_every_count_is_read_and_idle_threads_still_skipped():
    # noperf makes perf_event_open fail with EACCES for fgtrace, as Debian's
    # default perf_event_paranoid does for a user: its self-test fails, it
    # opens no watch, and the skip rule reads every count instead.
    threads = 20
    idlers = start_target("idlers", [threads])
    try:
        d = tmpdir()
        p = subprocess.run([target("noperf"), str(FGTRACE), "-q", "-F", "99", "-d", "1s",
                            "-p", str(idlers.pid), "-o", str(d / "t.json")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"fgtrace under noperf exited {p.returncode}: {p.stderr}"
        meta = fgtrace_meta(load_trace(d / "t.json"))
    finally:
        assert stop_target(idlers) == 0
    figure(f"without perf events: run_watch {meta['run_watch']}, {meta['stops']} stops, "
           f"{meta['stops_avoided']} avoided in {meta['ticks']} ticks")
    assert meta["run_watch"] == "unavailable", meta["run_watch"]
    assert meta["run_watches_opened"] == 0 and meta["run_reads_saved"] == 0, meta
    assert meta["threads_seen"] == threads + 1, meta["threads_seen"]
    assert meta["stops"] <= meta["threads_seen"] + 2 * meta["ticks"], \
        f"{meta['stops']} stops in {meta['ticks']} ticks of threads that do not run"
    assert meta["stops_avoided"] >= threads * (meta["ticks"] - 2), meta["stops_avoided"]
