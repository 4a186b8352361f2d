"""A process with more threads than the usual limit on open files. fgtrace
keeps two /proc files open per thread, for the skip rule: it raises its own
soft limit to the hard one, gives a command it launches the old limit back,
and when even the hard limit is short it opens those files for each read
instead: the capture goes on, and no thread is stopped for lack of them."""
import resource

import tefcheck
from lib import (fgtrace_meta, figure, load_trace, run_fgtrace, start_target,
                 stop_target, thread_names, tmpdir)

THREADS = 300


def limit(soft, hard):
    """A preexec_fn that sets the limit on open files of the child."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def capture_idlers(soft, hard):
    idlers = start_target("idlers", [THREADS])
    try:
        d = tmpdir()
        rc, _, err = run_fgtrace(["-F", "19", "-d", "1s", "-p", idlers.pid,
                                  "-o", d / "t.json"],
                                 timeout=120, preexec_fn=limit(soft, hard))
        assert rc == 0, f"fgtrace under ulimit -n {soft}:{hard} exited {rc}: {err}"
        tefcheck.check(d / "t.json")
        events = load_trace(d / "t.json")
    finally:
        assert stop_target(idlers) == 0
    meta = fgtrace_meta(events)
    names = set(thread_names(events).values())
    missing = [f"idle-{k}" for k in range(THREADS) if f"idle-{k}" not in names]
    assert not missing, f"threads missing from the trace: {missing[:5]}..."
    # Every thread is sampled at every tick; only the first sample of a
    # thread that never runs needs a stop.
    assert meta["threads_seen"] == THREADS + 1, meta["threads_seen"]
    assert meta["stops"] <= meta["threads_seen"] + 2 * meta["ticks"], \
        f"{meta['stops']} stops in {meta['ticks']} ticks of {meta['threads_seen']} " \
        "threads that do not run: the skip rule did not hold"
    return meta, err


def test_soft_limit_is_raised_to_the_hard_one():
    meta, err = capture_idlers(128, 4096)
    figure(f"{THREADS} idle threads under ulimit -n 128:4096: {meta['stops']} stops, "
           f"{meta['stops_avoided']} avoided, {meta['threads_files_short']} threads "
           "short of files")
    assert meta["threads_files_short"] == 0, meta["threads_files_short"]
    assert "too few open files" not in err, err


def test_a_short_hard_limit_stops_no_more_threads():
    meta, err = capture_idlers(128, 128)
    # A limit this small leaves half to the threads: 64 files, 32 threads.
    short = meta["threads_seen"] - 32
    figure(f"{THREADS} idle threads under ulimit -n 128:128: {meta['stops']} stops, "
           f"{meta['stops_avoided']} avoided, {meta['threads_files_short']} threads "
           "short of files")
    assert meta["threads_files_short"] == short, \
        f"{meta['threads_files_short']} threads short of files, expected {short}"
    assert f"{short} threads had their /proc files opened at each tick" in err, err


def test_launched_command_gets_the_original_limit():
    d = tmpdir()
    rc, out, err = run_fgtrace(["-q", "-o", d / "t.json", "--", "sh", "-c",
                                "ulimit -Sn; ulimit -Hn"],
                               preexec_fn=limit(200, 4000))
    assert rc == 0, f"exit {rc}: {err}"
    assert out.split() == ["200", "4000"], \
        f"the command saw ulimit -n {out.split()}, fgtrace was given 200:4000"
