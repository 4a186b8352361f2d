"""End-to-end tests of the core capture: launch, attach, accuracy of the
timeline against the program's own truth, exit statuses, outputs."""
import gzip
import os
import re
import subprocess
import time

import tefcheck
from lib import (FGTRACE, assert_running_untraced, fgtrace_meta, free_pid, load_trace,
                 read_truth, run_fgtrace, spans, start_target, stop_target, target,
                 thread_names, tmpdir, wait_for)

PHASES = ["busy_phase", "sleep_phase", "read_phase", "lock_phase"]
PHASE_MS = 400


def capture_phases(hz):
    d = tmpdir()
    out, truth = d / "p.json", d / "truth"
    rc, _, err = run_fgtrace(["-q", "-F", hz, "-o", out, "--", target("phases"), PHASE_MS],
                             env=dict(os.environ, FGTRACE_TRUTH=str(truth)))
    assert rc == 0, f"fgtrace exited {rc}: {err}"
    tefcheck.check(out)
    events = load_trace(out)
    return events, read_truth(truth)


def check_phases(hz):
    events, truth = capture_phases(hz)
    start_ns = fgtrace_meta(events)["clock_monotonic_start_ns"]
    by_thread = spans(events)
    period_us = 1e6 / hz
    for phase, tid, t0, t1 in truth:
        true_b, true_e = (t0 - start_ns) / 1000, (t1 - start_ns) / 1000
        tol = 2 * period_us + 0.10 * (true_e - true_b)
        found = [s for (pid, t), ss in by_thread.items() if t == tid for s in ss
                 if s["name"] == phase]
        assert found, f"{hz} Hz: no span for {phase} on thread {tid}"
        # The phase may be split where a sample fell between frames; take the
        # union of its spans.
        b = min(s["begin"] for s in found)
        e = max(s["end"] for s in found)
        assert abs(b - true_b) <= tol and abs(e - true_e) <= tol, (
            f"{hz} Hz: {phase} spans {b:.0f}..{e:.0f} us, truth {true_b:.0f}..{true_e:.0f} "
            f"us, tolerance {tol:.0f} us")
    return events, truth


def test_phases_match_truth_at_99hz():
    check_phases(99)


def test_phases_match_truth_at_999hz():
    check_phases(999)


def test_nested_functions_nest():
    events, truth = capture_phases(999)
    worker = [t for p, t, _, _ in truth][0]
    ss = [s for (pid, t), v in spans(events).items() if t == worker for s in v]
    chain = ["busy_phase", "busy_outer", "busy_middle", "busy_inner"]
    found = {n: [s for s in ss if s["name"] == n] for n in chain}
    for n in chain:
        assert found[n], f"no span for {n}"
    for outer, inner in zip(chain, chain[1:]):
        for s in found[inner]:
            parents = [p for p in found[outer] if p["begin"] <= s["begin"] and s["end"] <= p["end"]
                       and p["depth"] == s["depth"] - 1]
            assert parents, f"{inner} at {s['begin']} is not directly under {outer}"


def test_thread_names():
    events, _ = capture_phases(99)
    names = set(thread_names(events).values())
    assert {"worker", "helper"} <= names, f"thread names: {names}"
    procs = [e["args"]["name"] for e in events if e.get("name") == "process_name"]
    assert procs and procs[-1] == "phases", f"process names: {procs}"


def test_attach_for_one_second_leaves_target_running():
    p = start_target("spinner", ["4"])
    try:
        d = tmpdir()
        t0 = time.monotonic()
        rc, _, err = run_fgtrace(["-q", "-p", p.pid, "-d", "1s", "-o", d / "a.json"])
        took = time.monotonic() - t0
        assert rc == 0, f"exit {rc}: {err}"
        assert 0.9 <= took <= 5, f"took {took:.2f}s for -d 1s"
        assert_running_untraced(p.pid)
        tefcheck.check(d / "a.json")
        events = load_trace(d / "a.json")
        tids = {e["tid"] for e in events if e.get("ph") == "B"}
        assert len(tids) >= 5, f"expected 5 threads sampled, got {sorted(tids)}"
        wait_for(lambda: p.poll() is None, 0.2, "spinner alive")
    finally:
        rc = stop_target(p)
    assert rc == 0, f"spinner exited {rc} after the capture"


def status_of(args, **kw):
    d = tmpdir()
    rc, out, err = run_fgtrace(["-q", "-o", d / "x.json", "--"] + args, **kw)
    return rc, out, err


def test_exit_status_is_passed_through():
    assert status_of([target("exitcode"), "3"])[0] == 3
    assert status_of([target("exitcode"), "0"])[0] == 0


def test_killed_command_gives_128_plus_signal():
    assert status_of([target("exitcode"), "-s", "15"])[0] == 143
    assert status_of([target("exitcode"), "-s", "9"])[0] == 137


def test_missing_command_gives_127():
    rc, _, err = status_of(["no-such-command-fgtrace-test"])
    assert rc == 127, f"exit {rc}: {err}"
    assert "no-such-command-fgtrace-test" in err


def test_not_executable_gives_126():
    d = tmpdir()
    f = d / "plain.txt"
    f.write_text("not a program\n")
    rc, _, err = status_of([str(f)])
    assert rc == 126, f"exit {rc}: {err}"


def test_nonexistent_pid_gives_1():
    pid = free_pid()
    rc, _, err = run_fgtrace(["-q", "-p", pid, "-o", tmpdir() / "x.json"])
    assert rc == 1, f"exit {rc}: {err}"
    assert str(pid) in err and "no such process" in err, err


BAD = [
    ["-F", "0"], ["-F", "10001"], ["-F", "abc"], ["-F", ""], ["-d", "0"], ["-d", "-1s"],
    ["-d", "5x"], ["-d", ""], ["-d", "1..5s"], ["-p", "0"], ["-p", "abc"], ["-p", "-5"],
    ["--stack-bytes", "1"], ["--stack-bytes", "2G"], ["--format", "xml"],
    ["--state-frames", "top"], ["--demangle", "x"], ["--bogus"], ["-Z"],
]


def test_invalid_values_give_2_with_one_line():
    for args in BAD:
        rc, _, err = run_fgtrace(args + ["--", "true"])
        lines = err.strip().splitlines()
        assert rc == 2, f"{args}: exit {rc}, stderr {err!r}"
        assert lines and lines[0].startswith("fgtrace: "), f"{args}: {err!r}"
        assert len(lines) <= 2 and (len(lines) == 1 or "--help" in lines[1]), f"{args}: {err!r}"


def test_no_target_or_both_give_2():
    for args in ([], ["-q"], ["-p", "1", "--", "true"], ["true"]):
        rc, _, err = run_fgtrace(args)
        assert rc == 2, f"{args}: exit {rc}: {err!r}"


def test_stdin_and_stdout_pass_through():
    d = tmpdir()
    p = subprocess.run([str(FGTRACE), "-q", "-o", str(d / "x.json"), "--", target("exitcode"),
                        "-e"], input="hello fgtrace\n", capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and p.stdout == "hello fgtrace\n", (p.returncode, p.stdout)


def test_output_to_stdout():
    p = subprocess.run([str(FGTRACE), "-q", "-o", "-", "--", target("exitcode"), "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    d = tmpdir()
    (d / "out.json").write_text(p.stdout)
    tefcheck.check(d / "out.json")


def test_gzip_output():
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-o", d / "t.json.gz", "--", target("phases"), "100"])
    assert rc == 0, err
    with open(d / "t.json.gz", "rb") as f:
        assert f.read(2) == b"\x1f\x8b", "not gzip"
    tefcheck.check(d / "t.json.gz")
    assert any(e.get("name") == "busy_inner" for e in load_trace(d / "t.json.gz"))


def test_pid_and_time_in_output_name():
    d = tmpdir()
    p = start_target("spinner", ["2"])
    try:
        rc, _, err = run_fgtrace(["-q", "-p", p.pid, "-d", "300ms", "-o", d / "c-%p-%t.json"])
        assert rc == 0, err
    finally:
        stop_target(p)
    names = os.listdir(d)
    assert len(names) == 1 and re.fullmatch(rf"c-{p.pid}-\d{{8}}-\d{{6}}\.json", names[0]), names


def test_quiet_prints_nothing_and_summary_otherwise():
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-o", d / "q.json", "--", target("exitcode"), "0"])
    assert rc == 0 and err == "", f"-q printed {err!r}"
    rc, _, err = run_fgtrace(["-o", d / "s.json", "--", target("phases"), "100"])
    assert rc == 0, err
    assert "samples" in err and str(d / "s.json") in err and "ui.perfetto.dev" in err, err
