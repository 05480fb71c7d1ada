"""What doctor's checks read and say: the engine probe, taken once before they run, and
one line of the report (tasks/doctor.py runs them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from . import _compose, _connect, _engine
from ._errors import KitError

PROBE_LABELS = {"opstack-image-kit.probe": "1"}


Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class Check:
    """One line of the report; a warn or fail carries the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status {self.status!r} is not one of {STATUSES}")


@dataclass(frozen=True)
class EngineProbe:
    """What the checks look at, read once before they run. A field is None when it could
    not be read; `errors` says why (keys "engine", "config"; "engine-fix" when the
    engine's error names its own fix). `labels` go on the
    throwaway containers that run each image's binary."""

    client: Any = None
    version: dict | None = None
    info: dict | None = None
    config: dict | None = None
    contexts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def take(cls, c, labels: dict[str, str] | None = None, timeout: int = 15) -> EngineProbe:
        """Probe the engine (version, info) and read the compose config; never raises."""
        client = version = info = config = None
        errors: dict[str, str] = {}
        try:
            client = _connect.engine_client(timeout=timeout,
                                           connect=_connect.connect_timeout(c))
            version = _engine.engine_version(client)
            info = _engine.engine_info(client)
        except KitError as exc:
            errors["engine"] = exc.reason
            if getattr(exc, "fix", ""):  # the error knows its own fix (a missing context)
                errors["engine-fix"] = exc.fix
        try:
            config = _compose.compose_config(c)
        except Exception as exc:  # compose missing, a broken file: the checks say so
            errors["config"] = getattr(exc, "reason", None) or first_line(exc)
        contexts = {n: (s.get("build") or {}).get("context")
                    for n, s in ((config or {}).get("services") or {}).items()
                    if (s.get("build") or {}).get("context")}
        return cls(client, version, info, config, contexts, errors,
                   {**PROBE_LABELS, **(labels or {})})


CheckFn = Callable[[EngineProbe, Any], "Check | list[Check]"]


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
