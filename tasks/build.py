"""Build the node images with BuildKit through `docker compose build`.

`inv build` builds the services of the components the stack runs (op-node and the
execution client EXECUTION_CLIENT selects) at the versions compose.yml and the client's
docker/<client>.yml pin (or the environment overrides). `inv build.<component> --version
SPEC` (one task per entry of tasks/_components.py, e.g. `inv build.op-node`, `inv
build.op-reth`) resolves SPEC upstream first and hands the exact tag, commit and Go
version to compose through its environment, so image tag, labels and build args agree;
a client's task sets EXECUTION_CLIENT to that client there too. Every build ends with
the size audit of what it built and a summary: tag, size, build time, cache. With
--push, what passed the audit is pushed after it (an image over budget pushes nothing),
one image at a time, and the digests the registry holds are printed. Before anything
is built, a base image that is a rehearsal stand-in left behind by an interrupted test
run is refused. When NETWORK is set, a build first prints one warning line if the
version it builds lacks a hard fork the network has scheduled (`inv source.forks`
gives the whole picture).
"""

from __future__ import annotations

import functools
import inspect

from invoke import Collection, task

from . import _build_flags, _components
from ._errors import KitError

VERSION_HELP = {
    "version": "version to build: latest, vX.Y (newest patch), vX.Y.Z or a pre-release; "
    "default: the pin in compose.yml",
    "pre": "let latest and vX.Y choose pre-releases",
}


def config_defaults() -> dict:
    """`build.*` defaults for the root namespace: the configurable flags' defaults."""
    return {flag.name: flag.default for flag in _build_flags.BUILD_FLAGS if flag.configurable}


def with_build_flags(body):
    """Give the build task BODY(c, flags, **own) every BUILD_FLAGS flag (tasks/_build_flags.py)
    as a parameter of its own (Invoke reads a task's flags from its signature), and call
    it with the BuildFlags they make (`flags_from`)."""
    own = list(inspect.signature(body).parameters.values())
    flag_params = [inspect.Parameter(flag.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     default=None if flag.configurable else flag.default)
                   for flag in _build_flags.BUILD_FLAGS]
    signature = inspect.Signature([own[0], *own[2:], *flag_params])

    @functools.wraps(body)
    def with_flags(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        c = values.pop(own[0].name)
        given = {flag.name: values.pop(flag.name) for flag in _build_flags.BUILD_FLAGS}
        return body(c, _build_flags.flags_from(c, given), **values)

    with_flags.__signature__ = signature
    return with_flags


ALL_VERSION_HELP = ("not taken here (every component builds at its pin): build one "
                    "component at a version with build.<component> --version")


@task(name="all", default=True, help={"version": ALL_VERSION_HELP, **_build_flags.FLAG_HELP})
@with_build_flags
def all_(c, flags, version=None):
    """Build op-node and the execution client in use (EXECUTION_CLIENT) at their pins,
    then audit them."""
    from . import _building, _steps

    if version is not None:  # else Invoke reads it as its own --version and says "No idea"
        raise KitError(version_elsewhere(version))
    env, config = _steps.prepare(c)
    _steps.build_and_audit(c, _building.built_services(config), flags, env, config)


def version_elsewhere(version: str) -> str:
    """Where `inv build --version VERSION` belongs: the build.<component> task(s) whose
    version form (vX.Y.Z or X.Y.Z) VERSION has."""
    entries = _components.all_components()
    fitting = [e for e in entries if version.startswith("v") == e.v_prefix] or entries
    where = " or ".join(f"`inv build.{e.name} --version {version}`" for e in fitting)
    return (f"`inv build` builds every component at its pin and takes no --version; to "
            f"build one at {version!r}: {where}")


def component_task(component: _components.Component):
    """The `build.<name>` task of one component."""

    def build_one(c, flags, version=None, pre=False):
        from . import _steps

        env, config = _steps.prepare(c, (component.name,), version, pre)
        _steps.build_and_audit(c, [component.service], flags, env, config)

    build_one.__name__ = component.name.replace("-", "_")
    which = (f" with {_components.CLIENT_SETTING}={component.client}" if component.client
             else "")
    build_one.__doc__ = (f"Build {component.service}{which} (resolving --version upstream "
                         "first), then audit it.")
    return task(name=component.name, help={**VERSION_HELP, **_build_flags.FLAG_HELP})(
        with_build_flags(build_one))


def collection() -> Collection:
    """`build` (all, the default) and one `build.<name>` per component."""
    ns = Collection("build", all_, *(component_task(entry)
                                     for entry in _components.all_components()))
    ns.__doc__ = __doc__
    return ns


ns = collection()
