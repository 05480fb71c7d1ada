"""The troubleshooting checklist, automated."""

from invoke import task

from ._errors import KitError


@task
def doctor(c):
    """Check engine, compose, BuildKit, pins and built images; exit 1 on any failure."""
    raise KitError("`inv doctor` is not implemented yet (issue #6)")
