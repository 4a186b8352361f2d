#!/usr/bin/env python3
"""fgtrace's test runner, called by `make check` once everything is built.

Runs, in order: the cmocka unit tests (build/tests/test_*), the end-to-end
tests (every test_* function of tests/e2e/test_*.py, each in its own process
with a timeout; a module may set TIMEOUT = seconds), `scripts/fuzz.sh 3` and
scripts/sanitize.sh. Prints one line per test and ends with the line
"N passed, N failed" (", N skipped" when any were); exits 1 on any failure.

Arguments are substrings that select tests by name:
    python3 tests/run.py phases unit/test_json
"""
import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
E2E = ROOT / "tests" / "e2e"
TEST_TMP = BUILD / "test-tmp"
DEFAULT_TIMEOUT = 120
UNIT_TIMEOUT = 300
SKIP_STATUS = 77
TAIL = 30

filters = sys.argv[1:]
counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def selected(name):
    return not filters or any(f in name for f in filters)


def tail(text, n=TAIL):
    lines = [l for l in text.rstrip().splitlines() if l.strip()]
    if len(lines) > n:
        lines = [f"[... {len(lines) - n} lines before]"] + lines[-n:]
    return "\n".join(lines)


def report(status, name, secs=None, reason=""):
    counts[status] += 1
    line = f"{status} {name}"
    if secs is not None and status == "PASS":
        line += f" ({secs:.1f}s)"
    first, _, rest = reason.strip().partition("\n")
    if first:
        line += f": {first}"
    if rest.strip() and status == "FAIL":
        line += "\n" + "\n".join("    " + l for l in rest.rstrip().splitlines())
    print(line, flush=True)


# ---- cmocka unit tests -------------------------------------------------------

CMOCKA_LINE = re.compile(r"^\[\s*(RUN|OK|FAILED|SKIPPED|ERROR)\s*\] (.*)$")
CMOCKA_SUMMARY = re.compile(r"^\d+ test\(s\)")


def unit_command(binary):
    # Line-buffered stdout keeps cmocka's error lines (stderr) next to the
    # case they belong to, and lets each case be timed as it finishes.
    if shutil.which("stdbuf"):
        return ["stdbuf", "-oL", "-eL", str(binary)]
    return [str(binary)]


class UnitRun:
    """Reads one cmocka binary's output as it comes. cmocka lists failed and
    skipped cases again in its summary; the first report of each case counts."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.cases = {}
        self.current, self.lines, self.started = None, [], time.monotonic()
        self.output = []

    def line(self, line):
        self.output.append(line)
        m = CMOCKA_LINE.match(line)
        if not m:
            self.lines.append(line)
            return
        tag, rest = m.groups()
        if tag == "RUN":
            self.current, self.lines, self.started = rest, [], time.monotonic()
        elif tag == "ERROR" and rest.startswith("---"):
            self.lines.append(line)
        elif not CMOCKA_SUMMARY.match(rest) and rest not in self.cases:
            status = {"OK": "PASS", "SKIPPED": "SKIP"}.get(tag, "FAIL")
            self.cases[rest] = status
            name = f"{self.prefix}/{rest}"
            if selected(name):
                lines = self.lines if rest == self.current else []
                reason = (tail("\n".join(lines)) or "failed\n" + tail(
                    "\n".join(self.output))) if status == "FAIL" else ""
                report(status, name, time.monotonic() - self.started, reason)
            self.current, self.lines = None, []


def run_unit_binary(binary):
    """Runs one cmocka binary, reporting its cases; returns (exit status or
    None on timeout, UnitRun)."""
    run = UnitRun(f"unit/{binary.name}")
    p = subprocess.Popen(unit_command(binary), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                         errors="replace", cwd=str(ROOT))
    timer = threading.Timer(UNIT_TIMEOUT, p.kill)
    timer.start()
    try:
        for line in p.stdout:
            run.line(line.rstrip("\n"))
        rc = p.wait()
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
    return (None if timed_out else rc), run


def run_unit_tests():
    # Case names are only known once a binary has run, and all of them take
    # about a second: run every binary and report the selected cases.
    for binary in sorted(BUILD.glob("tests/test_*")):
        if not binary.is_file() or not os.access(binary, os.X_OK):
            continue
        rc, run = run_unit_binary(binary)
        prefix, cases, out = run.prefix, run.cases, "\n".join(run.output)
        if not selected(prefix) and not any(selected(f"{prefix}/{c}") for c in cases):
            continue
        if rc is None:
            report("FAIL", prefix, reason=f"timed out after {UNIT_TIMEOUT}s\n{tail(out)}")
        elif rc != 0 and "FAIL" not in cases.values():
            how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
            report("FAIL", prefix, reason=f"{how} with no failed test case\n{tail(out)}")
        elif not cases:
            report("FAIL", prefix, reason=f"no test case ran\n{tail(out)}")


# ---- end-to-end tests --------------------------------------------------------

# Runs one test function in a fresh interpreter and writes how it ended to the
# result file: a hanging or crashing test cannot take the runner down.
CHILD = r"""
import faulthandler, json, sys, traceback
sys.path.insert(0, sys.argv[1])
sys.dont_write_bytecode = True
# Where a test hangs: its stack is in the output when the runner gives up.
faulthandler.dump_traceback_later(max(1.0, float(sys.argv[5]) - 1), exit=False)
def result(status, **kw):
    with open(sys.argv[4], "w") as f:
        json.dump(dict(kw, status=status), f)
try:
    import importlib
    getattr(importlib.import_module(sys.argv[2]), sys.argv[3])()
except BaseException as e:
    tb = traceback.extract_tb(e.__traceback__)
    where = [f"{fr.filename.rsplit('/', 1)[-1]}:{fr.lineno} in {fr.name}" for fr in tb
             if "/tests/e2e/" in fr.filename]
    if type(e).__name__ == "Skip":
        result("SKIP", message=str(e))
        sys.exit(77)
    result("FAIL", type=type(e).__name__, message=str(e), where=where,
           traceback="".join(traceback.format_exception(type(e), e, e.__traceback__)))
    sys.exit(1)
result("PASS")
"""


def timeout_value(expr):
    """A module's TIMEOUT: a number, or arithmetic on numbers (5 * 60)."""
    if not all(isinstance(n, (ast.Expression, ast.Constant, ast.BinOp, ast.operator))
               for n in ast.walk(ast.Expression(expr))):
        return None
    try:
        value = eval(compile(ast.Expression(expr), "TIMEOUT", "eval"), {"__builtins__": {}})
    except ArithmeticError:
        return None
    return value if isinstance(value, (int, float)) and value > 0 else None


def discover(path):
    """The test_* functions of a module, in source order, and its TIMEOUT;
    read with ast so that a broken module cannot hang the runner."""
    tree = ast.parse(path.read_text(), str(path))
    timeout = DEFAULT_TIMEOUT
    tests = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            tests.append(node.name)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "TIMEOUT" for t in node.targets):
            value = timeout_value(node.value)
            if value:
                timeout = value
    return tests, timeout


def kill_group(pgid):
    """Ends whatever the test left running in its process group."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_child(module, fn, timeout, tmp):
    """Runs one test; returns (status, seconds, result dict, output)."""
    result_file = tmp.parent / f".{tmp.name}.result.json"
    env = dict(os.environ, FGTRACE_TEST_TMP=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    result_file.unlink(missing_ok=True)
    with tempfile.TemporaryFile("w+", errors="replace") as log:
        start = time.monotonic()
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(E2E), module, fn,
                              str(result_file), str(timeout)], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, cwd=str(ROOT), env=env,
                             start_new_session=True)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        except KeyboardInterrupt:
            kill_group(p.pid)
            raise
        secs = time.monotonic() - start
        kill_group(p.pid)
        p.wait()
        log.seek(0)
        output = log.read()
    try:
        result = json.loads(result_file.read_text())
        result_file.unlink()
    except (OSError, ValueError):
        result = {}
    if rc is None:
        return "FAIL", secs, {"message": f"timed out after {timeout}s"}, output
    if rc == 0 and result.get("status") == "PASS":
        return "PASS", secs, result, output
    if rc == SKIP_STATUS and result.get("status") == "SKIP":
        return "SKIP", secs, result, output
    if not result:
        how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        result = {"message": f"test process ended with {how} and no result"}
    return "FAIL", secs, result, output


def fail_reason(result, output, tmp):
    kind = result.get("type")
    message = result.get("message") or "(no message)"
    reason = f"{kind}: {message}" if kind and kind != "AssertionError" else message
    parts = [reason]
    if result.get("where"):
        parts.append("at " + " <- ".join(reversed(result["where"])))
    elif result.get("traceback"):  # raised outside the tests: show where
        parts.append(tail(result["traceback"], 15))
    if output.strip():
        parts.append("output:\n" + tail(output))
    if tmp.exists() and any(tmp.iterdir()):
        parts.append(f"files kept in {tmp.relative_to(ROOT)}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return "\n".join(parts)


def run_e2e_tests():
    for path in sorted(E2E.glob("test_*.py")):
        try:
            tests, timeout = discover(path)
        except (SyntaxError, ValueError) as e:
            if selected(f"e2e/{path.stem}"):
                report("FAIL", f"e2e/{path.stem}", reason=f"cannot read the module: {e}")
            continue
        for fn in tests:
            name = f"e2e/{path.stem}::{fn}"
            if not selected(name):
                continue
            tmp = TEST_TMP / f"{path.stem}.{fn}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            status, secs, result, output = run_child(path.stem, fn, timeout, tmp)
            if status == "FAIL":
                report(status, name, secs, fail_reason(result, output, tmp))
                continue
            report(status, name, secs, result.get("message", ""))
            for line in output.splitlines():
                if line.startswith("FIGURE "):
                    print("    " + line[len("FIGURE "):], flush=True)
            shutil.rmtree(tmp, ignore_errors=True)


# ---- fuzz and sanitizer scripts ----------------------------------------------

FUZZ_LINE = re.compile(r"^fuzz (\S+): (.*)$")
PASS_FAIL_LINE = re.compile(r"^(PASS|FAIL) (\S+?):?(?: (.*))?$")


def run_script(script, args, group, parse):
    """Streams the script's stdout; parse(line) gives (status, name, reason)
    for a result line, or None. Failures are reported when the script ends,
    with the lines that followed them and the stderr lines naming them. A
    script that fails with no FAIL line counts as one failure."""
    path = ROOT / "scripts" / script
    if not path.exists() or (filters and not any(f in group or group in f for f in filters)):
        return
    failures = []
    with tempfile.TemporaryFile("w+", errors="replace") as err:
        p = subprocess.Popen([str(path)] + args, stdout=subprocess.PIPE, stderr=err,
                             text=True, errors="replace", cwd=str(ROOT))
        last = time.monotonic()
        for line in p.stdout:
            line = line.rstrip("\n")
            res = parse(line)
            if res is None:
                if failures:
                    failures[-1][2].append(line)
                continue
            status, name, reason = res
            if status == "FAIL":
                failures.append((name, reason or "failed", []))
            elif selected(name):
                report(status, name, time.monotonic() - last,
                       reason if status == "SKIP" else "")
                if status == "PASS" and reason:
                    print("    " + reason, flush=True)
            last = time.monotonic()
        rc = p.wait()
        err.seek(0)
        stderr = err.read()
    sections = stderr_sections(stderr)
    for name, reason, details in failures:
        if selected(name):
            lines = [reason] + details + sections.get(name.rsplit("/", 1)[-1], [])
            if reason == "FAILED" and len(lines) > 1:
                lines.pop(0)
            report("FAIL", name, reason="\n".join(lines))
    if rc != 0 and not failures:
        report("FAIL", group, reason=f"{script} exited {rc} with no FAIL line\n"
               f"{tail(stderr)}")


def stderr_sections(stderr):
    """fuzz.sh's stderr split by target: a "fuzz NAME: reason" line starts
    NAME's section and the lines after it belong to it."""
    sections, current = {}, None
    for line in stderr.splitlines():
        m = FUZZ_LINE.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
            line = m.group(2)
        if current is not None and line.strip():
            current.append(line)
    return sections


def parse_fuzz_line(line):
    m = FUZZ_LINE.match(line)
    if not m:
        return None
    name, rest = m.groups()
    if rest.endswith("ok"):
        return "PASS", f"fuzz/{name}", rest
    if "FAILED" in rest:
        return "FAIL", f"fuzz/{name}", rest
    return None


def parse_pass_fail_line(line):
    m = PASS_FAIL_LINE.match(line)
    return m.groups() if m else None


def main():
    run_unit_tests()
    run_e2e_tests()
    run_script("fuzz.sh", ["3"], "fuzz", parse_fuzz_line)
    run_script("sanitize.sh", [], "sanitize", parse_pass_fail_line)
    total = sum(counts.values())
    if filters and total == 0:
        print(f"no test matches {' '.join(filters)}", file=sys.stderr)
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["SKIP"]:
        line += f", {counts['SKIP']} skipped"
    print(line, flush=True)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"interrupted: {counts['PASS']} passed, {counts['FAIL']} failed",
              file=sys.stderr)
        sys.exit(130)
