"""The docs cannot drift from the kit: every `inv` command in README.md, CONTRIBUTING.md
and docs/*.md parses against the real namespace, the blocks marked `console` run for
real in a copy of the checkout, every relative link and anchor resolves, the pointers
the code prints into the docs name real sections, and the README stays a front door of
at most 12 KiB. CONTRIBUTING.md ("The docs and their test") explains the conventions."""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke import Collection, ParseError, Program

import tasks
from tests.helpers import ROOT, need_compose

README_LIMIT = 12 * 1024  # bytes
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
# Files that name docs sections in messages and comments (`docs/x.md, "Section"`).
POINTING = [*sorted((ROOT / "tasks").rglob("*.py")),
            *sorted(p for p in (ROOT / "docker").rglob("*") if p.is_file()),
            ROOT / "compose.yml", ROOT / ".env.example", ROOT / "UPGRADING.md",
            ROOT / "BENCHMARKS.md"]
SHELL_INFO = {"sh", "shell", "bash", "console"}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# ------------------------------------------------------------------------ reading
@dataclass
class Block:
    path: Path
    line: int       # the line of the opening fence, from 1
    info: str       # the first word of the info string ("" when none)
    lines: list[str]

    @property
    def where(self) -> str:
        return f"{rel(self.path)}:{self.line}"


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, their indentation removed."""
    found, current, indent, fence = [], None, "", ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if current is None:
            match = FENCE.match(line)
            if match:
                indent, fence = match.group(1), match.group(2)
                current = Block(path, number, match.group(3).lower(), [])
        elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            found.append(current)
            current = None
        else:
            current.lines.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    assert current is None, f"{rel(path)}: a code block opened at line {current.line} never closes"
    return found


def prose(path: Path) -> str:
    """The file without its fenced blocks (their lines left empty, so numbers hold)."""
    lines, inside, fence = [], False, ""
    for line in path.read_text().splitlines():
        match = FENCE.match(line)
        if not inside and match:
            inside, fence = True, match.group(2)
            lines.append("")
        elif inside:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                inside = False
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    text = heading.strip().replace("`", "").lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def headings(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose(path), re.M)]


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(path):
        base = slug(heading)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


# ---------------------------------------------------------------- inv command lines
@dataclass
class Command:
    where: str
    line: str        # as written
    argv: list[str]  # after `inv`
    runs: bool       # in a `console` block: run for real, not only parsed

    @property
    def id(self) -> str:
        return f"{self.where} {'run' if self.runs else 'parse only'}: inv {' '.join(self.argv)}"


SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&", ";;"}


def inv_argvs(line: str) -> list[list[str]]:
    """The argument lists of every `inv` (or `invoke`, `.venv/bin/inv`) call on a shell
    line: `VAR=value` prefixes dropped, cut at a redirection."""
    line = re.sub(r"(?<=\s)\d*[<>]&\d+|(?<=\s)\d+(?=[<>])", " ", line)  # 2>&1, 2> FILE
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    argvs, segment = [], []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        while segment and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", segment[0]):
            segment.pop(0)
        if segment and Path(segment[0]).name in ("inv", "invoke"):
            argv = []
            for word in segment[1:]:
                if word and set(word) <= set("<>&"):
                    break  # a redirection: the rest is no argument
                argv.append(word)
            argvs.append(argv)
        segment = []
    return argvs


def placeholder(argv: list[str]) -> bool:
    """`inv TASK --help`, `inv --help TASK`, `inv ...`: prose about commands, not one."""
    tasks_at = [w for i, w in enumerate(argv) if i == 0 or argv[i - 1] == "--help"]
    return "..." in argv or any(re.fullmatch(r"[A-Z][A-Z_]*", w) for w in tasks_at)


def commands() -> list[Command]:
    """Every `inv` call in the docs' code blocks and in their inline code spans."""
    found = []
    for path in DOCS:
        for block in blocks(path):
            joined = "\n".join(block.lines).replace("\\\n", " ").splitlines()
            for offset, line in enumerate(joined, 1):
                where = f"{block.where}+{offset}"
                if line.startswith("$ "):
                    line = line[2:]
                elif block.info == "crontab" and line.strip() and not line.startswith("#"):
                    line = line.split(None, 5)[5]  # after the five schedule fields
                elif block.info not in SHELL_INFO - {"console"}:
                    continue  # output, a file, or a console block's expected output
                for argv in inv_argvs(line):
                    found.append(Command(where, line, argv, block.info == "console"))
        text = prose(path)
        for match in re.finditer(r"`([^`]+)`", text):  # a span may wrap onto the next line
            number = text.count("\n", 0, match.start()) + 1
            span = re.sub(r"\s+", " ", match.group(1))
            span = re.sub(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)+", "", span)
            if not re.match(r"inv\s", span):
                continue
            try:
                argvs = inv_argvs(span)
            except ValueError:  # unbalanced quotes: not a command
                continue
            found.extend(Command(f"{rel(path)}:{number}", span, argv, False)
                         for argv in argvs if not placeholder(argv))
    return found


def parse(argv: list[str]) -> None:
    """Parse ARGV as `inv` does (Program: core flags, then tasks against the namespace's
    parser contexts), and fail where Invoke would not complain: a value flag given no
    value, or `--help` naming no task."""
    program = Program(namespace=copy.deepcopy(tasks.ns), name="inv", binary="inv")
    program.create_config()
    program.parse_core(["inv", *argv])
    program.parse_collection()
    program.parse_tasks()
    collection: Collection = program.collection
    names = set(collection.task_names)
    for alias_list in collection.task_names.values():
        names.update(alias_list)
    help_for = program.args.help.value
    if isinstance(help_for, str):
        assert help_for in names, f"--help {help_for}: no such task"
    contexts = {context.name: context for context in collection.to_contexts()}
    contexts.update({alias: contexts[name] for name, aliases in collection.task_names.items()
                     for alias in aliases})
    context = None
    for i, word in enumerate(argv):
        if word in contexts:
            context = contexts[word]
            continue
        if context is None or not word.startswith("-") or "=" in word:
            continue
        flag = context.flags.get(word)
        if flag is None and word.startswith("-") and not word.startswith("--"):
            flag = context.flags.get(word[:2])  # -v1.2: a short flag with its value
            if flag is not None and len(word) > 2:
                continue
        if flag is not None and flag.takes_value and not flag.optional:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            assert nxt is not None and not nxt.startswith("-") and nxt not in contexts, (
                f"{word} takes a value, and none follows")


COMMANDS = commands()


KNOWN_INFO = {"sh", "console", "text", "yaml", "crontab", "ini", "json", "dockerfile"}


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_block_says_whether_it_runs(path):
    """A fence without an info string would be neither run nor clearly parse-only: each
    block says what it is (`console` runs, `sh` is parsed, the rest is output or files)."""
    unmarked = [b.where for b in blocks(path) if b.info not in KNOWN_INFO]
    assert not unmarked, f"blocks without a known info string ({sorted(KNOWN_INFO)}): {unmarked}"


def test_the_docs_have_commands_to_check():
    """The extraction finds what the docs show, so an empty list cannot pass."""
    shown = {" ".join(c.argv[:1]) for c in COMMANDS}
    assert {"build", "build.op-node", "source.pin", "source.forks", "audit.sizes",
            "clean.cache", "release", "doctor", "--list", "--help"} <= shown, shown
    assert any(c.runs for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.id)
def test_an_inv_line_in_the_docs_parses_against_the_namespace(command):
    try:
        parse(command.argv)
    except ParseError as error:
        pytest.fail(f"{command.where}: `{command.line}`: {error}")
    except AssertionError as error:
        pytest.fail(f"{command.where}: `{command.line}`: {error}")


@pytest.mark.parametrize("line, why", [
    ("inv build --version=v1.21.0 --no-such-flag", "No idea what '--no-such-flag' is"),
    ("inv source.tag", "No idea what 'source.tag' is"),
    ("inv audit.sizes --json=yes", "No idea what 'yes' is"),
    ("inv source.resolve --version", "value"),
    ("inv clean.images --keep --dry-run", "value"),
    ("inv --help source.nothing", "no such task"),
])
def test_a_wrong_inv_line_is_caught(line, why):
    """The check itself fails on a task, flag or value form the kit does not have."""
    (argv,) = inv_argvs(line)
    with pytest.raises((ParseError, AssertionError), match=re.escape(why)):
        parse(argv)


def test_inv_calls_are_found_where_a_shell_line_hides_them():
    assert inv_argvs("EXECUTION_CLIENT=op-reth inv build --push") == [["build", "--push"]]
    assert inv_argvs("cd /x && .venv/bin/inv source.forks --within 14 > /tmp/f 2>&1 || mail a") \
        == [["source.forks", "--within", "14"]]
    assert inv_argvs("inv doctor && inv build   # both") == [["doctor"], ["build"]]
    assert inv_argvs("docker compose up -d") == []


# ------------------------------------------------------------- blocks that run
def _console_blocks() -> list[Block]:
    return [b for path in DOCS for b in blocks(path) if b.info == "console"]


def _checkout_copy(dest: Path) -> Path:
    """The files of this checkout (tracked, or new and not ignored), as they are now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_console_block(block: Block, tmp_path: Path) -> None:
    """Run for real, in a copy of the checkout, with no network to reach: each `$ ` line
    must exit 0, and the lines after it must be in what it printed."""
    work = _checkout_copy(tmp_path / "checkout")
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "GITHUB_API_URL": f"http://127.0.0.1:{_closed_port()}",
           "COLUMNS": "200"}
    steps: list[tuple[str, list[str]]] = []
    for line in block.lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.strip():
            assert steps, f"{block.where}: output before the first `$ ` line: {line!r}"
            steps[-1][1].append(line.strip())
    assert steps, f"{block.where}: a console block with no `$ ` line"
    if not all(re.match(r"cp |inv (--list|--help)\b|inv \S+ --help$", c) for c, _ in steps):
        need_compose()  # `docker compose config`, or a task that reads compose's config
    for command, expected in steps:
        done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True,
                              text=True, timeout=120)
        said = done.stdout + done.stderr
        assert done.returncode == 0, f"{block.where}: `{command}` exited {done.returncode}:\n{said}"
        for line in expected:
            if line not in ("...", "…"):
                assert line in said, f"{block.where}: `{command}` did not print {line!r}:\n{said}"


@pytest.mark.parametrize("block", _console_blocks(), ids=lambda b: b.where)
def test_a_console_block_runs(block, tmp_path):
    run_console_block(block, tmp_path)


def test_console_blocks_exist_and_a_failing_one_fails(tmp_path):
    """The README runs some commands; and the runner fails a block whose command fails
    or whose output is not what the block shows."""
    assert {rel(b.path) for b in _console_blocks()} >= {"README.md"}
    page = tmp_path / "page.md"
    page.write_text("```console\n$ inv --list\nno-such-task-listed\n```\n\n"
                    "```console\n$ inv --help no-such-task\n```\n")
    bad_output, bad_exit = blocks(page)
    with pytest.raises(AssertionError, match="did not print 'no-such-task-listed'"):
        run_console_block(bad_output, tmp_path / "output")
    with pytest.raises(AssertionError, match="exited 1"):
        run_console_block(bad_exit, tmp_path / "exit")


# ---------------------------------------------------------------- links, anchors
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def links(path: Path) -> list[tuple[int, str]]:
    out = []
    for number, text in enumerate(prose(path).splitlines(), 1):
        text = re.sub(r"`[^`]*`", "", text)
        out.extend((number, target) for target in LINK.findall(text))
    # a link whose text wraps onto the next line
    joined = re.sub(r"`[^`]*`", "", prose(path).replace("\n", " "))
    seen = {target for _, target in out}
    out.extend((0, target) for target in LINK.findall(joined) if target not in seen)
    return out


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{rel(path)}:{number}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{rel(path)}:{number}: {target}: {rel(dest)} has no heading "
                            f"with the anchor #{anchor}")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_relative_link_and_anchor_resolves(path):
    assert not broken_links(path)


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    docs = tmp_path / "docs"  # a copy of docs/, so the page's links mean the same
    shutil.copytree(ROOT / "docs", docs)
    page = docs / "page.md"
    page.write_text("# Page\n\n[ok](operating.md#jwt-secret) [self](#page)\n"
                    "[gone](nowhere.md) [anchor](building.md#no-such-heading)\n"
                    "[wrapped\ntext](#nor-this)\n")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert "nowhere.md: no such file" in problems[0]
    assert "#no-such-heading" in problems[1] and "#nor-this" in problems[2]


def test_anchors_are_spelled_as_github_spells_them():
    assert slug("Versions: `source.*`") == "versions-source"
    assert slug("Forks and upgrades: `inv source.forks`") == "forks-and-upgrades-inv-sourceforks"
    assert slug("A chain's own config files (dropped chains)") == \
        "a-chains-own-config-files-dropped-chains"
    assert slug("A registry: `IMAGE_REGISTRY`") == "a-registry-image_registry"
    assert slug("Settings (`.env`)") == "settings-env"


# ---------------------------------------------------- pointers from code into docs
POINTER = re.compile(r"""(README(?:\.md)?|CONTRIBUTING\.md|UPGRADING\.md|docs/[\w-]+\.md)"""
                     r"""(?:'s)?[,:]?\s+\\?["“]([^"“”\\]+)\\?["”]""")


def pointers(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(file, section) pairs a file points at, and README mentions that are no pointer.
    Comment lines are joined first, so a pointer may wrap."""
    text = path.read_text(errors="replace")
    text = re.sub(r"\n\s*#\s*", " ", text)   # shell, yaml and Python comment continuations
    found = POINTER.findall(text)
    bare = [m.group(0) for m in re.finditer(r".{0,30}\bREADME\b.{0,30}", text)
            if not POINTER.search(text, m.start(), m.end() + 80)]
    return found, bare


def test_pointers_from_the_code_name_a_real_section():
    """Messages and comments that send a reader to the docs (`docs/building.md, "Forks
    and upgrades"`) name a file that exists and a heading it has; none points into the
    README by section any more without naming one."""
    checked = 0
    for path in POINTING:
        found, bare = pointers(path)
        if path.suffix != ".md":
            assert not bare, f"{rel(path)}: README named without a section: {bare}"
        for target, section in found:
            dest = ROOT / ("README.md" if target == "README" else target)
            assert dest.exists(), f"{rel(path)}: {target}: no such file"
            names = {h.replace("`", "") for h in headings(dest)}
            names |= {name.split(": ")[0] for name in names}  # "Sizes" for "Sizes: audit.*"
            assert section.replace("`", "") in names, (
                f"{rel(path)} points at {target}, \"{section}\": no such heading")
            checked += 1
    assert checked >= 5


def test_a_pointer_to_a_missing_section_is_caught(tmp_path):
    source = tmp_path / "x.sh"
    source.write_text('say "see docs/building.md, \\"Forks and upgrades\\""\n'
                      '# see docs/operating.md, "No such\n# section"\n# (README, Sizes)\n')
    found, bare = pointers(source)
    assert found == [("docs/building.md", "Forks and upgrades"),
                     ("docs/operating.md", "No such section")]
    assert bare
    names = {h.replace("`", "") for h in headings(ROOT / "docs" / "operating.md")}
    assert "No such section" not in names


# ------------------------------------------------------------------- the README
def test_the_readme_is_a_front_door_of_at_most_12_kib():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/"


def test_the_readme_keeps_the_test_command_ci_runs():
    """.ci/run takes the first 4-space-indented line ending in `pytest`
    (`sed -n 's/^    \\(.*pytest\\)$/\\1/p' README.md | head -n 1`): it must be the
    install-and-test line, in an indented block of its own, not inside a fence."""
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    matches = [i for i, line in enumerate(lines) if re.match(r"^    (.*pytest)$", line)]
    assert matches, "README.md has no 4-space-indented line ending in pytest"
    first = matches[0]
    command = lines[first][4:]
    assert "pip install -e '.[test]'" in command and command.endswith("&& pytest"), command
    assert lines[first - 1].strip() == "", "the test command must open an indented block"
    assert prose(ROOT / "README.md").splitlines()[first] == lines[first], \
        "the test command sits in a fenced block"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "sed -n 's/^    \\(.*pytest\\)$/\\1/p' README.md | head -n 1" in ci


def test_the_readme_has_one_line_per_task():
    """Every task `inv --list` shows has its line in the README's task table (a default
    task by its collection's name, as `inv build`), and the table names no other."""
    text = (ROOT / "README.md").read_text()
    table = re.findall(r"^\| `inv ([\w.-]+)` \|", text, re.M)
    assert len(table) == len(set(table)), table
    ns = tasks.ns
    wanted = set()
    for name in ns.task_names:
        collection, _, task = name.rpartition(".")
        if collection and ns.collections[collection].default == task:
            wanted.add(collection)
        else:
            wanted.add(name)
    assert set(table) == wanted, (wanted - set(table), set(table) - wanted)
