"""Helpers the tests share. Import them one way only: `from tests.helpers import ...`
(pytest loads conftest.py as a plugin; importing it as a module too would make a second
copy with its own state)."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from invoke import Config, Context, Program

ROOT = Path(__file__).resolve().parent.parent


def project_config(location: Path = ROOT) -> type[Config]:
    """A Config class that reads LOCATION/invoke.yaml as its project config, as `inv` reads
    the one beside tasks.py."""

    class ProjectConfig(Config):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("project_location", str(location))
            super().__init__(*args, **kwargs)
            self.load_project()

    return ProjectConfig


def kit_context(project: Path = ROOT) -> Context:
    """A Context configured as `inv` configures a task's: the namespace's defaults (from
    the component table), PROJECT/invoke.yaml, INVOKE_* variables."""
    import tasks

    config = project_config(project)()
    config.load_collection(tasks.make_namespace().configuration())
    config.load_shell_env()
    return Context(config)


@dataclass
class Ran:
    """What `inv` did: exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def inv(*args: str, env: dict[str, str] | None = None, namespace=None,
        project: Path = ROOT) -> Ran:
    """Run `inv ARGS` in this process through Invoke's Program, as the `inv` command does
    in the checkout (PROJECT/invoke.yaml, INVOKE_* variables, `-f FILE`), and capture
    stdout, stderr and the exit code. ENV is set for the call only. NAMESPACE defaults to
    one built from the component table as it is now (`tasks.make_namespace()`)."""
    import tasks

    # a copy: parsing consumes each Task's help dict, and the module's tasks must keep theirs
    namespace = copy.deepcopy(namespace or tasks.make_namespace())
    program = Program(namespace=namespace, config_class=project_config(project), binary="inv",
                      name="Invoke")
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                program.run(["inv", *args])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    sys.stdout.flush()
    return Ran(code, out.getvalue(), err.getvalue())
