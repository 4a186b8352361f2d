"""Thread states in the timeline: state frames against the program's own
truth, what a blocked thread waits on, --state-frames, lifecycle events."""
import os
import subprocess

import tefcheck
from lib import (FGTRACE, figure, fgtrace_meta, tracer_pid, wait_for, load_trace, read_folded,
                 read_truth, run_fgtrace, spans, read_line, start_fgtrace,
                 start_target, stop_target, target, thread_names, tmpdir, trace_so_far)

EXPECTED = {
    "busy_phase": ("running",),
    "sleep_phase": ("sys_clock_nanosleep", "sys_nanosleep"),
    "read_phase": ("sys_read",),
    "lock_phase": ("sys_futex",),
}


def capture(args, name="t.json", env=None):
    d = tmpdir()
    out = d / name
    e = dict(os.environ, **(env or {}))
    rc, _, err = run_fgtrace(["-q", "-o", out] + args, env=e)
    assert rc == 0, f"fgtrace {args} exited {rc}: {err}"
    tefcheck.check(out)
    return load_trace(out), d


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def check_states(hz):
    d = tmpdir()
    events, _ = capture(["-F", hz, "--", target("phases"), "400"],
                        env={"FGTRACE_TRUTH": str(d / "truth")})
    start = fgtrace_meta(events)["clock_monotonic_start_ns"]
    by_thread = spans(events)
    for phase, tid, t0, t1 in read_truth(d / "truth"):
        b, e = (t0 - start) / 1000, (t1 - start) / 1000
        states = [s for (p, t), ss in by_thread.items() if t == tid for s in ss
                  if s["cat"] == "state"]
        covered = sum(overlap(b, e, s["begin"], s["end"]) for s in states
                      if s["name"] in EXPECTED[phase])
        share = covered / (e - b)
        seen = sorted({s["name"] for s in states if overlap(b, e, s["begin"], s["end"]) > 0})
        assert share >= 0.8, (f"{hz} Hz: only {share:.0%} of {phase} lies under "
                              f"{EXPECTED[phase]}; states seen: {seen}")


def test_state_frames_match_truth_at_99hz():
    check_states(99)


def test_state_frames_match_truth_at_999hz():
    check_states(999)


def test_blocked_socket_read_names_the_socket_and_peer():
    p = start_target("sockwait")
    try:
        client_port, server_port = p.ready_args
        d = tmpdir()
        rc, _, err = run_fgtrace(["-q", "-p", p.pid, "-d", "400ms", "-o", d / "s.json"])
        assert rc == 0, err
        tefcheck.check(d / "s.json")
        events = load_trace(d / "s.json")
        names = thread_names(events)
        reader = [t for t, n in names.items() if n == "sock-reader"]
        assert reader, f"no sock-reader thread in {names}"
        st = [e for e in events if e.get("ph") == "B" and e.get("cat") == "state"
              and e["tid"] == reader[0]]
        assert st, "no state frame for the reader"
        args = st[-1].get("args", {})
        assert st[-1]["name"] in ("sys_recvfrom", "sys_read"), st[-1]
        assert args.get("target", "").startswith("socket:["), args
        assert args.get("peer") == f"127.0.0.1:{server_port}", args
        assert isinstance(args.get("fd"), int), args
    finally:
        p.stdin.write("go\n")
        p.stdin.close()
        assert p.wait(10) == 0


def test_futex_wait_names_the_address():
    events, _ = capture(["--", target("phases"), "150"])
    futex = [e for e in events if e.get("ph") == "B" and e.get("name") == "sys_futex"]
    assert futex and all(e["args"]["futex"].startswith("0x") for e in futex), futex[:2]


def capture_vforker(hold_ms, n=8):
    """A 1 s capture at 99 Hz, by attaching, of the vforker target: n threads
    that wait for their vfork child (state D) and one busy thread. Returns
    the folded samples (thread name first) and the metadata."""
    p = start_target("vforker", [n, hold_ms])
    try:
        d = tmpdir()
        rc, _, err = run_fgtrace(["-q", "-F", "99", "-d", "1s", "-p", p.pid,
                                  "-o", d / "v.json", "-o", d / "v.folded", "--per-thread"])
        assert rc == 0, f"fgtrace exited {rc}: {err}"
        tefcheck.check(d / "v.json")
        meta = fgtrace_meta(load_trace(d / "v.json"))
        folded = read_folded(d / "v.folded")
    finally:
        status = stop_target(p)
    said = p.stdout.read().strip()
    assert status == 0 and said.endswith("failures 0"), \
        f"vforker exited {status}: {said!r}"
    for k in range(n):
        in_vfork = sum(c for st, c in folded.items()
                       if st.startswith(f"vfork-{k};sys_vfork;"))
        assert in_vfork >= 0.9 * meta["ticks"], \
            (f"vfork-{k}: {in_vfork} samples in sys_vfork of {meta['ticks']} ticks; "
             f"its stacks: {[(st, c) for st, c in folded.items() if st.startswith(f'vfork-{k};')]}")
    busy = sum(c for st, c in folded.items() if st.startswith("busy;running;"))
    assert busy >= 0.9 * meta["ticks"], f"busy: {busy} samples of {meta['ticks']} ticks"
    return folded, meta


def long_stops(meta):
    """Stops that held their thread 16 ms or more, by the histogram."""
    return sum(n for k, n in meta["stop_held_us_histogram"].items()
               if k.startswith(">=") or (k[0].isdigit() and int(k.split("-")[0]) >= 16384))


def test_threads_in_uninterruptible_sleep_are_sampled_where_they_sleep():
    # Threads that were in state D before the attach and stay there: no
    # stop reaches them, so they are sampled from /proc, in sys_vfork, at
    # every tick, and the warm-up does not wait for them to wake.
    n = 8
    _, meta = capture_vforker(0, n)
    figure(f"{n} threads in D: {meta['blocked_samples']} samples taken blocked, "
           f"warm-up {meta['warmup_ns'] / 1e6:.0f} ms, {meta['stops']} stops, the "
           f"longest {meta['stop_held_ns_max'] / 1e3:.0f} us")
    assert meta["blocked_samples"] >= n, meta["blocked_samples"]
    assert meta["warmup_ns"] < 1_500_000_000, \
        f"the warm-up took {meta['warmup_ns'] / 1e6:.0f} ms: it waited for threads in D"
    assert meta["ticks_late"] <= 2, meta["ticks_late"]


def test_threads_going_in_and_out_of_uninterruptible_sleep_are_not_held():
    # Each vfork parent sleeps in D for 250 ms at a time, then runs. A stop
    # asked for while it sleeps would hold it until it wakes (and count that
    # sleep as held), and hold back the stops of the other threads meanwhile.
    n = 8
    _, meta = capture_vforker(250, n)
    slow = long_stops(meta)
    figure(f"{n} threads in and out of D: {meta['blocked_samples']} samples taken "
           f"blocked, {meta['stops']} stops, {slow} held 16 ms or more, the longest "
           f"{meta['stop_held_ns_max'] / 1e3:.0f} us")
    assert slow <= max(2, meta["stops"] // 50), \
        f"{slow} of {meta['stops']} stops held 16 ms or more"
    assert meta["ticks_late"] <= 2, meta["ticks_late"]


def stacks_at_begin(events):
    """Per thread, the depth of each B event: state frame depth tells where it is."""
    depth, out = {}, []
    for e in events:
        key = e.get("tid")
        if e.get("ph") == "B":
            out.append((e, depth.get(key, 0)))
            depth[key] = depth.get(key, 0) + 1
        elif e.get("ph") == "E":
            depth[key] -= 1
    return out


def test_state_frames_leaf_and_none():
    events, _ = capture(["--state-frames=leaf", "--", target("phases"), "150"])
    by_thread = spans(events)
    for key, ss in by_thread.items():
        for s in ss:
            if s["cat"] != "state":
                continue
            inner = [x for x in ss if x["depth"] > s["depth"] and x["begin"] >= s["begin"]
                     and x["end"] <= s["end"] and x["end"] > x["begin"]]
            assert not inner, f"leaf state {s['name']} has frames under it: {inner[:2]}"
    assert any(s["cat"] == "state" for ss in by_thread.values() for s in ss)
    events, _ = capture(["--state-frames=none", "--", target("phases"), "150"])
    assert not [e for e in events if e.get("cat") == "state"], "state frames with none"
    events, _ = capture(["--", target("phases"), "150"])
    roots = [s for ss in spans(events).values() for s in ss if s["depth"] == 0]
    assert roots and all(s["cat"] == "state" for s in roots), \
        {s["name"] for s in roots if s["cat"] != "state"}


def test_thread_start_rename_exit():
    p = start_target("lifecycle")
    d = tmpdir()
    f = start_fgtrace(["-q", "-F", "499", "-p", p.pid, "-d", "10s", "-o", d / "l.json"])
    try:
        # fgtrace is attached once the target's threads are traced.
        wait_for(lambda: tracer_pid(p.pid) == f.pid, 5, "fgtrace to attach")
        p.stdin.write("go\n")
        p.stdin.flush()
        assert read_line(p).strip() == "born"
        # The rename must come after the trace has the first name: a name
        # first read after it has no rename to show.
        wait_for(lambda: "born" in thread_names(trace_so_far(d / "l.json")).values(), 10,
                 "the thread's first name in the trace")
        p.stdin.write("rename\n")
        p.stdin.flush()
        assert p.wait(10) == 0
    finally:
        f.wait(30)
    assert f.returncode == 0, f.stderr.read()
    tefcheck.check(d / "l.json")
    events = load_trace(d / "l.json")
    inst = [e for e in events if e.get("ph") == "i"]
    born = [e["tid"] for e in inst if e["name"] == "thread_start"]
    assert born, f"no thread_start instant: {[e['name'] for e in inst]}"
    tid = born[0]
    kinds = [e["name"] for e in inst if e["tid"] == tid]
    assert "thread_exit" in kinds, kinds
    renames = [e for e in inst if e["tid"] == tid and e["name"] == "thread_rename"]
    assert renames and renames[-1]["args"]["name"] == "renamed", renames
    assert thread_names(events)[tid] == "renamed"
    counters = [e for e in events if e.get("ph") == "C" and e["name"] == "running threads"]
    assert counters and max(c["args"]["running"] for c in counters) >= 1


def test_exec_shows_the_new_program():
    d = tmpdir()
    out = d / "x.json"
    p = subprocess.run([str(FGTRACE), "-q", "-o", str(out), "--",
                        target("lifecycle"), "exec", target("phases"), "150"],
                       input="go\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    tefcheck.check(out)
    events = load_trace(out)
    names = {e["name"] for e in events if e.get("ph") == "B"}
    assert "before_exec" in names and "busy_inner" in names, sorted(names)[:40]
    procs = [e["args"]["name"] for e in events if e.get("name") == "process_name"]
    assert procs[-1] == "phases", procs
    assert any(e.get("ph") == "i" and e["name"] == "exec" for e in events)
    # Frames of the new image come after the exec, on the new process name.
    exec_ts = [e["ts"] for e in events if e.get("ph") == "i" and e["name"] == "exec"][0]
    old = [e["ts"] for e in events if e.get("ph") == "B" and e["name"] == "before_exec"]
    new = [e["ts"] for e in events if e.get("ph") == "B" and e["name"] == "busy_inner"]
    assert max(old) <= exec_ts <= min(new), (old, exec_ts, new)


def test_main_thread_sorts_first():
    events, _ = capture(["--", target("phases"), "100"])
    idx = {e["tid"]: e["args"]["sort_index"] for e in events
           if e.get("name") == "thread_sort_index"}
    pid = events[0]["pid"]
    assert idx.get(pid) == 0 and all(v > 0 for t, v in idx.items() if t != pid), idx
