"""Upstream versions: list release tags, resolve a version spec, pin and clone."""

from invoke import task

from ._errors import KitError

COMPONENT_HELP = "op-node (default) or execution (Nethermind)"


def _pending(name: str) -> KitError:
    return KitError(f"`inv {name}` is not implemented yet (issue #4)")


@task(help={"component": COMPONENT_HELP, "pre": "include pre-releases", "json": "print JSON"})
def tags(c, component="op-node", pre=False, json=False):
    """List upstream releases of a component, newest first."""
    raise _pending("source.tags")


@task(
    help={
        "component": COMPONENT_HELP,
        "version": "latest (default), vX.Y (newest patch), vX.Y.Z, or an explicit pre-release",
        "pre": "let latest and partial specs choose pre-releases",
        "json": "print one JSON object (component, tag, version, commit, go_version)",
    }
)
def resolve(c, component="op-node", version="latest", pre=False, json=False):
    """Resolve a version spec to the exact tag, commit and Go version."""
    raise _pending("source.resolve")
