"""Errors a user sees: one line on stderr, a non-zero exit, never a traceback.

`KitError` is an `invoke.exceptions.Exit`, so Invoke's program prints the message
and exits with the code without a traceback, however deep the raise. Each subclass
names what happened, so callers catch exactly the failure they can handle.
"""

from invoke.exceptions import Exit


class KitError(Exit):
    """A failure the user can act on; `str()` is the one-line message."""

    def __init__(self, message: str, code: int = 1) -> None:
        first_line = message.strip().splitlines()[0] if message.strip() else "failed"
        super().__init__(f"error: {first_line}", code)
        self.reason = first_line

    def __str__(self) -> str:
        return self.message or ""


# ------------------------------------------------------------------ Docker
class EngineUnavailable(KitError):
    """The Docker engine cannot be reached."""


class EngineError(KitError):
    """The engine refused or failed a request."""


class EngineConflict(EngineError):
    """The engine answered 409: the request conflicts with the engine's state (an image
    with dependent child images, a reference in several repositories, a container)."""


class ImageInUse(EngineConflict):
    """An image cannot be removed because a container uses it (the engine says so)."""


class ProbeFailed(EngineError):
    """A command could not be started inside an image (e.g. the binary is missing)."""


class ComposeUnavailable(KitError):
    """The docker CLI or its compose v2 plugin is missing."""


class ComposeFailed(KitError):
    """A `docker compose` (or `docker buildx`) command exited non-zero; the exit code is
    kept, and `output` holds what it printed (for callers that explain it further)."""

    output: str = ""


# ------------------------------------------------------------------ registries
class RegistryError(KitError):
    """A registry refused or could not be reached (a push, a pull, a cache import)."""


class RegistryAuthFailed(RegistryError):
    """The registry answered 401/403: not logged in, or not allowed to push there."""


class RegistryNotFound(RegistryError):
    """The registry answered 404: no such repository (or project) under that name."""


class RegistryUnreachable(RegistryError):
    """Nothing answered at the registry's address (or not over the expected protocol)."""
