"""Never harm the target: signals, job control, exits, exec, fork, thread
churn, fgtrace itself signalled or killed, hostile names and stacks.

Every case is set up for real, and the target is judged from the outside:
its own counters, /proc/PID/status (TracerPid) and /proc/PID/task/*/stat
(state letters), never fgtrace's word."""
import os
import re
import signal
import subprocess
import time
from collections import Counter

import tefcheck
from lib import (ROOT, Skip, figure, fgtrace_meta, load_trace, ns_to_trace_us, proc_state,
                 process_names, read_line, run_count, spinning, start_fgtrace, start_target,
                 status_field, stop_target, target, thread_cpu_ns, thread_ids, thread_names,
                 thread_spans, thread_states, tmpdir, trace_so_far, tracer_pid,
                 untraced_problems, wait_for, wait_on_timeline)

TIMEOUT = 60
HZ = 999
EPOLL_WAIT_NR = 232  # x86-64
# fgtrace must detach, finish the file and exit within this after
# SIGINT, SIGTERM or SIGHUP.
SIGNAL_EXIT_S = 1.0


# ---- /proc, read as bytes: names here hold bytes that are not UTF-8 ----------

# ---- helpers -----------------------------------------------------------------

def send(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()


def expect_line(p, prefix, timeout=10):
    """The next line of p's stdout that starts with prefix; other lines are
    skipped."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"pid {p.pid}: no line starting {prefix!r} within "
                                 f"{timeout}s; other lines: {seen[-5:]}")
        line = read_line(p, left).rstrip("\n")
        if line.startswith(prefix):
            return line
        seen.append(line)


def key_values(line):
    """{"k": int} from a line "word k=1 j=2"."""
    return {k: int(v) for k, v in re.findall(r"(\S+?)=(-?\d+)", line)}


def report(p):
    send(p, "report")
    return key_values(expect_line(p, "report"))


def stderr_of(f):
    try:
        return f.stderr.read().strip() if f.poll() is not None else "(still running)"
    except ValueError:
        return "(closed)"


def all_traced_by(pid, tracer):
    """True when every thread of pid has tracer as its TracerPid."""
    try:
        tids = thread_ids(pid)
        return bool(tids) and all(tracer_pid(pid, t) == tracer for t in tids)
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_traced(pid, f, timeout=10):
    """Waits until fgtrace (Popen f) traces every thread of pid."""
    deadline = time.monotonic() + timeout
    while not all_traced_by(pid, f.pid):
        if f.poll() is not None:
            raise AssertionError(f"fgtrace exited {f.returncode} before it traced {pid}: "
                                 f"{stderr_of(f)}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"fgtrace ({f.pid}) did not trace every thread of {pid} "
                                 f"within {timeout}s: {untraced_tracers(pid)}")
        time.sleep(0.005)


def untraced_tracers(pid):
    out = {}
    for t in thread_ids(pid):
        try:
            out[t] = (proc_state(pid, t), tracer_pid(pid, t))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return f"tid -> (state, TracerPid): {out}"


def attach(pid, hz=HZ, extra=()):
    """Starts fgtrace -p pid at hz and waits until it traces every thread.
    Returns (Popen, output path)."""
    out = tmpdir() / "t.json"
    f = start_fgtrace(["-q", "-F", hz, "-o", out] + list(extra) + ["-p", pid])
    wait_traced(pid, f)
    return f, out


def launch(args, hz=HZ, extra=(), **kw):
    """fgtrace -- TARGET ARGS with stdin piped; returns (Popen, output path)."""
    out = tmpdir() / "t.json"
    f = start_fgtrace(["-q", "-F", hz, "-o", out] + list(extra) + ["--"] +
                      [str(a) for a in args], stdin=subprocess.PIPE, **kw)
    return f, out


def wait_exit(f, timeout, what):
    """fgtrace's exit status, waiting at most timeout seconds."""
    try:
        return f.wait(timeout)
    except subprocess.TimeoutExpired:
        f.kill()
        f.wait()
        raise AssertionError(f"fgtrace did not exit within {timeout}s {what}") from None


def finish(f, sig=signal.SIGINT, within=5.0):
    """Signals fgtrace, which must exit 0 within `within` seconds; returns the
    time it took."""
    t0 = time.monotonic()
    f.send_signal(sig)
    rc = wait_exit(f, within, f"after {signal.Signals(sig).name}")
    took = time.monotonic() - t0
    assert rc == 0, (f"fgtrace exited {rc} after {signal.Signals(sig).name}, expected 0: "
                     f"{stderr_of(f)}")
    return took


def checked_trace(out, partial=False):
    tefcheck.check(out, partial=partial)
    return load_trace(out, partial=partial)


def assert_free(pid, when):
    found = untraced_problems(pid)
    assert not found, f"{when}: " + "; ".join(found)


def stopped_states(pid):
    """True when every thread of pid is stopped ('t' or 'T')."""
    states = thread_states(pid)
    return bool(states) and all(s in "tT" for s in states.values())


def hold(cond, seconds, what):
    """cond() must stay true for the given time, polled; a measurement over
    a span of time, not a synchronisation."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert cond(), f"{what} stopped being true"
        time.sleep(0.01)


def gone_or_zombie(pid):
    try:
        return proc_state(pid) in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tid_named(pid, name):
    for t in thread_ids(pid):
        with open(f"/proc/{pid}/task/{t}/comm", "rb") as fh:
            if fh.read().rstrip(b"\n") == name.encode():
                return t
    raise AssertionError(f"process {pid} has no thread named {name!r}")


# ---- signals to the target ---------------------------------------------------

def test_300_queued_rt_signals_arrive_exactly_once():
    p = start_target("sigcount")
    f, out = attach(p.pid)
    sig = signal.SIGRTMIN + 1
    t0 = time.monotonic()
    for _ in range(300):
        os.kill(p.pid, sig)
    sent = time.monotonic()
    wait_for(lambda: report(p)["rt"] >= 300, 10, "the handler to count 300 SIGRTMIN+1")
    took = time.monotonic() - sent
    assert tracer_pid(p.pid) == f.pid, "fgtrace was no longer tracing when they arrived"
    finish(f)
    r = report(p)
    assert r["rt"] == 300, f"handler counted {r['rt']} SIGRTMIN+1, 300 were sent"
    assert r["eintr_main"] == 0, f"the main thread's read got {r['eintr_main']} EINTR " \
        "with SA_RESTART handlers"
    figure(f"300 SIGRTMIN+1 sent in {1e3 * (sent - t0):.0f} ms, all handled "
           f"{1e3 * took:.0f} ms after the last")
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def test_sigusr1_one_at_a_time_acknowledged_promptly():
    p = start_target("sigcount")
    f, out = attach(p.pid)
    lat = []
    for k in range(1, 201):
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGUSR1)
        line = expect_line(p, "usr1 ", 5).strip()
        lat.append(time.monotonic() - t0)
        assert line == f"usr1 {k}", f"SIGUSR1 number {k}: the handler said {line!r}"
    finish(f)
    assert report(p)["usr1"] == 200, "SIGUSR1 counted more than once"
    lat.sort()
    figure(f"SIGUSR1 under a {HZ} Hz capture: acknowledged in median "
           f"{1e3 * lat[100]:.2f} ms, max {1e3 * lat[-1]:.2f} ms")
    # Promptly: a signal must not wait for ticks. Generous bounds for a
    # loaded machine; a tracer that forwards only on its ticks is slower.
    assert lat[100] < 0.02, f"median SIGUSR1 round trip {1e3 * lat[100]:.1f} ms"
    assert lat[-1] < 1.0, f"slowest SIGUSR1 round trip {1e3 * lat[-1]:.0f} ms"
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def test_signals_are_not_held_until_the_next_tick():
    # At 1 Hz a tracer that looked at its tracee only on ticks would hold
    # each signal-delivery-stop for up to a second.
    p = start_target("sigcount")
    f, out = attach(p.pid, hz=1)
    lat = []
    for k in range(1, 21):
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGUSR1)
        assert expect_line(p, "usr1 ", 5).strip() == f"usr1 {k}"
        lat.append(time.monotonic() - t0)
    finish(f)
    lat.sort()
    figure(f"SIGUSR1 under a 1 Hz capture: median {1e3 * lat[10]:.2f} ms, "
           f"max {1e3 * lat[-1]:.2f} ms")
    assert lat[10] < 0.05 and lat[-2] < 0.2, \
        f"SIGUSR1 waited for fgtrace: round trips {[round(1e3 * x, 1) for x in lat]} ms"
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def test_sigchld_from_own_children_counted_and_all_reaped():
    p = start_target("sigcount")
    f, out = attach(p.pid)
    send(p, "fork 100")
    expect_line(p, "forked", 30)
    finish(f)
    r = report(p)
    assert (r["chld"], r["reaped"], r["lost"], r["bad_status"]) == (100, 100, 0, 0), \
        f"100 children: SIGCHLD counted {r['chld']}, reaped {r['reaped']}, " \
        f"{r['lost']} SIGCHLD not seen within 2 s, {r['bad_status']} wrong exit statuses"
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def test_sigpipe_on_broken_pipe_reaches_the_handler():
    p = start_target("sigcount")
    f, out = attach(p.pid)
    send(p, "pipe 100")
    expect_line(p, "piped", 10)
    finish(f)
    r = report(p)
    assert (r["pipe"], r["epipe"]) == (100, 100), \
        f"100 writes to a broken pipe: {r['pipe']} SIGPIPE handled, {r['epipe']} EPIPE"
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def eintr_capture(p):
    """A 999 Hz capture while the blocked threads go round their timed waits
    20 times (about 1 s) and the main thread's handler runs 50 times."""
    before = report(p)
    reader = tid_named(p.pid, "blk-read")
    runs = run_count(p.pid, reader)
    f, out = attach(p.pid)
    for _ in range(50):
        os.kill(p.pid, signal.SIGRTMIN + 1)
    wait_for(lambda: report(p)["loops_futex"] >= before["loops_futex"] + 20, 10,
             "the timed waits to go round 20 times under the capture")
    finish(f)
    r = report(p)
    # Nothing wakes the reader, the capture included: a thread asleep in a
    # call is sampled from /proc, without a stop.
    woken = run_count(p.pid, reader) - runs
    assert woken == 0, \
        f"the thread blocked in read() was switched in {woken} times during the capture"
    assert r["rt"] == 50, f"{r['rt']} of 50 SIGRTMIN+1 handled"
    for k in ("loops_sleep", "loops_futex", "loops_epoll", "loops_aio", "loops_uring",
              "loops_sock"):
        assert r[k] > before[k], f"{k} did not move: {before[k]} -> {r[k]}"
    events = checked_trace(out)
    blk = [n for n in thread_names(events).values() if n.startswith("blk-")]
    assert len(blk) == 8, f"blocked threads in the trace: {blk}"
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0
    return r


def test_no_eintr_in_restarting_blocked_calls_at_999hz():
    # read() with SA_RESTART handlers running on that thread; read,
    # nanosleep, FUTEX_WAIT and pthread_cond_wait in threads without
    # handlers. Asleep, they are sampled without a stop; a stop that catches
    # one on its way into its call is restarted by the kernel.
    r = eintr_capture(start_target("sigcount"))
    keys = ("eintr_main", "eintr_read", "eintr_sleep", "eintr_futex", "spurious_cond")
    seen = {k: r[k] for k in keys}
    assert not any(seen.values()), \
        f"blocked calls saw EINTR (or a condvar woke without a signal): {seen}"


def test_no_eintr_in_epoll_wait_at_999hz():
    # epoll_wait is never restarted after a stop: the kernel returns EINTR
    # when the thread was stopped (signal(7), "Interruption of system calls
    # by stop signals"), and a PTRACE_INTERRUPT stop counts. The target sees
    # it unless the tracer avoids the stop or restarts the call.
    r = eintr_capture(start_target("sigcount"))
    assert r["eintr_epoll"] == 0, (
        f"epoll_wait returned EINTR {r['eintr_epoll']} times in {r['loops_epoll']} "
        f"calls under a {HZ} Hz capture, with no signal sent to that thread")


def test_no_eintr_in_async_io_waits_at_999hz():
    # io_getevents and io_uring_enter waiting for completions fail with EINTR
    # whenever a signal or a ptrace trap is pending, after any stop; signal(7)
    # does not list them.
    r = eintr_capture(start_target("sigcount"))
    seen = {k: r[k] for k in ("eintr_aio", "eintr_uring")}
    assert not any(seen.values()), (
        f"asynchronous I/O waits returned EINTR under a {HZ} Hz capture, with no "
        f"signal sent to those threads: {seen} in {r['loops_aio']} io_getevents "
        f"and {r['loops_uring']} io_uring_enter calls")


def test_no_eintr_on_a_socket_with_a_timeout_at_999hz():
    # recv and read on a socket with SO_RCVTIMEO fail with EINTR after a stop
    # (signal(7)), and nothing in /proc shows the timeout. fgtrace makes a
    # call begun since the thread's previous sample again, and from then on
    # samples the thread without a stop when it sleeps on that socket.
    r = eintr_capture(start_target("sigcount"))
    assert r["eintr_sock"] == 0, (
        f"recv/read on a socket with a receive timeout returned EINTR "
        f"{r['eintr_sock']} times in {r['loops_sock']} calls under a {HZ} Hz capture, "
        f"with no signal sent to that thread")


def pending_signals(pid):
    """The process's pending signals, shared and its main thread's, as one mask."""
    return int(status_field(pid, "ShdPnd"), 16) | int(status_field(pid, "SigPnd"), 16)


def test_ignored_signals_do_not_fail_epoll_wait():
    # Without a tracer the kernel drops a signal that the process ignores as
    # it is sent, and nothing wakes. Under ptrace the thread it goes to is
    # woken, so that its tracer sees the signal, and epoll_wait fails with
    # EINTR; fgtrace makes the call again. ignsig's main thread sleeps in
    # epoll_wait; the process ignores SIGUSR2 (SIG_IGN), and SIGCHLD, SIGWINCH
    # and SIGURG by default. Each signal is sent once the one before has been
    # taken, so none merges with another.
    p = start_target("ignsig")
    f, out = attach(p.pid, hz=99)
    sigs = (signal.SIGUSR2, signal.SIGCHLD, signal.SIGWINCH, signal.SIGURG) * 20
    for sig in sigs:
        os.kill(p.pid, sig)
        wait_for(lambda: not pending_signals(p.pid), 5, f"{sig.name} to be taken")
    finish(f)
    r = report(p)
    meta = fgtrace_meta(checked_trace(out))
    assert meta["signals_forwarded"] == len(sigs), \
        f"{meta['signals_forwarded']} of {len(sigs)} signals passed on"
    assert r["eintr"] == 0, \
        f"epoll_wait failed with EINTR {r['eintr']} times for {len(sigs)} signals " \
        "that the process ignores"
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


# ---- job control ---------------------------------------------------------------

def start_jobctl():
    """jobctl in a process group of its own whose parent (this test) is in
    another group of the same session: not an orphaned group, where the
    kernel would discard SIGTSTP."""
    return start_target("jobctl", preexec_fn=os.setpgrp)


def check_stop_cont(sig):
    p = start_jobctl()
    spin = tid_named(p.pid, "jc-spin")
    f, out = attach(p.pid)
    wait_on_timeline(out, spin)
    spinning(p.pid, spin)
    os.kill(p.pid, sig)
    wait_for(lambda: stopped_states(p.pid), 5, f"every thread to stop after {sig.name}")
    stopped_at = time.monotonic_ns()
    cpu = thread_cpu_ns(p.pid, spin)
    hold(lambda: stopped_states(p.pid) and all_traced_by(p.pid, f.pid), 0.4,
         f"every thread stopped and traced after {sig.name}")
    assert thread_cpu_ns(p.pid, spin) == cpu, "the spinning thread ran while job-stopped"
    cont_at = time.monotonic_ns()
    os.kill(p.pid, signal.SIGCONT)
    wait_for(lambda: not any(s in "tT" for s in thread_states(p.pid).values()), 5,
             "every thread to run again after SIGCONT")
    spinning(p.pid, spin)
    assert all_traced_by(p.pid, f.pid), "fgtrace let go of the target at SIGCONT"
    finish(f)
    assert report(p)["cont"] == 1, "SIGCONT's handler did not run exactly once"
    assert_free(p.pid, "after the capture")

    events = checked_trace(out)
    meta = fgtrace_meta(events)
    lo = ns_to_trace_us(stopped_at, meta) + 30_000
    hi = ns_to_trace_us(cont_at, meta) - 30_000
    ss = [s for s in thread_spans(events, spin) if s.cat == "state"]

    def cover(name):
        return sum(max(0.0, min(hi, s.end) - max(lo, s.begin)) for s in ss if s.name == name)
    stopped, running = cover("stopped"), cover("running")
    figure(f"{sig.name}: {stopped / 1e3:.0f} of {(hi - lo) / 1e3:.0f} ms shown stopped, "
           f"{running / 1e3:.0f} ms running")
    assert stopped >= 0.8 * (hi - lo), (
        f"the spinning thread was stopped for {(hi - lo) / 1e3:.0f} ms (checked), the "
        f"trace shows {stopped / 1e3:.0f} ms of 'stopped'; states: "
        f"{sorted({s.name for s in ss})}")
    assert running <= 0.05 * (hi - lo), \
        f"a job-stopped thread shown running for {running / 1e3:.0f} ms"
    assert stop_target(p) == 0


def test_sigstop_then_sigcont_during_capture():
    check_stop_cont(signal.SIGSTOP)


def test_sigtstp_then_sigcont_during_capture():
    check_stop_cont(signal.SIGTSTP)


def asleep_in_epoll_wait(pid):
    """True when pid's main thread sleeps (state S) in epoll_wait."""
    with open(f"/proc/{pid}/task/{pid}/syscall") as fh:
        nr = fh.read().split()[0]
    return proc_state(pid, pid) == "S" and nr == str(EPOLL_WAIT_NR)


def stop_cont_eintrs(p, rounds):
    """The EINTRs that ignsig's epoll_wait counts over rounds of SIGSTOP, then
    SIGCONT: each SIGSTOP is sent once the main thread sleeps in epoll_wait,
    each SIGCONT once the process has stopped."""
    before = report(p)["eintr"]
    for _ in range(rounds):
        wait_for(lambda: asleep_in_epoll_wait(p.pid), 5, "ignsig to sleep in epoll_wait")
        os.kill(p.pid, signal.SIGSTOP)
        wait_for(lambda: stopped_states(p.pid), 5, "ignsig to stop")
        os.kill(p.pid, signal.SIGCONT)
        wait_for(lambda: not any(s in "tT" for s in thread_states(p.pid).values()), 5,
                 "ignsig to run again")
    wait_for(lambda: asleep_in_epoll_wait(p.pid), 5, "ignsig to sleep in epoll_wait again")
    return report(p)["eintr"] - before


def test_a_job_control_stop_fails_epoll_wait_as_it_does_untraced():
    # A stop signal fails epoll_wait with EINTR, traced or not (signal(7)).
    # The SIGCONT that ends the stop is ignored by default, and under ptrace
    # comes to the tracer all the same: fgtrace must not make the call again
    # then, as it does after an ignored signal alone (above), and take away
    # the EINTR the stop gives.
    p = start_target("ignsig")
    untraced = stop_cont_eintrs(p, 10)
    f, out = attach(p.pid, hz=99)
    traced = stop_cont_eintrs(p, 10)
    finish(f)
    checked_trace(out)
    assert untraced == 10, f"untraced, 10 stops failed epoll_wait {untraced} times"
    assert traced == untraced, \
        f"10 stops failed epoll_wait {traced} times traced, {untraced} times untraced"
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def check_left_stopped(p, f, how):
    """After a capture that ended while p was job-stopped: p stays stopped
    ('T', not traced), and SIGCONT then resumes it."""
    wait_for(lambda: all(tracer_pid(p.pid, t) == 0 for t in thread_ids(p.pid)), 2,
             f"the threads to lose their tracer ({how}): {untraced_tracers(p.pid)}")
    states = thread_states(p.pid)
    assert all(s == "T" for s in states.values()), \
        f"{how}: expected every thread job-stopped ('T'), states {states}"
    spin = tid_named(p.pid, "jc-spin")
    cpu = thread_cpu_ns(p.pid, spin)
    hold(lambda: all(s == "T" for s in thread_states(p.pid).values()), 0.3,
         f"{how}: every thread stopped")
    assert thread_cpu_ns(p.pid, spin) == cpu, f"{how}: the target ran while stopped"
    os.kill(p.pid, signal.SIGCONT)
    spinning(p.pid, spin)
    assert_free(p.pid, f"{how}, after SIGCONT")
    assert report(p)["cont"] == 1, "SIGCONT's handler did not run exactly once"
    assert stop_target(p) == 0


def test_capture_ended_by_sigint_while_sigstopped_leaves_it_stopped():
    p = start_target("jobctl")
    f, out = attach(p.pid)
    os.kill(p.pid, signal.SIGSTOP)
    wait_for(lambda: stopped_states(p.pid), 5, "every thread to stop")
    finish(f, signal.SIGINT)
    checked_trace(out)
    check_left_stopped(p, f, "capture ended by SIGINT during SIGSTOP")


def test_capture_ended_by_duration_while_sigtstopped_leaves_it_stopped():
    p = start_jobctl()
    f, out = attach(p.pid, extra=["-d", "2s"])
    spinning(p.pid, tid_named(p.pid, "jc-spin"))  # sampled before it stops
    os.kill(p.pid, signal.SIGTSTP)
    wait_for(lambda: stopped_states(p.pid), 1.5, "every thread to stop")
    # Stopped while traced, not only once fgtrace let go.
    assert f.poll() is None and all_traced_by(p.pid, f.pid), \
        f"the target stopped only after the capture: {untraced_tracers(p.pid)}"
    rc = wait_exit(f, 10, "after -d 2s")
    assert rc == 0, f"fgtrace -d 2s exited {rc}: {stderr_of(f)}"
    events = checked_trace(out)
    spin = tid_named(p.pid, "jc-spin")
    assert "stopped" in {s.name for s in thread_spans(events, spin)}, \
        "no 'stopped' state span for a thread stopped during the capture"
    check_left_stopped(p, f, "capture ended by -d during SIGTSTP")


def test_attach_to_already_stopped_process_leaves_it_stopped():
    p = start_jobctl()
    os.kill(p.pid, signal.SIGSTOP)
    wait_for(lambda: all(s == "T" for s in thread_states(p.pid).values()), 5,
             "every thread to stop")
    spin = tid_named(p.pid, "jc-spin")
    cpu = thread_cpu_ns(p.pid, spin)
    f, out = attach(p.pid)
    hold(lambda: stopped_states(p.pid) and all_traced_by(p.pid, f.pid), 0.4,
         "every thread of the stopped process stopped and traced")
    ran = thread_cpu_ns(p.pid, spin) - cpu
    # Entering a ptrace stop from a job stop takes the kernel a few µs of
    # the thread's time; running its loop would take the whole 400 ms.
    assert ran < 5_000_000, f"the stopped process ran {ran / 1e6:.1f} ms under the capture"
    finish(f)
    events = checked_trace(out)
    assert "stopped" in {s.name for s in thread_spans(events, spin)}, \
        "no 'stopped' state span for a thread that was stopped all along"
    check_left_stopped(p, f, "capture of an already stopped process")


# ---- exit, kill, exec ------------------------------------------------------------

def test_target_exit_during_capture_attach_mode():
    p = start_target("jobctl")
    f, out = attach(p.pid)
    spinning(p.pid, tid_named(p.pid, "jc-spin"), 50_000_000)
    send(p, "exit 3")
    assert p.wait(10) == 3, f"the target exited {p.returncode}, expected 3"
    rc = wait_exit(f, 5, "after the target exited")
    assert rc == 0, f"attach mode: fgtrace exited {rc} when the target did: {stderr_of(f)}"
    events = checked_trace(out)
    assert any(e.get("ph") == "B" for e in events), "no samples before the exit"


def test_target_exit_during_capture_launch_mode_passes_status():
    f, out = launch([target("jobctl")])
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    send(f, "exit 3")
    rc = wait_exit(f, 10, "after the command exited")
    assert rc == 3, f"launch mode: fgtrace exited {rc}, the command 3: {stderr_of(f)}"
    checked_trace(out)


def test_target_sigkilled_during_capture_attach_mode():
    p = start_target("jobctl")
    f, out = attach(p.pid)
    p.kill()
    assert p.wait(10) == -signal.SIGKILL
    rc = wait_exit(f, 5, "after the target was killed")
    assert rc == 0, f"attach mode: fgtrace exited {rc} when the target was killed: " \
        f"{stderr_of(f)}"
    checked_trace(out)


def test_target_sigkilled_during_capture_launch_mode():
    f, out = launch([target("jobctl")])
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    os.kill(pid, signal.SIGKILL)
    rc = wait_exit(f, 10, "after the command was killed")
    assert rc == 128 + signal.SIGKILL, f"fgtrace exited {rc}, expected 137: {stderr_of(f)}"
    checked_trace(out)


def exec_capture(flags):
    """execer [flags] spinner 2 under an attached capture; returns the events
    and the pid."""
    p = start_target("execer", flags + [target("spinner"), "2"])
    f, out = attach(p.pid)
    send(p, "go")
    expect_line(p, "ready", 10)  # the spinner, after the exec
    # The capture goes on in the new image: its new threads are traced too.
    wait_for(lambda: status_field(p.pid, "Name") == "spinner" and len(thread_ids(p.pid)) == 3
             and all_traced_by(p.pid, f.pid), 5,
             f"the spinner's threads to be traced after the exec: {untraced_tracers(p.pid)}")
    spinning(p.pid, tid_named(p.pid, "spin-0"), 100_000_000)
    finish(f)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0
    return checked_trace(out), p.pid


def check_exec_trace(events, pid):
    b = [e for e in events if e.get("ph") == "B"]
    names = {e["name"] for e in b}
    assert "execer_before" in names, "no frame of the old image (execer_before)"
    assert "spin_loop" in names, "no frame of the new image (spin_loop)"
    procs = process_names(events)
    assert procs and procs[-1] == "spinner", f"process names {procs}, last should be spinner"
    last_old = max(e["ts"] for e in b if e["name"] == "execer_before")
    first_new = min(e["ts"] for e in b if e["name"] == "spin_loop")
    assert last_old < first_new, "frames of the two images interleave"
    # Threads of the old image close their spans (the checker saw them
    # balanced) and are not sampled after the exec.
    helpers = [t for t, n in thread_names(events).items() if n == "ex-helper" and t != pid]
    assert helpers, f"the old image's helper threads are not in the trace: " \
        f"{thread_names(events)}"
    for t in helpers:
        late = [s for s in thread_spans(events, t) if s.begin > first_new]
        assert not late, f"helper {t} of the old image sampled after the exec: {late[:2]}"


def test_exec_during_capture_shows_both_images():
    check_exec_trace(*exec_capture([]))


def test_exec_from_non_leader_thread_during_capture():
    check_exec_trace(*exec_capture(["-t"]))


# ---- fork, vfork, clone ----------------------------------------------------------------

def test_shell_script_running_200_commands_ends_with_its_status():
    script = ROOT / "tests" / "targets" / "forker.sh"
    f, out = launch(["/bin/sh", script, "200"])
    words = expect_line(f, "ready").split()
    sh, child = int(words[1]), int(words[2])
    wait_traced(sh, f)
    assert tracer_pid(child) == 0, f"the script's background child {child} is traced"
    send(f, "go")
    line = expect_line(f, "done", 60)
    assert line.strip() == "done 200 traced=0", \
        f"each of 200 greps read its own TracerPid: {line.strip()!r}"
    rc = wait_exit(f, 10, "after the script ended")
    assert rc == 7, f"fgtrace exited {rc}, the script 7: {stderr_of(f)}"
    checked_trace(out)


def check_children(mode, n=200):
    p = start_target("forker", [mode, n])
    child = int(p.ready_args[1])
    f, out = attach(p.pid)
    assert_free(child, "the long-lived child, once its parent is traced")
    send(p, "go")
    line = expect_line(p, "done", 60).strip()
    assert_free(child, "the long-lived child, after the children came and went")
    finish(f)
    assert line == f"done {n} untraced={n} traced=0 unknown=0", \
        f"{n} children made by {mode} each read their own TracerPid: {line!r}"
    checked_trace(out)
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def test_fork_children_are_never_traced():
    check_children("fork")


def test_vfork_children_are_never_traced():
    check_children("vfork")


def test_posix_spawn_children_are_never_traced():
    check_children("spawn")


def test_clone_children_with_other_exit_signal_are_not_traced():
    # clone(2) without CLONE_THREAD and an exit signal other than SIGCHLD
    # reports PTRACE_EVENT_CLONE, not FORK: such a child is a process, not a
    # thread of the target, and must not be kept.
    check_children("clone", 50)


# ---- thread churn -----------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    return int(status_field(pid, "VmRSS").split()[0])


def test_thread_churn_at_999hz_without_growth():
    total = 6000
    f, out = launch([target("churn"), total])
    pid = int(expect_line(f, "ready").split()[1])
    readings = []
    while True:
        line = expect_line(f, "", 60).strip()
        if line.startswith("done"):
            break
        if line.startswith("n ") and f.poll() is None:
            readings.append((int(line.split()[1]), fd_count(f.pid), rss_kib(f.pid)))
    rc = wait_exit(f, 20, "after the churn ended")
    assert line == f"done {total}", f"churn said {line!r}"
    assert rc == 0, f"fgtrace exited {rc}, churn 0: {stderr_of(f)}"
    figure(f"churn of {total} threads at {HZ} Hz: fgtrace's fds and RSS (KiB) by "
           f"threads joined: {readings}")
    assert len(readings) >= 6, f"too few readings: {readings}"
    base, last = readings[len(readings) // 5], readings[-1]
    assert last[1] <= base[1] + 2, \
        f"fgtrace's fds grew with threads: {base[1]} at {base[0]}, {last[1]} at {last[0]}"
    assert last[2] <= base[2] + 2048, \
        f"fgtrace's RSS grew with threads: {base[2]} KiB at {base[0]} threads, " \
        f"{last[2]} KiB at {last[0]}"
    events = checked_trace(out)
    # From the outside: the short threads were seen and sampled. Each lives
    # some tens of microseconds, so a 999 Hz tick finds only a few percent
    # of them alive (about 10-15% here, counting those caught at birth).
    sampled = {e["tid"] for e in events if e.get("ph") == "B"}
    assert len(sampled) >= total // 50, f"only {len(sampled)} of {total} threads sampled"
    assert not os.path.exists(f"/proc/{pid}") or gone_or_zombie(pid)


def test_threads_sampled_at_birth_show_no_garbage_frames():
    # A thread stopped at its birth (its first ptrace stop, still in
    # clone3) sits on a fresh stack that may hold an earlier thread's old
    # frames: following them gives garbage, which must end the stack early.
    f, out = launch([target("churn"), 2000])
    expect_line(f, "done", 60)
    rc = wait_exit(f, 20, "after the churn ended")
    assert rc == 0, f"fgtrace exited {rc}: {stderr_of(f)}"
    events = load_trace(out)
    worst = {}
    for tid in {e["tid"] for e in events if e.get("ph") == "B"}:
        deepest = max(stacks(events, tid), key=lambda s: s.count("[unknown]"))
        if deepest.count("[unknown]") > 4:
            worst[tid] = deepest
    if worst:
        example = max(worst.values(), key=len)
        shown = Counter(example).most_common(4)
        raise AssertionError(
            f"{len(worst)} threads have stacks running through garbage (more than 4 "
            f"frames in no module) not cut with [truncated]; the deepest has "
            f"{len(example)} frames, root {example[0]!r}, leaf {example[-1]!r}, "
            f"made of {shown}")


# ---- fgtrace itself signalled or killed -------------------------------------------------

def wait_some_output(out, f, size=1):
    wait_for(lambda: out.exists() and out.stat().st_size >= size, 5,
             f"fgtrace to write {size} bytes to {out} (it streams)")


def test_sigkill_to_fgtrace_in_attach_mode_leaves_target_running():
    p = start_target("jobctl")
    spin = tid_named(p.pid, "jc-spin")
    f, out = attach(p.pid)
    wait_some_output(out, f, 2000)
    f.kill()
    f.wait()
    wait_for(lambda: not untraced_problems(p.pid), 2,
             f"the target to run untraced after fgtrace was killed: "
             f"{untraced_problems(p.pid)}")
    spinning(p.pid, spin)
    assert report(p)["cont"] == 0, "the target got a SIGCONT"
    tefcheck.check(out, partial=True)
    events = load_trace(out, partial=True)
    assert any(e.get("ph") == "B" for e in events), "the partial trace holds no sample"
    assert stop_target(p) == 0


def test_sigkill_to_fgtrace_in_launch_mode_leaves_command_running():
    # Documented: the command is not killed with fgtrace (no
    # PTRACE_O_EXITKILL); the kernel detaches it and it runs on, untraced,
    # adopted by init (or a subreaper).
    f, out = launch([target("jobctl")])
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    spin = tid_named(pid, "jc-spin")
    f.kill()
    f.wait()
    try:
        wait_for(lambda: not untraced_problems(pid), 2,
                 f"the command to run untraced: {untraced_problems(pid)}")
        spinning(pid, spin)
        send(f, "report")
        assert key_values(expect_line(f, "report"))["cont"] == 0
        send(f, "q")
        wait_for(lambda: gone_or_zombie(pid), 5, "the command to exit after 'q'")
    finally:
        kill_quietly(pid)
    tefcheck.check(out, partial=True)


def check_signal_detaches(sig):
    p = start_target("jobctl")
    spin = tid_named(p.pid, "jc-spin")
    f, out = attach(p.pid)
    spinning(p.pid, spin)
    took = finish(f, sig, within=5)
    figure(f"{sig.name}: fgtrace detached, finished the file and exited in "
           f"{1e3 * took:.0f} ms")
    assert took <= SIGNAL_EXIT_S, f"fgtrace took {took:.2f} s to exit after {sig.name}"
    assert_free(p.pid, f"right after fgtrace exited on {sig.name}")
    checked_trace(out)
    spinning(p.pid, spin)
    assert report(p)["cont"] == 0, "the target got a SIGCONT"
    assert stop_target(p) == 0


def test_sigint_to_fgtrace_detaches_within_1s():
    check_signal_detaches(signal.SIGINT)


def test_sigterm_to_fgtrace_detaches_within_1s():
    check_signal_detaches(signal.SIGTERM)


def test_sighup_to_fgtrace_detaches_within_1s():
    check_signal_detaches(signal.SIGHUP)


def test_ctrl_c_in_launch_mode_goes_to_the_command():
    # Ctrl-C in a terminal signals the whole foreground process group.
    f, out = launch([target("jobctl")], start_new_session=True)
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    os.killpg(f.pid, signal.SIGINT)
    rc = wait_exit(f, 5, "after SIGINT to the process group")
    assert rc == 128 + signal.SIGINT, f"fgtrace exited {rc}; the command died of SIGINT " \
        f"(expected 130): {stderr_of(f)}"
    checked_trace(out)


def test_second_sigint_in_launch_mode_detaches_and_leaves_command():
    f, out = launch([target("jobctl"), "ignint"], start_new_session=True)
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    spin = tid_named(pid, "jc-spin")
    try:
        os.killpg(f.pid, signal.SIGINT)
        # The command ignores it and the capture goes on.
        hold(lambda: f.poll() is None and all_traced_by(pid, f.pid), 0.3,
             "fgtrace tracing after the first SIGINT")
        t0 = time.monotonic()
        os.killpg(f.pid, signal.SIGINT)
        rc = wait_exit(f, 5, "after the second SIGINT")
        took = time.monotonic() - t0
        assert rc == 0, f"fgtrace exited {rc} after a second SIGINT, expected 0: " \
            f"{stderr_of(f)}"
        assert took <= SIGNAL_EXIT_S, f"{took:.2f} s to exit after the second SIGINT"
        assert_free(pid, "the command after fgtrace detached")
        spinning(pid, spin)
        checked_trace(out)
        send(f, "q")
        wait_for(lambda: gone_or_zombie(pid), 5, "the command to exit after 'q'")
    finally:
        kill_quietly(pid)


def test_sigterm_in_launch_mode_detaches_and_leaves_command():
    f, out = launch([target("jobctl")])
    pid = int(expect_line(f, "ready").split()[1])
    wait_traced(pid, f)
    spin = tid_named(pid, "jc-spin")
    try:
        took = finish(f, signal.SIGTERM)
        assert took <= SIGNAL_EXIT_S, f"{took:.2f} s to exit after SIGTERM"
        assert_free(pid, "the command after fgtrace detached")
        spinning(pid, spin)
        checked_trace(out)
        send(f, "report")
        assert key_values(expect_line(f, "report"))["cont"] == 0
        send(f, "q")
        wait_for(lambda: gone_or_zombie(pid), 5, "the command to exit after 'q'")
    finally:
        kill_quietly(pid)


# ---- hostile data from the target -------------------------------------------------------

def read_names(p, word, n):
    """tid -> name bytes, from n lines "WORD TID HEX"."""
    out = {}
    for _ in range(n):
        w, tid, hexname = (expect_line(p, word).split() + [""])[:3]
        out[int(tid)] = bytes.fromhex(hexname)
    return out


def expected_text(raw):
    """What a valid JSON writer must show: UTF-8 kept, each maximal invalid
    subpart replaced by U+FFFD (Python's decoder follows the same rule)."""
    return raw.decode("utf-8", errors="replace")


def name_problems(got, want, label):
    out = []
    for tid, raw in want.items():
        exp = expected_text(raw)
        if got.get(tid) != exp:
            out.append(f"{label} {tid}: set {raw!r}, trace has {got.get(tid)!r}, "
                       f"expected {exp!r}")
    return out


def test_hostile_thread_and_process_names():
    p = start_target("names")
    n = int(p.ready_args[1])
    want = read_names(p, "name", n)
    f, out = attach(p.pid)
    # The names are read at attach; let the capture sample every thread.
    wait_for(lambda: out.exists() and out.stat().st_size > 0 and
             len(names_in(out)) >= n, 5, "every thread's name in the trace")
    finish(f)
    events = checked_trace(out)
    got = thread_names(events)
    problems = name_problems(got, {t: r for t, r in want.items() if t != p.pid}, "thread")
    procs = process_names(events)
    if procs[-1:] != [expected_text(want[p.pid])]:
        problems.append(f"process name: set {want[p.pid]!r}, trace has {procs}")
    assert not problems, "\n".join(problems)
    # Names with ')' and '(' did not derail the /proc parsers: every thread
    # shows the states a sleeping loop has.
    plausible = {"running", "sys_nanosleep", "sys_clock_nanosleep", "sys_read",
                 "sys_futex", "runnable"}
    for tid, raw in want.items():
        states = {s.name for s in thread_spans(events, tid) if s.cat == "state"}
        assert states and states <= plausible, \
            f"thread {tid} named {raw!r}: states {sorted(states)}"
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0


def names_in(out):
    return thread_names(trace_so_far(out))


def test_hostile_names_renamed_during_capture():
    p = start_target("names")
    n = int(p.ready_args[1])
    first = {t: r for t, r in read_names(p, "name", n).items() if t != p.pid}
    f, out = attach(p.pid)
    # A name the trace learns only after the rename has no rename to show.
    wait_for(lambda: not name_problems(names_in(out), first, "thread"), 10,
             "every thread's first name in the trace")
    send(p, "rename")
    want = read_names(p, "renamed", n)
    threads = {t: r for t, r in want.items() if t != p.pid}
    wait_for(lambda: not name_problems(names_in(out), threads, "thread"), 5,
             "every renamed thread's new name in the trace")
    finish(f)
    events = checked_trace(out)
    problems = name_problems(thread_names(events), threads, "thread")
    renames = [e for e in events if e.get("ph") == "i" and e.get("name") == "thread_rename"]
    assert not problems, "\n".join(problems)
    assert len(renames) >= len(threads), \
        f"{len(renames)} thread_rename events for {len(threads)} renamed threads"
    assert stop_target(p) == 0


def stacks(events, tid):
    """Every distinct stack (root first) a thread's B events build."""
    out, st = set(), []
    for e in events:
        if e.get("tid") != tid:
            continue
        if e.get("ph") == "B":
            st.append(e["name"])
            out.add(tuple(st))
        elif e.get("ph") == "E" and st:
            st.pop()
    return out


def badstack_capture():
    p = start_target("names_badstack")
    before = report(p)
    out = tmpdir() / "t.json"
    f = start_fgtrace(["-q", "-F", HZ, "-d", "1500ms", "-o", out, "-p", p.pid])
    rc = wait_exit(f, 20, "on a target with garbage stacks (-d 1500ms)")
    assert rc == 0, f"fgtrace exited {rc}: {stderr_of(f)}"
    after = report(p)
    stalled = [k for k in before if after[k] <= before[k] + 100]
    assert not stalled, f"threads made no progress during the capture: {stalled} " \
        f"({before} -> {after})"
    assert_free(p.pid, "after the capture")
    assert stop_target(p) == 0
    events = checked_trace(out)
    return events, {n: t for t, n in thread_names(events).items()}


# The real callers of each bad function, below the thread's state frame.
BAD_CALLERS = ("__clone3", "start_thread", "run")


def test_garbage_stacks_are_truncated_without_hanging():
    # Caught spinning, a thread is stopped with the garbage in its registers,
    # and its stack must end at once, [truncated]. Asleep, it is sampled from
    # /proc, which gives only its pc and sp: where the garbage was in rbp
    # alone, the frame pointer found on the stack gives its real callers,
    # and nothing else may be shown.
    events, tids = badstack_capture()
    problems = []
    for name, fn in (("bad-rbp", "bad_rbp_spin"), ("bad-loop", "bad_loop_spin"),
                     ("bad-pc", "bad_pc_spin"), ("bad-rsp", "bad_rsp_spin"),
                     ("bad-wrap", "bad_wrap_spin")):
        if name not in tids:
            problems.append(f"{name}: not in the trace")
            continue
        # Whole samples: stacks that reach the bad function.
        full = [s for s in stacks(events, tids[name]) if s[-1] == fn]
        if not full:
            problems.append(f"{name}: no stack ends in {fn}: "
                            f"{sorted(stacks(events, tids[name]))[:3]}")
        stopped = 0
        for s in full:
            if s[1:-1] == BAD_CALLERS:
                continue
            if len(s) < 2 or s[1] != "[truncated]" or len(s) > 8:
                problems.append(f"{name}: stack {' > '.join(s)} (expected state > "
                                f"[truncated] > at most a few frames > {fn}, or "
                                f"{' > '.join(BAD_CALLERS)} > {fn})")
            stopped += s[0] == "running"
        if full and not stopped:
            problems.append(f"{name}: never stopped while it spun with the garbage in "
                            f"its registers: {sorted(full)}")
    assert not problems, "\n".join(problems)


def test_unmapped_pc_stack_is_marked_truncated():
    # bad-jump faults at pc 0x1000 and its SIGSEGV handler runs: the
    # handler's stack leads through the signal frame to that pc, where
    # unwinding must stop. Those stacks lost their callers, so they must
    # say so with [truncated] rather than pass for whole stacks.
    events, tids = badstack_capture()
    assert "bad-jump" in tids, f"bad-jump not in the trace: {sorted(tids)}"
    through = [s for s in stacks(events, tids["bad-jump"]) if "on_segv" in s]
    if not through:
        raise Skip("no sample landed in the SIGSEGV handler this time")
    whole = [s for s in through if "[truncated]" not in s and "start_thread" not in s]
    assert not whole, "stacks through an unmapped pc shown as whole stacks:\n  " + \
        "\n  ".join(" > ".join(s) for s in sorted(whole)[:4])
