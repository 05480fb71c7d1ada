"""Image sizes against budgets, and where the bytes are: the logic of `inv audit.*` and
of the audit every build ends with. Budgets live in the Invoke config under
`audit.budgets` (the component table's defaults, invoke.yaml, `--budget`); sizes are
what tasks/_sizes.py measures. Nothing here prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import _components, _compose, _config, _connect, _engine, _refs
from ._errors import KitError
from ._units import format_bytes, parse_size


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
    index = _refs.index_by_tag(images)
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
    execution_client = _config.client_of(config)
    wanted = _config.service_images(config, services)
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


def problems(rows: list[ImageSize], strict: bool = False) -> list[str]:
    """What makes the audit fail: images over budget, and unbuilt ones with STRICT."""
    found = [f"{r.shown} is {format_bytes(r.size_bytes)}, over its "
             f"{format_bytes(r.budget_bytes)} budget" for r in rows if r.over_budget]
    if strict:
        found += [f"{r.shown} ({r.image}) is not built" for r in rows if not r.built]
    return found


def resolve_budgets_items(items):
    """Parse `SERVICE=SIZE` strings into (service, size) pairs, one-line errors."""
    pairs = []
    for item in items or []:
        name, sep, size = item.partition("=")
        if not sep or not name.strip():
            first = _components.default()
            raise KitError(f"--budget {item!r} is not SERVICE=SIZE "
                           f"(e.g. {first.service}={first.budget})")
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
