#!/usr/bin/env python3
"""fgtrace's test runner: cmocka unit tests, end-to-end tests, fuzz smoke runs
and sanitizer runs. Ends with one line "N passed, N failed" and exits 1 on any
failure. Arguments are substrings that select tests by name."""
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DEFAULT_TIMEOUT = 120

results = {"passed": 0, "failed": 0, "skipped": 0}
filters = [a for a in sys.argv[1:] if not a.startswith("-")]


def selected(name):
    return not filters or any(f in name for f in filters)


def report(status, name, secs=None, reason=""):
    key = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[status]
    results[key] += 1
    line = f"{status} {name}"
    if secs is not None and status == "PASS":
        line += f" ({secs:.1f}s)"
    if reason:
        first, _, rest = reason.strip().partition("\n")
        line += f": {first}"
        if rest and status == "FAIL":
            line += "\n" + "\n".join("    " + l for l in rest.splitlines()[-40:])
    print(line, flush=True)


def run_unit_tests():
    for binary in sorted(BUILD.glob("tests/test_*")):
        if not os.access(binary, os.X_OK) or not selected(binary.name):
            continue
        start = time.time()
        try:
            p = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
            out = p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            report("FAIL", f"unit/{binary.name}", reason="timed out")
            continue
        seen = False
        for m in re.finditer(r"^\[\s*(OK|FAILED|SKIPPED)\s*\] (\S+)$", out, re.M):
            if m.group(2) in ("test(s).", "test(s)"):
                continue
            seen = True
            status = {"OK": "PASS", "FAILED": "FAIL", "SKIPPED": "SKIP"}[m.group(1)]
            report(status, f"unit/{binary.name}/{m.group(2)}", time.time() - start,
                   out if status == "FAIL" else "")
        if not seen or (p.returncode != 0 and "[  FAILED  ]" not in out):
            report("FAIL", f"unit/{binary.name}", reason=f"exit {p.returncode}\n{out}")


CHILD = """
import importlib.util, sys, traceback
sys.path.insert(0, {e2e!r})
spec = importlib.util.spec_from_file_location({mod!r}, {path!r})
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
try:
    getattr(m, {fn!r})()
except Exception as e:
    if type(e).__name__ == "Skip":
        print("SKIP:", e)
        sys.exit(77)
    traceback.print_exc()
    sys.exit(1)
"""


def run_e2e_tests():
    e2e = ROOT / "tests" / "e2e"
    for path in sorted(e2e.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(e2e))
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # a module that does not even import
            report("FAIL", f"e2e/{path.stem}", reason=f"import failed: {e!r}")
            continue
        timeout = getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT)
        for fn in [n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]:
            name = f"e2e/{path.stem}::{fn}"
            if not selected(name):
                continue
            code = CHILD.format(e2e=str(e2e), mod=path.stem, path=str(path), fn=fn)
            start = time.time()
            try:
                p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                   text=True, timeout=timeout, cwd=str(ROOT))
            except subprocess.TimeoutExpired:
                report("FAIL", name, reason=f"timed out after {timeout}s")
                continue
            out = (p.stdout + p.stderr).strip()
            if p.returncode == 0:
                report("PASS", name, time.time() - start)
                for line in p.stdout.splitlines():
                    if line.startswith("FIGURE "):
                        print("    " + line[7:])
            elif p.returncode == 77:
                report("SKIP", name, reason=out.split("SKIP:", 1)[-1].strip())
            else:
                lines = out.splitlines()
                reason = lines[-1] if lines else f"exit {p.returncode}"
                report("FAIL", name, reason=reason + "\n" + out)


def run_script(script, args, prefix):
    path = ROOT / "scripts" / script
    if not path.exists() or not selected(prefix):
        return
    p = subprocess.run([str(path)] + args, capture_output=True, text=True, cwd=str(ROOT))
    seen = False
    for line in p.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL) (\S+)(.*)$", line)
        f = re.match(r"^fuzz (\S+): (.*)$", line)
        if m:
            seen = True
            report(m.group(1), m.group(2), reason=m.group(3).lstrip(": "))
        elif f:
            seen = True
            ok = f.group(2).endswith("ok")
            report("PASS" if ok else "FAIL", f"fuzz/{f.group(1)}", reason=f.group(2))
            if ok:
                print("    " + f.group(2))
    if not seen or p.returncode != 0 and results["failed"] == 0:
        report("FAIL", prefix, reason=f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")


def main():
    run_unit_tests()
    run_e2e_tests()
    run_script("fuzz.sh", ["3"], "fuzz")
    run_script("sanitize.sh", [], "sanitize")
    line = f"{results['passed']} passed, {results['failed']} failed"
    if results["skipped"]:
        line += f", {results['skipped']} skipped"
    print(line)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
