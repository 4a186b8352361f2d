"""The docs stay in step: --help, man/fgtrace.1 and README.md list the same
options, and the man page renders with no warnings."""
import os
import re
import subprocess

from lib import FGTRACE, ROOT

MAN = ROOT / "man" / "fgtrace.1"
README = ROOT / "README.md"


def help_text():
    p = subprocess.run([str(FGTRACE), "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, f"--help exited {p.returncode}"
    return p.stdout


def man_text():
    # roff escapes hyphens as \-; read them back as plain hyphens.
    return MAN.read_text().replace("\\-", "-")


def long_options(text):
    return set(re.findall(r"(?<![\w-])--([a-z][a-z-]+)", text))


def short_options(text):
    return set(re.findall(r"(?<![\w-])-([a-zA-Z])\b", text))


def compare(kind, extract):
    docs = {"--help": extract(help_text()), "man page": extract(man_text()),
            "README": extract(README.read_text())}
    truth = docs["--help"]
    for name, found in docs.items():
        missing, extra = truth - found, found - truth
        assert not missing, f"{kind} options in --help but not in the {name}: {sorted(missing)}"
        assert not extra or name == "--help", \
            f"{kind} options in the {name} but not in --help: {sorted(extra)}"


def test_long_options_agree():
    compare("long", long_options)


def test_short_options_agree():
    def shorts(text):
        return short_options(text) & set("pdFoqhVZ")
    compare("short", shorts)


def test_every_option_of_the_parser_is_documented():
    src = (ROOT / "cmd" / "options.c").read_text()
    table = set(re.findall(r'\{"([a-z-]+)", (?:required|no)_argument', src))
    assert table, "no option table found in cmd/options.c"
    missing = table - long_options(help_text())
    assert not missing, f"options the parser takes but --help does not list: {sorted(missing)}"


def test_man_page_renders_without_warnings():
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(MAN)],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, f"man exited {p.returncode}: {p.stderr}"
    assert p.stderr.strip() == "", f"man page warnings:\n{p.stderr}"


def test_man_page_has_every_section():
    sections = re.findall(r"^\.SH (.+)$", MAN.read_text(), re.M)
    for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "EXIT STATUS",
                 "OVERHEAD", "EXAMPLES", "SEE ALSO"]:
        assert want in sections, f"man page lacks {want}; has {sections}"
