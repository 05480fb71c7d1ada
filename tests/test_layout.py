"""The namespace: exactly the tasks below, each with help, `inv` and pytest load the same
code, and nothing slow happens at import time."""

import copy
import subprocess
import sys

from invoke import Collection

import tasks
from tests.helpers import ROOT, inv, inv_process

# The whole namespace, as README's "Tasks" section lists it: a task added, renamed or
# dropped changes this set (and the README's table with it: tests/test_docs.py).
EXPECTED = {
    "build.all", "build.op-node", "build.execution", "build.op-reth",
    "source.tags", "source.resolve", "source.pin", "source.outdated", "source.clone",
    "source.forks",
    "audit.sizes", "audit.layers",
    "clean.cache", "clean.images",
    "doctor", "release", "status",
}


def test_inv_list_shows_every_task():
    done = inv_process("--list")  # the real `inv`, as users start it
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()
              and not line.startswith(" " * 10)}
    assert listed == EXPECTED, (EXPECTED - listed, listed - EXPECTED)
    assert "build.all (build)" in done.stdout  # `inv build` runs the default task


def _all_tasks(coll: Collection, prefix=""):
    for name, t in coll.tasks.items():
        yield prefix + name, t
    for name, sub in coll.collections.items():
        yield from _all_tasks(sub, f"{prefix}{name}.")


def test_the_namespace_is_exactly_the_expected_one():
    """The package's namespace (what pytest and the bench load) has the same tasks, in the
    collections build, source, audit and clean plus three root tasks, and `build`
    defaults to build.all."""
    assert {name for name, _ in _all_tasks(tasks.ns)} == EXPECTED
    assert set(tasks.ns.collections) == {"build", "source", "audit", "clean"}
    assert set(tasks.ns.tasks) == {"doctor", "release", "status"}
    assert tasks.ns.collections["build"].default == "all"


def test_every_task_and_flag_has_help():
    # a copy: get_arguments() consumes a Task's help, and the module's tasks keep theirs
    for name, t in _all_tasks(copy.deepcopy(tasks.ns)):
        assert (t.__doc__ or "").strip(), f"{name} has no docstring"
        missing = [a.name for a in t.get_arguments() if not (a.help or "").strip()]
        assert not missing, f"{name}: flags without help: {missing}"


def test_tasks_py_loads_the_package_namespace():
    # Invoke loads tasks.py under the name `tasks`; it must re-export the package's ns.
    probe = (
        "import importlib.util, sys; sys.path.insert(0, '.');"
        "spec = importlib.util.spec_from_file_location('tasks', 'tasks.py');"
        "m = importlib.util.module_from_spec(spec); sys.modules['tasks'] = m;"
        "spec.loader.exec_module(m);"
        "import tasks as pkg; assert m.ns is pkg.ns and hasattr(pkg, '__path__'); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_listing_imports_no_docker_http_or_compose():
    probe = (
        "import sys; sys.argv = ['inv', '--list'];"
        "from invoke.main import program;"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: program.run()\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('docker', 'requests', 'urllib3', 'packaging.version', "
        "'zstandard', 'tasks._readiness') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_task_help_works_for_every_task():
    for name in sorted(EXPECTED):
        done = inv(name, "--help")
        assert done.returncode == 0 and "Usage:" in done.stdout, (name, done.stderr)


def test_test_helpers_have_one_copy():
    """tests/helpers.py refuses a second import under another name (each copy would have
    its own BASE_IMAGE); conftest.py is a plugin, never imported."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("helpers", ROOT / "tests" / "helpers.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        assert "import tests.helpers" in str(exc)
    else:
        raise AssertionError("tests/helpers.py imported under a second name")
    import re

    imports_conftest = re.compile(r"^\s*(from|import)\s+(tests\.)?conftest\b", re.M)
    for path in [*(ROOT / "tests").glob("*.py"), ROOT / "bench" / "run.py"]:
        assert not imports_conftest.search(path.read_text()), path
