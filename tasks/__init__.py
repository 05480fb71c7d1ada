"""Build, audit and clean the Docker images of an OP Stack node (op-node + Nethermind).

The namespace `inv` shows. Every module is one concern and one collection; nothing
here talks to Docker, compose or GitHub at import time, so `inv --list` stays fast.
"""

from invoke import Collection

from . import audit, build, clean, doctor, source

ns = Collection()
ns.add_collection(Collection.from_module(build))
ns.add_collection(Collection.from_module(source))
ns.add_collection(Collection.from_module(audit))
ns.add_collection(Collection.from_module(clean))
ns.add_task(doctor.doctor)
