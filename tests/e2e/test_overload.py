"""More busy threads than CPUs: a stop can take milliseconds to arrive, since
a thread that waits for a CPU reaches it only when it next runs. The thread
runs no user code in between, so its coming sample stands for every tick it
waits through: each thread is counted once per tick, late or not. And an
attach starts its clock only after a first round, so no tick is lost to the
worker loading symbols. A worker that falls behind costs samples, never the
target's time, and the samples lost leave a gap on the timeline."""
import http.server
import os
import signal
import subprocess
import threading
import time

import tefcheck
from lib import (PTRACE_DETACH, PTRACE_INTERRUPT, PTRACE_SEIZE, fgtrace_meta, figure,
                 load_trace, proc_bytes, ptrace, read_line, read_text, run_fgtrace,
                 spinning, start_fgtrace, start_target, status_field, stop_target, target,
                 thread_ids, thread_named, thread_spans, tmpdir, tracer_pid, wait_for,
                 wait_on_timeline, wait_stop)


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


class SlowDebuginfod:
    """An HTTP server on 127.0.0.1 that answers every request 404 after
    delay seconds: a slow debuginfod with nothing to give. libdw's client
    waits for it when the worker first names a module without debug
    information."""

    def __init__(self, delay):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(delay)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_warm_up_ends_when_the_worker_is_done():
    # The worker waits for a slow debuginfod when it names a stripped copy
    # of spinner, so the warm-up runs past the session's first second. The
    # tracer looks every millisecond for the worker to be done; without a
    # progress line (-q, or no terminal) it once slept a whole second there.
    delay = 1.2
    d = tmpdir()
    exe = d / "spinner"
    p = subprocess.run(["objcopy", "--strip-all", target("spinner"), exe],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"objcopy failed: {p.stderr}"
    server = SlowDebuginfod(delay)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEBUGINFOD_") and "proxy" not in k.lower()}
    env.update(DEBUGINFOD_URLS=server.url, DEBUGINFOD_CACHE_PATH=str(d / "cache"),
               DEBUGINFOD_TIMEOUT="10")
    spin = start_target(str(exe), [4])  # an absolute path: the stripped copy
    try:
        rc, _, err = run_fgtrace(["-q", "-F", "99", "-d", "500ms", "-p", spin.pid,
                                  "-o", d / "t.json"], env=env, timeout=60)
        assert rc == 0, f"fgtrace exited {rc}: {err}"
    finally:
        assert stop_target(spin) == 0
        server.close()
    warmup = fgtrace_meta(load_trace(d / "t.json"))["warmup_ns"] / 1e9
    figure(f"warm-up behind a debuginfod that answers in {delay} s: {warmup:.2f} s")
    assert warmup >= delay, f"the warm-up, {warmup:.2f} s, did not wait for the worker"
    assert warmup < delay + 0.6, \
        f"the warm-up took {warmup:.2f} s: {warmup - delay:.2f} s after the worker's wait"


FUTEX = 202
# lib/session.c: the stack copies' pool holds this many copies of
# --stack-bytes. At the smallest, 4K, every copy takes exactly one page: no
# more is copied, and the pool keeps a page of each copy however short.
QUEUE_STACKS = 128
ONE_PAGE_COPIES = ["--stack-bytes", "4K"]


def in_futex(pid, tid):
    try:
        return proc_bytes(pid, tid, "syscall").split()[0] == str(FUTEX).encode()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def freeze_idle(fg_pid, tid):
    """Stops fgtrace's worker thread with ptrace while it waits for work, so
    that it holds no lock the tracer needs, and the queue is empty."""
    for _ in range(200):
        wait_for(lambda: in_futex(fg_pid, tid), 5, "fgtrace's worker to wait for work")
        ptrace(PTRACE_SEIZE, tid)
        ptrace(PTRACE_INTERRUPT, tid)
        wait_stop(tid)
        if in_futex(fg_pid, tid):
            return
        ptrace(PTRACE_DETACH, tid)  # caught at work: let it go, and try again
    raise AssertionError("could not catch fgtrace's worker waiting for work")


def stops_of(pid, tid):
    """A thread that never blocks is switched out voluntarily only by a stop."""
    return int(status_field(pid, "voluntary_ctxt_switches", tid))


def stopped_for(pid, tid, stops):
    """True once the thread was stopped stops times, after a freeze of the
    worker with the queue empty: each stop takes a stack copy, the one its
    pending interrupt holds included. False when that count is not reached:
    the copies ran out first (the freeze caught some still queued, say)."""
    s0 = stops_of(pid, tid)
    try:
        wait_for(lambda: stops_of(pid, tid) - s0 >= stops, 5,
                 f"{stops} stops of the thread while fgtrace's worker is frozen")
        return True
    except AssertionError:
        return False


def move_on(tgt, alt):
    """The thread moves on to phase_c, and 300 ms of its CPU time pass."""
    tgt.stdin.write("c\n")
    tgt.stdin.flush()
    spinning(tgt.pid, alt, cpu_ns=300_000_000, timeout=30)


def capture_frozen(stops, fg_args=(), while_frozen=None, end_while_frozen=False,
                   counted=None):
    """Captures "alternator", whose stack changes every 2 ms, at 999 Hz, and
    freezes fgtrace's worker (a ptrace stop of that one thread) until a
    thread was stopped stops times: the alternator, or the thread
    counted(tgt) names, asked once the worker is first frozen. Then calls
    while_frozen(tgt, alt). Then the worker goes on, and the capture ends;
    or, with end_while_frozen, the capture ends first. Returns the metadata,
    the events, and the tids of the alternator and of the thread counted."""
    hz = 999
    d = tmpdir()
    out = d / "t.json"
    tgt = start_target("alternate")
    frozen = None
    try:
        alt = thread_named(tgt.pid, "alternator")
        assert alt, f"no alternator among {thread_ids(tgt.pid)}"
        p = start_fgtrace(["-q", "-F", hz, *fg_args, "-p", tgt.pid, "-o", out])
        wait_on_timeline(out, alt)
        fg_worker = thread_named(p.pid, "fgtrace-worker")
        assert fg_worker, f"no fgtrace-worker among {thread_ids(p.pid)}"
        tid = None
        for _ in range(5):
            freeze_idle(p.pid, fg_worker)
            frozen = fg_worker
            tid = tid or (counted(tgt) if counted else alt)
            if stopped_for(tgt.pid, tid, stops):
                break
            # Caught waiting for the queue's lock, copies still queued: again.
            ptrace(PTRACE_DETACH, fg_worker)
            frozen = None
        assert frozen, f"the thread was not stopped {stops} times while the worker was frozen"
        if while_frozen:
            while_frozen(tgt, alt)
        if end_while_frozen:
            p.send_signal(signal.SIGINT)
            wait_for(lambda: tracer_pid(tgt.pid, alt) == 0, 10, "fgtrace to detach")
        ptrace(PTRACE_DETACH, fg_worker)
        frozen = None
        if not end_while_frozen:
            spinning(tgt.pid, alt, cpu_ns=50_000_000, timeout=30)
            p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if frozen:
            ptrace(PTRACE_DETACH, frozen)
        stop_target(tgt)
    assert p.returncode == 0, f"fgtrace exited {p.returncode}: {err.strip()!r}"
    tefcheck.check(out)
    events = load_trace(out)
    return fgtrace_meta(events), events, alt, tid


def phase_spans(events, tid):
    return [s for s in thread_spans(events, tid) if s.name.startswith("phase_")]


def check_no_stretch(meta, ss, what):
    ab = [s for s in ss if s.name in ("phase_a", "phase_b")]
    longest = max(ab, key=lambda s: s.dur)
    figure(f"{what}: {meta['dropped']} samples dropped, {meta['timeline_gaps']} gaps, "
           f"longest phase_a/b span {longest.dur / 1000:.1f} ms ({len(ab)} spans)")
    assert meta["dropped"] > 0, "no sample was dropped: the test did not make the case"
    assert meta["timeline_gaps"] >= 1, meta
    # Each phase lasts 2 ms; one may last longer while the thread waits for a
    # CPU, never the 300 ms it went unsampled, in phase_c.
    assert longest.dur < 100_000, \
        (f"{longest.name} spans {longest.begin / 1000:.1f}..{longest.end / 1000:.1f} ms: "
         f"the last stack before the loss, stretched over it")


def lose_samples(end_while_frozen):
    """The thread moves on to phase_c once every stack copy the queue holds
    is used up, so that its move falls in the samples lost."""
    meta, events, alt, _ = capture_frozen(QUEUE_STACKS, ONE_PAGE_COPIES, move_on,
                                          end_while_frozen)
    return meta, phase_spans(events, alt)


def test_lost_samples_leave_a_gap_not_the_last_stack():
    # A worker that falls behind makes the tracer drop samples: the target
    # never waits for it. A thread that ran and then lost its samples is not
    # known to be where it was: its track shows nothing there, and never its
    # last stack stretched over what it did meanwhile.
    meta, ss = lose_samples(end_while_frozen=False)
    check_no_stretch(meta, ss, "samples lost, then taken again")
    cs = [s for s in ss if s.name == "phase_c"]
    assert cs, "no phase_c span after the worker caught up"
    last_ab = max(s.end for s in ss if s.name != "phase_c")
    assert min(s.begin for s in cs) >= last_ab, \
        f"phase_c begins before phase_a/b end ({last_ab / 1000:.1f} ms)"


def test_samples_lost_until_the_end_leave_a_gap():
    # The same when the capture ends before any sample comes after the loss:
    # the thread's spans end where it began, not at the end of the capture.
    meta, ss = lose_samples(end_while_frozen=True)
    check_no_stretch(meta, ss, "samples lost until the end")


def test_small_stacks_take_small_copies():
    # The stack copies share a pool of pages, and each keeps only the pages
    # it filled, not a whole --stack-bytes buffer: a thread with a small
    # stack can be stopped three times as often as the pool holds full-size
    # copies, before the worker has to catch up, and nothing is lost.
    meta, events, alt, _ = capture_frozen(3 * QUEUE_STACKS)
    ss = phase_spans(events, alt)
    figure(f"{3 * QUEUE_STACKS} stops while the worker was frozen: "
           f"{meta['dropped']} dropped, {meta['timeline_gaps']} gaps")
    assert meta["dropped"] == 0, meta
    assert meta["timeline_gaps"] == 0, meta
    assert ss, "no phase spans for the thread"


def test_threads_not_yet_unwound_are_copied_small_when_the_pool_fills():
    # A thread the worker has not unwound yet is copied blind, at the full
    # --stack-bytes. The newcomer is born while the worker is frozen, on a
    # stack with readable memory above it, so each of its copies really is
    # 64 KiB: with the alternator's 16 KiB copies alongside, the pool would
    # be used up in about 100 stops. Once a quarter of the pool is taken,
    # blind copies are made at the copy floor, 16 KiB, which holds its stack
    # whole: the pool then lasts about 200 stops, and no sample is cut short.
    want = 160

    def newcomer(tgt):
        tgt.stdin.write("n\n")
        tgt.stdin.flush()
        line = read_line(tgt, 10)
        assert line.startswith("newcomer "), f"the target answered {line!r}"
        return int(line.split()[1])

    meta, events, _, born = capture_frozen(want, counted=newcomer)
    figure(f"a thread born while the worker was frozen: {want} stops, "
           f"{meta['dropped']} samples dropped, {meta['stacks_truncated']} stacks truncated")
    assert meta["dropped"] == 0, \
        f"{meta['dropped']} samples dropped: the newcomer's copies used up the pool"
    ss = thread_spans(events, born)
    spins = [s for s in ss if s.name == "newcomer_spin"]
    assert spins, f"the newcomer's frames: {sorted({s.name for s in ss})}"
    # (Its very first sample, in clone3 as it is born, may be cut short
    # there: that one holds no newcomer_spin.)
    cut = [s for s in ss if s.name == "[truncated]"]
    cut_spins = [s for s in spins
                 if any(c.begin <= s.begin and s.end <= c.end for c in cut)]
    assert not cut_spins, (f"newcomer_spin under [truncated] at "
                           f"{[round(s.begin / 1000, 1) for s in cut_spins]} ms")
