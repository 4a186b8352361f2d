"""A launched command that ends soon. Its memory and maps go with it, and the
worker, some way behind (it loads the first symbols meanwhile), could then
neither unwind nor name the samples it has still to do. So fgtrace holds the
command at its exit stop until the worker is done with them, and the timeline
still ends at the exit."""
import tefcheck
from lib import (fgtrace_meta, figure, load_trace, read_folded, run_fgtrace, samples_with,
                 target, tmpdir)

HZ = 999
SPIN_MS = 30


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
