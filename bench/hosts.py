"""Benchmarks for several hosts: what a second host saves by importing the first host's
build cache from a registry, and what reaching the engine over ssh costs.

Runs against the real Docker engine with real parts on 127.0.0.1 (tests/hosts.py): a
registry (Debian's docker-registry) and sshd (for DOCKER_HOST=ssh://). The fixture
stack is bench/run.py's: op-node's recipe stand-in, a 4 s "dependency download" on a
cache mount and a 1 s "compile".

    python bench/hosts.py [--runs 3]

Per run, on a fresh project (nothing cached):

- host one: a cold `inv build.op-node --push` (build, push to the registry);
- host two: the project's images and build-cache records removed (only those), then
  `inv build.op-node`: the layers come from the registry (inline cache metadata);
- host two without a shared cache: a fresh project (its own cache-mount ids, so no
  local cache either) built with IMAGE_REGISTRY pointing at an empty repository path
  (cache_from finds nothing): what host two pays without the registry's cache.

Then a fully cached (no-op) `inv build.op-node` on the local socket and over
`DOCKER_HOST=ssh://root@127.0.0.1:PORT`, with and without a multiplexing ssh config
(ControlMaster), and raw `docker compose build` over ssh. Prints a markdown table of medians;
everything it creates carries the test label and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import INV, OP_NODE, Stack, median, sh  # noqa: E402

from tests.helpers import BASE_IMAGE, build_base_image, remove_images  # noqa: E402
from tests.hosts import LocalRegistry, SshServer, forget_project  # noqa: E402


def bench_second_host(client, tmp: Path, registry: LocalRegistry, runs: int) -> dict:
    """{figure: [seconds per run]} for the cold push, the second host with and without
    the registry's cache."""
    build = INV + [f"build.{OP_NODE.name}", "--progress", "quiet"]
    figures: dict[str, list[float]] = {"cold": [], "second": [], "unshared": []}
    for _ in range(runs):
        stack = Stack(client, tmp)
        env = {**stack.env, "IMAGE_REGISTRY": registry.address}
        try:
            figures["cold"].append(sh(build + ["--push"], env))
            forget_project(client, stack.name)
            figures["second"].append(sh(build, env))
        finally:
            forget_project(client, stack.name)
        other = Stack(client, tmp)  # host two again, on a registry path with nothing in it
        try:
            empty = {**other.env, "IMAGE_REGISTRY": f"{registry.address}/nothing-here"}
            figures["unshared"].append(sh(build, empty))
        finally:
            forget_project(client, other.name)
    return figures


def bench_ssh(client, tmp: Path, ssh: SshServer, shared: SshServer,
              runs: int) -> tuple[float, float, float, float]:
    """(local socket, over ssh, over ssh with ControlMaster, raw compose over ssh) median
    seconds of a fully cached op-node build."""
    stack = Stack(client, tmp)
    build = INV + [f"build.{OP_NODE.name}", "--progress", "quiet"]
    raw = ["docker", "compose", "build", "--quiet", OP_NODE.service]
    try:
        sh(build, stack.env)  # the one real build; the rest are no-ops
        local = [sh(build, stack.env) for _ in range(runs)]
        remote = [sh(build, {**stack.env, **ssh.env()}) for _ in range(runs)]
        multiplexed = [sh(build, {**stack.env, **shared.env()}) for _ in range(runs)]
        compose = [sh(raw, {**stack.env, **ssh.env()}) for _ in range(runs)]
    finally:
        forget_project(client, stack.name)
    return median(local), median(remote), median(multiplexed), median(compose)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args(argv)

    from tasks._connect import engine_client

    client = engine_client()
    with tempfile.TemporaryDirectory(prefix="opkit-bench-hosts-") as tmp:
        tmp_path = Path(tmp)
        build_base_image(client, tmp_path / "base")
        registry = LocalRegistry(tmp_path / "registry")
        ssh = SshServer(tmp_path / "sshd")
        shared = SshServer(tmp_path / "sshd-multiplexed", multiplex=True)
        try:
            second = bench_second_host(client, tmp_path, registry, args.runs)
            local, remote, multiplexed, compose = bench_ssh(client, tmp_path, ssh, shared,
                                                            args.runs)
        finally:
            shared.stop()
            ssh.stop()
            registry.stop()
            remove_images(client, lambda tags: BASE_IMAGE in tags)

    cold, shared, unshared = (median(second[k]) for k in ("cold", "second", "unshared"))
    print("| figure | seconds | against the cold build |")
    print("| --- | ---: | ---: |")
    print(f"| host one: op-node cold build and push (`inv build.op-node --push`) | {cold:.2f} "
          "| 1.00 |")
    print(f"| host two: empty cache, layers from the registry (`inv build.op-node`) "
          f"| {shared:.2f} | {shared / cold:.2f} |")
    print(f"| host two: empty cache, nothing shared (IMAGE_REGISTRY without the image) "
          f"| {unshared:.2f} | {unshared / cold:.2f} |")
    print(f"| no-op build on the local socket | {local:.2f} | |")
    print(f"| no-op build over ssh (DOCKER_HOST=ssh://root@127.0.0.1:PORT) | {remote:.2f} "
          "| |")
    print(f"| the same, ssh config with ControlMaster/ControlPersist | {multiplexed:.2f} | |")
    print(f"| raw `docker compose build` no-op over ssh, for comparison | {compose:.2f} | |")
    print(f"\n{args.runs} runs per figure, medians; each run: "
          + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in vs) for k, vs in second.items())
          + f"; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
