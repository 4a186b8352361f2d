"""The docs stay in step with the command line.

The option table and the getopt string in cmd/options.c are the truth. The
output of `fgtrace --help`, man/fgtrace.1 and README.md must each document
exactly those options, with the same option heads ("-d, --duration=DUR") in
the same groups. No doc may mention an option that does not exist. The man
page must render with no warnings and have every required section."""
import os
import re
import subprocess

from lib import FGTRACE, ROOT

OPTIONS_C = ROOT / "cmd" / "options.c"
MAN = ROOT / "man" / "fgtrace.1"
README = ROOT / "README.md"

MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "EXIT STATUS",
                "OVERHEAD", "EXAMPLES", "SEE ALSO"]
README_SECTIONS = ["Quick start", "Usage", "Options", "Reading the timeline in Perfetto",
                   "How it works", "Dependencies", "Exit status", "Safety", "Limitations",
                   "Testing", "License"]

# An option head as --help shows it: "-p, --pid=PID", "--per-thread", or the
# command separator "-- COMMAND [ARG...]".
HEAD = re.compile(r"(?:-[A-Za-z], )?--[a-z][a-z0-9-]*(?:=[A-Z][A-Z_]*)?"
                  r"|-- [A-Z]+(?: \[[A-Z]+\.\.\.\])?")
LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
SHORT = re.compile(r"(?<![\w-])-([A-Za-z])(?![\w-])")
COMMAND = "-- COMMAND"  # how the separator is named in messages and keys


# ---- the truth: cmd/options.c ------------------------------------------------

def option_table():
    """The body of the long_options table in cmd/options.c."""
    table = re.search(r"long_options\[\]\s*=\s*\{(.*?)\n\};", OPTIONS_C.read_text(), re.S)
    assert table, f"no long_options table found in {OPTIONS_C.relative_to(ROOT)}"
    return table.group(1)


def parser_options():
    """{long name: short letter or None}, and the set of short letters, from
    the long_options table and the getopt_long string in cmd/options.c."""
    entries = re.findall(r'\{"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument,'
                         r"\s*NULL,\s*(?:'([A-Za-z])'|\w+)\}", option_table())
    assert entries, "the long_options table in cmd/options.c has no entries I can read"
    optstring = re.search(r'getopt_long\(\s*argc,\s*argv,\s*"([^"]*)"', OPTIONS_C.read_text())
    assert optstring, "no getopt_long option string found in cmd/options.c"
    shorts = {c for c in optstring.group(1) if c.isalpha()}
    longs = {name: (short or None) for name, short in entries}
    for name, short in longs.items():
        assert short is None or short in shorts, \
            f"cmd/options.c: --{name} maps to -{short}, which the getopt string lacks"
    return longs, shorts


def argument_names():
    """The long options that take an argument, from the table."""
    return set(re.findall(r'\{"([a-z][a-z0-9-]*)",\s*required_argument', option_table()))


# ---- reading the three docs --------------------------------------------------

class Doc:
    """One document: its name for messages, its lines as plain text, and its
    option heads in order as (group, head, line number)."""

    def __init__(self, name, lines, heads):
        self.name, self.lines, self.heads = name, lines, heads

    def head_for(self, key):
        return [(g, h, n) for g, h, n in self.heads if head_key(h) == key]


def head_key(head):
    """"-p, --pid=PID" -> "--pid"; "-- COMMAND [ARG...]" -> "-- COMMAND"."""
    if head.startswith("-- "):
        return COMMAND
    return re.search(r"--[a-z][a-z0-9-]*", head).group(0)


def help_doc():
    try:
        p = subprocess.run([str(FGTRACE), "--help"], capture_output=True, text=True,
                           timeout=10)
    except FileNotFoundError:
        raise AssertionError(f"{FGTRACE} is not built (run `make build`)") from None
    assert p.returncode == 0, f"fgtrace --help exited {p.returncode}: {p.stderr.strip()}"
    assert p.stdout.strip(), "fgtrace --help printed nothing on stdout"
    lines = p.stdout.splitlines()
    heads, group = [], None
    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"([A-Z][A-Za-z ]*):", line)
        if m:
            group = m.group(1)
            continue
        # Heads are indented a little; continuation lines a lot.
        m = re.match(r" {2,8}(-\S.*)", line)
        if m:
            head = HEAD.match(m.group(1))
            assert head, f"--help line {n}: cannot read an option head in {line.strip()!r}"
            assert group, f"--help line {n}: option {head.group(0)!r} is outside any group"
            heads.append((group, head.group(0), n))
    return Doc("--help", lines, heads)


ROFF_ESCAPES = [
    (r"\\\".*$", ""),  # comment
    (r"\\f(?:\[[^]]*\]|\(..|.)", ""),  # font changes
    (r"\\\(aq", "'"), (r"\\\(dq", '"'), (r"\\\((?:lq|rq)", '"'),
    (r"\\-", "-"), (r"\\[&%c]", ""), (r"\\[ ~]", " "), (r"\\e", "\\\\"),
]
ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}


def roff_plain(text):
    for pattern, repl in ROFF_ESCAPES:
        text = re.sub(pattern, repl, text)
    return text


def roff_args(rest):
    """A macro's arguments: split at spaces; "a b" is one argument and "" inside
    quotes is a literal quote."""
    args = re.findall(r'"((?:[^"]|"")*)"?|(\S+)', rest)
    return [q.replace('""', '"') if q or not u else u for q, u in args]


def roff_line(line):
    """A man page source line as the text it shows; None for requests that
    show no text. Font macros join their arguments as roff does."""
    m = re.match(r"\.(B|I|SM|SB|BR|RB|BI|IB|IR|RI)(?:\s+(.*))?$", line)
    if m:
        args = [roff_plain(a) for a in roff_args(m.group(2) or "")]
        return ("" if m.group(1) in ALTERNATING else " ").join(args)
    if line.startswith((".", "'")):
        return None
    return roff_plain(line)


def man_doc():
    source = MAN.read_text().splitlines()
    lines, heads = [], []
    section = sub = None
    tag_next = False
    for n, raw in enumerate(source, 1):
        m = re.match(r"\.(SH|SS)\s+\"?([^\"]*)\"?\s*$", raw)
        if m:
            if m.group(1) == "SH":
                section, sub = m.group(2), None
            else:
                sub = m.group(2)
            lines.append("")
            continue
        if raw.startswith(".TP"):
            tag_next = True
            lines.append("")
            continue
        text = roff_line(raw)
        lines.append(text or "")
        if tag_next and text is not None:
            tag_next = False
            if section == "OPTIONS":
                head = HEAD.fullmatch(text.strip())
                assert head, (f"man/fgtrace.1 line {n}: the OPTIONS tag {text.strip()!r} "
                              "is not an option head like --help's")
                assert sub, f"man/fgtrace.1 line {n}: {text.strip()!r} is not under any .SS group"
                heads.append((sub, head.group(0), n))
    return Doc("man/fgtrace.1", lines, heads)


def readme_doc():
    lines = README.read_text().splitlines()
    heads, section, group = [], None, None
    for n, line in enumerate(lines, 1):
        m = re.match(r"(#{2,3}) (.*)", line)
        if m:
            if m.group(1) == "##":
                section, group = m.group(2).strip(), None
            else:
                group = m.group(2).strip()
            continue
        if section != "Options":
            continue
        m = re.match(r"- `([^`]+)`", line)
        if m:
            head = HEAD.fullmatch(m.group(1))
            assert head, (f"README.md line {n}: {m.group(1)!r} in the Options section is "
                          "not an option head like --help's")
            assert group, f"README.md line {n}: {m.group(1)!r} is not under any ### group"
            heads.append((group, head.group(0), n))
    return Doc("README.md", lines, heads)


def all_docs():
    return [help_doc(), man_doc(), readme_doc()]


def invocations(doc):
    """(line number, token) for each argument of each `fgtrace ...` command
    line in the doc, up to the command separator or the end of the command."""
    for n, line in enumerate(doc.lines, 1):
        for m in re.finditer(r"(?<![\w/.-])fgtrace\s+(.*)", line):
            for token in m.group(1).split():
                token = token.strip("`*\"'(),;")
                if token in ("--", "||", "|", "&&", ";") or token.startswith(">"):
                    break
                yield n, token


# ---- the tests -----------------------------------------------------------------

def test_long_options_agree():
    longs, _ = parser_options()
    truth = set(longs)
    problems = []
    for doc in all_docs():
        documented = {head_key(h)[2:] for _, h, _ in doc.heads if head_key(h) != COMMAND}
        for name in sorted(truth - documented):
            problems.append(f"--{name} is in cmd/options.c but missing from {doc.name}"
                            " (its option list)")
        for name in sorted(documented - truth):
            problems.append(f"--{name} is documented in {doc.name} but cmd/options.c "
                            "has no such option")
        for n, line in enumerate(doc.lines, 1):
            for name in LONG.findall(line):
                if name not in truth:
                    problems.append(f"{doc.name} line {n} mentions --{name}, which "
                                    f"cmd/options.c does not have: {line.strip()!r}")
        seen = [head_key(h) for _, h, _ in doc.heads]
        for key in sorted({k for k in seen if seen.count(k) > 1}):
            problems.append(f"{key} is listed more than once in {doc.name}")
    assert not problems, "long options disagree:\n" + "\n".join(problems)


def test_short_options_agree():
    longs, shorts = parser_options()
    problems = []
    for doc in all_docs():
        documented = {}
        for _, head, n in doc.heads:
            m = re.match(r"-([A-Za-z]), --([a-z0-9-]+)", head)
            if m:
                documented[m.group(1)] = (m.group(2), n)
        for c in sorted(shorts - set(documented)):
            problems.append(f"-{c} is in cmd/options.c but missing from {doc.name}"
                            " (its option list)")
        for c, (name, n) in sorted(documented.items()):
            if c not in shorts:
                problems.append(f"-{c} is documented in {doc.name} (line {n}) but "
                                "cmd/options.c has no such option")
            elif name in longs and longs[name] != c:
                want = longs.get(name)
                problems.append(f"{doc.name} line {n} pairs -{c} with --{name}, but "
                                f"cmd/options.c pairs --{name} with "
                                f"{'-' + want if want else 'no short option'}")
        for name, c in sorted(longs.items()):
            for _, head, n in doc.head_for(f"--{name}"):
                if c and not head.startswith(f"-{c}, "):
                    problems.append(f"{doc.name} line {n} shows {head!r} without its "
                                    f"short form -{c}")
        for n, token in invocations(doc):
            m = SHORT.fullmatch(token)
            if m and m.group(1) not in shorts:
                problems.append(f"{doc.name} line {n}: an fgtrace command uses "
                                f"-{m.group(1)}, which cmd/options.c does not have")
    assert not problems, "short options disagree:\n" + "\n".join(problems)


def test_option_heads_and_groups_agree():
    """Each option is shown exactly as --help shows it ("-d, --duration=DUR"),
    in the same group, and the groups come in the same order."""
    docs = all_docs()
    helpdoc = docs[0]
    takes_arg = argument_names()
    problems = []
    for _, head, n in helpdoc.heads:
        key = head_key(head)
        if key != COMMAND and (key[2:] in takes_arg) != ("=" in head):
            problems.append(f"--help line {n}: {head!r} "
                            f"{'lacks' if '=' not in head else 'has'} an =ARG, but "
                            f"cmd/options.c says --{key[2:]} "
                            f"{'takes an' if key[2:] in takes_arg else 'takes no'} argument")
    want = {head_key(h): (g, h) for g, h, _ in helpdoc.heads}
    groups = list(dict.fromkeys(g for g, _, _ in helpdoc.heads))
    for doc in docs[1:]:
        for group, head, n in doc.heads:
            key = head_key(head)
            if key not in want:
                continue  # reported by the option tests
            want_group, want_head = want[key]
            if head != want_head:
                problems.append(f"{doc.name} line {n} shows {head!r}; --help shows "
                                f"{want_head!r}")
            if group != want_group:
                problems.append(f"{key} is under {group!r} in {doc.name} (line {n}) but "
                                f"under {want_group!r} in --help")
        if COMMAND in want and not doc.head_for(COMMAND):
            problems.append(f"{doc.name} does not list '-- COMMAND [ARG...]' "
                            f"under {want[COMMAND][0]!r}")
        order = list(dict.fromkeys(g for g, _, _ in doc.heads))
        if order != groups:
            problems.append(f"{doc.name} has the option groups {order}; --help has {groups}")
    assert not problems, "option heads or groups disagree:\n" + "\n".join(problems)


def test_man_page_renders_without_warnings():
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    cmd = ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(MAN)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    except FileNotFoundError:
        raise AssertionError("man is not installed (Debian: man-db; `make deps` "
                             "installs it)") from None
    assert p.returncode == 0, f"`{' '.join(cmd)}` exited {p.returncode}: {p.stderr}"
    assert p.stderr.strip() == "", f"man page warnings from `{' '.join(cmd)}`:\n{p.stderr}"
    assert p.stdout.strip(), f"`{' '.join(cmd)}` rendered nothing"
    # groff's full warning set catches more than man-db asks for.
    cmd = ["groff", "-t", "-man", "-ww", "-Tutf8", "-z", str(MAN)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), \
        f"`{' '.join(cmd)}` exited {p.returncode} with warnings:\n{p.stderr}"


def test_man_page_has_every_section():
    source = MAN.read_text()
    sections = [s.strip().strip('"') for s in re.findall(r"^\.SH (.+)$", source, re.M)]
    missing = [s for s in MAN_SECTIONS if s not in sections]
    assert not missing, f"man/fgtrace.1 lacks the sections {missing}; it has {sections}"
    order = [s for s in sections if s in MAN_SECTIONS]
    assert order == MAN_SECTIONS, \
        f"man/fgtrace.1 has its sections in the order {order}; expected {MAN_SECTIONS}"
    body = re.split(r"^\.SH .+$", source, flags=re.M)[1:]
    for name, text in zip(sections, body):
        shown = [roff_line(line) for line in text.splitlines()]
        assert any(t and t.strip() for t in shown), f"man/fgtrace.1: section {name} is empty"
    name_line = body[sections.index("NAME")].strip().splitlines()[0]
    assert re.fullmatch(r"fgtrace \\- \S.*", name_line), \
        f"man/fgtrace.1: NAME must read 'fgtrace \\- description' (for whatis); " \
        f"it reads {name_line!r}"
    for ref in ["perf (1)", "eu\\-stack (1)", "ptrace (2)", "gdb (1)"]:
        assert f".BR {ref}" in body[sections.index("SEE ALSO")], \
            f"man/fgtrace.1: SEE ALSO lacks {ref.replace(' ', '').replace(chr(92), '')}"


def test_readme_has_every_section():
    text = README.read_text()
    sections = re.findall(r"^## (.+)$", text, re.M)
    missing = [s for s in README_SECTIONS if not any(h.startswith(s) for h in sections)]
    assert not missing, f"README.md lacks the sections {missing}; it has {sections}"
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for cmd in ["make demo", "make check", "apt-get", "scripts/install-deps.sh"]:
        assert cmd in quick, f"README.md: the Quick start section does not mention {cmd!r}"
