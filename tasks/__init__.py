"""Build, audit and clean the Docker images of an OP Stack node (op-node + Nethermind).

The namespace `inv` shows. Every module is one concern and one collection; nothing
here talks to Docker, compose or GitHub at import time, so `inv --list` stays fast.
The build tasks, budgets and upstream repositories come from the component table
(tasks/_components.py): `make_namespace()` builds the namespace from the table as it is.
The modules sit in layers whose imports only go down (docs/architecture.md); this one
is the top: it assembles the task modules' collections.
"""

from invoke import Collection

from . import _connect, _flags, audit, build, clean, doctor, forks, release, source, status


def make_namespace() -> Collection:
    """The root namespace, built from the component table as it is now.

    Config defaults sit at the root, so every task sees all of them: the build's audit
    reads `audit.budgets`, a build resolves through `source.<name>_repo` and takes its
    `build.*` flag defaults, and every task's first contact with the engine waits
    `engine.connect_timeout` seconds (Invoke lets INVOKE_* variables override only keys
    that exist where the task runs). Every task reads its flags by one rule
    (tasks/_flags.py: one short form per flag across the namespace).
    """
    ns = Collection()
    ns.add_collection(build.collection())
    for module in (source, audit, clean):
        ns.add_collection(Collection.from_module(module))
    ns.collections["source"].add_task(forks.forks)  # `inv source.forks`
    ns.add_task(doctor.doctor)
    ns.add_task(release.release)
    ns.add_task(status.status)
    ns.configure({"audit": audit.config_defaults(), "build": build.config_defaults(),
                  "source": source.config_defaults(),
                  "engine": {"connect_timeout": _connect.DEFAULT_CONNECT_TIMEOUT}})
    return _flags.adopt(ns)


ns = make_namespace()
