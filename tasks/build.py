"""Build the node images with BuildKit through `docker compose build`."""

from invoke import task

from . import _docker

SERVICES = {"op-node": "base-op-node", "execution": "base-execution"}


def compose_build(c, services, env=None):
    """Build SERVICES with BuildKit; the environment carries the versions."""
    _docker.require_compose(c)
    return _docker.run_compose(c, "build", *services, env=env)


@task(name="all", default=True)
def all_(c):
    """Build base-op-node and base-execution at the versions compose.yml pins."""
    compose_build(c, list(SERVICES.values()))


@task(name="op-node")
def op_node(c):
    """Build base-op-node at the pinned version."""
    compose_build(c, [SERVICES["op-node"]])


@task
def execution(c):
    """Build base-execution at the pinned version."""
    compose_build(c, [SERVICES["execution"]])
