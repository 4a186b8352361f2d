"""A launched command that ends soon. Its memory and maps go with it, and the
worker, some way behind (it loads the first symbols meanwhile), could then
neither unwind nor name the samples it has still to do. So fgtrace holds the
command at its exit stop until the worker is done with them, and the timeline
still ends at the exit."""
import os
import signal
import socket
import subprocess
import threading

import tefcheck
from lib import (fgtrace_meta, figure, load_trace, proc_state, read_folded, run_fgtrace,
                 samples_with, start_fgtrace, target, tmpdir, wait_for)

HZ = 999
SPIN_MS = 30
SYS_EXIT_GROUP = 231  # x86-64


def capture(args):
    d = tmpdir()
    rc, _, err = run_fgtrace(["-F", HZ, "-o", d / "t.json", "-o", d / "t.folded",
                              "--", target("shortlived")] + [str(a) for a in args])
    tefcheck.check(d / "t.json")
    return rc, err, load_trace(d / "t.json"), read_folded(d / "t.folded")


def check_short_command(args, status):
    rc, err, events, folded = capture(args)
    assert rc == status, f"fgtrace -- shortlived {args} exited {rc}, not {status}: {err}"
    meta = fgtrace_meta(events)
    total, work = sum(folded.values()), samples_with(folded, "short_work")
    unknown = samples_with(folded, "[unknown]")
    figure(f"shortlived {' '.join(map(str, args))}: {work} of {total} samples in "
           f"short_work, {unknown} [unknown]; held at its exit "
           f"{meta['exit_held_ns'] / 1e6:.1f} ms")
    # About one sample a millisecond while it spins: most of them must be
    # unwound and named, although the process is gone by the time fgtrace
    # writes the output. Without the hold: none of them in the group case.
    assert work >= SPIN_MS * 0.6, \
        f"{work} samples under short_work for {SPIN_MS} ms at {HZ} Hz: {folded}"
    assert unknown <= 2, f"{unknown} samples with an [unknown] frame: {folded}"
    assert meta["exit_held_ns"] > 0, "the command was not held at its exit"
    if meta["exit_held_ns"] >= 1e6:
        held = f"held {meta['exit_held_ns'] / 1e6:.0f} ms at its exit"
        assert held in err, f"the summary does not say {held!r}: {err!r}"
    # The timeline ends at the exit, not when fgtrace let the command go.
    exits = [e["ts"] for e in events
             if e.get("name") == "thread_exit" and e.get("tid") == e.get("pid")]
    assert exits, "no thread_exit event for the leader"
    end_us = meta["duration_ns"] / 1000
    assert abs(end_us - exits[-1]) <= 2000, \
        f"the capture ends at {end_us:.0f} us, the leader exits at {exits[-1]:.0f} us " \
        f"(held {meta['exit_held_ns'] / 1e6:.1f} ms)"


def test_short_command_is_unwound_and_named():
    check_short_command([SPIN_MS], 0)


def test_exit_group_from_another_thread_holds_the_leader():
    """The leader waits in pthread_join; another thread calls exit(3). The
    leader reaches its exit stop from the kill that exit_group sends it."""
    check_short_command([SPIN_MS, "group"], 3)


# ---- a worker that does not catch up -----------------------------------------

class SilentServer:
    """A TCP server on 127.0.0.1 that accepts and never answers: a debuginfod
    that hangs. libdw's client waits for it, and the worker with it, for
    DEBUGINFOD_TIMEOUT seconds at each module."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            while True:
                self.conns.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def stalled_worker(d):
    """A stripped copy of shortlived, and an environment in which the
    worker waits for a silent debuginfod when it first names it."""
    exe = d / "shortlived"
    p = subprocess.run(["objcopy", "--strip-all", target("shortlived"), exe],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"objcopy failed: {p.stderr}"
    server = SilentServer()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEBUGINFOD_") and "proxy" not in k.lower()}
    env.update(DEBUGINFOD_URLS=server.url, DEBUGINFOD_CACHE_PATH=str(d / "cache"),
               DEBUGINFOD_TIMEOUT="2")
    return exe, server, env


def test_hold_is_bounded_when_the_worker_does_not_catch_up():
    d = tmpdir()
    exe, server, env = stalled_worker(d)
    try:
        rc, _, err = run_fgtrace(["-q", "-F", HZ, "-o", d / "t.json", "--", exe, SPIN_MS],
                                 env=env, timeout=120)
    finally:
        server.close()
    assert rc == 0, f"fgtrace -- shortlived {SPIN_MS} exited {rc}: {err}"
    meta = fgtrace_meta(load_trace(d / "t.json"))
    figure(f"worker stalled on a silent debuginfod: held {meta['exit_held_ns'] / 1e6:.0f} ms")
    assert 1.9e9 <= meta["exit_held_ns"] <= 2.5e9, \
        f"held {meta['exit_held_ns'] / 1e6:.0f} ms at the exit, not the 2 s bound"


def children_of(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def at_exit_stop(pid):
    """True when pid is stopped by its tracer in exit_group."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            call = f.read().split()
        return proc_state(pid) == "t" and call[:1] == [str(SYS_EXIT_GROUP)]
    except (OSError, ValueError):
        return False


def gone_or_zombie(pid):
    try:
        return proc_state(pid) in ("Z", "X")
    except OSError:
        return True


def test_sigterm_during_the_hold_lets_the_command_end():
    d = tmpdir()
    exe, server, env = stalled_worker(d)
    f = start_fgtrace(["-q", "-F", HZ, "-o", d / "t.json", "--", exe, SPIN_MS], env=env)
    try:
        wait_for(lambda: children_of(f.pid), 10, "fgtrace to start the command")
        pid = children_of(f.pid)[0]
        wait_for(lambda: at_exit_stop(pid), 10, "the command to be held at its exit")
        f.send_signal(signal.SIGTERM)
        # Let go at once, not at the end of the hold's 2 s.
        wait_for(lambda: gone_or_zombie(pid), 1, "the held command to end after SIGTERM")
        f.wait(60)
    finally:
        server.close()
        if f.poll() is None:
            f.kill()
            f.wait()
