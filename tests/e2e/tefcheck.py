"""The strict trace checker, applied to every trace the tests make.

check(path) raises AssertionError naming the first problems found. It holds a
trace to what the viewers need (Perfetto, speedscope, chrome://tracing):
  - a bare JSON array of objects, valid UTF-8, no NaN or Infinity;
  - no raw control characters inside strings, none but JSON whitespace
    outside them, and no surrogate escapes (Perfetto rejects the whole file);
  - every event has a string ph, integer pid and tid, and tid is never 0;
  - B/E/i/C/X events have a finite ts >= 0, non-decreasing on each thread
    (and on each counter track: a C event belongs to its process);
  - B/E balanced on each thread in stack order, each E with its B's name and cat;
  - metadata only process_name, thread_name, thread_sort_index and fgtrace;
    fgtrace's histogram of stop times counts every stop, and its buckets
    hold the longest.
With partial=True (a killed capture) the final ']' may be missing, the last
event may be cut, and spans may be left open."""
import json
import re
from collections import defaultdict

from lib import decode_utf8, is_finite_number, parse_trace, read_bytes

META = {"process_name", "thread_name", "thread_sort_index", "fgtrace"}
TIMED = {"B", "E", "i", "C", "X"}
MAX_REPORTED = 10

# A string literal; raw controls inside are caught below, not by the pattern.
STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
RAW_CONTROL = re.compile(r"[\x00-\x1f]")
CONTROL_OUTSIDE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# \uD800..\uDFFF, not preceded by an escaped backslash ("\\ud800" is text).
SURROGATE = re.compile(r"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _text_problems(raw, partial):
    out = []
    try:
        text = decode_utf8(raw, partial)
    except UnicodeDecodeError as e:
        out.append(f"invalid UTF-8 at byte {e.start}: {raw[e.start:e.start + 4]!r}")
        text = raw.decode("utf-8", errors="replace")
    for m in STRING.finditer(text):
        c = RAW_CONTROL.search(m.group())
        if c:
            out.append(f"raw control character {ord(c.group()):#04x} inside a string "
                       f"at offset {m.start() + c.start()}: {m.group()[:60]!r}")
            break
    c = CONTROL_OUTSIDE.search(STRING.sub('""', text))
    if c:
        out.append(f"raw control character {ord(c.group()):#04x} outside strings")
    m = SURROGATE.search(text)
    if m:
        out.append(f"surrogate escape {m.group()[-6:]!r} at offset "
                   f"{m.start()} (Perfetto rejects the whole file)")
    return out, text


class _Checker:
    def __init__(self, partial):
        self.partial = partial
        self.out = []
        self.stacks = defaultdict(list)
        self.last_ts = {}

    def event(self, n, e):
        if not isinstance(e, dict):
            self.out.append(f"event {n} is not an object: {e!r:.80}")
            return
        where = f"event {n} {json.dumps(e)[:160]}"
        ph, pid, tid = e.get("ph"), e.get("pid"), e.get("tid")
        if not isinstance(ph, str):
            self.out.append(f"{where}: ph missing or not a string")
            return
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (pid, tid)):
            self.out.append(f"{where}: pid and tid must be integers")
            return
        if tid == 0 or pid == 0:
            self.out.append(f"{where}: pid or tid 0 (Perfetto folds tid 0 into the main "
                            "thread)")
        if "args" in e and not isinstance(e["args"], dict):
            self.out.append(f"{where}: args is not an object")
        if ph == "M":
            self.metadata(where, e)
        elif ph in TIMED:
            self.timed(where, e, ph, (pid, tid))
        else:
            self.out.append(f"{where}: unexpected ph {ph!r}")

    def metadata(self, where, e):
        name, args = e.get("name"), e.get("args")
        if name not in META:
            self.out.append(f"{where}: unexpected metadata {name!r} (allowed: "
                            f"{', '.join(sorted(META))})")
        elif not isinstance(args, dict):
            self.out.append(f"{where}: metadata without args")
        elif name in ("process_name", "thread_name") and not isinstance(
                args.get("name"), str):
            self.out.append(f"{where}: {name} without a string args.name")
        elif name == "thread_sort_index" and not isinstance(args.get("sort_index"), int):
            self.out.append(f"{where}: thread_sort_index without an integer sort_index")
        elif name == "fgtrace" and "stop_held_us_histogram" in args:
            self.out.extend(f"{where}: {p}" for p in _histogram_problems(args))

    def timed(self, where, e, ph, key):
        ts = e.get("ts")
        if not is_finite_number(ts) or ts < 0:
            self.out.append(f"{where}: ts must be a number >= 0, is {ts!r}")
            return
        # A counter belongs to its process's track named after it, not to a
        # thread: viewers ignore its tid.
        track = (key[0], "counter", e.get("name")) if ph == "C" else key
        what = f"counter {track[2]!r} of {key[0]}" if ph == "C" else f"thread {key}"
        if ts < self.last_ts.get(track, 0):
            self.out.append(f"{where}: ts goes back on {what}: "
                            f"{self.last_ts[track]} then {ts}")
        self.last_ts[track] = max(ts, self.last_ts.get(track, 0))
        if ph in ("B", "X", "i", "C") and not (isinstance(e.get("name"), str)
                                               and e["name"]):
            self.out.append(f"{where}: empty or missing name")
        if ph == "B":
            self.stacks[key].append(e)
        elif ph == "E":
            self.end(where, e, key)
        elif ph == "X" and not (is_finite_number(e.get("dur")) and e["dur"] >= 0):
            self.out.append(f"{where}: X event without a dur >= 0")
        elif ph == "C" and not (isinstance(e.get("args"), dict) and all(
                is_finite_number(v) for v in e["args"].values())):
            self.out.append(f"{where}: counter args must be numbers")

    def end(self, where, e, key):
        if not self.stacks[key]:
            self.out.append(f"{where}: E with no open B on thread {key}")
            return
        b = self.stacks[key].pop()
        if (b.get("name"), b.get("cat")) != (e.get("name"), e.get("cat")):
            self.out.append(f"{where}: E does not match its B: B is "
                            f"{b.get('name')!r} cat {b.get('cat')!r}, E is "
                            f"{e.get('name')!r} cat {e.get('cat')!r}")

    def finish(self):
        if self.partial:
            return
        for key, st in self.stacks.items():
            if st:
                self.out.append(f"thread {key}: {len(st)} spans never closed, innermost "
                                f"{st[-1].get('name')!r} opened at {st[-1].get('ts')}")


def _bucket(key):
    """A histogram key as [low, high) in microseconds: "<1", "A-B" or ">=A"."""
    if key == "<1":
        return 0, 1
    if key.startswith(">="):
        return int(key[2:]), float("inf")
    low, high = key.split("-")
    return int(low), int(high)


def _histogram_problems(args):
    """The held-time histogram must count every stop, in buckets that follow
    each other, and the longest stop must lie in the last bucket it fills."""
    try:
        buckets = sorted((_bucket(k), n) for k, n in args["stop_held_us_histogram"].items())
    except (ValueError, AttributeError):
        return [f"histogram keys unreadable: {args['stop_held_us_histogram']}"]
    out = []
    for ((_, high), _), ((low, _), _) in zip(buckets, buckets[1:]):
        if high != low:
            out.append(f"histogram buckets do not follow each other at {high}/{low}")
    if buckets and buckets[-1][0][1] != float("inf"):
        out.append(f"the last histogram bucket {buckets[-1][0]} is not open-ended")
    total = sum(n for _, n in buckets)
    if total != args.get("stops"):
        out.append(f"histogram counts {total} stops, the metadata {args.get('stops')}")
    filled = [b for b, n in buckets if n]
    longest = args.get("stop_held_ns_max", 0) / 1000
    if filled and not filled[-1][0] <= longest < filled[-1][1]:
        out.append(f"the longest stop, {longest:.0f} us, is not in the last bucket "
                   f"it fills, {filled[-1]}")
    return out


def problems_in_bytes(raw, partial=False):
    """Every problem found in a trace given as bytes; empty when it is fine."""
    out, text = _text_problems(raw, partial)
    if not text.lstrip().startswith("["):
        return out + [f"not a bare JSON array: starts with {text.lstrip()[:20]!r}"]
    try:
        events = parse_trace(text, partial)
    except (ValueError, AssertionError) as e:
        return out + [f"invalid JSON: {e}"]
    if not isinstance(events, list):
        return out + ["the top level is not an array"]
    checker = _Checker(partial)
    for n, e in enumerate(events):
        checker.event(n, e)
    checker.finish()
    return out + checker.out


def problems(path, partial=False):
    try:
        raw = read_bytes(path, partial)
    except (OSError, EOFError) as e:  # missing file, or a gzip stream cut short
        return [f"cannot read it: {e}"]
    return problems_in_bytes(raw, partial)


def _raise(found, label):
    if found:
        more = f"\n  ... and {len(found) - MAX_REPORTED} more" if len(
            found) > MAX_REPORTED else ""
        raise AssertionError(f"{label} fails the trace checker ({len(found)} problems):\n  "
                             + "\n  ".join(found[:MAX_REPORTED]) + more)


def check(path, partial=False):
    """Raises AssertionError listing the first problems of the trace at path
    (.gz is gunzipped)."""
    _raise(problems(path, partial), f"trace {path}")


def check_bytes(raw, partial=False, label="trace"):
    _raise(problems_in_bytes(raw, partial), label)
