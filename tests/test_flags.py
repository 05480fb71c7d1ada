"""How every task reads its flags (tasks/_flags.py), checked on the parser Invoke builds
from the whole namespace, as `inv` does: one short form per flag, and whole-number flags
that fail in one line."""

import copy
from collections import defaultdict

import pytest

import tasks
from tests.helpers import assert_one_line_error, inv, inv_process


def _contexts():
    """The parser contexts `inv` parses with (Program.parse_collection: to_contexts() of
    the namespace it loaded), one per task of every collection."""
    return copy.deepcopy(tasks.ns).to_contexts()


def test_every_flag_keeps_one_short_form_across_the_namespace():
    """`inv build -u` pushed while `inv build.op-node -u` pulled, and -p was --pull on one
    task and --pre on another: a letter means one flag everywhere, and a flag has the
    same short form (or none) in every task that takes it."""
    longs_of = defaultdict(set)   # short letter -> the long flags it is bound to
    shorts_of = defaultdict(set)  # long flag -> its short forms, task by task
    tasks_seen = set()
    for context in _contexts():
        tasks_seen.add(context.name)
        for arg in context.args.values():
            long = [n for n in arg.names if len(n) > 1]
            short = tuple(sorted(n for n in arg.names if len(n) == 1))
            assert len(long) == 1, (context.name, arg.names)
            shorts_of[long[0]].add(short)
            for letter in short:
                longs_of[letter].add(long[0])
    assert {"build.all", "build.op-node", "release", "clean.images", "audit.layers",
            "source.clone", "doctor"} <= tasks_seen
    clashes = {letter: sorted(longs) for letter, longs in longs_of.items() if len(longs) > 1}
    assert not clashes, f"one short letter, several flags: {clashes}"
    varying = {long: sorted(shorts) for long, shorts in shorts_of.items() if len(shorts) > 1}
    assert not varying, f"one flag, different short forms in different tasks: {varying}"


def test_the_real_inv_parses_a_short_flag_the_same_in_sibling_tasks():
    """`inv build -u` / `inv build.op-node -u` no longer mean two things: a letter no flag
    holds is refused by both, and --pull is spelled out in both."""
    for task in ("build", "build.op-node"):
        done = inv_process("--help", task)
        assert done.returncode == 0, done.stderr
        assert "  --pull " in done.stdout and "  --push " in done.stdout, done.stdout
        assert "-u," not in done.stdout and "-s, --push" not in done.stdout


def _int_flags():
    return [(context.name, arg.names[0]) for context in _contexts()
            for arg in context.args.values() if arg.kind is int]


def test_the_kit_has_whole_number_flags_to_check():
    assert {("audit.layers", "top"), ("clean.images", "keep")} <= set(_int_flags())


@pytest.mark.parametrize("task, flag", _int_flags())
def test_a_whole_number_flag_given_text_is_one_line(task, flag):
    """`audit.layers --top abc` and `clean.images --keep abc` printed 22-line tracebacks
    from Invoke's int(); every whole-number flag of the kit now says what it wants."""
    line = assert_one_line_error(inv(task, f"--{flag}", "abc"))
    assert line.startswith(f"error: --{flag} 'abc' is not a whole number"), line
    assert f"e.g. --{flag} " in line
