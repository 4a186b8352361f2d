"""Symbols as good as a debugger's, on real builds made here: a C++ method of a
class template with an always-inline helper as its own inline frame, each
--demangle style, the same program stripped with its debug information found
through .gnu_debuglink, a .build-id directory and a local debuginfod server,
code in unusual places (a deleted binary, a path that exists only in the
target's mount namespace, JIT code named by a perf map), a library dlopened
during the capture, frames with no symbol, code whose call frame information
is only in .debug_frame (C, and a Go program), glibc's clone, whose system
call no CFI covers, code built with frame pointers in threads sampled without
a stop, and what symbolization costs.

The C++ program and the library (tests/targets/cxx/) are built by the tests
into their temporary directories, since each build variant is part of the
test. Every trace made here is checked: each B event has a non-empty name."""
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import tefcheck
from lib import (ROOT, Skip, fgtrace_meta, figure, load_trace, ns_to_trace_us, read_folded,
                 read_line, run_fgtrace, samples_with, spans, start_fgtrace, start_target,
                 stop_target, target, thread_cpu_ns, tmpdir, tracer_pid, wait_for)

TIMEOUT = 150
CXX_DIR = ROOT / "tests" / "targets" / "cxx"
APP_SRC = CXX_DIR / "app.cpp"
LIB_SRC = CXX_DIR / "libdlwork.c"
CLONES_SRC = CXX_DIR.parent / "clones" / "clones.c"
HEX_NAME = re.compile(r"^(?P<module>.+)\+0x(?P<offset>[0-9a-f]+)$")

# The frames the C++ program spends its time in, from the root down, for each
# --demangle style: (name, cat).
CHAINS = {
    "short": [("main", "function"), ("app::Worker<int>::run", "function"),
              ("app::mix_step", "inline")],
    "full": [("main", "function"), ("app::Worker<int>::run(unsigned long)", "function"),
             ("app::mix_step(unsigned long)", "inline")],
    "none": [("main", "function"), ("_ZN3app6WorkerIiE3runEm", "function"),
             ("_ZN3app8mix_stepEm", "inline")],
}
SHORT = CHAINS["short"]


# ---- building ----------------------------------------------------------------

def run_tool(argv, what, **kw):
    """Runs a build tool; a failure names the command and its output."""
    if not shutil.which(argv[0]):
        raise AssertionError(f"cannot {what}: {argv[0]} is not installed")
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"cannot {what}: {' '.join(map(str, argv))} exited "
                             f"{p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p.stdout


def build_app(d, name="app"):
    """The C++ program built -O2 -g with a build id, as d/name."""
    out = d / name
    run_tool(["g++", "-O2", "-g", "-pthread", "-Wl,--build-id", "-o", out, APP_SRC],
             "build the C++ test program")
    return out


def build_id(path):
    """The hex GNU build id of an ELF file."""
    m = re.search(r"Build ID:\s*([0-9a-f]+)", run_tool(["readelf", "-n", path],
                                                        "read a build id"))
    if not m:
        raise AssertionError(f"{path} has no build id note")
    return m.group(1)


def strip_all(src, dst):
    """A copy of src without any symbol table or debug information."""
    run_tool(["objcopy", "--strip-all", src, dst], "strip the test program")
    sections = run_tool(["readelf", "-S", "-W", dst], "list sections")
    for s in (".symtab", ".debug_info"):
        assert s not in sections, f"{dst} still has {s} after objcopy --strip-all"
    return dst


def keep_debug(src, dst):
    run_tool(["objcopy", "--only-keep-debug", src, dst], "split the debug information")
    return dst


def source_lines(path, needle):
    """Line numbers (from 1) of the lines of path that contain needle."""
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    assert lines, f"{path} has no line with {needle!r}: the test is out of date"
    return lines


# ---- captures and what they hold ---------------------------------------------

def check_frame_names(events, label):
    """Every B event of every trace made here has a non-empty name."""
    bad = [e for e in events if e.get("ph") == "B"
           and not (isinstance(e.get("name"), str) and e["name"].strip())]
    assert not bad, f"{label}: {len(bad)} B events with an empty name, e.g. {bad[:3]}"


def load_checked(out):
    tefcheck.check(out)
    events = load_trace(out)
    check_frame_names(events, str(out))
    return events


def capture(d, name, args, env=None, timeout=60):
    """fgtrace -q -o d/name ARGS, which must succeed; returns its events."""
    out = d / name
    rc, _, err = run_fgtrace(["-q", "-o", out] + [str(a) for a in args], timeout=timeout,
                             env=env)
    assert rc == 0, f"fgtrace {args} exited {rc}, expected 0; stderr: {err.strip()!r}"
    return load_checked(out)


def stacks(events):
    """(tid, ts, stack) at each B event; stack lists (name, cat, args) from
    the root to the frame that event begins."""
    open_frames, out = {}, []
    for e in events:
        tid = e.get("tid")
        if e.get("ph") == "B":
            st = open_frames.setdefault(tid, [])
            st.append((e["name"], e.get("cat"), e.get("args") or {}))
            out.append((tid, e["ts"], list(st)))
        elif e.get("ph") == "E" and open_frames.get(tid):
            open_frames[tid].pop()
    return out


def find_chain(events, chain):
    """The frames of the first stack in which chain ((name, cat) pairs) lies
    directly nested, one under the other; None when no stack has it."""
    n = len(chain)
    for _, _, st in stacks(events):
        for i in range(len(st) - n + 1):
            if [(name, cat) for name, cat, _ in st[i:i + n]] == chain:
                return st[i:i + n]
    return None


def stack_with(events, name):
    """The names of the first stack that holds name, root first, or None."""
    for _, _, st in stacks(events):
        if any(n == name for n, _, _ in st):
            return [n for n, _, _ in st]
    return None


def leaf_names(events, module):
    return sorted({name for _, _, st in stacks(events) for name, _, a in st
                   if a.get("module") == module})


def assert_chain(events, chain, label, module="app"):
    """chain is in the trace, each frame with its module and a source file."""
    found = find_chain(events, chain)
    assert found, (f"{label}: no stack holds {[n for n, _ in chain]} nested in that "
                   f"order; frames of module {module}: {leaf_names(events, module)}; "
                   f"a stack with {chain[-1][0]}: {stack_with(events, chain[-1][0])}")
    for name, cat, args in found:
        assert args.get("module") == module, f"{label}: {name} has args {args}"
        assert args.get("file"), f"{label}: {name} ({cat}) has no source file: {args}"
    return found


def assert_app_args(found, label):
    """The source file and declaration lines of the C++ program's frames."""
    expected_lines = {
        "main": source_lines(APP_SRC, "int main("),
        "run": (source_lines(APP_SRC, "uint64_t run(uint64_t until_ms);") +
                source_lines(APP_SRC, "Worker<T>::run(")),
        "mix_step": source_lines(APP_SRC, "void mix_step("),
    }
    for (name, cat, args), key in zip(found, ["main", "run", "mix_step"]):
        assert Path(args["file"]).name == APP_SRC.name, (
            f"{label}: {name} has file {args['file']!r}, expected .../{APP_SRC.name}")
        assert args.get("line") in expected_lines[key], (
            f"{label}: {name} has line {args.get('line')}, expected one of "
            f"{expected_lines[key]} (its declaration in {APP_SRC.name})")


# ---- 1. C++ names, inline frames, demangling ----------------------------------

def test_cxx_method_with_inline_helper_in_each_demangle_style():
    d = tmpdir()
    app = build_app(d)
    events = capture(d, "short.json", ["--", app, 400])
    assert_app_args(assert_chain(events, SHORT, "default (short) names"), "short")
    for style in ("full", "none"):
        events = capture(d, f"{style}.json", [f"--demangle={style}", "--", app, 300])
        assert_app_args(assert_chain(events, CHAINS[style], f"--demangle={style}"), style)
    short_events = capture(d, "explicit-short.json", ["--demangle=short", "--", app, 200])
    assert_chain(short_events, SHORT, "--demangle=short")


def test_compiler_clones_and_cold_parts_read_as_their_function():
    # GCC at -O2 clones clone_me and complain for a constant argument
    # (.constprop.0) and moves split_me's unlikely branch to split_me.cold;
    # at run time that branch is the hot one, so complain's caller is a
    # return address in split_me.cold.
    d = tmpdir()
    exe = d / "clones"
    run_tool(["gcc", "-O2", "-g", "-o", exe, CLONES_SRC], "build the clones program")
    syms = run_tool(["nm", exe], "list its symbols")
    for part in ("clone_me.constprop.", "complain.constprop.", "split_me.cold"):
        if part not in syms:
            raise Skip(f"this compiler made no {part}* of the clones program")
    events = capture(d, "clones.json", ["-F", "999", "--", exe, 400])
    names = {e["name"] for e in events if e.get("ph") == "B"}
    suffixed = sorted(n for n in names if re.search(r"\.(constprop|isra|part|cold)\b", n))
    assert not suffixed, f"frames named after a clone or split part: {suffixed}"
    assert "clone_me" in names, f"clone_me.constprop.0 is not named clone_me: " \
        f"{sorted(names)}"
    found = find_chain(events, [("split_me", "function"), ("complain", "function")])
    assert found, ("complain, called from split_me.cold, is not nested under split_me: "
                   f"{sorted(names)}")


# ---- 2. separate debug information -------------------------------------------

def reference_frames(d, app):
    """The C++ program's frames in an unstripped run: name -> (cat, args)."""
    events = capture(d, "unstripped.json", ["--", app, 300])
    found = assert_chain(events, SHORT, "unstripped reference run")
    return {name: (cat, args) for name, cat, args in found}


def assert_matches_reference(events, ref, label, hex_allowed_first=False):
    """The stripped run names the same frames as the unstripped one, with the
    same args, and (unless hex_allowed_first) never falls back to app+0x....
    With hex_allowed_first, fallback names may precede the first real name
    (debug information still arriving), but not follow it."""
    found = assert_chain(events, SHORT, label)
    for name, cat, args in found:
        assert (cat, args) == ref[name], (f"{label}: {name} is ({cat}, {args}); the "
                                          f"unstripped run had {ref[name]}")
    named_seen = False
    for _, ts, st in stacks(events):
        name, _, args = st[-1]
        if args.get("module") != "app":
            continue
        if HEX_NAME.match(name):
            assert hex_allowed_first and not named_seen, (
                f"{label}: frame {name} at {ts} µs has no name; named frames: "
                f"{leaf_names(events, 'app')}")
        else:
            named_seen = True


def stripped_setup():
    """A temporary directory with the unstripped program, its frames in a
    reference run, its debug file and build id."""
    d = tmpdir()
    app = build_app(d)
    ref = reference_frames(d, app)
    debug = keep_debug(app, d / "app.debug")
    return d, app, ref, debug, build_id(app)


def test_stripped_binary_with_gnu_debuglink():
    d, app, ref, debug, _ = stripped_setup()
    side = d / "linked"
    side.mkdir()
    stripped = strip_all(app, side / "app")
    shutil.copy(debug, side / "app.debug")
    run_tool(["objcopy", f"--add-gnu-debuglink={side / 'app.debug'}", stripped],
             "add a .gnu_debuglink")
    events = capture(d, "debuglink.json", ["--", stripped, 300])
    assert_matches_reference(events, ref, ".gnu_debuglink next to the binary")


def test_stripped_binary_with_build_id_directory():
    d, app, ref, debug, bid = stripped_setup()
    (d / "bin").mkdir()
    stripped = strip_all(app, d / "bin" / "app")
    # Control: without the directory nothing names the program's code.
    events = capture(d, "nodebug.json", ["--", stripped, 200])
    assert not find_chain(events, SHORT[1:2]), (
        "the stripped program was named without its debug information: the test "
        f"cannot tell whether --debuginfo-path works; frames {leaf_names(events, 'app')}")
    debug_dir = d / "debug"
    target = debug_dir / ".build-id" / bid[:2] / f"{bid[2:]}.debug"
    target.parent.mkdir(parents=True)
    shutil.copy(debug, target)
    events = capture(d, "buildid.json",
                     [f"--debuginfo-path={debug_dir}", "--", stripped, 300])
    assert_matches_reference(events, ref, "--debuginfo-path with a .build-id tree")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url):
    """The HTTP status of a GET, or None when nothing answers. Proxies from
    the environment are bypassed: the server is local."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def start_debuginfod(d, files):
    """Debian's debuginfod on 127.0.0.1, scanning files; returns (process,
    url, log path)."""
    if not shutil.which("debuginfod"):
        raise AssertionError("debuginfod is not installed (Debian package debuginfod)")
    port = free_port()
    log = d / "debuginfod.log"
    with open(log, "w") as f:
        server = subprocess.Popen(
            ["debuginfod", "-p", str(port), "-F", "-d", str(d / "debuginfod.sqlite"),
             "-t", "0", "-g", "0", "-c", "1", str(files)],
            stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}", log


def wait_until_served(server, url, bid, log, timeout=30):
    """Polls the server, with a deadline, until it serves the debug file."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"debuginfod exited {server.returncode} before serving: "
                                 f"{log.read_text()[-800:]}")
        last = http_status(f"{url}/buildid/{bid}/debuginfo")
        if last == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"debuginfod did not serve build id {bid} within {timeout}s "
                         f"(last status {last}); log: {log.read_text()[-800:]}")


def test_stripped_binary_with_debuginfod():
    d, app, ref, debug, bid = stripped_setup()
    (d / "bin").mkdir()
    stripped = strip_all(app, d / "bin" / "app")
    files = d / "served"
    files.mkdir()
    shutil.copy(debug, files / "app.debug")
    cache = d / "debuginfod-cache"
    server, url, log = start_debuginfod(d, files)
    try:
        wait_until_served(server, url, bid, log)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DEBUGINFOD_") and "proxy" not in k.lower()}
        env.update(DEBUGINFOD_URLS=url, DEBUGINFOD_CACHE_PATH=str(cache),
                   DEBUGINFOD_TIMEOUT="20")
        events = capture(d, "debuginfod.json", ["--", stripped, 500], env=env)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert (cache / bid / "debuginfo").exists(), (
        f"the debug file did not come through debuginfod: {cache} holds "
        f"{sorted(str(p.relative_to(cache)) for p in cache.rglob('*'))}; "
        f"server log: {log.read_text()[-800:]}")
    assert_matches_reference(events, ref, "debuginfod", hex_allowed_first=True)


# ---- 3. unusual places for the code ------------------------------------------

class Program:
    """A program started here with stdin and stdout piped; it must say
    "ready". Killed on exit from the with block if still running."""

    def __init__(self, argv):
        self.p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.pid = self.p.pid

    def __enter__(self):
        try:
            line = read_line(self.p, timeout=15)
        except AssertionError as e:
            self.__exit__()
            raise AssertionError(f"{self.p.args} did not say ready ({e}); stderr: "
                                 f"{self.p.stderr.read()!r}") from None
        assert line.split() == ["ready"], f"{self.p.args} said {line!r}, not ready"
        return self

    def stop(self):
        """Sends "q" and expects exit status 0."""
        self.p.stdin.write("q\n")
        self.p.stdin.close()
        rc = self.p.wait(10)
        assert rc == 0, f"{self.p.args} exited {rc}: {self.p.stderr.read()!r}"

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def attach(d, name, pid, duration="700ms"):
    return capture(d, name, ["-p", pid, "-d", duration])


def test_deleted_binary_is_named():
    d = tmpdir()
    app = build_app(d)
    with Program([app]) as prog:
        app.unlink()
        exe = os.readlink(f"/proc/{prog.pid}/exe")
        assert exe.endswith(" (deleted)"), f"/proc/{prog.pid}/exe is {exe!r}"
        events = attach(d, "deleted.json", prog.pid)
        prog.stop()
    assert_app_args(assert_chain(events, SHORT, "deleted binary"), "deleted binary")
    # A static function has no linkage name: its namespace comes from the
    # DWARF scopes around it, as a debugger shows it.
    names = {e["name"] for e in events if e.get("ph") == "B"}
    assert "app::watch_stdin" in names, \
        f"the static function app::watch_stdin is not named with its namespace: " \
        f"{sorted(n for n in names if 'watch_stdin' in n)}"


def test_binary_only_in_its_mount_namespace_is_named():
    d = tmpdir()
    app = build_app(d)
    mnt = d / "mnt"
    mnt.mkdir()
    script = f'mount -t tmpfs none "{mnt}" && cp "{app}" "{mnt}/" && exec "{mnt}/app"'
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise AssertionError("cannot make a mount namespace here (unshare -m): "
                             f"{probe.stderr.strip()}")
    with Program(["unshare", "-m", "sh", "-c", script]) as prog:
        exe = os.readlink(f"/proc/{prog.pid}/exe")
        assert exe == str(mnt / "app"), f"/proc/{prog.pid}/exe is {exe!r}"
        assert not (mnt / "app").exists(), (
            f"{mnt / 'app'} is visible outside the target's mount namespace")
        events = attach(d, "mntns.json", prog.pid)
        prog.stop()
    assert_app_args(assert_chain(events, SHORT, "binary in another mount namespace"),
                    "mount namespace")


def wait_cpu(pid, ms, what):
    """Waits, with a deadline, until the thread pid has run ms more of CPU:
    samples enough to land in the code it runs now."""
    start = thread_cpu_ns(pid, pid)
    wait_for(lambda: thread_cpu_ns(pid, pid) - start >= ms * 1_000_000, 15,
             f"{ms} ms of CPU in {what}")


def traced_capture(name, args, d, steps):
    """Attaches fgtrace (-d 30s) to a target started with start_target, runs
    steps(p) once it is traced, stops the target (which ends the capture) and
    returns the events."""
    p = start_target(name, args)
    out = d / f"{name}.json"
    f = start_fgtrace(["-q", "-p", p.pid, "-d", "30s", "-o", out])
    try:
        wait_for(lambda: tracer_pid(p.pid) != 0 or f.poll() is not None, 10,
                 "fgtrace to attach")
        assert f.poll() is None, f"fgtrace exited {f.returncode}: {f.stderr.read()}"
        steps(p)
        assert stop_target(p) == 0, f"{name} did not exit 0"
        f.wait(30)
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()
        jitmap = Path(f"/tmp/perf-{p.pid}.map")
        if jitmap.exists():
            jitmap.unlink()
    assert f.returncode == 0, f"fgtrace exited {f.returncode}: {f.stderr.read()}"
    return load_checked(out)


def jit_leaves(events):
    """The spans directly under run_generated: the generated code's frames."""
    out = []
    for ss in spans(events).values():
        parents = {}
        for s in ss:
            parents[s.depth] = s
            parent = parents.get(s.depth - 1)
            if parent and parent.name == "run_generated" and parent.begin <= s.begin:
                out.append(s)
    return out


def jit_leaf_time(events):
    """Time (ms) of each frame directly under run_generated."""
    out = {}
    for s in jit_leaves(events):
        out[s.name] = round(out.get(s.name, 0) + s.dur / 1000)
    return out


# After the map grows, its new entry may wait for the next rescan of the
# modules and the map (at most every 100 ms); allow that and a tick.
GROWN_NAME_DELAY_US = 250_000


def test_jit_code_named_by_a_growing_perf_map():
    d = tmpdir()
    grow_ns = []

    def steps(p):
        wait_cpu(p.pid, 300, "jit_alpha")
        grow_ns.append(time.monotonic_ns())
        p.stdin.write("grow\n")
        p.stdin.flush()
        line = read_line(p, 10).strip()
        assert line == "grown", f"jitmap answered {line!r} to grow"
        wait_cpu(p.pid, 300, "jit_beta")

    events = traced_capture("jitmap", [], d, steps)
    for fn in ("jit_alpha", "jit_beta"):
        found = find_chain(events, [("run_generated", "function"), (fn, "function")])
        assert found, (f"{fn} is not named under run_generated; leaves there (ms): "
                       f"{jit_leaf_time(events)}")
        assert "module" not in found[1][2], f"{fn} has a module: {found[1][2]}"
    grown = ns_to_trace_us(grow_ns[0], fgtrace_meta(events))
    unknown = [s for s in jit_leaves(events) if s.name == "[unknown]"]
    early = [f"{s.begin / 1000:.0f}-{s.end / 1000:.0f} ms" for s in unknown
             if s.begin < grown]
    assert not early, (f"jit_alpha, in the perf map since before the capture, read "
                       f"[unknown] at {early} (the map grew at {grown / 1000:.0f} ms); "
                       f"leaves under run_generated (ms): {jit_leaf_time(events)}")
    late = [f"{s.begin / 1000:.0f}-{s.end / 1000:.0f} ms" for s in unknown
            if s.dur > GROWN_NAME_DELAY_US]
    assert not late, (f"jit_beta read [unknown] for too long after the map grew at "
                      f"{grown / 1000:.0f} ms: {late}")


def test_jit_code_between_two_mappings_of_one_file_is_named():
    """V8 maps its builtins a second time, far above the binary, with its
    generated code in between; libdw gives the binary's module that whole
    range. The generated code must still be named by the perf map, not be
    taken for code of the binary with no symbol."""
    d = tmpdir()
    events = traced_capture("jitmap", ["remap"], d,
                            lambda p: wait_cpu(p.pid, 300, "jit_alpha"))
    found = find_chain(events, [("run_generated", "function"), ("jit_alpha", "function")])
    assert found, (f"jit_alpha is not named under run_generated; leaves there (ms): "
                   f"{jit_leaf_time(events)}; leaves: {leaf_names(events, 'jitmap')}")
    assert "module" not in found[1][2], f"jit_alpha has a module: {found[1][2]}"


# ---- 4. dlopen during the capture --------------------------------------------

def test_library_dlopened_mid_capture_is_named():
    d = tmpdir()
    so = d / "libdlwork.so"
    run_tool(["gcc", "-O2", "-g", "-fPIC", "-shared", "-o", so, LIB_SRC],
             "build the test library")

    def steps(p):
        with open(f"/proc/{p.pid}/maps") as f:
            assert so.name not in f.read(), "the library is loaded before the capture"
        p.stdin.write("go\n")
        p.stdin.flush()
        line = read_line(p, 20).strip()
        assert line == "done", f"dlopener said {line!r}, expected done"

    events = traced_capture("dlopener", [so], d, steps)
    found = find_chain(events, [("main", "function"), ("dlwork_spin", "function")])
    assert found, ("dlwork_spin is not named under main; frames of libdlwork.so: "
                   f"{leaf_names(events, so.name)}")
    args = found[1][2]
    assert args.get("module") == so.name, f"dlwork_spin has args {args}"
    assert Path(args.get("file", "")).name == LIB_SRC.name, f"dlwork_spin has args {args}"


# ---- 5. frames with no symbol ------------------------------------------------

def function_starts(path):
    """{address: name} of the functions in an ELF file's symbol table."""
    out = {}
    for line in run_tool(["nm", "--defined-only", path], "list the symbols").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "t", "W", "i"):  # code, weak, ifunc
            out[int(parts[0], 16)] = parts[2]
    return out


def fde_ranges(path):
    """[(start, end)] of the code that an ELF file's .eh_frame covers."""
    out = run_tool(["readelf", "--debug-dump=frames", path], "list the FDEs")
    return [(int(a, 16), int(b, 16))
            for a, b in re.findall(r"pc=([0-9a-f]+)\.\.([0-9a-f]+)", out)]


def test_frames_without_symbols_read_module_offset_or_unknown():
    d = tmpdir()
    full = build_app(d, "app.full")
    stripped = strip_all(full, d / "app")
    events = capture(d, "nosym.json", ["--", stripped, 300])
    app_frames = [name for _, _, st in stacks(events) for name, _, a in st
                  if a.get("module") == "app"]
    assert app_frames, "no frame of the stripped program in the trace"
    # PLT stubs keep their names: they come from the dynamic relocations.
    bad = sorted({n for n in app_frames if not n.endswith("@plt") and
                  not (HEX_NAME.match(n) and HEX_NAME.match(n)["module"] == "app")})
    assert not bad, f"frames of the stripped program not named app+0x...: {bad}"
    # Each is named after the start of its function, from the unwind tables:
    # one frame per function, as the symbols the strip removed would give
    # (the program is position-independent and loaded from offset 0).
    # A pc in code no FDE covers (gcc's __do_global_dtors_aux, which runs at
    # the exit) has nothing to name it by but itself.
    starts = function_starts(full)
    covered = fde_ranges(stripped)
    named = {n: int(HEX_NAME.match(n)["offset"], 16) for n in app_frames
             if not n.endswith("@plt")}
    not_starts = sorted(n for n, off in named.items() if off not in starts and
                        any(a <= off < b for a, b in covered))
    assert not not_starts, (f"frames of the stripped program not at a function's start: "
                            f"{not_starts}; its functions: {sorted(map(hex, starts))}")
    figure(f"stripped program: {len(app_frames)} frames, "
           f"{len(named)} functions: " +
           ", ".join(f"{n} = {starts.get(off, '(no FDE)')}"
                     for n, off in sorted(named.items())))

    events = traced_capture("jitmap", ["nomap"], d,
                            lambda p: wait_cpu(p.pid, 200, "unnamed generated code"))
    found = find_chain(events, [("run_generated", "function"), ("[unknown]", "function")])
    assert found, (f"generated code without a perf map is not [unknown]: "
                   f"{jit_leaf_time(events)}")
    assert "module" not in found[1][2], f"[unknown] has a module: {found[1][2]}"


# ---- 6. PLT stubs ------------------------------------------------------------

PLT_DIR = ROOT / "tests" / "targets" / "plt"

# How each build lays out the stub that calls plt_callee: (section, flags).
# A .plt.got stub (a function whose address is also taken) is decoded the
# same way; unit/test_plt checks one, since where its samples land depends on
# the processor more than on the program.
PLT_LAYOUTS = {
    "lazy binding": (".plt", []),
    "bind now": (".plt", ["-Wl,-z,now"]),
    "IBT": (".plt.sec", ["-fcf-protection=full", "-Wl,-z,ibtplt"]),
}


def stub_section(exe):
    """The section of exe that holds plt_callee@plt, as objdump sees it."""
    dump = run_tool(["objdump", "-d", "-j", ".plt", "-j", ".plt.got", "-j", ".plt.sec",
                     exe], "disassemble the PLT")
    section = None
    for line in dump.splitlines():
        m = re.match(r"Disassembly of section (\S+):", line)
        if m:
            section = m[1]
        elif "<plt_callee@plt>:" in line:
            return section
    return None


def test_plt_stubs_are_named_after_their_symbol():
    # A tight loop of calls into a library: a sample in the stub, in each
    # layout of the PLT, is plt_callee@plt under its caller, with or without
    # the program's symbol table (its name comes from the relocations).
    d = tmpdir()
    lib = d / "libcallee.so"
    run_tool(["gcc", "-O2", "-g", "-shared", "-fPIC", "-o", lib, PLT_DIR / "callee.c"],
             "build the library")
    tried, seen = [], {}
    for layout, (section, flags) in PLT_LAYOUTS.items():
        exe = d / ("loop-" + layout.replace(" ", "-"))
        try:
            run_tool(["gcc", "-O2", "-g", *flags, "-o", exe, PLT_DIR / "pltloop.c",
                      f"-L{d}", "-lcallee", f"-Wl,-rpath,{d}"], f"build the {layout} loop")
        except AssertionError:
            if layout == "IBT":
                continue  # a compiler without -fcf-protection
            raise
        made = stub_section(exe)
        if made != section:
            assert layout == "IBT", f"{layout}: the stub is in {made}, expected {section}"
            continue  # a linker without IBT PLTs
        tried.append(layout)
        for build in ("unstripped", "stripped"):
            prog = exe if build == "unstripped" else strip_all(exe, d / f"{exe.name}-s")
            label = f"{layout} ({section}), {build}"
            # How many samples land in the stub depends on the processor and
            # on the build's layout: some builds spend next to no time there
            # in run after run. Every capture must name all the program's
            # frames; some build must show the stub.
            for _ in range(3):
                events = capture(d, f"{prog.name}.json", ["-F", 999, "--", prog, 300])
                in_stub = [st for _, _, st in stacks(events)
                           if st[-1][0] == "plt_callee@plt"]
                if build == "unstripped":
                    unnamed = [n for n in leaf_names(events, prog.name)
                               if HEX_NAME.match(n)]
                    assert not unnamed, f"{label}: frames without a name: {unnamed}"
                if in_stub:
                    break
            if in_stub:
                seen.setdefault(build, []).append(layout)
            for st in in_stub:
                assert st[-1][2].get("module") == prog.name, f"{label}: {st[-1]}"
                caller = st[-2][0] if len(st) > 1 else None
                ok = caller == "spin" if build == "unstripped" else \
                    bool(caller and HEX_NAME.match(caller))
                assert ok, f"{label}: plt_callee@plt called from {caller}"
    assert len(tried) >= 2, f"only these PLT layouts were built: {tried}"
    for build in ("unstripped", "stripped"):
        assert seen.get(build), (f"no {build} build of {tried} showed a frame "
                                 f"plt_callee@plt in 3 runs each")


# ---- 7. call frame information only in .debug_frame --------------------------

NOFRAME_SRC = ROOT / "tests" / "targets" / "cfi" / "noframe.c"
NOFRAME_CHAIN = ["main", "outer", "middle", "clobber_rbp"]


def sections(path):
    """Section name -> flags column of readelf -S -W."""
    out = {}
    for line in run_tool(["readelf", "-S", "-W", path], "list sections").splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S*)",
                     line)
        if m:
            out[m[1]] = m[2]
    return out


def fde_section(path, func):
    """The section whose FDE covers func's start: .eh_frame, .debug_frame or
    None."""
    addr = next(int(line.split()[0], 16) for line in
                run_tool(["nm", path], "list symbols").splitlines()
                if line.split()[-1] == func)
    where, found = None, None
    for line in run_tool(["readelf", "--debug-dump=frames", path],
                         "dump the CFI").splitlines():
        m = re.match(r"Contents of the (\S+) section", line)
        if m:
            where = m[1]
        m = re.search(r" FDE .*pc=([0-9a-f]+)\.\.([0-9a-f]+)", line)
        if m and int(m[1], 16) <= addr < int(m[2], 16):
            assert found is None, f"{func} has an FDE in {found} and in {where}"
            found = where
    return found


def test_code_with_cfi_only_in_debug_frame_unwinds_in_full():
    # A leaf that zeroes rbp, built without frame pointers and with its CFI
    # only in .debug_frame (as Go writes its binaries): the frame-pointer
    # guess ends the stack at the leaf; the .debug_frame gives every caller.
    # Once with it compressed in the program, once in a separate debug file.
    d = tmpdir()
    exe = d / "noframe"
    run_tool(["gcc", "-O1", "-g", "-gz", "-fno-asynchronous-unwind-tables",
              "-fno-unwind-tables", "-fomit-frame-pointer", "-o", exe, NOFRAME_SRC],
             "build the program")
    secs = sections(exe)
    assert "C" in secs.get(".debug_frame", ""), f"no compressed .debug_frame: {secs}"
    assert fde_section(exe, "clobber_rbp") == ".debug_frame"
    side = d / "side"
    side.mkdir()
    stripped = strip_all(exe, side / "noframe-stripped")
    keep_debug(exe, side / "noframe.debug")
    assert ".debug_frame" in sections(side / "noframe.debug")
    assert ".debug_frame" not in sections(stripped)
    run_tool(["objcopy", f"--add-gnu-debuglink={side / 'noframe.debug'}", stripped],
             "add a .gnu_debuglink")
    gnu = d / "noframe-gnu"  # GNU's older form, as Go 1.11 to 1.17 wrote it
    run_tool(["objcopy", "--compress-debug-sections=zlib-gnu", exe, gnu],
             "compress the debug sections the GNU way")
    assert ".zdebug_frame" in sections(gnu)
    for label, prog in (("compressed .debug_frame", exe),
                        ("separate debug file", stripped),
                        (".zdebug_frame", gnu)):
        folded = d / f"{prog.name}.folded"
        events = capture(d, f"{prog.name}.json",
                         ["-o", folded, "-F", 499, "--", prog, 700])
        spans = [[n for n, _, _ in st] for _, _, st in stacks(events)
                 if st[-1][0] == "clobber_rbp"]
        leafs = []  # (frames from the root, samples)
        for line in folded.read_text().splitlines():
            frames, count = line.rsplit(" ", 1)
            if frames.split(";")[-1] == "clobber_rbp":
                leafs.append((frames.split(";"), int(count)))
        total = sum(c for _, c in leafs)
        assert spans and total >= 100, (f"{label}: {total} samples and {len(spans)} "
                                        f"timeline spans in clobber_rbp")
        cut = [st for st, _ in leafs if st[-len(NOFRAME_CHAIN):] != NOFRAME_CHAIN or
               "[truncated]" in st] + \
              [st for st in spans if st[-len(NOFRAME_CHAIN):] != NOFRAME_CHAIN]
        assert not cut, (f"{label}: stacks of clobber_rbp without all of "
                         f"{NOFRAME_CHAIN}: {cut[:3]}")
        figure(f"{label}: {total} of {total} samples in clobber_rbp under "
               f"{' > '.join(NOFRAME_CHAIN[:-1])}")


GOSPIN_DIR = ROOT / "tests" / "targets" / "cfi" / "gospin"
SPINBP = re.compile(r"^main\.spinbp(\.abi0)?$")


def build_gospin(d):
    """The Go program, built without cgo; Go's build cache lives in build/."""
    exe = d / "gospin"
    env = dict(os.environ, GOCACHE=str(ROOT / "build" / "go-cache"),
               GOPATH=str(d / "gopath"), GOFLAGS="-mod=mod", CGO_ENABLED="1",
               GOTOOLCHAIN="local")
    run_tool(["go", "build", "-o", exe, "."], "build the Go program", cwd=GOSPIN_DIR,
             env=env)
    return exe


def test_go_program_unwinds_by_its_debug_frame():
    # Go keeps its CFI in .debug_frame. spinbp holds rbp at zero, so only the
    # CFI finds its callers. The runtime's own stack switches (mcall,
    # systemstack) end a system stack's chain there, with no made-up caller;
    # a function that may switch but did not keeps its caller.
    d = tmpdir()
    exe = build_gospin(d)
    assert ".eh_frame_hdr" not in sections(exe)
    folded = d / "gospin.folded"
    capture(d, "gospin.json", ["-o", folded, "-F", 999, "--", exe, 1000])
    spin, junk, above, total, called = [], [], [], 0, 0
    for line in folded.read_text().splitlines():
        frames, count = line.rsplit(" ", 1)
        frames = frames.split(";")
        total += int(count)
        # runtime.mcall always moves to the system stack, so it is that
        # stack's first frame (under the state frame): what lies above it
        # there is left over from before (the runtime's start, on the main
        # thread).
        if "runtime.mcall" in frames[2:]:
            above.append((frames, int(count)))
        # time.now moves only around its vdso call: before, its caller is
        # real, and is kept.
        if frames[-2:] == ["time.Now", "time.now"]:
            called += int(count)
        if SPINBP.match(frames[-1]):
            spin.append((frames, int(count)))
        if any(f.startswith(("runtime.", "main.")) for f in frames) and \
                ("[unknown]" in frames or "[truncated]" in frames):
            junk.append((frames, int(count)))
    assert not above, f"frames above runtime.mcall: {above[:3]}"
    assert called, "no sample of time.now under time.Now"
    n = sum(c for _, c in spin)
    assert n >= 100, f"{n} samples in spinbp of {total}"
    cut = [f for f, _ in spin if len(f) < 3 or f[-2] != "main.work" or
           not any(x.startswith("runtime.goexit") for x in f)]
    assert not cut, f"stacks of spinbp without main.work under runtime.goexit: {cut[:3]}"
    # Go's signal handlers (async preemption) may show [truncated] now and
    # then; the idle threads' stacks, a few hundred samples each, never may.
    bad = sum(c for _, c in junk)
    assert bad <= total // 50, f"{bad} of {total} samples unknown or truncated: {junk[:3]}"
    figure(f"Go: {n} of {n} samples in spinbp under main.work; "
           f"{bad} of {total} samples of Go code [unknown] or [truncated]; "
           f"{called} in time.now under time.Now")
    # The memos (README, "Unwind only what changed") hold for these unwinds
    # too: the test build redoes each memo-served unwind in full.
    verify = ROOT / "build" / "fgtrace-verify"
    assert verify.exists(), f"{verify} is not built (make verify-build)"
    trace = d / "verify.json"
    r = subprocess.run([str(verify), "-q", "-F", "999", "-o", str(trace), "--", str(exe),
                        "700"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"fgtrace-verify exited {r.returncode}: {r.stderr}"
    meta = fgtrace_meta(load_checked(trace))
    checked, differ = meta["unwind_memo_checked"], meta["unwind_memo_mismatches"]
    assert checked >= 300 and differ == 0, \
        f"{differ} of {checked} memo-served Go stacks differ from a full unwind"
    figure(f"Go: {checked} memo-served unwinds redone in full, {differ} differ")


def test_static_executable_without_eh_frame_hdr_unwinds_in_full():
    """gcc links a -static executable without --eh-frame-hdr: it has an
    .eh_frame but no PT_GNU_EH_FRAME, which libunwind needs to find it. Its
    stacks must still reach main, through the .eh_frame read from the file."""
    d = tmpdir()
    exe = d / "static"
    run_tool(["gcc", "-O1", "-static", "-pthread", "-o", exe,
              ROOT / "tests" / "targets" / "shortlived.c"], "link a static executable")
    phdrs = run_tool(["readelf", "-l", "-W", exe], "list program headers")
    if "GNU_EH_FRAME" in phdrs:
        raise Skip("this gcc links static executables with an .eh_frame_hdr")
    rc, _, err = run_fgtrace(["-q", "-F", "499", "-o", d / "s.folded", "--", exe, 300])
    assert rc == 0, f"fgtrace -- static 300 exited {rc}: {err}"
    folded = read_folded(d / "s.folded")
    work = samples_with(folded, "short_work")
    whole = sum(n for st, n in folded.items()
                if "short_work" in st.split(";") and
                st.split(";")[1:5] == ["_start", "__libc_start_main_impl",
                                       "__libc_start_call_main", "main"])
    figure(f"static executable: {whole} of {work} samples in short_work unwound to _start")
    assert work >= 100, f"{work} samples in short_work over 300 ms at 499 Hz: {folded}"
    assert whole >= work * 0.95, f"only {whole} of {work} stacks reach _start: {folded}"


# ---- 8. the system call of clone, which no CFI covers --------------------------

CLONE_NAMES = {"__clone3", "__clone", "clone3", "clone"}


def test_thread_creation_unwinds_through_clone():
    """glibc's clone and clone3 end their CFI before the syscall. A parent
    sampled in the call, or just back from it, still shows its callers: the
    return address is at the stack pointer. A child at its birth, on a stack
    that holds nothing yet, is a root, not [truncated] > [unknown]."""
    d = tmpdir()
    out = d / "churn.folded"
    rc, _, err = run_fgtrace(["-q", "-F", 999, "-o", out, "--", target("churn"), 3000])
    assert rc == 0, f"fgtrace exited {rc}: {err}"
    at_clone = []
    for line in out.read_text().splitlines():
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        if frames[-1] in CLONE_NAMES:
            at_clone.append((frames, int(n)))
    parents = sum(n for f, n in at_clone if "main" in f)
    births = sum(n for f, n in at_clone if f[1:] == f[-1:])
    bad = [(";".join(f), n) for f, n in at_clone
           if "[unknown]" in f or "[truncated]" in f]
    figure(f"samples with the pc in clone: {sum(n for _, n in at_clone)}, "
           f"{parents} of the parent under main, {births} of a child at its birth, "
           f"{sum(n for _, n in bad)} cut short")
    assert not bad, f"stacks in clone cut short: {bad}"
    assert parents > 0, f"no sample of the parent in clone under main: {at_clone}"


# ---- 9. frame-pointer code, sampled without a stop ----------------------------

FPWAIT_SRC = ROOT / "tests" / "targets" / "cfi" / "fpwait.c"
# Each thread's frames, from start_thread down to the call it sleeps in.
FP_CHAINS = {
    "fp-libc": ["start_thread", "run", "fp_outer_libc", "fp_inner_libc", "epoll_wait"],
    "fp-wrap": ["start_thread", "run", "fp_outer_wrap", "fp_inner_wrap", "fp_epoll_wait"],
    "fp-big": ["start_thread", "run", "fp_outer_big", "fp_inner_big", "epoll_wait"],
}


def in_order(chain, frames):
    """Whether frames holds each of chain, in that order (root first)."""
    it = iter(frames)
    return all(f in it for f in chain)


def test_threads_sampled_from_proc_unwind_through_frame_pointer_code():
    # A thread asleep in epoll_wait is sampled from /proc, without a stop,
    # and /proc gives no rbp. Built with frame pointers, as some
    # distributions build every package, each caller finds its frame
    # through rbp, and in fp-wrap so does the wrapper the thread sleeps in:
    # without rbp, the stack ended at the first of them, [truncated]. The
    # frame pointer is found on the copied stack; fp-big's frame holds 6 KiB
    # of code pointers below it that no call precedes.
    d = tmpdir()
    exe = d / "fpwait"
    run_tool(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", exe,
              FPWAIT_SRC], "build the program")
    folded = d / "fp.folded"
    with Program([exe]) as prog:
        events = capture(d, "fp.json", ["-p", prog.pid, "-d", "1s", "--per-thread",
                                        "-o", folded])
        prog.stop()
    meta = fgtrace_meta(events)
    stacks_of = {name: {} for name in FP_CHAINS}
    for stack, n in read_folded(folded).items():
        frames = stack.split(";")
        if frames[0] in stacks_of:
            stacks_of[frames[0]][stack] = n
    for name, chain in FP_CHAINS.items():
        total = sum(stacks_of[name].values())
        bad = {st: n for st, n in stacks_of[name].items()
               if "[truncated]" in st.split(";") or not in_order(chain, st.split(";"))}
        figure(f"{name}: {total - sum(bad.values())} of {total} samples under "
               f"{' > '.join(chain)}")
        assert total >= 90, f"{name}: {total} samples in a 1 s capture at 99 Hz"
        assert not bad, f"{name}: stacks without all of {chain}: {bad}"
    # The threads wake every 2 ms: most of their samples are taken from /proc.
    found, without = meta["unwind_fp_found"], meta["samples_without_stop"]
    figure(f"samples taken without a stop: {without}; unwound with a frame pointer "
           f"found on the stack: {found}")
    assert found >= 150, (f"only {found} unwinds found a frame pointer, of "
                          f"{without} samples taken without a stop")


# ---- 10. what symbolization costs --------------------------------------------

def test_symbolization_cost():
    d = tmpdir()
    app = build_app(d)
    events = capture(d, "cost.json", ["-F", 999, "--", app, 1000])
    meta = fgtrace_meta(events)
    keys = ("symbol_lookups", "symbol_cache_hits", "symbol_ns", "stacks_unwound",
            "unwind_ns")
    missing = [k for k in keys if not isinstance(meta.get(k), int)]
    assert not missing, f"the fgtrace metadata event lacks {missing}: {meta}"
    lookups, hits, sym_ns, unwound, unwind_ns = (meta[k] for k in keys)
    assert lookups > 0 and unwound > 0, f"nothing symbolized: {meta}"
    assert 0 <= hits <= lookups, f"more cache hits than lookups: {meta}"
    hit_rate = hits / lookups
    figure(f"symbol cache: {lookups} lookups, {hits} hits ({hit_rate:.1%}); "
           f"{unwound} stacks at 999 Hz for 1 s")
    figure(f"cost per sample: symbolize {sym_ns / unwound / 1000:.1f} µs, "
           f"unwind {unwind_ns / unwound / 1000:.1f} µs "
           f"(symbolize per miss {sym_ns / max(1, lookups - hits) / 1000:.0f} µs)")
    assert hit_rate > 0.5, f"symbol cache hit rate {hit_rate:.1%} is not above 50%"
