"""Bad input: every row of the table gets a clear message, the right exit
status, and leaves the target untouched. "Untouched" is judged from the
outside: TracerPid and state letters in /proc, and the run count of a thread
blocked in read(), which any ptrace stop would move."""
import os
import resource
import shutil
import signal
import subprocess
import time

import tefcheck
from lib import (FGTRACE, Skip, free_pid, load_trace, proc_bytes, proc_state, run_count,
                 usage_problem,
                 run_fgtrace, start_target, status_field, stop_target, thread_ids,
                 thread_names, tmpdir, tracer_pid, wait_for)

TIMEOUT = 60
NOBODY = 65534


# ---- /proc, read as bytes ------------------------------------------------------

def fingerprint(pid):
    """What any attach would change: each thread's tracer and, for the thread
    blocked in read() for good, its voluntary context switches and run count
    (a ptrace stop wakes it and moves both)."""
    out = {}
    for tid in thread_ids(pid):
        name = proc_bytes(pid, tid, "comm").rstrip(b"\n").decode(errors="replace")
        blocked = name == "blk-read"
        out[tid] = (name, tracer_pid(pid, tid),
                    status_field(pid, "voluntary_ctxt_switches", tid) if blocked else None,
                    run_count(pid, tid) if blocked else None)
    return out


def untouched_target(**kw):
    """sigcount, once its "blk-read" thread sleeps in read() for good: then
    nothing but a stop can make that thread run."""
    p = start_target("sigcount", **kw)
    reader = [t for t, v in fingerprint(p.pid).items() if v[0] == "blk-read"]
    assert reader, f"sigcount has no blk-read thread: {fingerprint(p.pid)}"
    wait_for(lambda: proc_state(p.pid, reader[0]) == "S", 5, "blk-read to block")
    return p


def assert_untouched(pid, before, what):
    after = fingerprint(pid)
    assert after == before, f"{what}: the target was touched: " \
        f"(name, TracerPid, voluntary switches, run count) before {before}, after {after}"
    stopped = {t: proc_state(pid, t) for t in thread_ids(pid) if proc_state(pid, t) in "tT"}
    assert not stopped, f"{what}: threads left stopped: {stopped}"


def first_line(err):
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("fgtrace: "), f"stderr should start with 'fgtrace: ': {err!r}"
    return lines[0]


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def run_as_nobody(args, timeout=20):
    """fgtrace ARGS with uid and gid 65534 (nobody), no groups."""
    p = subprocess.run([str(FGTRACE)] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, preexec_fn=as_nobody)
    return p.returncode, p.stdout, p.stderr


def open_dir():
    """A fresh directory anyone may write to."""
    d = tmpdir()
    os.chmod(d, 0o777)
    return d


# ---- targets we may not or cannot trace --------------------------------------------

def test_nonexistent_pid():
    pid = free_pid()
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-p", pid, "-o", d / "t.json"], timeout=10)
    assert rc == 1, f"-p {pid} (no such process): exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    assert str(pid) in line and "no such process" in line.lower(), \
        f"the message must name {pid} and say 'no such process': {line!r}"
    assert not (d / "t.json").exists(), "an output file was left for a missing process"


def test_eperm_as_another_user_names_the_fix():
    p = untouched_target()
    before = fingerprint(p.pid)
    d = open_dir()
    rc, _, err = run_as_nobody(["-q", "-p", p.pid, "-o", d / "t.json"])
    assert rc == 1, f"nobody tracing root's {p.pid}: exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    for word in (str(p.pid), "root", "CAP_SYS_PTRACE", "ptrace_scope"):
        assert word in line, f"the message must name {word!r}: {line!r}"
    assert not (d / "t.json").exists(), "a refused attach left an output file"
    assert_untouched(p.pid, before, "after a refused attach")
    assert stop_target(p) == 0


def check_traced_by_strace(strace_args, traced_tid):
    """strace STRACE_ARGS on sigcount; once it traces traced_tid (a function
    of the target's pid), fgtrace must refuse naming it, and leave it be."""
    if not shutil.which("strace"):
        raise Skip("strace is not installed")
    p = untouched_target()
    tid = traced_tid(p.pid)
    s = subprocess.Popen(["strace", "-qq", "-o", "/dev/null"] + strace_args + [str(tid)],
                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: tracer_pid(p.pid, tid) == s.pid, 10, f"strace to trace {tid}")
        before = fingerprint(p.pid)
        d = tmpdir()
        rc, _, err = run_fgtrace(["-d", "1s", "-p", p.pid, "-o", d / "t.json"], timeout=10)
        assert rc == 1, f"fgtrace on {p.pid}, whose thread {tid} strace traces: exit " \
            f"{rc}, expected 1; stderr {err!r}"
        line = first_line(err)
        assert str(s.pid) in line, f"the message must name strace's pid {s.pid}: {line!r}"
        assert "strace" in line, f"the message should name the tracer, strace: {line!r}"
        assert fingerprint(p.pid) == before, \
            f"the target was touched: before {before}, after {fingerprint(p.pid)}"
    finally:
        s.send_signal(signal.SIGINT)  # strace detaches on SIGINT
        s.wait(10)
    wait_for(lambda: all(tracer_pid(p.pid, t) == 0 for t in thread_ids(p.pid)), 5,
             "strace to detach")
    assert stop_target(p) == 0


def test_already_traced_by_strace_names_the_tracer():
    check_traced_by_strace(["-p"], lambda pid: pid)


def test_one_thread_traced_by_strace_names_the_tracer():
    # strace -p TID of one thread: the process is half taken. Tracing the
    # rest in silence would leave that thread out of the capture.
    check_traced_by_strace(["-p"], lambda pid: max(thread_ids(pid)))


def kernel_thread_pid():
    """pid 2 (kthreadd) when its flags say PF_KTHREAD, else the first that does."""
    pf_kthread = 0x00200000
    candidates = [2] + sorted(int(x) for x in os.listdir("/proc") if x.isdigit())
    for pid in candidates:
        try:
            stat = proc_bytes(pid, None, "stat")
        except OSError:
            continue
        flags = int(stat[stat.rindex(b")") + 2:].split()[6])
        if flags & pf_kthread:
            return pid
    raise Skip("no kernel thread is visible in /proc")


def test_kernel_thread_is_refused():
    pid = kernel_thread_pid()
    d = tmpdir()
    rc, _, err = run_fgtrace(["-q", "-p", pid, "-o", d / "t.json"], timeout=10)
    assert rc == 1, f"-p {pid} (a kernel thread): exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    assert str(pid) in line and "kernel thread" in line, \
        f"the message must name {pid} and say it is a kernel thread: {line!r}"
    assert tracer_pid(pid) == 0


def test_own_pid_is_refused():
    d = tmpdir()
    p = subprocess.run(["sh", "-c", 'exec "$0" -q -o "$1" -p $$', str(FGTRACE),
                        str(d / "t.json")], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1, f"fgtrace -p (itself): exit {p.returncode}, expected 1; " \
        f"stderr {p.stderr!r}"
    line = first_line(p.stderr)
    assert "itself" in line, f"the message must say it is fgtrace itself: {line!r}"


def test_tid_of_non_leader_thread_traces_the_whole_process():
    p = start_target("spinner", ["4"])
    tids = thread_ids(p.pid)
    tid = max(t for t in tids if t != p.pid)
    d = tmpdir()
    rc, _, err = run_fgtrace(["-F", "99", "-d", "500ms", "-o", d / "t.json", "-p", tid],
                             timeout=20)
    assert rc == 0, f"-p {tid} (a thread of {p.pid}): exit {rc}, expected 0; {err!r}"
    note = [l for l in err.splitlines() if "note" in l and str(tid) in l]
    assert note and str(p.pid) in note[0], \
        f"expected a note naming thread {tid} and its process {p.pid}: {err!r}"
    tefcheck.check(d / "t.json")
    events = load_trace(d / "t.json")
    sampled = {e["tid"] for e in events if e.get("ph") == "B"}
    assert set(tids) <= sampled, f"threads {tids} of {p.pid}, sampled {sorted(sampled)}"
    assert {e["pid"] for e in events} == {p.pid}, "events under another pid than the tgid"
    assert set(thread_names(events)) >= set(tids)
    assert all(tracer_pid(p.pid, t) == 0 and proc_state(p.pid, t) not in "tT"
               for t in thread_ids(p.pid)), "the target was left traced or stopped"
    assert stop_target(p) == 0


# ---- outputs that cannot be written ---------------------------------------------------

def test_output_in_missing_directory_fails_before_attaching():
    p = untouched_target()
    before = fingerprint(p.pid)
    path = tmpdir() / "no" / "such" / "dir" / "t.json"
    rc, _, err = run_fgtrace(["-q", "-p", p.pid, "-o", path], timeout=10)
    assert rc == 1, f"-o {path}: exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    assert str(path) in line, f"the message must name {path}: {line!r}"
    assert_untouched(p.pid, before, "after an output that cannot be created")
    assert stop_target(p) == 0


def test_output_in_unwritable_directory_fails_before_attaching():
    # Target and fgtrace both run as nobody, so only the output stands in
    # the way: it must be checked before the attach.
    p = untouched_target(preexec_fn=as_nobody)
    before = fingerprint(p.pid)
    d = tmpdir()
    os.chmod(d, 0o555)
    path = d / "t.json"
    rc, _, err = run_as_nobody(["-q", "-p", p.pid, "-o", path])
    assert rc == 1, f"-o {path} (no write permission): exit {rc}, expected 1; {err!r}"
    line = first_line(err)
    assert str(path) in line, f"the message must name {path}: {line!r}"
    assert "ermission" in line, f"the message should give the reason: {line!r}"
    assert_untouched(p.pid, before, "after an output that cannot be created")
    assert stop_target(p) == 0


def test_write_failure_mid_capture_detaches_and_fails():
    p = start_target("spinner", ["2"])
    t0 = time.monotonic()
    rc, _, err = run_fgtrace(["-q", "-F", "999", "--format", "trace", "-o", "/dev/full",
                              "-p", p.pid], timeout=20)
    took = time.monotonic() - t0
    assert rc == 1, f"-o /dev/full: exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    assert "/dev/full" in line and "No space left" in line, \
        f"the message must name /dev/full and the error: {line!r}"
    assert took < 5, f"fgtrace took {took:.1f} s to give up on /dev/full"
    problems = [(t, proc_state(p.pid, t), tracer_pid(p.pid, t)) for t in thread_ids(p.pid)
                if proc_state(p.pid, t) in "tT" or tracer_pid(p.pid, t)]
    assert not problems, f"threads left stopped or traced: {problems}"
    assert stop_target(p) == 0


def limit_file_size():
    """In the child before exec: files of at most 4 KiB; SIGXFSZ ignored,
    so that a longer write fails with EFBIG instead of killing fgtrace."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_file_too_large_mid_capture_detaches_and_fails():
    p = untouched_target()
    path = tmpdir() / "t.json"
    f = subprocess.Popen([str(FGTRACE), "-q", "-F", "999", "-o", str(path), "-p",
                          str(p.pid)], stderr=subprocess.PIPE, text=True,
                         preexec_fn=limit_file_size)
    try:
        # It attached and wrote before the limit hit: a failure mid-capture.
        wait_for(lambda: f.poll() is not None or
                 all(tracer_pid(p.pid, t) == f.pid for t in thread_ids(p.pid)), 5,
                 "fgtrace to attach")
        rc = f.wait(10)
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()
    err = f.stderr.read()
    assert rc == 1, f"a write failing with EFBIG: exit {rc}, expected 1; stderr {err!r}"
    line = first_line(err)
    assert str(path) in line and "too large" in line, \
        f"the message must name {path} and the error: {line!r}"
    assert path.stat().st_size > 0, "nothing was written before the failure"
    bad = {t: (proc_state(p.pid, t), tracer_pid(p.pid, t)) for t in thread_ids(p.pid)
           if proc_state(p.pid, t) in "tT" or tracer_pid(p.pid, t)}
    assert not bad, f"threads left stopped or traced: {bad}"
    assert stop_target(p) == 0


# ---- usage errors ------------------------------------------------------------------------

CMD = ["--", "true"]


def check_usage(cases):
    found = [p for p in (usage_problem(a, w) for a, w in cases) if p]
    assert not found, f"{len(found)} of {len(cases)} not refused properly:\n  " + \
        "\n  ".join(found)


def test_bad_hz_gives_usage_error():
    check_usage([(["-F", v] + CMD, "hz") for v in
                 ("0", "10001", "-1", "abc", "", "99x", "1e3", "0x10", "99999999999999999999")]
                + [(["-F"], "-F")])


def test_bad_duration_gives_usage_error():
    check_usage([(["-d", v] + CMD, "duration") for v in
                 ("0", "-1s", "5x", "", "1..5s", "ms", "1 s", "721h", "99999999999999999999s")]
                + [(["-d"], "-d")])


def test_bad_pid_gives_usage_error():
    check_usage([(["-p", v], "pid") for v in
                 ("0", "-5", "abc", "", "12x", "4194305", "99999999999999999999", "1.5")]
                + [(["-p"], "-p")])


def test_bad_priority_gives_usage_error():
    check_usage([(["--priority", v] + CMD, "priority") for v in ("", "rt", "REALTIME", "fifo")]
                + [(["--priority"], "--priority")])


def test_unknown_options_give_usage_error():
    check_usage([(["--bogus"] + CMD, "--bogus"), (["-Z"] + CMD, "-Z"),
                 (["--pid"], "--pid"), (["-p", "1", "stray"], "stray")])


def test_no_target_gives_usage_error():
    check_usage([([], "target"), (["-q"], "target"), (["-F", "99", "-d", "1s"], "target"),
                 (["-p", os.getpid(), "--", "true"], "not both")])
