"""Image audits: sizes against budgets, and where the bytes are.

Budgets live in the Invoke config under `audit.budgets`, read through `c.config` only:
the defaults are the component table's (tasks/_components.py, set on the root
namespace: by service, and by component name for the execution clients, which share
one service); invoke.yaml at the repo root, or `inv -f FILE`, overrides them; and
`--budget SERVICE=SIZE` (or `--budget op-reth=SIZE`) overrides them for one run. A
budget set on a service holds for whichever client runs there, before the client's own.
Each row names the client in use on the execution service. Services and their image
names come from `docker compose config`, so COMPOSE_FILE, .env and shell overrides (a
version pin, EXECUTION_CLIENT) are respected.

The logic is in tasks/_audit.py; the report a build ends with too
(tasks/_steps.py: `check_sizes`, `print_report`).
"""

from __future__ import annotations

from invoke import Collection, task
from invoke.exceptions import Exit

from . import _components
from ._errors import KitError
from ._units import format_bytes


def _budget_help() -> str:
    first, clients = _components.default(), [c for c in _components.all_components()
                                             if c.client]
    client = f" or, for one execution client, {clients[-1].name}={clients[-1].budget}" \
        if clients else ""
    return (f"SERVICE=SIZE budget for this run (repeatable), e.g. {first.service}="
            f"{first.budget}{client} (a unit is required)")


@task(
    iterable=["budget"],
    help={
        "budget": _budget_help(),
        "strict": "also fail when an image is not built yet",
        "json": "print a JSON list instead of the table",
    },
)
def sizes(c, budget=None, strict=False, json=False):
    """Report the size of each image the stack runs (op-node, the execution client in
    use) against its budget; exit 1 when over."""
    from . import _audit, _steps

    overrides = dict(_audit.resolve_budgets_items(budget))
    code = _steps.check_sizes(c, budgets=overrides, strict=strict, as_json=json)
    if code:
        raise Exit(code=code)


@task(help={
    "service": "the service whose image to break down (default: every built service)",
    "top": "how many of the largest layers to show (default 10)",
})
def layers(c, service=None, top=10):
    """Show the largest layers of each service image and the instruction behind each."""
    from . import _audit, _compose, _config, _connect, _engine, _refs, _sizes

    top = int(top)
    if top < 1:
        raise KitError(f"--top {top} must be at least 1")
    wanted = _config.service_images(_compose.compose_config(c), [service] if service else None)
    client = _connect.client_for(c)
    index = _refs.index_by_tag(_engine.list_images(client))
    shown = 0
    for name, ref in wanted.items():
        if ref not in index:
            print(f"{name}: {ref} is not built (inv build)")
            continue
        history = _engine.image_history(client, ref)
        sizes = _sizes.history_sizes(client, client.api.inspect_image(ref), history)
        total = sum(sizes)
        print(f"{name}: {ref}  {format_bytes(total)} in {len(history)} layers")
        for layer in _audit.largest_layers(history, top, sizes):
            share = 100 * layer["size_bytes"] / total if total else 0
            text = layer["instruction"]
            text = text if len(text) <= 90 else text[:87] + "..."
            print(f"  {format_bytes(layer['size_bytes']):>9} {share:5.1f}%  {text}")
        shown += 1
    if service and not shown:
        raise KitError(f"{service} is not built: run `inv build` first")


def config_defaults() -> dict:
    """`audit.*` defaults for the root namespace: the component table's budgets."""
    return {"budgets": _components.default_budgets()}


ns = Collection("audit", sizes, layers)
