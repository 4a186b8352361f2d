"""The strict trace checker, applied to every trace the tests make."""
import json
import re
from collections import defaultdict

from lib import load_trace, read_text

META = {"process_name", "thread_name", "thread_sort_index", "fgtrace"}
SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def problems(path, partial=False):
    out = []
    text = read_text(path)
    if SURROGATE.search(text):
        out.append("surrogate escape in the file (Perfetto rejects the whole file)")
    for i, ch in enumerate(text):
        if ord(ch) < 0x20 and ch not in "\n":
            out.append(f"raw control byte {ord(ch):#x} at offset {i}")
            break
    if not text.lstrip().startswith("["):
        out.append("not a bare JSON array")
        return out
    try:
        events = load_trace(str(path), partial=partial)
    except (json.JSONDecodeError, AssertionError) as e:
        return out + [f"invalid JSON: {e}"]
    if not isinstance(events, list):
        return out + ["top level is not an array"]
    stacks = defaultdict(list)
    last_ts = {}
    for n, e in enumerate(events):
        where = f"event {n} {json.dumps(e)[:160]}"
        ph = e.get("ph")
        if not isinstance(e.get("pid"), int) or not isinstance(e.get("tid"), int):
            out.append(f"{where}: pid and tid must be integers")
            continue
        if e["tid"] == 0 or e["pid"] == 0:
            out.append(f"{where}: pid or tid 0")
        key = (e["pid"], e["tid"])
        if ph == "M":
            if e.get("name") not in META or not isinstance(e.get("args"), dict):
                out.append(f"{where}: unexpected metadata event")
            continue
        if ph not in ("B", "E", "i", "C", "X"):
            out.append(f"{where}: unexpected ph")
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            out.append(f"{where}: bad ts")
            continue
        if ph in ("B", "E", "i"):
            if ts < last_ts.get(key, 0):
                out.append(f"{where}: ts goes back on its thread ({last_ts[key]} -> {ts})")
            last_ts[key] = ts
        if ph == "B":
            if not e.get("name"):
                out.append(f"{where}: empty name")
            stacks[key].append(e)
        elif ph == "E":
            if not stacks[key]:
                out.append(f"{where}: E without B")
                continue
            b = stacks[key].pop()
            if b.get("name") != e.get("name") or b.get("cat") != e.get("cat"):
                out.append(f"{where}: E does not match its B {b.get('name')!r}/{b.get('cat')!r}")
    if not partial:
        for key, st in stacks.items():
            if st:
                out.append(f"thread {key}: {len(st)} spans never closed, e.g. {st[-1]['name']!r}")
    return out


def check(path, partial=False):
    found = problems(path, partial)
    if found:
        raise AssertionError(f"trace {path} fails the checker:\n  " + "\n  ".join(found[:10]))
