"""The aggregate profiles as real readers see them.

The unit test binary writes a fixed profile (`test_profile --write-sample DIR`):
worker runs main;work;helper (helper inlined into work) for 30 samples, main
thread 20 samples of the same and 10 of main;read in sys_read, plus 5 truncated
samples in code no module maps. At 99 Hz one sample is 10101010 ns.
`go tool pprof` must read the pprof output without a warning and agree with
the folded output.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "build/tests/test_profile"
PERIOD_NS = 10101010
TOTAL = 65
PER_THREAD = {"worker": 30, "main": 35}


def _write_sample(tmp):
    if not HELPER.exists():
        raise AssertionError(f"{HELPER} is missing: build it with `make unit-tests`")
    r = subprocess.run([str(HELPER), "--write-sample", str(tmp)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"{HELPER} --write-sample failed ({r.returncode}): {r.stderr}")
    return tmp / "sample.pb.gz", tmp / "sample.folded"


def _pprof(*args):
    """Runs `go tool pprof ARGS`; fails on any exit status or stderr output."""
    go = shutil.which("go")
    if go is None:
        raise AssertionError("`go` is not on PATH: `make deps` installs golang-go")
    r = subprocess.run([go, "tool", "pprof", *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"go tool pprof {' '.join(map(str, args))} exited "
                             f"{r.returncode}: {r.stderr}")
    if r.stderr.strip():
        raise AssertionError(f"go tool pprof {' '.join(map(str, args))} warned:\n{r.stderr}")
    return r.stdout


def _with_sample(check):
    with tempfile.TemporaryDirectory(prefix="fgt-profile-") as d:
        pb, folded = _write_sample(Path(d))
        check(pb, folded)


def _top_total(text, shown=False):
    """From `-top`'s "Showing nodes accounting for X, P% of Y total": Y, or X
    when shown (what the filters kept)."""
    m = re.search(r"accounting for (\S+), \S+ of (\S+) total", text)
    if not m:
        raise AssertionError(f"no total in pprof -top output:\n{text}")
    return m.group(1 if shown else 2)


def test_pprof_raw_has_sample_types_and_period():
    def check(pb, _):
        raw = _pprof("-raw", pb)
        for want in ("PeriodType: wall nanoseconds", f"Period: {PERIOD_NS}",
                     "Duration: 3s", "samples/count wall/nanoseconds"):
            if want not in raw:
                raise AssertionError(f"{want!r} not in pprof -raw output:\n{raw}")
        counts = [(int(a), int(b)) for a, b in
                  re.findall(r"^\s+(\d+)\s+(\d+): [\d ]+$", raw, re.M)]
        if sum(c for c, _ in counts) != TOTAL:
            raise AssertionError(f"samples {counts} do not add up to {TOTAL}:\n{raw}")
        for c, ns in counts:
            if ns != c * PERIOD_NS:
                raise AssertionError(f"wall {ns} != {c} samples * {PERIOD_NS} ns")
    _with_sample(check)


def test_pprof_tags_list_threads_and_states():
    def check(pb, _):
        tags = _pprof("-tags", pb)
        for key, values in (("thread", ("main", "worker")), ("tid", ("100", "101")),
                            ("state", ("running", "sys_read"))):
            m = re.search(rf"^ *{key}: Total .*?(?=^\s*$|\Z)", tags, re.M | re.S)
            if not m:
                raise AssertionError(f"no {key} tag in pprof -tags output:\n{tags}")
            for v in values:
                if not re.search(rf"\): {re.escape(v)}$", m.group(0), re.M):
                    raise AssertionError(f"{key}={v} not in pprof -tags output:\n{tags}")
    _with_sample(check)


def test_pprof_tagfocus_selects_a_thread():
    def check(pb, _):
        for thread, count in PER_THREAD.items():
            top = _pprof("-top", "-sample_index=samples", f"-tagfocus=thread={thread}", pb)
            if _top_total(top, shown=True) != str(count):
                raise AssertionError(f"thread={thread}: want {count} samples:\n{top}")
    _with_sample(check)


def test_pprof_traces_show_inlined_function_under_its_caller():
    def check(pb, _):
        traces = _pprof("-traces", pb)
        frames = [ln.strip() for ln in traces.splitlines()]
        # Leaf first: the inlined helper, then work, from the same location.
        hits = [i for i, f in enumerate(frames) if f.endswith("helper (inline)")]
        if not hits:
            raise AssertionError(f"no inlined helper in pprof -traces:\n{traces}")
        for i in hits:
            if frames[i + 1:i + 3] != ["work", "main"]:
                raise AssertionError(f"helper is not under work under main:\n{traces}")
        if "[truncated]" not in frames:
            raise AssertionError(f"no [truncated] frame in pprof -traces:\n{traces}")
    _with_sample(check)


def test_pprof_and_folded_totals_match():
    def check(pb, folded):
        top = _pprof("-top", "-sample_index=samples", pb)
        if _top_total(top) != str(TOTAL):
            raise AssertionError(f"pprof total is not {TOTAL} samples:\n{top}")
        wall = _pprof("-top", "-sample_index=wall", "-unit=ns", pb)
        if _top_total(wall) != f"{TOTAL * PERIOD_NS}ns":
            raise AssertionError(f"pprof wall total is not {TOTAL * PERIOD_NS}ns:\n{wall}")
        lines = folded.read_text().splitlines()
        total = sum(int(ln.rsplit(" ", 1)[1]) for ln in lines)
        if total != TOTAL:
            raise AssertionError(f"folded total {total} != {TOTAL}:\n{folded.read_text()}")
    _with_sample(check)


def test_folded_lines_are_well_formed():
    def check(_, folded):
        data = folded.read_bytes()
        if not data.endswith(b"\n"):
            raise AssertionError("folded output does not end with a newline")
        lines = data.decode().splitlines()
        line_re = re.compile(r"^[^;\n]+(;[^;\n]+)* [1-9]\d*$")
        for ln in lines:
            if not line_re.match(ln) or "" in ln.rsplit(" ", 1)[0].split(";"):
                raise AssertionError(f"malformed folded line: {ln!r}")
        stacks = [ln.rsplit(" ", 1)[0] for ln in lines]
        if stacks != sorted(stacks) or len(set(stacks)) != len(stacks):
            raise AssertionError(f"folded stacks are not sorted and distinct:\n{data.decode()}")
        want = "running;main;work;helper 50"
        if want not in lines:
            raise AssertionError(f"{want!r} not in folded output:\n{data.decode()}")
    _with_sample(check)
