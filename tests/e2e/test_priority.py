"""fgtrace's own scheduling (--priority). By default the tracer thread runs at
the lowest real-time priority where allowed, so that a thread it resumes
cannot take its CPU; a tracer that needs more than half a CPU, or runs 100 ms
without sleeping, goes back to the fair scheduler. The worker thread runs at
nice -5, so that it keeps up when the target's threads take every CPU. The
target's threads are never touched. Run as root: without the privilege these
tests skip. The two threads are named for what they do, privilege or not."""
import os

from lib import (Skip, assert_running_untraced, fgtrace_meta, load_trace, run_fgtrace,
                 start_fgtrace, start_target, status_field, stop_target, thread_ids, tmpdir,
                 wait_for)


def need_privilege():
    if os.geteuid() != 0:
        raise Skip("raising a thread's priority needs root or CAP_SYS_NICE")


def policy(tid):
    try:
        return os.sched_getscheduler(tid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0x40000000)
    except ProcessLookupError:
        return None


def capture(target_pid, *args):
    """Runs a 1 s capture at 199 Hz while checking, from outside, how the
    tracer thread (the one the target's TracerPid names) is scheduled once it
    ticks. Returns (metadata, stderr, the policy and nice value seen, and the
    nice values of the worker: fgtrace's threads other than the tracer and
    the main thread, which only waits)."""
    d = tmpdir()
    p = start_fgtrace(["-F", "199", "-d", "1s", "-p", target_pid, "-o", d / "t.json",
                       *args])
    # The tracer sets its priority before its first tick, and ticks only
    # once its timer runs (its timerfd says so).
    wait_for(lambda: p.poll() is not None or timer_armed(p.pid), timeout=10,
             what="fgtrace's timer to run")
    tracer = int(status_field(target_pid, "TracerPid"))
    assert tracer in thread_ids(p.pid), f"the target's tracer {tracer} is not fgtrace's"
    seen = (policy(tracer), os.getpriority(os.PRIO_PROCESS, tracer)) if p.poll() is None \
        else (None, None)
    others = others_nice(p.pid, tracer)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, f"fgtrace exited {p.returncode}: {err}"
    return fgtrace_meta(load_trace(d / "t.json")), err, seen, others


def others_nice(pid, tracer):
    """The nice values of pid's threads other than its main thread and the
    tracer."""
    nices = set()
    for tid in thread_ids(pid):
        if tid not in (pid, tracer):
            try:
                nices.add(os.getpriority(os.PRIO_PROCESS, tid))
            except ProcessLookupError:
                pass
    return nices


def timer_armed(pid):
    """True once one of pid's timerfds has a nonzero interval."""
    fds = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(fds)
    except FileNotFoundError:
        return False
    for name in names:
        try:
            with open(f"{fds}/{name}") as f:
                info = f.read()
        except OSError:
            continue
        if "it_interval" in info and "it_interval: (0, 0)" not in info:
            return True
    return False


def target_policies(pid):
    return {tid: policy(tid) for tid in thread_ids(pid)}


def test_tracer_runs_realtime_by_default():
    need_privilege()
    spin = start_target("spinner", ["4"])
    try:
        before = target_policies(spin.pid)
        meta, err, (pol, _), others = capture(spin.pid)
        assert pol == os.SCHED_FIFO, f"tracer thread policy {pol} while ticking: " \
                                     f"expected SCHED_FIFO ({os.SCHED_FIFO})"
        assert others == {-5}, f"worker thread nice {others}: expected -5"
        assert meta["worker_nice"] == -5
        assert meta["tracer_priority"] == "realtime"
        assert meta["tracer_realtime"] is True
        assert meta["tracer_demoted"] is None, f"demoted: {meta['tracer_demoted']}"
        assert "real-time" not in err, err
        assert target_policies(spin.pid) == before, "the target's scheduling changed"
        assert_running_untraced(spin.pid)
    finally:
        stop_target(spin)


def test_high_is_fair_at_nice_minus_10():
    need_privilege()
    spin = start_target("spinner", ["2"])
    try:
        meta, _, (pol, nice), others = capture(spin.pid, "--priority=high")
        assert (pol, nice) == (os.SCHED_OTHER, -10), f"tracer policy {pol}, nice {nice}"
        assert others == {-5}, f"worker thread nice {others}: expected -5"
        assert meta["worker_nice"] == -5
        assert meta["tracer_priority"] == "high"
        assert meta["tracer_realtime"] is False
        assert meta["tracer_nice"] == -10
        # 0 where the kernel keeps no fair slice (before Linux 6.12).
        assert meta["tracer_slice_ns"] in (100000, 0), meta["tracer_slice_ns"]
    finally:
        stop_target(spin)


def test_inherit_keeps_fgtraces_own_scheduling():
    spin = start_target("spinner", ["2"])
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        meta, _, (pol, nice), others = capture(spin.pid, "--priority=inherit")
        assert (pol, nice) == (os.SCHED_OTHER, own), f"tracer policy {pol}, nice {nice}"
        assert others == {own}, f"worker thread nice {others}: expected {own}"
        assert meta["tracer_realtime"] is False
        assert meta["tracer_nice"] == own
        assert meta["worker_nice"] == own
    finally:
        stop_target(spin)


def test_tracer_over_budget_leaves_realtime():
    # 10000 rounds a second over 200 threads is more than a CPU's work: a
    # real-time tracer doing it would starve the target on that CPU.
    need_privilege()
    spin = start_target("spinner", ["200"])
    try:
        d = tmpdir()
        rc, _, err = run_fgtrace(["-F", "10000", "-d", "1s", "-p", spin.pid,
                                  "-o", d / "t.json"], timeout=120)
        assert rc == 0, f"fgtrace exited {rc}: {err}"
        meta = fgtrace_meta(load_trace(d / "t.json"))
        assert meta["tracer_realtime"] is True
        assert meta["tracer_demoted"] in ("cpu", "rttime"), \
            f"tracer_demoted {meta['tracer_demoted']!r}: a tracer over budget kept " \
            "real-time priority"
        assert "left real-time priority" in err, err
        assert_running_untraced(spin.pid)
    finally:
        stop_target(spin)


def test_own_threads_are_named():
    # In top -H or ps -L, fgtrace's two working threads say what they are.
    spin = start_target("spinner", ["2"])
    try:
        d = tmpdir()
        p = start_fgtrace(["-q", "-F", "99", "-d", "1s", "-p", spin.pid,
                           "-o", d / "t.json"])
        wait_for(lambda: p.poll() is not None or timer_armed(p.pid), timeout=10,
                 what="fgtrace's timer to run")
        tracer = int(status_field(spin.pid, "TracerPid"))
        names = {}
        for tid in thread_ids(p.pid):
            with open(f"/proc/{p.pid}/task/{tid}/comm") as f:
                names[tid] = f.read().strip()
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, f"fgtrace exited {p.returncode}: {err}"
    finally:
        stop_target(spin)
    assert names.get(tracer) == "fgtrace-tracer", names
    others = {n for t, n in names.items() if t not in (p.pid, tracer)}
    assert others == {"fgtrace-worker"}, names
    assert names[p.pid] == "fgtrace", names
