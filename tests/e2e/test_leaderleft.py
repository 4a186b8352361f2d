"""A process whose leader exited alone (pthread_exit) while its other threads
run on. The leader stays a zombie, with no memory, empty maps and no files,
until the process ends, and the kernel refuses to trace it: fgtrace attaches
to the threads that run and reads the process through them. Launched, the
leader's exit is not the command's end."""
import os

import tefcheck
from lib import (fgtrace_meta, figure, load_trace, proc_state, read_folded, run_fgtrace,
                 samples_with, start_fgtrace, start_target, target, tmpdir, tracer_pid,
                 wait_for, wait_on_timeline)

HZ = 999


def check_leader_left(events, folded, spin):
    """The other thread spun for spin ms in short_work, called by
    last_thread: its stacks must be whole and named."""
    meta = fgtrace_meta(events)
    total, work = sum(folded.values()), samples_with(folded, "short_work")
    whole = samples_with(folded, "last_thread")
    unknown = samples_with(folded, "[unknown]")
    figure(f"leader left: {work} of {total} samples in short_work, {whole} with "
           f"last_thread above it, {unknown} [unknown], {meta['late']} thread-ticks late")
    assert work >= spin * 0.6, f"{work} samples under short_work in {spin} ms: {folded}"
    assert whole >= work * 0.9, f"only {whole} of {work} stacks reach last_thread: {folded}"
    assert unknown <= 2, f"{unknown} samples with an [unknown] frame: {folded}"
    # A zombie leader never stops: waited for, it would be late at every tick.
    assert meta["late"] <= meta["ticks"] // 10, \
        f"{meta['late']} thread-ticks waiting for a stop in {meta['ticks']} ticks: " \
        "the zombie leader was waited for"
    assert meta["duration_ns"] >= spin * 0.9e6, \
        f"the capture lasted {meta['duration_ns'] / 1e6:.0f} ms of the {spin} ms spin"


def test_attach_to_a_process_whose_leader_left():
    spin = 300
    p = start_target("shortlived", [spin, "attach"])
    try:
        wait_for(lambda: proc_state(p.pid) == "Z", 5, "the leader to exit")
        tid = max(int(t) for t in os.listdir(f"/proc/{p.pid}/task"))
        d = tmpdir()
        f = start_fgtrace(["-q", "-F", HZ, "-p", p.pid, "-d", "10s",
                           "-o", d / "t.json", "-o", d / "t.folded"])
        wait_for(lambda: tracer_pid(p.pid, tid) == f.pid, 5, "fgtrace to attach")
        # Samples of the warm-up round are not on the timeline: spin after it.
        wait_on_timeline(d / "t.json", tid)
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.wait(10) == 0
        _, err = f.communicate(timeout=30)
        assert f.returncode == 0, f"fgtrace -p (leader a zombie) exited {f.returncode}: {err}"
    finally:
        if p.poll() is None:
            p.kill()
    tefcheck.check(d / "t.json")
    events = load_trace(d / "t.json")
    check_leader_left(events, read_folded(d / "t.folded"), spin)


def test_launched_command_goes_on_after_its_leader_left():
    """The timeline goes on in the other thread, the leader's exit is dated
    when it left, and the zombie leader is not waited for at ticks."""
    spin = 300
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-F", HZ, "-o", d / "t.json", "-o", d / "t.folded",
                              "--", target("shortlived"), spin, "leaderexit"])
    assert rc == 0, f"fgtrace -- shortlived {spin} leaderexit exited {rc}: {err}"
    tefcheck.check(d / "t.json")
    events = load_trace(d / "t.json")
    check_leader_left(events, read_folded(d / "t.folded"), spin)
    exits = {e["tid"]: e["ts"] for e in events if e.get("name") == "thread_exit"}
    pid = fgtrace_meta(events)["pid"]
    assert exits.get(pid, 1e12) < 100_000, \
        f"the leader's exit is dated {exits.get(pid)} us, not when it left"
