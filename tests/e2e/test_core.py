"""End-to-end tests of the core capture: the timeline against a program's own
truth, attaching and leaving a target running, exit statuses, usage errors,
passthrough of the command's stdio, and the output options."""
import os
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import tefcheck
from lib import (FGTRACE, fgtrace_meta, free_pid, load_trace, ns_to_trace_us, proc_state,
                 process_names, read_truth, run_fgtrace, start_target, stop_target,
                 run_count, target, thread_cpu_ns, thread_ids, thread_names, thread_spans,
                 tmpdir, untraced_problems, usage_problem, wait_for)

PHASES = ["busy_phase", "sleep_phase", "read_phase", "lock_phase"]
NESTED = ["busy_phase", "busy_outer", "busy_middle", "busy_inner"]
PHASE_MS = 400


def capture(args, name="t.json", env=None, timeout=60):
    """fgtrace -q -o DIR/name ARGS, which must succeed and write a trace that
    passes the checker. Returns (events, DIR)."""
    d = tmpdir()
    out = d / name
    rc, _, err = run_fgtrace(["-q", "-o", out] + list(args), timeout=timeout,
                             env=dict(os.environ, **(env or {})))
    assert rc == 0, f"fgtrace {args} exited {rc}, expected 0; stderr: {err.strip()!r}"
    tefcheck.check(out)
    return load_trace(out), d


def capture_phases(hz):
    """The phases target under fgtrace at hz: (events, truth, worker tid)."""
    truth_file = tmpdir() / "truth"
    events, _ = capture(["-F", hz, "--", target("phases"), PHASE_MS],
                        env={"FGTRACE_TRUTH": str(truth_file)})
    truth = read_truth(truth_file)
    phases = [p for p, _, _, _ in truth]
    assert phases == PHASES, f"the target recorded phases {phases}, expected {PHASES}"
    tids = {tid for _, tid, _, _ in truth}
    assert len(tids) == 1, f"phases ran on threads {tids}, expected one worker"
    return events, truth, tids.pop()


def covered(spans, lo, hi):
    """µs of [lo, hi] that the spans cover (they do not overlap: one name)."""
    return sum(max(0.0, min(hi, s.end) - max(lo, s.begin)) for s in spans)


def stack_at(spans, t):
    """The thread's stack at t µs, root first, as "a > b > c"."""
    on = sorted((s for s in spans if s.begin <= t <= s.end), key=lambda s: s.depth)
    return " > ".join(s.name for s in on) or "(nothing)"


def check_phases(hz):
    events, truth, worker = capture_phases(hz)
    meta = fgtrace_meta(events)
    assert meta.get("hz") == hz, f"metadata says hz {meta.get('hz')}, expected {hz}"
    period_ms = 1000 / hz
    ss = thread_spans(events, worker)
    roots = [s for s in ss if s.depth == 0]
    problems = []
    for phase, _, t0, t1 in truth:
        true_b, true_e = ns_to_trace_us(t0, meta) / 1000, ns_to_trace_us(t1, meta) / 1000
        tol = 2 * period_ms + 0.10 * (true_e - true_b)
        # Samples lost while fgtrace's worker was behind (it drops them
        # rather than make the target wait) leave the thread unshown: a gap
        # may cut a phase short or split it, never show another in its place.
        gap = true_e - true_b - covered(roots, true_b * 1000, true_e * 1000) / 1000
        found = [s for s in ss if s.name == phase]
        if not found:
            mid = (true_b + true_e) / 2
            problems.append(f"{phase}: no span on the worker thread {worker} (truth "
                            f"{true_b:.1f}..{true_e:.1f} ms); its stack at {mid:.1f} ms: "
                            f"{stack_at(ss, mid * 1000)}")
            continue
        # Take the union: a sample that failed to unwind may split a span.
        b = min(s.begin for s in found) / 1000
        e = max(s.end for s in found) / 1000
        cover = covered(found, true_b * 1000, true_e * 1000) / 1000
        if b < true_b - tol or b > true_b + tol + gap or e > true_e + tol or \
                e < true_e - tol - gap or cover < true_e - true_b - tol - gap:
            problems.append(
                f"{phase}: trace {b:.1f}..{e:.1f} ms in {len(found)} span(s) covering "
                f"{cover:.1f} ms; truth {true_b:.1f}..{true_e:.1f} ms; begin off by "
                f"{b - true_b:+.1f} ms, end by {e - true_e:+.1f} ms; tolerance {tol:.1f} ms, "
                f"{gap:.1f} ms not shown ({meta['dropped']} samples dropped)")
    assert not problems, f"at {hz} Hz, phase spans do not match the truth:\n  " + \
        "\n  ".join(problems)


def test_phases_match_truth_at_99hz():
    check_phases(99)


def test_phases_match_truth_at_999hz():
    check_phases(999)


def test_nested_functions_nest():
    events, truth, worker = capture_phases(999)
    ss = thread_spans(events, worker)
    found = {n: [s for s in ss if s.name == n] for n in NESTED}
    missing = [n for n in NESTED if not found[n]]
    assert not missing, f"no span for {missing} on the worker thread {worker}"
    for outer, inner in zip(NESTED, NESTED[1:]):
        for s in found[inner]:
            parents = [p for p in found[outer] if p.begin <= s.begin and s.end <= p.end]
            assert parents, (f"{inner} at {s.begin:.0f}..{s.end:.0f} us lies in no "
                             f"{outer} span: {[(p.begin, p.end) for p in found[outer]]}")
            depths = {p.depth for p in parents}
            assert s.depth - 1 in depths, (f"{inner} at depth {s.depth} is not directly "
                                           f"under {outer} (depths {sorted(depths)})")
    # The spin happens in busy_inner: it must cover the busy phase, where
    # the thread is shown (see check_phases on gaps).
    meta = fgtrace_meta(events)
    _, _, t0, t1 = truth[0]
    lo, hi = ns_to_trace_us(t0, meta), ns_to_trace_us(t1, meta)
    shown = covered([s for s in ss if s.depth == 0], lo, hi)
    share = covered(found["busy_inner"], lo, hi) / max(1.0, shown)
    assert shown >= 0.5 * (hi - lo), \
        f"the thread is shown for {shown / 1000:.1f} of the busy phase's {(hi - lo) / 1000:.1f} ms"
    assert share >= 0.9, f"busy_inner covers {share:.0%} of busy_phase, expected >= 90%"


def test_blocked_main_thread_stays_on_the_timeline():
    # The main thread waits in pthread_join through every phase: a thread that
    # does not run keeps its stack, and its spans last until it exits.
    events, truth, _ = capture_phases(999)
    meta = fgtrace_meta(events)
    pid = meta["pid"] if "pid" in meta else events[0]["pid"]
    lo, hi = ns_to_trace_us(truth[0][2], meta), ns_to_trace_us(truth[-1][3], meta)
    ss = thread_spans(events, pid)
    mains = [s for s in ss if s.name == "main"]
    assert mains, f"no main span on the main thread {pid}; its stack in the middle of " \
        f"its wait: {stack_at(ss, (lo + hi) / 2)}"
    b, e = min(s.begin for s in mains) / 1000, max(s.end for s in mains) / 1000
    cover = covered(mains, lo, hi) / 1000
    # Where it is shown (see check_phases on gaps).
    want = covered([s for s in ss if s.depth == 0], lo, hi) / 1000
    assert want >= 0.5 * (hi - lo) / 1000, \
        f"the main thread is shown for {want:.1f} of the {(hi - lo) / 1000:.1f} ms it waited"
    assert cover >= 0.95 * want, (
        f"main spans {b:.1f}..{e:.1f} ms in {len(mains)} span(s) cover {cover:.1f} ms of the "
        f"{want:.1f} ms the main thread is shown waiting in pthread_join ({lo / 1000:.1f}.."
        f"{hi / 1000:.1f} ms); expected >= 95%. Its stack in the middle of the wait: "
        f"{stack_at(ss, (lo + hi) / 2)}")


def test_thread_names():
    events, _, worker = capture_phases(99)
    names = thread_names(events)
    seen = sorted(set(names.values()))
    assert {"worker", "helper"} <= set(names.values()), \
        f"thread_name metadata {seen}, expected worker and helper among them"
    assert names.get(worker) == "worker", \
        f"thread {worker} ran the phases but is named {names.get(worker)!r}, not 'worker'"
    procs = process_names(events)
    assert procs and procs[-1] == "phases", f"process_name metadata {procs}, expected phases"


def thread_named(pid):
    """tid -> comm of each thread of pid."""
    out = {}
    for tid in thread_ids(pid):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            out[tid] = f.read().strip()
    return out


def test_attach_for_one_second_leaves_target_running():
    p = start_target("spinner", ["4"])
    try:
        d = tmpdir()
        t0 = time.monotonic()
        rc, _, err = run_fgtrace(["-p", p.pid, "-d", "1s", "-o", d / "a.json"], timeout=30)
        took = time.monotonic() - t0
        assert rc == 0, f"fgtrace -p {p.pid} -d 1s exited {rc}, expected 0: {err.strip()}"
        found = untraced_problems(p.pid)
        assert not found, f"right after fgtrace exited: {'; '.join(found)}"
        assert 0.9 <= took <= 5, f"-d 1s took {took:.2f} s of wall time, expected 0.9..5"

        # Give every thread a moment and see it use it: spinners burn CPU,
        # sleepers wake from their nanosleeps.
        names = thread_named(p.pid)
        spinners = [t for t, n in names.items() if n in ("spin-0", "spin-2")]
        sleepers = [t for t, n in names.items() if n in ("spin-1", "spin-3")]
        assert len(spinners) == 2 and len(sleepers) == 2, f"spinner threads: {names}"
        cpu = {t: thread_cpu_ns(p.pid, t) for t in spinners}
        runs = {t: run_count(p.pid, t) for t in sleepers}
        wait_for(lambda: all(thread_cpu_ns(p.pid, t) >= cpu[t] + 20_000_000 for t in spinners)
                 and all(run_count(p.pid, t) >= runs[t] + 2 for t in sleepers), 10,
                 "every spinner thread to run again after the capture")
        found = untraced_problems(p.pid)
        assert not found, f"after the target ran on: {'; '.join(found)}"

        tefcheck.check(d / "a.json")
        events = load_trace(d / "a.json")
        pids = {e["pid"] for e in events}
        assert pids == {p.pid}, f"trace pids {sorted(pids)}, expected only {p.pid}"
        sampled = {e["tid"] for e in events if e.get("ph") == "B" and e["pid"] == p.pid}
        assert set(names) <= sampled, \
            f"threads {sorted(names)} of the target, only {sorted(sampled)} sampled"
        for tids, fn in ((spinners, "spin_loop"), (sleepers, "idle_wait")):
            for t in tids:
                got = {s.name for s in thread_spans(events, t)}
                assert fn in got, f"thread {names[t]} ({t}) has no {fn} span: {sorted(got)}"
        traced_names = set(thread_names(events).values())
        assert set(names.values()) <= traced_names, \
            f"thread names {sorted(names.values())}, trace has {sorted(traced_names)}"
    finally:
        rc = stop_target(p)
    assert rc == 0, f"spinner exited {rc} after 'q', expected 0"


def status_of(args, **kw):
    """fgtrace -q -o DIR/x.json -- ARGS: (exit status, stderr). A trace it
    leaves behind must pass the checker."""
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-o", d / "x.json", "--"] + list(args), **kw)
    if (d / "x.json").exists():
        tefcheck.check(d / "x.json")
    return rc, err


def expect_status(args, want):
    rc, err = status_of(args)
    assert rc == want, f"fgtrace -- {' '.join(map(str, args))}: exit {rc}, expected " \
        f"{want}; stderr {err.strip()!r}"
    return err


def test_exit_status_is_passed_through():
    for n in (0, 3, 255):
        expect_status([target("exitcode"), n], n)


def test_killed_command_gives_128_plus_signal():
    expect_status([target("exitcode"), "-s", "15"], 143)
    expect_status([target("exitcode"), "-s", "9"], 137)


def test_missing_command_gives_127():
    err = expect_status(["no-such-command-fgtrace-test"], 127)
    assert "no-such-command-fgtrace-test" in err, f"stderr does not name the command: {err!r}"


def test_not_executable_gives_126():
    f = tmpdir() / "plain.txt"
    f.write_text("not a program\n")
    expect_status([f], 126)


def test_nonexistent_pid_gives_1():
    pid = free_pid()
    rc, _, err = run_fgtrace(["-q", "-p", pid, "-o", tmpdir() / "x.json"])
    assert rc == 1, f"-p {pid} (no such pid): exit {rc}, expected 1; stderr {err!r}"
    assert str(pid) in err and "no such process" in err.lower(), \
        f"-p {pid}: expected the pid and 'no such process' in stderr, got {err!r}"


def test_zombie_pid_gives_1_and_says_it_exited():
    # A process that has exited and waits for its parent to reap it: the
    # kernel refuses to trace it, which is no matter of permissions.
    child = subprocess.Popen(["true"])
    try:
        wait_for(lambda: proc_state(child.pid) == "Z", 5, "the child to exit")
        rc, _, err = run_fgtrace(["-q", "-p", child.pid, "-o", tmpdir() / "x.json"])
    finally:
        child.wait()
    assert rc == 1, f"-p {child.pid} (a zombie): exit {rc}, expected 1; stderr {err!r}"
    assert str(child.pid) in err and "exited" in err and "root" not in err, \
        f"-p {child.pid} (a zombie): expected the pid and 'exited', got {err!r}"


CMD = ["--", "true"]
# Each bad command line, with the word its message must name. All else on the
# line is valid, so the bad value alone makes the usage invalid.
BAD = [
    (["-F", "0"] + CMD, "hz"), (["-F", "10001"] + CMD, "hz"), (["-F", "abc"] + CMD, "hz"),
    (["-F", ""] + CMD, "hz"), (["-F", "99x"] + CMD, "hz"), (["-F"], "-F"),
    (["-d", "0"] + CMD, "duration"), (["-d", "-1s"] + CMD, "duration"),
    (["-d", "5x"] + CMD, "duration"), (["-d", ""] + CMD, "duration"),
    (["-d", "1..5s"] + CMD, "duration"), (["-d", "721h"] + CMD, "duration"),
    (["-p", "0"], "pid"), (["-p", "abc"], "pid"), (["-p", "-5"], "pid"),
    (["--stack-bytes", "1"] + CMD, "stack-bytes"),
    (["--stack-bytes", "2G"] + CMD, "stack-bytes"), (["--format", "xml"] + CMD, "format"),
    (["--state-frames", "top"] + CMD, "state-frames"),
    (["--demangle", "x"] + CMD, "demangle"), (["-o", ""] + CMD, "output"),
    (["--bogus"] + CMD, "--bogus"), (["-Z"] + CMD, "-Z"),
]


def test_invalid_values_give_2_with_one_line():
    problems = [p for p in (usage_problem(args, word) for args, word in BAD) if p]
    assert not problems, f"{len(problems)} of {len(BAD)} bad command lines not refused " \
        "properly:\n  " + "\n  ".join(problems)


def test_no_target_or_both_give_2():
    cases = [[], ["-q"], ["-d", "1s"], ["true"], ["-p", os.getpid(), "--", "true"],
             ["-p", os.getpid(), "true"]]
    problems = [p for p in map(usage_problem, cases) if p]
    assert not problems, "\n  ".join(["usage not refused properly:"] + problems)


def test_stdin_stdout_stderr_pass_through():
    d = tmpdir()
    text = "hello fgtrace\nsecond line \u00e9\n"
    for flag, stream in (("-e", "stdout"), ("-E", "stderr")):
        out = d / f"x{flag}.json"
        p = subprocess.run([str(FGTRACE), "-q", "-o", str(out), "--", target("exitcode"),
                            flag], input=text, capture_output=True, text=True, timeout=30)
        got = p.stdout if stream == "stdout" else p.stderr
        assert p.returncode == 0 and got == text, \
            f"exitcode {flag} under fgtrace: exit {p.returncode}, {stream} {got!r}, " \
            f"expected exit 0 and {stream} {text!r} (stderr {p.stderr!r})"
        tefcheck.check(out)


def test_output_to_stdout():
    p = subprocess.run([str(FGTRACE), "-q", "-o", "-", "--", target("exitcode"), "0"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, f"-o - exited {p.returncode}: {p.stderr!r}"
    assert p.stderr == b"", f"-q -o - printed on stderr: {p.stderr!r}"
    tefcheck.check_bytes(p.stdout, label="the trace written to stdout")
    d = tmpdir()
    (d / "out.json").write_bytes(p.stdout)
    events = load_trace(d / "out.json")
    pids = {e["pid"] for e in events}
    procs = process_names(events)
    assert len(pids) == 1 and procs and procs[-1] == "exitcode", \
        f"trace on stdout: pids {sorted(pids)}, process_name {procs}; expected one pid " \
        "named exitcode"


def test_gzip_output():
    events, d = capture(["--", target("phases"), "100"], name="t.json.gz")
    with open(d / "t.json.gz", "rb") as f:
        magic = f.read(2)
    assert magic == b"\x1f\x8b", f"t.json.gz starts with {magic!r}, not the gzip magic"
    names = {e.get("name") for e in events if e.get("ph") == "B"}
    assert "busy_inner" in names, f"no busy_inner span in the .gz trace: {sorted(names)}"


def expanded_time_ok(stamp, t0, t1):
    """stamp (YYYYmmdd-HHMMSS) is a time between t0 and t1, local or UTC."""
    when = datetime.strptime(stamp, "%Y%m%d-%H%M%S")
    slack = timedelta(seconds=2)
    for tz in (None, timezone.utc):
        lo = datetime.fromtimestamp(t0, tz).replace(tzinfo=None, microsecond=0) - slack
        hi = datetime.fromtimestamp(t1, tz).replace(tzinfo=None) + slack
        if lo <= when <= hi:
            return True
    return False


def test_pid_and_time_in_output_name():
    d = tmpdir()
    p = start_target("spinner", ["2"])
    try:
        t0 = time.time()
        rc, _, err = run_fgtrace(["-q", "-p", p.pid, "-d", "300ms", "-o", d / "c-%p-%t.json"])
        t1 = time.time()
        assert rc == 0, f"fgtrace exited {rc}: {err.strip()}"
    finally:
        stop_target(p)
    names = os.listdir(d)
    m = [re.fullmatch(rf"c-{p.pid}-(\d{{8}}-\d{{6}})\.json", n) for n in names]
    assert len(names) == 1 and m[0], \
        f"-o c-%p-%t.json with pid {p.pid} wrote {names}, expected c-{p.pid}-YYYYmmdd-HHMMSS.json"
    assert expanded_time_ok(m[0].group(1), t0, t1), \
        f"%t became {m[0].group(1)}, not a time during the capture ({time.ctime(t0)})"
    tefcheck.check(d / names[0])
    # Launch mode: %p is the launched command's pid.
    d2 = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-o", d2 / "l-%p.json", "--", target("exitcode"), "0"])
    assert rc == 0, f"fgtrace -o l-%p.json -- exitcode 0 exited {rc}: {err.strip()}"
    files = os.listdir(d2)
    assert len(files) == 1, f"-o l-%p.json wrote {files}, expected one file"
    tefcheck.check(d2 / files[0])
    pids = {e["pid"] for e in load_trace(d2 / files[0])}
    assert files == [f"l-{pid}.json" for pid in pids], \
        f"-o l-%p.json wrote {files}; the trace's pids are {sorted(pids)}"


def test_quiet_prints_nothing():
    d = tmpdir()
    for args in (["--", target("exitcode"), "0"], ["--", target("phases"), "100"]):
        rc, out, err = run_fgtrace(["-q", "-o", d / "q.json"] + args)
        assert rc == 0 and err == "" and out == "", \
            f"-q {args}: exit {rc}, stdout {out!r}, stderr {err!r}; expected 0 and nothing"
        tefcheck.check(d / "q.json")


def test_summary_without_quiet():
    d = tmpdir()
    rc, out, err = run_fgtrace(["-o", d / "s.json", "--", target("phases"), "100"])
    assert rc == 0, f"exit {rc}: {err}"
    assert out == "", f"the summary went to stdout: {out!r}"
    tefcheck.check(d / "s.json")
    for word in ("samples", "threads", "missed", str(d / "s.json"), "ui.perfetto.dev"):
        assert word in err, f"the summary does not mention {word!r}: {err!r}"
