"""Helpers for fgtrace's end-to-end tests: run the real binary on real target
programs and read the real output. Standard library only."""
import gzip
import json
import os
import re
import select
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FGTRACE = Path(os.environ.get("FGTRACE", ROOT / "fgtrace"))


class Skip(Exception):
    """Raised by a test that cannot run here, with the reason."""


def target(name):
    for p in (ROOT / "build" / "targets" / name, ROOT / "tests" / "targets" / name):
        if p.exists():
            return str(p)
    raise AssertionError(f"test target {name} is not built (make targets)")


def tmpdir():
    return Path(tempfile.mkdtemp(prefix="fgtrace-test-"))


def run_fgtrace(args, timeout=60, **kw):
    """Runs fgtrace to completion; returns (returncode, stdout, stderr)."""
    p = subprocess.run([str(FGTRACE)] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def start_fgtrace(args, **kw):
    return subprocess.Popen([str(FGTRACE)] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def read_line(proc, timeout=10):
    """Reads one line from proc.stdout within timeout seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output from pid {proc.pid} within {timeout}s")
    return proc.stdout.readline()


def start_target(name, args=(), env=None, **kw):
    """Starts a target and waits for its "ready" handshake line; words after
    "ready" on that line are kept in p.ready_args."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.Popen([target(name)] + [str(a) for a in args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=e, **kw)
    line = read_line(p, 10)
    words = line.split()
    if not words or words[0] != "ready":
        p.kill()
        raise AssertionError(f"{name} did not say ready: {line!r}")
    p.ready_args = words[1:]
    return p


def stop_target(p):
    try:
        p.stdin.write("q\n")
        p.stdin.flush()
        p.stdin.close()
    except (BrokenPipeError, ValueError):
        pass
    try:
        return p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError(f"target {p.pid} did not exit after q")


def parse_stat(text):
    """(comm, state) from a /proc stat line; comm runs to the LAST ')'."""
    close = text.rindex(")")
    return text[text.index("(") + 1:close], text[close + 2]


def proc_state(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    with open(path) as f:
        return parse_stat(f.read())[1]


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return None


def tracer_pid(pid):
    return int(status_field(pid, "TracerPid"))


def thread_states(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = proc_state(pid, tid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def wait_for(cond, timeout=5.0, what="condition"):
    """Polls cond() until true, with a deadline (no blind sleeping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def assert_running_untraced(pid):
    """Every thread of pid is not stopped and the process is not traced."""
    assert tracer_pid(pid) == 0, f"{pid} still traced by {tracer_pid(pid)}"
    states = thread_states(pid)
    stopped = {t: s for t, s in states.items() if s in "tT"}
    assert not stopped, f"threads of {pid} left stopped: {stopped}"


def read_text(path):
    path = str(path)
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="strict") as f:
            return f.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_trace(path, partial=False):
    """The trace's events. With partial, accepts a file cut short (no final
    ']' and perhaps a cut last event), the way Perfetto does."""
    text = read_text(path) if not isinstance(path, str) or not path.startswith("[") else path
    if not partial:
        return json.loads(text)
    body = text.strip()
    if body.endswith("]"):
        return json.loads(body)
    lines = body.split("\n")
    while lines:
        candidate = "\n".join(lines).rstrip().rstrip(",") + "]"
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            lines.pop()
    raise AssertionError("partial trace does not parse at all")


def spans(events):
    """Per (pid, tid): list of dicts name, cat, begin, end (µs), depth, args."""
    out = defaultdict(list)
    open_ = defaultdict(list)
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("ph") == "B":
            open_[key].append(e)
        elif e.get("ph") == "E":
            b = open_[key].pop()
            out[key].append({"name": b["name"], "cat": b.get("cat"), "begin": b["ts"],
                             "end": e["ts"], "depth": len(open_[key]),
                             "args": b.get("args", {})})
    return out


def fgtrace_meta(events):
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "fgtrace":
            return e["args"]
    raise AssertionError("no fgtrace metadata event in the trace")


def thread_names(events):
    """tid -> last thread_name."""
    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
    return names


def read_truth(path):
    """Phases written by a target: list of (phase, tid, start_ns, end_ns)."""
    out = []
    with open(path) as f:
        for line in f:
            phase, tid, start, end = line.split()
            out.append((phase, int(tid), int(start), int(end)))
    return out


def free_pid():
    """A pid that no process has now."""
    for pid in range(4194000, 10, -7):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    raise AssertionError("no free pid found")


def figure(text):
    """A measured figure for the test log (the runner prints these)."""
    print("FIGURE " + text, flush=True)
