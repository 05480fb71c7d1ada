"""Image audits: sizes against budgets, and where the bytes are."""

from invoke import task

from ._errors import KitError


@task(
    iterable=["budget"],
    help={
        "budget": "SERVICE=SIZE budget for this run (repeatable), e.g. base-op-node=60MB",
        "strict": "also fail when an image is not built yet",
        "json": "print a JSON list instead of the table",
    },
)
def sizes(c, budget=None, strict=False, json=False):
    """Report each service image's size against its budget; exit 1 when over."""
    raise KitError("`inv audit.sizes` is not implemented yet (issue #6)")
