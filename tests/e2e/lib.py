"""Helpers for fgtrace's end-to-end tests: run the real binary on real target
programs and read the real output. Standard library only.

Synchronisation is never a blind sleep: targets print a "ready" line when they
are in place, and anything else is polled from /proc with a deadline."""
import atexit
import ctypes
import gzip
import json
import math
import os
import select
import subprocess
import tempfile
import time
import zlib
from collections import defaultdict, namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FGTRACE = Path(os.environ.get("FGTRACE", ROOT / "fgtrace"))
TARGETS = ROOT / "build" / "targets"
READY_TIMEOUT = 10


class Skip(Exception):
    """Raised by a test that cannot run here; the message says why."""


def target(name):
    """The path of a built test target (tests/targets/NAME.c)."""
    path = TARGETS / name
    if not path.exists():
        raise AssertionError(f"test target {name} is not built: expected {path} "
                             "(run `make targets`)")
    return str(path)


def tmpdir():
    """A fresh directory for one test's files. Under the runner it lies in the
    test's own directory, which the runner keeps when the test fails."""
    base = os.environ.get("FGTRACE_TEST_TMP")
    if base:
        os.makedirs(base, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="fgtrace-test-", dir=base))


def _argv(args):
    if not FGTRACE.exists():
        raise AssertionError(f"{FGTRACE} is not built (run `make build`)")
    return [str(FGTRACE)] + [str(a) for a in args]


def run_fgtrace(args, timeout=60, **kw):
    """Runs fgtrace to completion; returns (returncode, stdout, stderr)."""
    try:
        p = subprocess.run(_argv(args), capture_output=True, text=True, timeout=timeout,
                           **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"fgtrace {' '.join(map(str, args))} did not finish within "
                             f"{timeout}s; stderr so far: {e.stderr!r}") from None
    return p.returncode, p.stdout, p.stderr


def start_fgtrace(args, **kw):
    """Starts fgtrace in the background, stdout and stderr piped (text)."""
    p = subprocess.Popen(_argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **kw)
    _started.append(p)
    return p


# Processes a test started; whatever still runs when the test ends is killed,
# so that a failed test leaves no spinning target behind.
_started = []


@atexit.register
def _kill_leftovers():
    for p in _started:
        if p.poll() is None:
            p.kill()
            p.wait()


def _read_line_raw(p, deadline):
    """One line from p.stdout, read byte by byte from the descriptor so that
    nothing after the newline is swallowed by a buffer."""
    fd = p.stdout.fileno()
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return line.decode(errors="replace"), "timeout"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        byte = os.read(fd, 1)
        if not byte:
            return line.decode(errors="replace"), "eof"
        line += byte
    return line.decode(errors="replace"), None


def read_line(p, timeout=10):
    """One line of p.stdout within timeout seconds."""
    line, problem = _read_line_raw(p, time.monotonic() + timeout)
    if problem:
        raise AssertionError(f"pid {p.pid}: no full line on stdout within {timeout}s "
                             f"({problem}); got {line!r}")
    return line


def start_target(name, args=(), env=None, **kw):
    """Starts a target with stdin and stdout piped (text) and waits for its
    "ready" line. Words after "ready" on that line are kept in p.ready_args."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([target(name)] + [str(a) for a in args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=e, **kw)
    _started.append(p)
    line, problem = _read_line_raw(p, time.monotonic() + READY_TIMEOUT)
    words = line.split()
    if problem or not words or words[0] != "ready":
        p.kill()
        rc = p.wait()
        why = {"timeout": f"nothing within {READY_TIMEOUT}s", "eof": "stdout closed"}
        raise AssertionError(f"target {name} {list(args)} did not say ready "
                             f"({why.get(problem, 'wrong line')}): got {line!r}, "
                             f"exit status {rc}")
    p.ready_args = words[1:]
    return p


def stop_target(p, timeout=10):
    """Sends "q" and closes stdin; returns the target's exit status."""
    try:
        p.stdin.write("q\n")
        p.stdin.flush()
        p.stdin.close()
    except (BrokenPipeError, ValueError):
        pass
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        state = proc_state(p.pid) if os.path.exists(f"/proc/{p.pid}") else "?"
        p.kill()
        p.wait()
        raise AssertionError(f"target {p.pid} did not exit within {timeout}s after 'q' "
                             f"(state {state})") from None


def _task(pid, tid):
    return f"/proc/{pid}/task/{tid}" if tid else f"/proc/{pid}"


def proc_bytes(pid, tid, name):
    """A /proc file of a process (tid None) or thread, as bytes: names in it
    may hold bytes that are not UTF-8."""
    with open(f"{_task(pid, tid)}/{name}", "rb") as f:
        return f.read()


def proc_state(pid, tid=None):
    """The state letter of a process or one of its threads (R, S, D, t, T...).
    The name in stat runs to the LAST ')'."""
    stat = proc_bytes(pid, tid, "stat")
    return chr(stat[stat.rindex(b")") + 2])


def status_field(pid, key, tid=None):
    for line in proc_bytes(pid, tid, "status").split(b"\n"):
        if line.startswith(key.encode() + b":"):
            return line.split(b":", 1)[1].strip().decode(errors="replace")
    return None


def tracer_pid(pid, tid=None):
    """The process tracing the thread, or 0. TracerPid names the tracing
    thread, which need not be its process's main thread."""
    tracer = int(status_field(pid, "TracerPid", tid))
    if tracer:
        try:
            return int(status_field(tracer, "Tgid"))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return tracer


PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, tid, data=0):
    """One ptrace request from the test itself; raises OSError on failure."""
    if _libc.ptrace(req, tid, None, ctypes.c_void_p(data)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req:#x}, {tid}): {os.strerror(e)}")


def wait_stop(tid):
    """Waits for a thread the test traces to report a stop."""
    _, status = os.waitpid(tid, WALL)
    assert os.WIFSTOPPED(status), f"thread {tid}: wait status {status:#x}, not a stop"


def run_count(pid, tid):
    """How many times the thread was switched in (schedstat field 3)."""
    return int(proc_bytes(pid, tid, "schedstat").split()[2])


def thread_ids(pid):
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def thread_named(pid, name):
    """The first thread of pid whose comm is name, or None."""
    try:
        tids = thread_ids(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    for tid in tids:
        try:
            if proc_bytes(pid, tid, "comm").decode(errors="replace").strip() == name:
                return tid
        except (FileNotFoundError, ProcessLookupError):
            continue
    return None


def thread_states(pid):
    """tid -> state letter, for the threads that still exist."""
    out = {}
    for tid in thread_ids(pid):
        try:
            out[tid] = proc_state(pid, tid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def thread_cpu_ns(pid, tid):
    """CPU time the thread has run, from field 1 of its schedstat."""
    with open(f"{_task(pid, tid)}/schedstat") as f:
        return int(f.read().split()[0])


def untraced_problems(pid):
    """What keeps pid from running freely: each thread that is stopped ('t' or
    'T') or still has a tracer. Empty when all is well."""
    out = []
    for tid in thread_ids(pid):
        try:
            state, tracer = proc_state(pid, tid), tracer_pid(pid, tid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state in "tT":
            out.append(f"thread {tid} is stopped (state {state})")
        if tracer:
            out.append(f"thread {tid} is traced by {tracer}")
    return out


def all_threads_running_and_untraced(pid):
    return not untraced_problems(pid)


def assert_running_untraced(pid):
    found = untraced_problems(pid)
    assert not found, f"process {pid} not left running freely: " + "; ".join(found)


def wait_for(cond, timeout=5.0, what="condition"):
    """Polls cond() until it is true, with a deadline (never a blind sleep)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def read_bytes(path, partial=False):
    """The file's bytes, gunzipped when its name ends in .gz. With partial, a
    gzip stream cut short (a killed capture) gives what it holds."""
    path = str(path)
    with open(path, "rb") as f:
        raw = f.read()
    if not path.endswith(".gz"):
        return raw
    if not partial:
        return gzip.decompress(raw)
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw)


def decode_utf8(raw, partial=False):
    """Strict UTF-8 decoding; with partial, a character cut by the end of a
    killed capture is dropped."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if partial and e.reason == "unexpected end of data" and e.end == len(raw):
            return raw[:e.start].decode("utf-8")
        raise


def read_text(path, partial=False):
    return decode_utf8(read_bytes(path, partial), partial)


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _loads(text):
    return json.loads(text, parse_constant=_no_constants)


def parse_trace(text, partial=False):
    """The events of a trace given as text. With partial, a capture that was
    killed is accepted the way Perfetto accepts it: no final ']', and a last
    event that may be cut."""
    if not partial:
        return _loads(text)
    body = text.rstrip()
    if body.endswith("]"):
        try:
            return _loads(body)
        except json.JSONDecodeError:
            pass
    lines = body.split("\n")
    # Drop at most a couple of lines: only the tail of a killed capture is cut.
    for _ in range(3):
        if not lines:
            break
        candidate = "\n".join(lines).rstrip().rstrip(",")
        try:
            return _loads(candidate + "]")
        except json.JSONDecodeError:
            lines.pop()
    raise AssertionError("partial trace does not parse, even without its last lines")


def load_trace(path, partial=False):
    """The events of the trace file at path (.gz is gunzipped)."""
    return parse_trace(read_text(path, partial), partial)


def trace_so_far(path):
    """The events of a trace fgtrace is still writing at path; [] while the
    file is missing or holds no whole event yet."""
    try:
        return load_trace(path, partial=True)
    except (AssertionError, ValueError, FileNotFoundError):
        return []


def wait_on_timeline(out, tid, timeout=10):
    """Waits until the trace being written at out has a span for tid: the
    warm-up round is over and the timeline has begun. Events before that are
    not on it."""
    wait_for(lambda: any(e.get("ph") == "B" and e.get("tid") == tid
                         for e in trace_so_far(out)),
             timeout, f"thread {tid} on the timeline in {out}")


def spinning(pid, tid, cpu_ns=20_000_000, timeout=5):
    """Waits until the thread has used cpu_ns more CPU: it runs."""
    start = thread_cpu_ns(pid, tid)
    wait_for(lambda: thread_cpu_ns(pid, tid) >= start + cpu_ns, timeout,
             f"thread {tid} of {pid} to run again ({cpu_ns / 1e6:.0f} ms of CPU)")


class Span(namedtuple("Span", "name cat begin end depth args")):
    """One B/E pair: begin and end in µs, depth 0 for a root frame. Fields can
    also be read by key, s["begin"]."""
    __slots__ = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return super().__getitem__(key)

    @property
    def dur(self):
        return self.end - self.begin


def spans(events):
    """(pid, tid) -> list of Span, ordered by begin then depth. Spans still
    open at the end (a partial trace) are left out."""
    out = defaultdict(list)
    stacks = defaultdict(list)
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("ph") == "B":
            stacks[key].append(e)
        elif e.get("ph") == "E":
            if not stacks[key]:
                raise AssertionError(f"E without B on thread {key}: {e}")
            b = stacks[key].pop()
            out[key].append(Span(b["name"], b.get("cat"), b["ts"], e["ts"],
                                 len(stacks[key]), b.get("args", {})))
    for ss in out.values():
        ss.sort(key=lambda s: (s.begin, s.depth))
    return dict(out)


def thread_spans(events, tid):
    """The spans of one thread, whatever its pid."""
    return [s for (_, t), ss in spans(events).items() if t == tid for s in ss]


def read_folded(path):
    """A folded-stacks file as {stack: samples}; a stack is "a;b;c", root
    first."""
    folded = {}
    for line in Path(path).read_text().splitlines():
        stack, n = line.rsplit(" ", 1)
        folded[stack] = folded.get(stack, 0) + int(n)
    return folded


def samples_with(folded, frame):
    """How many samples of a read_folded result have frame in their stack."""
    return sum(n for stack, n in folded.items() if frame in stack.split(";"))


def fgtrace_meta(events):
    """The args of the "fgtrace" metadata event (the capture facts)."""
    found = [e for e in events if e.get("ph") == "M" and e.get("name") == "fgtrace"]
    if not found:
        raise AssertionError("no fgtrace metadata event in the trace")
    return found[-1]["args"]


def thread_names(events):
    """tid -> its last thread_name."""
    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
    return names


def process_names(events):
    return [e["args"]["name"] for e in events
            if e.get("ph") == "M" and e.get("name") == "process_name"]


def read_truth(path):
    """The phases a target recorded: list of (phase, tid, start_ns, end_ns),
    CLOCK_MONOTONIC."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise AssertionError(f"the target wrote no truth file {path}") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if len(words) != 4:
            raise AssertionError(f"{path}:{n}: expected PHASE TID START_NS END_NS: {line!r}")
        out.append((words[0], int(words[1]), int(words[2]), int(words[3])))
    if not out:
        raise AssertionError(f"the truth file {path} is empty")
    return out


def ns_to_trace_us(ns, meta):
    """A CLOCK_MONOTONIC time in the trace's µs, from the capture's start."""
    return (ns - meta["clock_monotonic_start_ns"]) / 1000


def free_pid():
    """A pid that no process has now."""
    with open("/proc/sys/kernel/pid_max") as f:
        top = int(f.read())
    for pid in range(top - 1, 300, -7919):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    raise AssertionError("no free pid found")


def figure(text):
    """A measured figure for the test log; the runner prints these."""
    print("FIGURE " + text, flush=True)


def is_finite_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def usage_problem(args, word=None):
    """Runs fgtrace ARGS in an empty directory. Returns what is wrong with how
    it refused them (expected: exit 2, one line naming word, perhaps a --help
    pointer, nothing written), or None."""
    d = tmpdir()
    rc, out, err = run_fgtrace(args, cwd=d, timeout=10)
    lines = err.strip().splitlines()
    shown = "fgtrace " + " ".join(repr(str(a)) for a in args)
    if rc != 2:
        return f"{shown}: exit {rc}, expected 2; stderr {err!r}"
    if not lines or not lines[0].startswith("fgtrace: "):
        return f"{shown}: stderr should start with 'fgtrace: ', is {err!r}"
    if len(lines) > 2 or (len(lines) == 2 and "--help" not in lines[1]):
        return f"{shown}: expected one line (and a --help pointer), got {lines}"
    if word and word not in lines[0]:
        return f"{shown}: the message does not name {word!r}: {lines[0]!r}"
    if out or os.listdir(d):
        return f"{shown}: wrote {out[:60]!r} to stdout and files {os.listdir(d)}"
    return None
