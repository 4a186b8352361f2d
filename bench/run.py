#!/usr/bin/env python3
"""fgtrace bench: fgtrace against a stop-and-unwind reference sampler and an
eu-stack loop, on the same targets, in one run. See bench/README.md.

Usage: bench/run.py [--quick] [--window S] [--keep]
Python 3 standard library only. Run one measurement at a time: the figures
are meaningless if anything else competes for the CPUs."""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "bench" / "build"
FGTRACE = ROOT / "fgtrace"
# The run uses a copy, so that a rebuild meanwhile cannot mix two versions.
FGTRACE_COPY = BUILD / "fgtrace"
TARGET = BUILD / "target"
REFSAMPLER = BUILD / "refsampler"
IPIPROBE = BUILD / "ipiprobe"
STOPPROBE = BUILD / "stopprobe"
PERFPROBE = BUILD / "perfprobe"
RUNS = BUILD / "runs"

# name, description, target arguments
TARGETS = [
    ("a", "1 busy + 100 idle threads, depth 5",
     ["--busy", "1", "--idle", "100", "--depth", "5"]),
    ("b5", "1 busy thread, depth 5", ["--busy", "1", "--depth", "5"]),
    ("b200", "1 busy thread, depth 200", ["--busy", "1", "--depth", "200"]),
    ("c", "16 busy threads, depth 5", ["--busy", "16", "--depth", "5"]),
]
HZS = (99, 999)
GAP_NS = 10000  # a stall is a gap this much longer than one work unit
HIST_SUB = 4    # must match target.c
TICK = os.sysconf("SC_CLK_TCK")
# A window in which other processes used more than this share of a core is
# measured again: the machine may be shared.
OTHERS_MAX = 0.10
TRIES = 3


def now():
    return time.monotonic()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- the target ------------------------------------------------------------


class Target:
    def __init__(self, args):
        self.proc = subprocess.Popen(
            [str(TARGET), "--gap-ns", str(GAP_NS)] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"target did not start: {line!r}")
        self.pid = self.proc.pid
        self.idle_tids = [t for t in self.tids() if self.comm(t) == "idle"]
        # Registered for bench/ipiprobe's interrupts (membarrier)?
        self.membarrier = bool(self.snap().get("membarrier"))

    def tids(self):
        return [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]

    def comm(self, tid):
        try:
            return Path(f"/proc/{self.pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            return ""

    def idle_switches(self):
        total = 0
        for tid in self.idle_tids:
            status = Path(f"/proc/{self.pid}/task/{tid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        return total

    def cpu_s(self):
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def snap(self):
        """The target's counters, the idle threads' voluntary switches, and
        the CPU time used so far by the machine, the target and the harness."""
        vcs = self.idle_switches()
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        r = json.loads(self.proc.stdout.readline())
        r["vcs"] = vcs
        r["machine_s"] = machine_busy_s()
        r["target_s"] = self.cpu_s()
        t = os.times()
        r["harness_s"] = t.user + t.system
        return r

    def all_traced_by(self, pid):
        """TracerPid names the tracing thread, which need not be the main one."""
        try:
            tracers = set(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            return False
        for tid in self.tids():
            try:
                status = Path(f"/proc/{self.pid}/task/{tid}/status").read_text()
            except OSError:
                continue
            tracer = status.split("TracerPid:", 1)[1].split()[0]
            if tracer not in tracers:
                return False
        return True

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def machine_busy_s():
    """CPU time used on all CPUs since boot: user nice system irq softirq steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK


def window(r0, r1, profiler_cpu_s=0.0):
    """What happened in the target between two snapshots."""
    dt = (r1["t_ns"] - r0["t_ns"]) / 1e9
    others = ((r1["machine_s"] - r0["machine_s"]) - (r1["target_s"] - r0["target_s"])
              - (r1["harness_s"] - r0["harness_s"]) - profiler_cpu_s)
    hist = {}
    for k, v in r1["hist"].items():
        d = v - r0["hist"].get(k, 0)
        if d:
            hist[int(k)] = d
    return {
        "dt": dt,
        "busy": r1["busy"],
        "rate": (r1["work"] - r0["work"]) / dt,
        "stall_ns": r1["stall_ns"] - r0["stall_ns"],
        "stall_count": r1["stall_count"] - r0["stall_count"],
        "stall_max_ns": r1["stall_max_ns"],
        "hist": hist,
        "wakeups": (r1["vcs"] - r0["vcs"]) / dt,
        "unit_ns": r1["unit_ns"],
        "cpu": profiler_cpu_s / dt,
        "others": others / dt,  # CPU of everything else, as a share of a core
    }


def bucket_upper(idx):
    if idx < HIST_SUB:
        return idx + 1
    e, sub = divmod(idx, HIST_SUB)
    return (HIST_SUB + sub + 1) << (e - 2)


def percentile(hist, q):
    total = sum(hist.values())
    if not total:
        return 0
    seen = 0
    for idx in sorted(hist):
        seen += hist[idx]
        if seen >= q * total:
            return bucket_upper(idx)
    return bucket_upper(max(hist))


# ---- processes -------------------------------------------------------------


def task_cpu_ns(pid):
    """CPU time of every live thread of pid, from schedstat (ns resolution)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def vm_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def clock_running(pid):
    """fgtrace arms its timerfd when its warm-up round is done: true once
    /proc shows a timerfd of pid with a period."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[timerfd]":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("it_interval:") and line.split(":", 1)[1].strip() != "(0, 0)":
                return True
    return False


def wait_attached(target, proc, ready=None, timeout=15.0):
    """Waits until every thread of target is traced by proc and, when given,
    ready(pid) holds."""
    end = now() + timeout
    while now() < end:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"profiler exited early ({proc.returncode}): {err}")
        if target.all_traced_by(proc.pid) and (ready is None or ready(proc.pid)):
            return
        time.sleep(0.02)
    raise RuntimeError("profiler did not attach in time")


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()  # both profilers detach on SIGTERM
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fgtrace_metadata(path):
    data = path.read_bytes()
    at = data.rfind(b'{"name":"fgtrace","ph":"M"')
    if at < 0:
        raise RuntimeError(f"{path}: no fgtrace metadata event")
    obj, _ = json.JSONDecoder().raw_decode(data[at:].decode("utf-8", "replace"))
    return obj["args"]


def profiled_window(target, cmd, cfg, stdout=subprocess.DEVNULL, ready=None):
    """Starts a profiler, waits until it holds every thread (and is ready) and
    has settled, measures one window, and lets the profiler run to its end."""
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    try:
        wait_attached(target, proc, ready)
        time.sleep(cfg.settle)
        cpu0, r0 = task_cpu_ns(proc.pid), target.snap()
        time.sleep(cfg.window)
        r1, cpu1 = target.snap(), task_cpu_ns(proc.pid)
        out, err = proc.communicate(timeout=cfg.settle + cfg.window + 60)
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.strip()}")
    return window(r0, r1, (cpu1 - cpu0) / 1e9), out


def run_fgtrace(target, hz, cfg, tag):
    path = RUNS / f"fgtrace-{tag}-{hz}.json"
    total = cfg.settle + cfg.window + cfg.tail
    cmd = [str(FGTRACE_COPY), "-p", str(target.pid), "-d", f"{total:.2f}s", "-F", str(hz),
           "-o", str(path), "-q"]
    # fgtrace's -d counts from the end of its warm-up; so does the window.
    w, _ = profiled_window(target, cmd, cfg, ready=clock_running)
    meta = fgtrace_metadata(path)
    size = path.stat().st_size
    if not cfg.keep:
        path.unlink()
    ticks, missed, late = meta["ticks"], meta["missed_ticks"], meta["ticks_late"]
    w.update({
        "rounds_per_s": ticks / ((meta["duration_ns"] - meta["warmup_ns"]) / 1e9),
        # A round is late when, before the next tick, some thread was neither
        # sampled nor frozen by an interrupt (its stop then stands for the
        # tick); missed ticks are deadlines the tracer did not serve.
        "on_time": (ticks - min(late, ticks)) / max(1, ticks + missed),
        "bytes_per_sample": size / max(1, meta["samples"]),
        "samples": meta["samples"],
        "meta": meta,
    })
    return w


def run_refsampler(target, hz, cfg):
    total = cfg.settle + cfg.window + cfg.tail
    cmd = [str(REFSAMPLER), "-p", str(target.pid), "-d", f"{total:.2f}", "-F", str(hz)]
    w, out = profiled_window(target, cmd, cfg, stdout=subprocess.PIPE)
    st = json.loads(out.strip().splitlines()[-1])
    w.update({
        "rounds_per_s": st["rounds"] / (st["duration_ns"] / 1e9),
        "on_time": st["on_time"] / max(1, st["rounds"] + st["missed"]),
        "bytes_per_sample": None,
        "samples": st["samples"],
        "meta": st,
    })
    return w


def run_eustack(target, cfg):
    """eu-stack -p back to back for one window; each run samples every thread."""
    runs = cpu = nbytes = stacks = 0
    wall = []
    r0 = target.snap()
    end = now() + cfg.window
    while now() < end:
        t0 = now()
        p = subprocess.Popen(["eu-stack", "-p", str(target.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall.append(now() - t0)
        runs += 1
        cpu += ru.ru_utime + ru.ru_stime
        nbytes += len(out)
        stacks += out.count(b"\nTID ") + out.startswith(b"TID ")
    r1 = target.snap()
    w = window(r0, r1, cpu)
    w.update({
        "rounds_per_s": runs / w["dt"],
        "on_time": None,
        "bytes_per_sample": nbytes / max(1, stacks),
        "samples": stacks,
        "meta": {"runs": runs, "wall_mean_ms": 1000 * sum(wall) / max(1, runs),
                 "wall_max_ms": 1000 * max(wall, default=0)},
    })
    return w


def run_probe(target, exe, hz, cfg, args=()):
    """Runs a floor probe at hz for one window: exe -d SECONDS -F HZ [args],
    which prints "ready" once in place and one JSON line of statistics at the
    end. Returns the target's window and those statistics."""
    total = cfg.settle + cfg.window + cfg.tail
    proc = subprocess.Popen([str(exe), "-d", f"{total:.2f}", "-F", str(hz)]
                            + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{exe.name} did not start: {line!r} {proc.stderr.read()}")
        time.sleep(cfg.settle)
        cpu0, r0 = task_cpu_ns(proc.pid), target.snap()
        time.sleep(cfg.window)
        r1, cpu1 = target.snap(), task_cpu_ns(proc.pid)
        out, err = proc.communicate(timeout=cfg.tail + 60)
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe.name} failed ({proc.returncode}): {err.strip()}")
    st = json.loads(out.strip().splitlines()[-1])
    w = window(r0, r1, (cpu1 - cpu0) / 1e9)
    w.update({
        "rounds_per_s": st["rounds"] / (st["duration_ns"] / 1e9),
        "on_time": None,
        "bytes_per_sample": None,
        "meta": st,
    })
    return w, st


def run_floor(target, hz, cfg):
    """The interrupt floor: bench/ipiprobe interrupts the busy threads' CPUs at
    each tick and does nothing else. What that costs the target is a floor for
    every sampler that stops a running thread."""
    w, st = run_probe(target, IPIPROBE, hz, cfg)
    w["samples"] = st["rounds"]
    return w


def run_stopfloor(target, hz, cfg):
    """The stop floor: bench/stopprobe stops each busy thread with ptrace at
    each tick and resumes it at once, with nothing copied. What that costs the
    target is a floor for every sampler that stops a running thread."""
    busy = [t for t in target.tids() if target.comm(t) == "busy"]
    w, st = run_probe(target, STOPPROBE, hz, cfg, busy)
    w["samples"] = st["stops"]
    return w


# Stack bytes the "perf stack" row asks the kernel to copy per sample: the
# most a perf_event sample can hold, as with fgtrace's default --stack-bytes.
PERF_STACK = 65528


def run_perfprobe(target, hz, cfg, stack=0):
    """The kernel's own sampler: bench/perfprobe samples each busy thread from
    perf_event's CPU-clock timer, with no ptrace stop; with stack, the kernel
    also copies that many bytes of its stack in the interrupt. Without stack,
    what that costs the target is a floor for every sampler here."""
    busy = [t for t in target.tids() if target.comm(t) == "busy"]
    args = (["-s", stack] if stack else []) + busy
    w, st = run_probe(target, PERFPROBE, hz, cfg, args)
    w["samples"] = st["samples"]
    return w


def perf_available():
    """Whether the kernel lets bench/perfprobe sample a thread: it samples the
    harness's own main thread for a moment."""
    p = subprocess.run([str(PERFPROBE), "-d", "0.01", "-F", "99", str(os.getpid())],
                       capture_output=True, text=True)
    if p.returncode != 0:
        log(f"bench: no perf rows: {p.stderr.strip()}")
    return p.returncode == 0


def run_baseline(target, cfg):
    r0 = target.snap()
    time.sleep(cfg.window)
    w = window(r0, target.snap())
    w["max_us"] = w["stall_max_ns"] / 1000
    return w


# ---- one target: baselines interleaved with the profilers -------------------


FLOOR_HZ = 999
HAVE_PERF = False  # set by main(): whether perf_event sampling is allowed


def profilers(target):
    for hz in HZS:
        yield ("fgtrace", hz)
    for hz in HZS:
        yield ("reference", hz)
    yield ("eu-stack", None)
    if target.membarrier:
        yield ("interrupt floor", FLOOR_HZ)
    yield ("stop floor", FLOOR_HZ)
    if HAVE_PERF:
        yield ("perf floor", FLOOR_HZ)
        yield ("perf stack", FLOOR_HZ)


def wait_quiet(target, what, max_wait=120.0):
    """Waits until other processes leave the CPUs alone for half a second."""
    end = now() + max_wait
    while True:
        t = os.times()
        m0, c0, h0 = machine_busy_s(), target.cpu_s(), t.user + t.system
        time.sleep(0.5)
        t = os.times()
        others = ((machine_busy_s() - m0) - (target.cpu_s() - c0)
                  - (t.user + t.system - h0)) / 0.5
        if others <= OTHERS_MAX or now() > end:
            return
        log(f"{what}: waiting, other processes use {others * 100:.0f}% of a core")


def undisturbed(target, what, fn):
    """Runs one measurement, again when other processes took CPU meanwhile."""
    for attempt in range(1, TRIES + 1):
        wait_quiet(target, what)
        w = fn()
        log(f"{what}: {w['rate'] / 1e6:.2f} M units/s, others "
            f"{w['others'] * 100:.1f}% of a core")
        w["tries"] = attempt
        if w["others"] <= OTHERS_MAX:
            break
        log(f"{what}: disturbed by other processes; "
            + ("measuring again" if attempt < TRIES else "keeping it, marked *"))
    return w


def measure_target(name, args, cfg):
    target = Target(args)
    res = {"baselines": [], "runs": []}

    def baseline():
        return undisturbed(target, f"[{name}] baseline", lambda: run_baseline(target, cfg))

    try:
        res["baselines"].append(baseline())
        for prof, hz in profilers(target):
            what = f"[{name}] {prof} {hz or 'max'}"
            if prof == "fgtrace":
                w = undisturbed(target, what, lambda: run_fgtrace(target, hz, cfg, name))
            elif prof == "reference":
                w = undisturbed(target, what, lambda: run_refsampler(target, hz, cfg))
            elif prof == "interrupt floor":
                w = undisturbed(target, what, lambda: run_floor(target, hz, cfg))
            elif prof == "stop floor":
                w = undisturbed(target, what, lambda: run_stopfloor(target, hz, cfg))
            elif prof == "perf floor":
                w = undisturbed(target, what, lambda: run_perfprobe(target, hz, cfg))
            elif prof == "perf stack":
                w = undisturbed(target, what,
                                lambda: run_perfprobe(target, hz, cfg, PERF_STACK))
            else:
                w = undisturbed(target, what, lambda: run_eustack(target, cfg))
            res["baselines"].append(baseline())
            before, after = res["baselines"][-2], res["baselines"][-1]
            derive(w, before, after)
            res["runs"].append((prof, hz, w))
        res["has_idle"] = bool(target.idle_tids)
    finally:
        target.close()
    return res


def derive(w, before, after):
    """Throughput ratio and extra stall per sample against the baselines on
    either side, which cancels a linear drift of the machine's speed."""
    base_rate = (before["rate"] + after["rate"]) / 2
    w["ratio"] = w["rate"] / base_rate
    n = w["busy"]
    b0 = before["stall_ns"] / n / before["dt"]
    b1 = after["stall_ns"] / n / after["dt"]
    samples = w["rounds_per_s"] * w["dt"]
    extra = w["stall_ns"] / n - (b0 + b1) / 2 * w["dt"]
    w["stall_per_sample_us"] = extra / max(1, samples) / 1000
    # How far apart the two baselines are, in the same unit: the noise floor.
    w["stall_noise_us"] = abs(b1 - b0) * w["dt"] / max(1, samples) / 1000
    w["p50_us"] = percentile(w["hist"], 0.50) / 1000
    w["p99_us"] = percentile(w["hist"], 0.99) / 1000
    w["max_us"] = w["stall_max_ns"] / 1000


# ---- RSS over a long capture -------------------------------------------------


def measure_rss(cfg):
    name, _, args = TARGETS[0]  # the most samples a second: 101 threads
    hz = 999
    target = Target(args)
    path = RUNS / "fgtrace-rss.json"
    proc = None
    try:
        cmd = [str(FGTRACE_COPY), "-p", str(target.pid), "-d", f"{cfg.rss_at[1] + 2}s",
               "-F", str(hz), "-o", str(path), "-q"]
        log(f"[rss] fgtrace {hz} Hz on target {name} for {cfg.rss_at[1] + 2} s")
        t0 = now()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        rss = []
        for at in cfg.rss_at:
            time.sleep(max(0, t0 + at - now()))
            rss.append(vm_rss_kib(proc.pid))
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"fgtrace failed ({proc.returncode}): {err.strip()}")
        meta = fgtrace_metadata(path)
        size = path.stat().st_size
    finally:
        if proc:
            stop_process(proc)
        target.close()
        if path.exists() and not cfg.keep:
            path.unlink()
    return {"target": name, "hz": hz, "rss_kib": rss, "at": cfg.rss_at,
            "bytes_per_sample": size / max(1, meta["samples"]), "samples": meta["samples"],
            "dropped": meta["dropped"], "size": size}


# ---- printing ----------------------------------------------------------------


def fmt(v, spec, none="–"):
    return none if v is None else format(v, spec)


def machine():
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    fg = subprocess.run([str(FGTRACE_COPY), "-V"], capture_output=True, text=True).stdout
    eu = subprocess.run(["eu-stack", "--version"], capture_output=True,
                        text=True).stdout.splitlines()
    rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return [f"nproc: {os.cpu_count()}", f"cpu: {model}",
            f"kernel: {platform.release()}", f"fgtrace: {fg.strip()} ({rev})",
            f"eu-stack: {eu[0] if eu else '?'}",
            f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"]


def print_table(results, cfg):
    print()
    print(f"window {cfg.window:g} s per measurement; stall = gap > {GAP_NS // 1000} us "
          "beyond one work unit, in the busy thread(s)")
    print()
    print("| target | profiler | Hz | throughput ratio | stall/sample us "
          "| stall p50 / p99 / max us | idle wakeups/s | CPU % of a core "
          "| rounds/s | ticks on time | bytes/sample |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, desc, _ in TARGETS:
        res = results[name]
        bs = res["baselines"]
        rates = [b["rate"] for b in bs]
        spread = (max(rates) - min(rates)) / (sum(rates) / len(rates))
        wk = sum(b["wakeups"] for b in bs) / len(bs)
        stall = sum(b["stall_ns"] / b["busy"] / b["dt"] for b in bs) / len(bs) / 1e6
        hist = {}
        for b in bs:
            for k, v in b["hist"].items():
                hist[k] = hist.get(k, 0) + v
        dist = (f"{percentile(hist, 0.5) / 1000:.0f} / {percentile(hist, 0.99) / 1000:.0f}"
                f" / {max(b['max_us'] for b in bs):.0f}")
        mark = "*" if any(b["others"] > OTHERS_MAX for b in bs) else ""
        print(f"| {name} | none | – | 1{mark} ({sum(rates) / len(rates) / 1e6:.2f} M "
              f"units/s, spread {spread * 100:.1f}%) | ({stall:.1f} ms/s) | {dist} "
              f"| {fmt(wk if res['has_idle'] else None, '.1f')} | – | – | – | – |")
        for prof, hz, w in res["runs"]:
            on_time = fmt(None if w["on_time"] is None else w["on_time"] * 100, ".1f")
            on_time += "%" if w["on_time"] is not None else ""
            mark = "*" if w["others"] > OTHERS_MAX else ""
            print(f"| {name} | {prof} | {hz or 'max'} | {w['ratio']:.3f}{mark} "
                  f"| {w['stall_per_sample_us']:.1f} ± {w['stall_noise_us']:.1f} "
                  f"| {w['p50_us']:.0f} / {w['p99_us']:.0f} / {w['max_us']:.0f} "
                  f"| {fmt(w['wakeups'] if res['has_idle'] else None, '.1f')} "
                  f"| {w['cpu'] * 100:.1f} | {w['rounds_per_s']:.1f} | {on_time} "
                  f"| {fmt(w['bytes_per_sample'], '.1f')} |")
    print()
    print(f"* other processes used more than {OTHERS_MAX * 100:.0f}% of a core during that "
          f"window, in each of {TRIES} tries.")
    print()
    print("Profilers' own view (whole capture): fgtrace stops held (interrupt to "
          "resume), stops avoided, drops; reference: stops held (interrupt, unwind, "
          "resume); eu-stack: wall time of one run.")
    print()
    print("| target | profiler | Hz | detail |")
    print("|---|---|---|---|")
    for name, _, _ in TARGETS:
        for prof, hz, w in results[name]["runs"]:
            m = w["meta"]
            if prof == "fgtrace":
                stops = max(1, m["stops"])
                d = (f"held mean {m['stop_held_ns_total'] / stops / 1000:.1f} us (own part "
                     f"{m['stop_copy_ns_total'] / stops / 1000:.1f} us), max "
                     f"{m['stop_held_ns_max'] / 1000:.0f} us; stops {m['stops']} "
                     f"({m['stops'] / max(1, m['ticks']):.2f} a tick), avoided "
                     f"{m['stops_avoided']}, dropped {m['dropped']}, thread-ticks waiting "
                     f"for a stop {m['late']}, late rounds {m['ticks_late']}, missed ticks "
                     f"{m['missed_ticks']} of {m['ticks'] + m['missed_ticks']}, warm-up "
                     f"{m['warmup_ns'] / 1e6:.0f} ms")
            elif prof == "reference":
                s = max(1, m["samples"])
                d = (f"held mean {m['held_ns_total'] / s / 1000:.1f} us, max "
                     f"{m['held_ns_max'] / 1000:.0f} us; samples {m['samples']}, "
                     f"{m['frames'] / s:.1f} frames each, missed ticks {m['missed']} of "
                     f"{m['rounds'] + m['missed']}, longest round "
                     f"{m['round_max_ns'] / 1e6:.1f} ms")
            elif prof == "interrupt floor":
                d = (f"{m['rounds']} membarrier calls (one interrupt of each CPU "
                     f"running a busy thread), missed ticks {m['missed']}")
            elif prof == "stop floor":
                d = (f"{m['stops']} stops of {m['threads']} busy thread(s) in "
                     f"{m['rounds']} rounds, held mean "
                     f"{m['held_ns_total'] / max(1, m['stops']) / 1000:.1f} us, "
                     f"{m['failed']} failed")
            elif prof in ("perf floor", "perf stack"):
                what = (f"the IP, the user registers and {m['stack_bytes']} stack bytes"
                        if m["stack_bytes"] else "the IP only")
                d = (f"{m['samples']} CPU-clock samples of {m['threads']} busy "
                     f"thread(s), {what}, {m['lost']} lost")
            else:
                d = (f"{m['runs']} runs, {m['wall_mean_ms']:.0f} ms each "
                     f"(max {m['wall_max_ms']:.0f} ms), {w['samples']} thread stacks")
            print(f"| {name} | {prof} | {hz or 'max'} | {d} |")


def find(results, target, prof, hz):
    for p, h, w in results[target]["runs"]:
        if p == prof and h == hz:
            return w
    return None


def print_ratios(results):
    print()
    print("Ratios (reference / fgtrace, eu-stack / fgtrace; higher favours fgtrace)")
    print()
    print("| target | Hz | throughput loss ref/fg | stall/sample ref/fg "
          "| stall/sample eu/fg | CPU ref/fg | CPU/sample eu/fg | idle wakeups fg/ref "
          "| stall/sample eu/floor | stall/sample eu/stop floor "
          "| stall/sample eu/perf floor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, _, _ in TARGETS:
        eu = find(results, name, "eu-stack", None)
        floor = find(results, name, "interrupt floor", FLOOR_HZ)
        stopfloor = find(results, name, "stop floor", FLOOR_HZ)
        perffloor = find(results, name, "perf floor", FLOOR_HZ)
        for hz in HZS:
            fg, ref = find(results, name, "fgtrace", hz), find(results, name,
                                                                "reference", hz)
            fgs = fg_stall(fg)
            loss_fg, loss_ref = max(1e-3, 1 - fg["ratio"]), 1 - ref["ratio"]
            wake = (f"{fg['wakeups'] / ref['wakeups'] * 100:.2f}%"
                    if results[name]["has_idle"] and ref["wakeups"] > 0 else "–")
            print(f"| {name} | {hz} | {ratio_str(loss_ref, loss_fg, fg['ratio'] >= 0.999)} "
                  f"| {ratio_str(ref['stall_per_sample_us'], fgs, fgs_floored(fg))} "
                  f"| {ratio_str(eu['stall_per_sample_us'], fgs, fgs_floored(fg))} "
                  f"| {ref['cpu'] / max(1e-6, fg['cpu']):.1f}× "
                  f"| {cpu_per_round(eu) / max(1e-12, cpu_per_round(fg)):.0f}× | {wake} "
                  f"| {floor_ratio(eu, floor) if hz == FLOOR_HZ else ''} "
                  f"| {floor_ratio(eu, stopfloor) if hz == FLOOR_HZ else ''} "
                  f"| {floor_ratio(eu, perffloor) if hz == FLOOR_HZ else ''} |")


STALL_FLOOR_US = 0.1


def floor_ratio(eu, floor):
    """eu-stack's stall per sample over a floor's (the interrupt floor's, the
    stop floor's or the perf floor's): the best ratio that a sampler of that
    kind could reach here."""
    if floor is None:
        return "–"
    f = max(floor["stall_per_sample_us"], floor["stall_noise_us"], STALL_FLOOR_US)
    return ratio_str(eu["stall_per_sample_us"], f, False)


def cpu_per_round(w):
    """Profiler CPU seconds per sampling round (one sample of every thread)."""
    return w["cpu"] / max(1e-9, w["rounds_per_s"])


def fg_stall(w):
    """fgtrace's stall per sample, taken conservatively: never below the
    baselines' noise, nor below a floor of 0.1 us."""
    return max(w["stall_per_sample_us"], w["stall_noise_us"], STALL_FLOOR_US)


def fgs_floored(w):
    return fg_stall(w) > w["stall_per_sample_us"]


def ratio_str(num, den, at_least):
    if num <= 0:
        return "– (noise)"
    r = num / den
    return f"{'≥' if at_least else ''}{r:.1f}×"


def goals(results, rss):
    """Each goal of the issue, checked on this run's numbers."""
    out = []

    def check(ok, what, detail):
        out.append((ok, what, detail))

    for hz in HZS:
        fg, ref = find(results, "a", "fgtrace", hz), find(results, "a", "reference", hz)
        share = fg["wakeups"] / ref["wakeups"] if ref["wakeups"] > 0 else float("inf")
        check(share <= 0.03, f"idle wakeups ≤ 3% of reference's (a, {hz} Hz)",
              f"fgtrace {fg['wakeups']:.1f}/s, reference {ref['wakeups']:.1f}/s: "
              f"{share * 100:.2f}%")
    for name in ("b5", "b200"):
        for hz, need in ((99, 0.98), (999, 0.90)):
            fg, ref = find(results, name, "fgtrace", hz), find(results, name,
                                                                "reference", hz)
            check(fg["ratio"] >= need,
                  f"throughput ratio ≥ {need:.2f} ({name}, {hz} Hz)",
                  f"fgtrace {fg['ratio']:.3f}, reference {ref['ratio']:.3f}")
    fg, ref = find(results, "a", "fgtrace", 99), find(results, "a", "reference", 99)
    check(fg["cpu"] <= 0.05, "profiler CPU ≤ 5% of a core (a, 99 Hz)",
          f"fgtrace {fg['cpu'] * 100:.2f}%")
    check(fg["cpu"] <= 0.2 * ref["cpu"],
          "profiler CPU far below the reference's: ≤ 1/5 (a, 99 Hz)",
          f"fgtrace {fg['cpu'] * 100:.2f}%, reference {ref['cpu'] * 100:.2f}%: "
          f"{fg['cpu'] / max(1e-9, ref['cpu']) * 100:.0f}% of it")
    fg, ref = find(results, "c", "fgtrace", 999), find(results, "c", "reference", 999)
    check(fg["on_time"] >= 0.99, "ticks on time ≥ 99% (c, 999 Hz)",
          f"fgtrace {fg['on_time'] * 100:.2f}%, reference {ref['on_time'] * 100:.2f}%")
    if rss:
        grow = (rss["rss_kib"][1] - rss["rss_kib"][0]) / 1024
        check(grow <= 2.0,
              f"RSS growth ≤ 2 MiB between {rss['at'][0]} s and {rss['at'][1]} s",
              f"{rss['rss_kib'][0] / 1024:.1f} MiB → {rss['rss_kib'][1] / 1024:.1f} MiB "
              f"({grow:+.2f} MiB; target {rss['target']}, {rss['hz']} Hz)")
    else:
        out.append((None, "RSS growth ≤ 2 MiB between 10 s and 60 s", "skipped (--quick)"))
    # Not on target c: its busy threads wait for a CPU most of the time, so a
    # stop rarely takes time from them and the figure is noise.
    for name in ("a", "b5", "b200"):
        eu = find(results, name, "eu-stack", None)
        worst = max((find(results, name, "fgtrace", hz) for hz in HZS), key=fg_stall)
        r = eu["stall_per_sample_us"] / fg_stall(worst)
        floor = find(results, name, "interrupt floor", FLOOR_HZ)
        stopfloor = find(results, name, "stop floor", FLOOR_HZ)
        perffloor = find(results, name, "perf floor", FLOOR_HZ)
        why = ""
        if floor is not None:
            why = (f"; a bare interrupt of the thread's CPU costs it "
                   f"{floor['stall_per_sample_us']:.1f} ± {floor['stall_noise_us']:.1f} us "
                   f"here (eu-stack / that: {floor_ratio(eu, floor)})")
        if stopfloor is not None:
            why += (f"; a bare ptrace stop, nothing copied, "
                    f"{stopfloor['stall_per_sample_us']:.1f} ± "
                    f"{stopfloor['stall_noise_us']:.1f} us "
                    f"(eu-stack / that: {floor_ratio(eu, stopfloor)})")
        if perffloor is not None:
            why += (f"; the kernel's own timer sample of the IP, no stop, "
                    f"{perffloor['stall_per_sample_us']:.1f} ± "
                    f"{perffloor['stall_noise_us']:.1f} us "
                    f"(eu-stack / that: {floor_ratio(eu, perffloor)})")
        check(r >= 100, f"per-sample stall ≥ 100× below eu-stack ({name})",
              f"eu-stack {eu['stall_per_sample_us']:.0f} us, fgtrace "
              f"{'≤ ' if fgs_floored(worst) else ''}{fg_stall(worst):.1f} us "
              f"(worse of 99/999 Hz): {'≥ ' if fgs_floored(worst) else ''}{r:.0f}×{why}")
    print()
    print("Goals")
    print()
    for ok, what, detail in out:
        tag = "SKIP" if ok is None else ("PASS" if ok else "MISS")
        print(f"- {tag} {what}: {detail}")
    notes = reused_running(results)
    if notes:
        print()
        for n in notes:
            print(f"- NOTE {n}")


def reused_running(results):
    """On targets whose busy threads own a CPU, every tick must stop each of
    them: their stacks change all the time. Fewer stops than that mean that
    fgtrace reused the sample of a running thread, which also flatters its
    stall and throughput figures."""
    notes = []
    for name in ("a", "b5", "b200"):
        for hz in HZS:
            w = find(results, name, "fgtrace", hz)
            m = w["meta"]
            per_tick = m["stops"] / max(1, m["ticks"])
            if per_tick < 0.95 * w["busy"]:
                notes.append(
                    f"fgtrace on {name} at {hz} Hz stopped {per_tick:.2f} threads per "
                    f"tick for {w['busy']} busy thread(s) ({m['stops']} stops, "
                    f"{m['ticks']} ticks, {m['stops_avoided']} avoided, {m['dropped']} "
                    "dropped): samples of a running thread were reused, so its stall "
                    "and throughput figures there are flattered")
    return notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 s windows, no 60 s RSS capture: to try the harness out")
    ap.add_argument("--window", type=float, help="seconds per measurement window")
    ap.add_argument("--keep", action="store_true",
                    help="keep the traces in bench/build/runs")
    cfg = ap.parse_args()
    cfg.window = cfg.window or (1.0 if cfg.quick else 5.0)
    cfg.settle = 0.3 if cfg.quick else 0.5
    cfg.tail = 0.7
    cfg.rss_at = (10, 60)
    for exe in (FGTRACE, TARGET, REFSAMPLER, IPIPROBE, STOPPROBE, PERFPROBE):
        if not os.access(exe, os.X_OK):
            sys.exit(f"bench: {exe.relative_to(ROOT)} missing: run `make build` and "
                     "`make -C bench` first")
    if not shutil.which("eu-stack"):
        sys.exit("bench: eu-stack not found (Debian: apt-get install elfutils)")
    global HAVE_PERF
    HAVE_PERF = perf_available()
    RUNS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(FGTRACE, FGTRACE_COPY)

    info = machine()
    results = {}
    for name, desc, args in TARGETS:
        results[name] = measure_target(name, args, cfg)
    rss = None if cfg.quick else measure_rss(cfg)

    print("fgtrace bench" + (" (quick)" if cfg.quick else ""))
    print()
    for line in info:
        print(f"- {line}")
    print()
    for name, desc, _ in TARGETS:
        print(f"- target {name}: {desc}")
    print_table(results, cfg)
    print_ratios(results)
    if rss:
        print()
        print(f"RSS of fgtrace on target {rss['target']} at {rss['hz']} Hz: "
              f"{rss['rss_kib'][0]} KiB at {rss['at'][0]} s, {rss['rss_kib'][1]} KiB at "
              f"{rss['at'][1]} s; {rss['samples']} samples, {rss['dropped']} dropped, "
              f"{rss['size']} bytes ({rss['bytes_per_sample']:.1f} per sample)")
    goals(results, rss)


if __name__ == "__main__":
    main()
