"""Keep the build host clean: prune the BuildKit cache, never volumes."""

from invoke import task

from ._errors import KitError


@task(
    help={
        "keep_storage": "keep this much cache (e.g. 10GB), prune the rest",
        "older_than": "prune only cache records unused for this long (e.g. 72h, 7d)",
        "all": "prune all cache records, not only dangling ones",
        "dry_run": "show what would be freed, free nothing",
    }
)
def cache(c, keep_storage=None, older_than=None, all=False, dry_run=False):
    """Prune the BuildKit build cache (never volumes, images or containers)."""
    raise KitError("`inv clean.cache` is not implemented yet (issue #6)")
