"""How every task of the kit reads its flags: one short form per flag, and whole numbers
that fail in one line.

Invoke gives each flag the first free letter of its name, task by task, so the same
letter meant different flags in sibling tasks (`inv build -u` pushed, `inv build.op-node
-u` pulled). Here the short forms are one table for the whole namespace: a flag has
the letter SHORT_FLAGS gives it in every task, or no short form at all. `--push` has
none on purpose (it publishes: type it out), nor do flags whose letter a more used flag
holds (`--pull`, `--repo`, `--dest`, `--budget`, `--strict`, `--network`, ...).

A flag whose default is a whole number (`--top 10`, `--keep 2`) turns a value that is
none into one line naming the flag, the value and an example, instead of Invoke's
traceback from `int()`.

`adopt(namespace)` gives every task of a namespace these rules (tasks/__init__.py).
"""

from __future__ import annotations

from typing import Any

from invoke import Collection, Task
from invoke.parser import Argument

from ._errors import KitError

# flag (as typed, without --) -> its one short letter, the same in every task
SHORT_FLAGS = {
    "all": "a", "builder": "b", "component": "c", "dry-run": "d", "json": "j",
    "keep": "k", "no-cache": "n", "output": "o", "platform": "l", "pre": "p",
    "progress": "r", "service": "s", "top": "t", "version": "v", "within": "w",
    "textfile": "f", "watch": "i",
}
assert len(set(SHORT_FLAGS.values())) == len(SHORT_FLAGS), "a short letter used twice"


class KitArgument(Argument):
    """An Invoke Argument whose whole-number values fail in one line."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        if cast and self.kind is int and not self.incrementable:
            try:
                int(value)
            except (TypeError, ValueError):
                flag = f"--{self.names[0]}"
                example = self.default if isinstance(self.default, int) else 1
                raise KitError(f"{flag} {value!r} is not a whole number: give one, e.g. "
                               f"{flag} {example}") from None
        super().set_value(value, cast)


class KitTask(Task):
    """A Task whose flags follow SHORT_FLAGS and parse whole numbers as KitArgument."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        kit: list[Argument] = []
        for arg in super().get_arguments(ignore_unknown_help=ignore_unknown_help):
            long = arg.names[0]
            short = SHORT_FLAGS.get(long)
            kit.append(KitArgument(
                names=(long, short) if short else (long,), kind=arg.kind,
                default=arg.default, help=arg.help, positional=arg.positional,
                optional=arg.optional, incrementable=arg.incrementable,
                attr_name=arg.attr_name))
        return kit


def adopt(namespace: Collection) -> Collection:
    """Make every task of NAMESPACE (and its sub-collections) a KitTask: the only place
    the rule is applied, whichever module defined the task."""
    for task in namespace.tasks.values():
        if type(task) is Task:
            task.__class__ = KitTask  # same fields; only how it lists its flags changes
    for sub in namespace.collections.values():
        adopt(sub)
    return namespace
