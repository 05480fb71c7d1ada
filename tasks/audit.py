"""Image audits: sizes against budgets, and where the bytes are.

Budgets live in the Invoke config under `audit.budgets`, read through `c.config` only:
the defaults are the component table's (tasks/_components.py, set on the root
namespace: by service, and by component name for the execution clients, which share
base-execution); invoke.yaml at the repo root, or `inv -f FILE`, overrides them; and
`--budget SERVICE=SIZE` (or `--budget op-reth=SIZE`) overrides them for one run. A
budget set on a service holds for whichever client runs there, before the client's own.
Each row names the client in use on base-execution. Services and their image names
come from `docker compose config`, so COMPOSE_FILE, .env and shell overrides (e.g.
OP_NODE_VERSION, EXECUTION_CLIENT) are respected.

Other tasks call the plain functions: `check_sizes(c, ...)` after a build, or
`size_report` + `print_report` to show sizes without judging them.
"""

from __future__ import annotations

import json as jsonlib
import re
import sys
from dataclasses import asdict, dataclass

from invoke import Collection, task
from invoke.exceptions import Exit

from . import _components, _compose, _connect, _engine, _sizes
from ._errors import KitError
from ._units import format_bytes, parse_size

BAR_WIDTH = 24


@dataclass
class ImageSize:
    """One service image as the engine reports it, against its budget."""

    service: str
    image: str
    size_bytes: int | None
    budget_bytes: int | None
    over_budget: bool
    built: bool
    id: str | None = None
    component: str | None = None  # the table's name (op-node, execution, op-reth)
    client: str | None = None  # the execution client it is, if one

    @property
    def shown(self) -> str:
        """The service, with the client it runs for an execution client's image."""
        entry = _components.COMPONENTS.get(self.component or "")
        return f"{self.service} ({entry.label})" if entry is not None and self.client \
            else self.service


def service_images(config: dict, services=None) -> dict[str, str]:
    """service -> `name:tag` for the services compose builds (all of them if none build)."""
    all_services = config.get("services") or {}
    wanted = list(services or _compose.built_services(config) or all_services)
    unknown = [s for s in wanted if s not in all_services]
    if unknown:
        raise KitError(f"unknown service {', '.join(unknown)}: the compose project has "
                       f"{', '.join(all_services) or 'no services'}")
    return {name: _compose.service_image(config, name) for name in wanted}


def resolve_budgets(c, overrides=None) -> dict[str, int]:
    """Configured budgets (`audit.budgets` in C's config), then OVERRIDES (service, size)
    pairs, in bytes. A context without an `audit` config has no budgets. A budget that a
    person typed (the config, a text override) needs a unit: `55` is never 55 bytes; an
    int override from code is bytes."""
    configured = (c.config.get("audit") or {}).get("budgets") or {}
    budgets = {name: parse_size(str(size), what=f"budget for {name}", unit_required=True)
               for name, size in dict(configured).items() if size not in (None, "")}
    for name, size in overrides or []:
        budgets[name] = parse_size(size, what=f"budget for {name}", unit_required=True)
    return budgets


def budget_for(budgets: dict[str, int], service: str, entry) -> int | None:
    """SERVICE's budget: one set on the service, else its component's (ENTRY, the client
    in use there, whose default sits under its name)."""
    if service in budgets:
        return budgets[service]
    return budgets.get(entry.name) if entry is not None else None


def measure(images: list[dict], wanted: dict[str, str], budgets: dict[str, int],
            client: str | None = None) -> list[ImageSize]:
    """Match service images in IMAGES (`_engine.inspect_images`: Size is what
    `_sizes.image_size` measures) to the services (pure: no engine); CLIENT: the
    execution client in use (None: the default)."""
    index = _engine.index_by_tag(images)
    rows = []
    for service, ref in wanted.items():
        image = index.get(ref)
        size = int(image["Size"]) if image and image["Size"] is not None else None
        entry = _components.by_service(service, client)
        budget = budget_for(budgets, service, entry)
        rows.append(ImageSize(
            service=service, image=ref, size_bytes=size, budget_bytes=budget,
            over_budget=bool(size is not None and budget is not None and size > budget),
            built=image is not None, id=image["Id"] if image else None,
            component=entry.name if entry else None, client=entry.client if entry else None,
        ))
    return rows


def size_report(c, budgets=None, services=None, env=None, client=None, config=None,
                images=None) -> list[ImageSize]:
    """Size of each service image against its budget: what `_sizes.image_size` measures
    (the same on every store), one engine call an image (an inspect).

    BUDGETS: dict service -> size (bytes or text such as "60MB") replacing the configured
    ones for those services; ENV: the variables a build ran with (e.g. the version), so
    the image names resolve to what was built. A caller that already holds the compose
    CONFIG or a fresh image listing (IMAGES) passes them instead of asking again.
    """
    config = config if config is not None else _compose.compose_config(c, env=env)
    execution_client = _compose.client_of(config)
    wanted = service_images(config, services)
    names = [*(config.get("services") or {}),
             *(e.name for e in _components.all_components() if e.client)]
    unknown = sorted(set(budgets or {}) - set(names))
    if unknown:
        raise KitError(f"budget for unknown service {', '.join(unknown)}: the compose project "
                       f"has {', '.join(config.get('services') or {})} (a client's own "
                       f"budget: {', '.join(_components.clients_names())})")
    resolved = resolve_budgets(c, list((budgets or {}).items()))
    if images is None:  # the build's IMAGES are `inspect_images`'s, sized already
        images = _engine.inspect_images(client or _connect.client_for(c), sorted(
            set(wanted.values())))
    return measure(images, wanted, resolved, execution_client)


def _bar(row: ImageSize) -> str:
    if row.size_bytes is None or not row.budget_bytes:
        return " " * (BAR_WIDTH + 2)
    filled = min(BAR_WIDTH, round(BAR_WIDTH * row.size_bytes / row.budget_bytes))
    filled = max(filled, 1 if row.size_bytes else 0)  # a built image never shows empty
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def _status(row: ImageSize) -> str:
    if not row.built:
        return "not built"
    if row.budget_bytes is None:
        return "no budget"
    percent = 100 * row.size_bytes / row.budget_bytes if row.budget_bytes else float("inf")
    return f"{percent:.0f}%" + ("  OVER BUDGET" if row.over_budget else "")


def print_report(rows: list[ImageSize], as_json: bool = False, out=None) -> None:
    """The table a person reads at a glance, or a JSON list with `--json`."""
    out = out or sys.stdout
    if as_json:
        print(jsonlib.dumps([asdict(r) for r in rows], indent=2), file=out)
        return
    width_s = max([len("SERVICE")] + [len(r.shown) for r in rows])
    width_i = max([len("IMAGE")] + [len(r.image) for r in rows])
    print(f"{'SERVICE':<{width_s}}  {'IMAGE':<{width_i}}  {'SIZE':>9}  {'BUDGET':>9}", file=out)
    for r in rows:
        size = format_bytes(r.size_bytes) if r.built else "-"
        print(f"{r.shown:<{width_s}}  {r.image:<{width_i}}  {size:>9}  "
              f"{format_bytes(r.budget_bytes):>9}  {_bar(r)} {_status(r)}", file=out)


def problems(rows: list[ImageSize], strict: bool = False) -> list[str]:
    """What makes the audit fail: images over budget, and unbuilt ones with STRICT."""
    found = [f"{r.shown} is {format_bytes(r.size_bytes)}, over its "
             f"{format_bytes(r.budget_bytes)} budget" for r in rows if r.over_budget]
    if strict:
        found += [f"{r.shown} ({r.image}) is not built" for r in rows if not r.built]
    return found


def check_sizes(c, services=None, budgets=None, strict=False, as_json=False, env=None,
                out=None, err=None, config=None, images=None, note: str = "") -> int:
    """Print the size report and return the exit code: 1 over budget (or unbuilt with
    STRICT), else 0. For the build task to call after a build, with the build's ENV (and
    the CONFIG and IMAGES listing it already has); NOTE ends the error line."""
    rows = size_report(c, budgets=budgets, services=services, env=env, config=config,
                       images=images)
    print_report(rows, as_json=as_json, out=out)
    found = problems(rows, strict=strict)
    if found:
        hint = next((f"; see `inv audit.layers --service {r.service}`"
                     for r in rows if r.over_budget), "")
        note = f"; {note}" if note else ""
        print(f"error: {'; '.join(found)}{hint}{note}", file=err or sys.stderr)
        return 1
    return 0


@task(
    iterable=["budget"],
    help={
        "budget": "SERVICE=SIZE budget for this run (repeatable), e.g. base-op-node=60MB "
                  "or, for one execution client, op-reth=300MB (a unit is required)",
        "strict": "also fail when an image is not built yet",
        "json": "print a JSON list instead of the table",
    },
)
def sizes(c, budget=None, strict=False, json=False):
    """Report the size of each image the stack runs (op-node, the execution client in
    use) against its budget; exit 1 when over."""
    overrides = dict(resolve_budgets_items(budget))
    code = check_sizes(c, budgets=overrides, strict=strict, as_json=json)
    if code:
        raise Exit(code=code)


def resolve_budgets_items(items):
    """Parse `SERVICE=SIZE` strings into (service, size) pairs, one-line errors."""
    pairs = []
    for item in items or []:
        name, sep, size = item.partition("=")
        if not sep or not name.strip():
            raise KitError(f"--budget {item!r} is not SERVICE=SIZE (e.g. base-op-node=60MB)")
        parse_size(size, what=f"--budget {name.strip()}", unit_required=True)
        pairs.append((name.strip(), size))
    return pairs


def _instruction(created_by: str) -> str:
    """The Dockerfile instruction behind a history entry, without build-arg noise."""
    text = " ".join((created_by or "").split())
    text = text.removesuffix(" # buildkit").removeprefix("/bin/sh -c #(nop) ").strip()
    words = text.split(" ")
    if words[0] == "RUN" and len(words) > 1 and re.fullmatch(r"\|\d+", words[1]):
        words = ["RUN"] + words[2 + int(words[1][1:]):]  # BuildKit's `|N ARG=v ...`
    elif re.fullmatch(r"\|\d+", words[0]):
        words = ["RUN"] + words[1 + int(words[0][1:]):]  # the classic builder's form
    text = " ".join(words)
    for shell in ("RUN /bin/sh -c ", "/bin/sh -c "):
        if text.startswith(shell):
            text = "RUN " + text[len(shell):]
    return text or "(no instruction recorded)"


def largest_layers(history: list[dict], top: int = 10, sizes=None) -> list[dict]:
    """The TOP largest layers: size (SIZES, one per entry, else the history's own) and
    the instruction that made each (pure)."""
    sizes = sizes or [int(h.get("Size") or 0) for h in history]
    layers = [{"size_bytes": size, "instruction": _instruction(h.get("CreatedBy", "")),
               "created": h.get("Created")} for h, size in zip(history, sizes, strict=True)]
    layers.sort(key=lambda layer: layer["size_bytes"], reverse=True)
    return layers[:top]


@task(help={
    "service": "the service whose image to break down (default: every built service)",
    "top": "how many of the largest layers to show (default 10)",
})
def layers(c, service=None, top=10):
    """Show the largest layers of each service image and the instruction behind each."""
    top = int(top)
    if top < 1:
        raise KitError(f"--top {top} must be at least 1")
    wanted = service_images(_compose.compose_config(c), [service] if service else None)
    client = _connect.client_for(c)
    index = _engine.index_by_tag(_engine.list_images(client))
    shown = 0
    for name, ref in wanted.items():
        if ref not in index:
            print(f"{name}: {ref} is not built (inv build)")
            continue
        history = _engine.image_history(client, ref)
        sizes = _sizes.history_sizes(client, client.api.inspect_image(ref), history)
        total = sum(sizes)
        print(f"{name}: {ref}  {format_bytes(total)} in {len(history)} layers")
        for layer in largest_layers(history, top, sizes):
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
