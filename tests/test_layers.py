"""The kit's modules in layers, and imports that only go down.

Every module under tasks/ has a layer in LAYERS; a module imports only from its own layer
or the ones below, the imports never make a cycle, and a task module never imports
another task module (tasks/__init__.py assembles the collections). Imports are read with
`ast`, at module level and inside functions alike (`import tasks.x`, `from tasks import
x`, `from . import x`, `from .x import y`): an import placed inside a function to keep
`inv --list` fast may go down, never up. docs/architecture.md holds the layer table and
the module graph drawn from these facts (`python -m tests.test_layers` rewrites it), so
the page cannot drift from the code.

The checker is tested too, on a package made on the spot with an upward import, a cycle
and a task importing a task: it must report each.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tasks"
DOC = ROOT / "docs" / "architecture.md"

# Bottom first. A module may import from its own layer and the layers before it.
LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "facts": ("pure facts and parsing: no I/O, no printing", (
        "_errors", "_units", "_versions", "_components", "_chain_policy", "_chains",
        "_refs", "_config", "_flags", "_ignore", "_running",
    )),
    "adapters": ("I/O with one outside party each: GitHub, the registry data, the engine, "
                 "compose, files", (
        "_github", "_registry", "_embedded", "_connect", "_sizes", "_engine", "_compose",
        "_dockerfile", "_pins", "_release", "_push", "_known", "_rpc",
    )),
    "services": ("decide: resolution, readiness, building, sizes, cleaning, doctor's checks; "
                 "they return what they found", (
        "_upstream", "_readiness", "_forks", "_build_flags", "_building", "_audit", "_check",
        "_chain_checks", "_doctor", "_clean", "_status", "_live",
    )),
    "steps": ("what several tasks run in a row and print as it goes (build, audit, push)",
              ("_steps",)),
    "tasks": ("thin task modules: read flags, call services or steps, print", (
        "build", "source", "audit", "clean", "doctor", "release", "forks", "status",
    )),
    "namespace": ("the root collection: assembles the task modules", ("__init__",)),
}


def layer_of() -> dict[str, int]:
    return {module: rank for rank, (_, (_, modules)) in enumerate(LAYERS.items())
            for module in modules}


def imports(path: Path, package: str, known: set[str]) -> set[str]:
    """The sibling modules PATH imports (of KNOWN), at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and node.module
                                   and node.module.split(".")[0] == package):
                rest = (node.module or "").split(".")
                rest = rest[1:] if node.level == 0 else rest
                if rest and rest[0]:
                    found.add(rest[0])
                else:  # from . import x, y
                    found.update(alias.name for alias in node.names)
    return found & known


def graph(folder: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the sibling modules it imports} for every module of the package FOLDER."""
    modules = {p.stem for p in folder.glob("*.py")}
    return {p.stem: imports(p, folder.name, modules - {p.stem})
            for p in sorted(folder.glob("*.py"))}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, as the path that closes it (depth-first, one per back edge)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def problems(edges: dict[str, set[str]]) -> list[str]:
    """Everything wrong with EDGES against LAYERS, one line each."""
    rank = layer_of()
    names = list(LAYERS)
    tasks = set(LAYERS["tasks"][1])
    found = [f"{m} is in no layer of LAYERS (tests/test_layers.py)"
             for m in sorted(edges) if m not in rank]
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            if module in rank and target in rank and rank[target] > rank[module]:
                found.append(f"upward import: {module} ({names[rank[module]]}) imports "
                             f"{target} ({names[rank[target]]})")
            if module in tasks and target in tasks:
                found.append(f"task module {module} imports task module {target}")
    found += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(edges)]
    return found


def drawing(edges: dict[str, set[str]]) -> str:
    """The module graph top to bottom: each layer's modules and what each imports."""
    lines = []
    for name, (what, modules) in reversed(LAYERS.items()):
        present = [m for m in modules if m in edges]
        lines.append(f"{name}: {what}")
        for module in present:
            shown = "tasks/__init__.py" if module == "__init__" else module
            targets = " ".join(sorted(edges[module])) or "-"
            lines.append(f"    {shown:<15} -> {targets}")
        lines.append("        |")
        lines.append("        v")
    return "\n".join(lines[:-2])


def table() -> str:
    rows = ["| layer | what it holds | modules |", "| --- | --- | --- |"]
    for name, (what, modules) in LAYERS.items():
        shown = ", ".join(f"`{m}`" if (PACKAGE / f"{m}.py").is_file() else f"`{m}` (planned)"
                          for m in modules)
        rows.append(f"| {name} | {what} | {shown} |")
    return "\n".join(rows)


BEGIN, END = "<!-- layers: generated by tests/test_layers.py -->", "<!-- end of layers -->"


def generated() -> str:
    return (f"{BEGIN}\n{table()}\n\nThe module graph, top to bottom (every arrow points "
            f"down or within a layer; `python -m tests.test_layers` rewrites this part):\n\n"
            f"```text\n{drawing(graph())}\n```\n{END}")


def current_doc() -> str:
    text = DOC.read_text()
    return text[text.index(BEGIN):text.index(END) + len(END)]


# ------------------------------------------------------------------------ tests
def test_every_module_has_a_layer_and_imports_go_down_without_cycles():
    assert problems(graph()) == []


def test_the_layer_table_names_each_module_once():
    listed = [m for _, modules in LAYERS.values() for m in modules]
    assert len(listed) == len(set(listed))


def test_docs_architecture_shows_the_layers_as_they_are():
    assert current_doc() == generated(), "run `python -m tests.test_layers` to rewrite it"


def test_the_checker_reports_upward_imports_cycles_and_task_to_task(tmp_path):
    """A made-up package (named `tasks`, as the checker reads it) with one of each fault,
    some of them in imports inside functions, the way a lazy import hides them."""
    package = tmp_path / "tasks"
    package.mkdir()
    files = {
        "__init__.py": "from . import build\n",
        "_errors.py": "def boom():\n    from . import _upstream\n",  # facts -> services
        "_upstream.py": "from ._readiness import x\n",
        "_readiness.py": "import tasks._upstream\n",  # a cycle with _upstream
        "build.py": "def go():\n    from tasks import source\n",  # task -> task
        "source.py": "from ._errors import KitError\n",
        "_stray.py": "",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    found = problems(graph(package))
    assert "upward import: _errors (facts) imports _upstream (services)" in found
    assert "task module build imports task module source" in found
    assert "import cycle: _upstream -> _readiness -> _upstream" in found
    assert "_stray is in no layer of LAYERS (tests/test_layers.py)" in found
    assert len(found) == 4, found


if __name__ == "__main__":  # rewrite the generated part of docs/architecture.md
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + generated() + text[end:])
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
