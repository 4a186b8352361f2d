"""Aggregate profiles from a real capture, read by the real readers: go tool
pprof for pprof, and the folded format's own rules."""
import os
import re
import shutil
import subprocess
from collections import Counter

import tefcheck
from lib import fgtrace_meta, load_trace, read_truth, run_fgtrace, target, tmpdir

PHASES = ["busy_phase", "sleep_phase", "read_phase", "lock_phase"]
FOLDED_LINE = re.compile(r"^[^;\s][^;]*(;[^;]+)* \d+$")


def go():
    assert shutil.which("go"), "go is not installed (make deps installs golang-go)"
    return "go"


def pprof(*args):
    env = dict(os.environ, HOME=os.environ.get("HOME", "/tmp"), GOFLAGS="-mod=mod")
    p = subprocess.run([go(), "tool", "pprof"] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, f"pprof {args} failed: {p.stderr}"
    noise = [l for l in p.stderr.splitlines() if l.strip()]
    assert not noise, f"pprof {args} warned: {noise}"
    return p.stdout


def capture_three(hz=99, extra=()):
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-F", hz] + list(extra) +
                             ["-o", d / "t.json", "-o", d / "p.pb.gz", "-o", d / "f.folded",
                              "--", target("phases"), "400"],
                             env=dict(os.environ, FGTRACE_TRUTH=str(d / "truth")))
    assert rc == 0, err
    tefcheck.check(d / "t.json")
    return d


def to_ms(value, unit):
    return float(value) * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "min": 6e4,
                           "hrs": 3.6e6}[unit]


def top_cum_ms(profile):
    """function -> cumulative wall ms, from pprof -top."""
    out = pprof("-top", "-cum", "-nodecount=500", "-sample_index=wall", profile)
    cum = {}
    num = r"([\d.]+)(ns|us|ms|s|min|hrs)?"
    for line in out.splitlines():
        m = re.match(rf"^\s*{num}\s+[\d.]+%\s+[\d.]+%\s+{num}\s+[\d.]+%\s+(.+)$", line)
        if m:
            cum[m.group(5).strip()] = to_ms(m.group(3), m.group(4) or "ms")
    return cum


def test_pprof_top_matches_truth():
    d = capture_three(99)
    cum = top_cum_ms(d / "p.pb.gz")
    period_ms = 1000 / 99
    for phase, _, t0, t1 in read_truth(d / "truth"):
        true_ms = (t1 - t0) / 1e6
        got = cum.get(phase)
        assert got is not None, f"{phase} not in pprof -top: {sorted(cum)[:20]}"
        tol = 2 * period_ms + 0.10 * true_ms
        assert abs(got - true_ms) <= tol, f"{phase}: pprof {got:.1f} ms, truth {true_ms:.1f} ms"


def test_pprof_tags_list_threads_and_states():
    d = capture_three(99)
    tags = pprof("-tags", d / "p.pb.gz")
    for want in ("worker", "helper", "thread", "tid", "state", "running", "sys_futex"):
        assert want in tags, f"{want!r} not in pprof -tags:\n{tags}"
    # -tagfocus selects one thread: the worker's phases, not the helper's wait.
    out = pprof("-top", "-cum", "-nodecount=500", "-tagfocus=thread=worker", d / "p.pb.gz")
    assert "busy_inner" in out and "sleep_phase" in out, out


def test_pprof_traces_show_inline_under_caller():
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-F", 199, "-o", d / "i.pb.gz", "--", target("inliner"),
                              "400"])
    assert rc == 0, err
    traces = pprof("-traces", d / "i.pb.gz")
    found = False
    for b in traces.split("-----------+"):
        text = [l.strip() for l in b.splitlines()]
        for i, l in enumerate(text):
            if l.endswith("hot_inline_step (inline)") and i + 1 < len(text) \
                    and text[i + 1] == "outer_caller":
                found = True
    assert found, f"no hot_inline_step (inline) directly above outer_caller:\n{traces[:2000]}"


def folded_counts(path):
    counts = Counter()
    total = 0
    for line in path.read_text().splitlines():
        assert FOLDED_LINE.match(line), f"bad folded line: {line!r}"
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert all(frames), f"empty frame in {line!r}"
        total += int(n)
        for f in set(frames):
            counts[f] += int(n)
    return counts, total


def test_folded_matches_truth():
    d = capture_three(99)
    counts, _ = folded_counts(d / "f.folded")
    period_ms = 1000 / 99
    for phase, _, t0, t1 in read_truth(d / "truth"):
        true_ms = (t1 - t0) / 1e6
        got = counts[phase] * period_ms
        tol = 2 * period_ms + 0.10 * true_ms
        assert abs(got - true_ms) <= tol, f"{phase}: folded {got:.1f} ms, truth {true_ms:.1f}"


def test_one_capture_three_outputs_same_total():
    d = capture_three(199)
    _, folded_total = folded_counts(d / "f.folded")
    raw = pprof("-raw", d / "p.pb.gz")
    pprof_total = 0
    in_samples = False
    for line in raw.splitlines():
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if in_samples and line.startswith("Locations"):
            break
        m = re.match(r"^\s+(\d+)\s+\d+:", line)
        if in_samples and m:
            pprof_total += int(m.group(1))
    meta = fgtrace_meta(load_trace(d / "t.json"))
    trace_total, late = meta["samples"], meta["late"]
    # A stop that arrives after later ticks stands for them too: its one
    # sample in the trace counts once per tick in the profiles. Each such
    # tick is also counted in the metadata's "late".
    assert folded_total == pprof_total, f"folded {folded_total}, pprof {pprof_total}"
    assert trace_total <= folded_total <= trace_total + late, \
        f"profiles {folded_total}, trace {trace_total} samples, {late} late thread-ticks"
    assert trace_total > 100


def test_per_thread_roots_and_state_frames_in_aggregates():
    d = capture_three(99, ["--per-thread"])
    roots = Counter(l.split(";", 1)[0] for l in (d / "f.folded").read_text().splitlines())
    assert {"worker", "helper"} <= set(roots), roots
    second = {l.split(";")[1] for l in (d / "f.folded").read_text().splitlines()}
    assert "running" in second and "sys_futex" in second, second
    d = capture_three(99, ["--state-frames=none"])
    text = (d / "f.folded").read_text()
    assert "running" not in text and "sys_" not in text, text[:300]


def test_format_option_and_unknown_ending_note():
    d = tmpdir()
    rc, _, err = run_fgtrace(["-o", d / "trace.out", "--format=folded", "-o", d / "agg.data",
                              "--", target("exitcode"), "0"])
    assert rc == 0, err
    assert "trace.out" in err and "note" in err, f"no note for an unknown ending: {err!r}"
    tefcheck.check(d / "trace.out")
    folded_counts(d / "agg.data")
