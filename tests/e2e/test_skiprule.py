"""The skip rule (a thread whose run count has not moved is not stopped),
checked where it can go wrong: the kernel facts it rests on, verified on this
kernel with ptrace from the test itself, and its safe side, seen from the
target: a thread that keeps running is stopped on (nearly) every tick, and a
thread asleep for good is not stopped again."""
import ctypes
import os

from lib import (fgtrace_meta, figure, load_trace, proc_state, run_count, run_fgtrace,
                 start_target, status_field, stop_target, thread_ids, tmpdir, wait_for)

PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, tid, data=0):
    if libc.ptrace(req, tid, None, ctypes.c_void_p(data)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req:#x}, {tid}): {os.strerror(e)}")


def wait_stop(tid):
    _, status = os.waitpid(tid, WALL)
    assert os.WIFSTOPPED(status), f"thread {tid}: wait status {status:#x}, not a stop"


def named(pid, name):
    for tid in thread_ids(pid):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return tid
    raise AssertionError(f"no thread named {name} in {pid}")


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


def test_running_thread_is_stopped_and_sleeping_one_is_not():
    # spinner 2: spin-0 never leaves the CPU of its own will, spin-1 sleeps in
    # short nanosleeps. A ptrace stop of a running thread is a voluntary
    # switch (it sleeps in TASK_TRACED), so spin-0's count of them is the
    # number of times fgtrace stopped it. sigcount's blk-read never wakes:
    # after its first stop, it must not be stopped again.
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
                # Attach (none), one stop (+2), detach (none: a sleeping
                # thread is left to the kernel's detach at the tracer
                # thread's exit): nothing per tick. One more when the thread,
                # woken for its stop, was preempted on its way to it (a
                # loaded machine); a second stop adds 2.
                figure(f"a thread asleep for good: run count +{moved} over {hz} ticks")
                assert moved <= 3, \
                    f"blk-read, asleep for good, was switched in {moved} times during a " \
                    f"{hz} Hz capture: it was stopped again though it had not run"
    finally:
        stop_target(spin)
        stop_target(idle)
