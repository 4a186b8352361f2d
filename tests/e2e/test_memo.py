"""Remembered unwinds (lib/unwmemo.h): the callers above the part of a stack
that changed since a thread's previous sample are taken from that sample's
unwind. Checked on a thread whose deep stack changes at one level at a time
(tests/targets/deepmix.c), where taking too much would join the top of one
walk to the bottom of another:
- every sampled stack is a walk the target made, and most are whole;
- memos served most unwinds, and most of their frames;
- a test build that unwinds every stack a memo served again in full, without
  it, finds the two the same (build/fgtrace-verify, made by `make check`), on
  deepmix and on a Python interpreter deep in recursion."""
import os
import re
import subprocess
import sys
from pathlib import Path

from lib import ROOT, fgtrace_meta, load_trace, run_fgtrace, start_target, stop_target, tmpdir

VERIFY = Path(os.environ.get("FGTRACE_VERIFY", ROOT / "build" / "fgtrace-verify"))
DEPTH = 40
# Below the thread's entry function: nothing (between two walks), or walk,
# then (step_a or step_b, walk) once a level, then whatever the bottom runs.
WALK = re.compile(r"^(walk(;step_[ab];walk)*(;step_[ab])?(;spin(;.*)?)?)?$")


def capture(p, d, binary=None):
    """A 2 s capture of deepmix at 499 Hz, by fgtrace or another build of it:
    the folded stacks and the metadata."""
    folded, trace = d / "out.folded", d / "out.json"
    args = ["-p", p.pid, "-d", "2s", "-F", 499, "-q", "-o", folded, "-o", trace]
    if binary:
        r = subprocess.run([str(binary)] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=60)
        rc, err = r.returncode, r.stderr
    else:
        rc, _, err = run_fgtrace(args, timeout=60)
    assert rc == 0, f"{binary or 'fgtrace'} exited {rc}: {err}"
    return folded.read_text(), fgtrace_meta(load_trace(trace))


def mixer_walks(folded):
    """(walk as a string of a and b, count) for each stack of thread mixer."""
    walks = []
    for line in folded.splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if "mixer" not in frames:
            continue
        below = ";".join(frames[frames.index("mixer") + 1:])
        assert WALK.match(below), f"not a walk deepmix makes: {below}"
        seq = "".join("a" if f == "step_a" else "b" for f in below.split(";")
                      if f in ("step_a", "step_b"))
        walks.append((seq, int(count)))
    return walks


def test_memo_stacks_are_walks_the_target_made():
    p = start_target("deepmix")
    patterns = p.ready_args
    assert len(patterns) == 6 and all(len(x) == DEPTH for x in patterns), patterns
    try:
        folded, meta = capture(p, tmpdir())
    finally:
        stop_target(p)
    walks = mixer_walks(folded)
    total = sum(c for _, c in walks)
    assert total >= 400, f"only {total} samples of thread mixer in 2 s at 499 Hz"
    for seq, count in walks:
        assert any(x.startswith(seq) for x in patterns), \
            f"{count} samples of a walk deepmix never makes: {seq} (patterns {patterns})"
    whole = {}
    for seq, count in walks:
        if len(seq) == DEPTH:
            whole[seq] = whole.get(seq, 0) + count
    assert sum(whole.values()) >= 0.8 * total, \
        f"only {sum(whole.values())} of {total} samples are whole walks"
    assert set(whole) == set(patterns), \
        f"whole walks seen: {sorted(whole)}; patterns: {patterns}"
    hits, frames = meta["unwind_memo_hits"], meta["unwind_memo_frames"]
    unwound = meta["stacks_unwound"]
    assert hits >= 0.5 * unwound, f"memos served {hits} of {unwound} unwinds"
    # A whole walk has 2 * DEPTH + 1 frames between the thread's entry and
    # spin; patterns differ at one level, so most callers are the same.
    assert frames >= 20 * hits, f"{frames} frames taken in {hits} memo hits"


# A Python interpreter recursing 30 to 36 levels deep, each level several C
# frames: deep stacks of code built elsewhere, often deeper than the copy.
RECURSE = """
import time
def f(n):
    if n == 0:
        end = time.monotonic() + 0.0005
        while time.monotonic() < end:
            pass
        return 0
    return f(n - 1) + 1
end = time.monotonic() + 3
i = 0
while time.monotonic() < end:
    f(30 + i % 7)
    i += 1
"""


def test_memo_agrees_with_full_unwinds_on_python():
    assert VERIFY.exists(), f"{VERIFY} is not built (make verify-build)"
    d = tmpdir()
    trace = d / "out.json"
    r = subprocess.run([str(VERIFY), "-d", "2s", "-F", "999", "-q", "-o", str(trace), "--",
                        sys.executable, "-c", RECURSE], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"fgtrace-verify exited {r.returncode}: {r.stderr}"
    meta = fgtrace_meta(load_trace(trace))
    checked = meta["unwind_memo_checked"]
    assert checked >= 500, f"only {checked} memo-served unwinds checked"
    assert meta["unwind_memo_mismatches"] == 0, \
        f"{meta['unwind_memo_mismatches']} of {checked} memo-served stacks differ from " \
        "a full unwind"


def test_memo_agrees_with_full_unwinds():
    assert VERIFY.exists(), f"{VERIFY} is not built (make verify-build)"
    p = start_target("deepmix")
    try:
        _, meta = capture(p, tmpdir(), binary=VERIFY)
    finally:
        stop_target(p)
    checked = meta["unwind_memo_checked"]
    assert checked == meta["unwind_memo_hits"], meta
    assert checked >= 400, f"only {checked} memo-served unwinds checked"
    assert meta["unwind_memo_mismatches"] == 0, \
        f"{meta['unwind_memo_mismatches']} of {checked} memo-served stacks differ from " \
        "a full unwind"
