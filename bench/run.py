"""Benchmarks: what the kit costs and saves, side by side with plain docker compose.

Runs on a fixture stack (the production service names and build args, on a local
FROM-scratch busybox base image) against the real Docker engine, and prints a
markdown table of medians. Nothing here asserts a duration; BENCHMARKS.md records a run.

    python bench/run.py [--runs 5] [--images 300] [--builds-only]

Everything it creates carries the test label and is removed at the end; it never
prunes the build cache (a cold build uses a fresh cache-mount id instead).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apiproxy import CountingProxy  # noqa: E402

from tasks import _components  # noqa: E402
from tests.helpers import (  # noqa: E402
    BASE_IMAGE,
    TEST_LABEL,
    FakeGitHub,
    FixtureProject,
    build_base_image,
    default_pins,
    remove_images,
    tiny_image_tar,
)

OP_NODE = _components.get("op-node")  # the component whose recipe the bench imitates
# A stand-in for op-node's recipe: dependencies fetched into a cache mount (slow once),
# then a compile step that depends on the version build arg (a bump reruns only it).
# `: CACHE_ID` names the stack in each step's build-cache record, so bench/hosts.py can
# forget exactly this stack's records (a second host's empty cache).
OP_NODE_BENCH_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
""" + "".join(f"ARG {var}\n" for var in OP_NODE.pin_vars) + f"""\
RUN --mount=type=cache,target=/go,id={{cache_id}} \\
    : {{cache_id}}; if [ ! -f /go/deps ]; then sleep 4; touch /go/deps; fi
RUN --mount=type=cache,target=/go,id={{cache_id}} \\
    : {{cache_id}}; sleep 1; mkdir -p /usr/local/bin; \\
    printf '#!/bin/sh\\necho op-node %s\\n' "${OP_NODE.version_var}" > {OP_NODE.probe.binary}; \\
    chmod 755 {OP_NODE.probe.binary}
LABEL org.opencontainers.image.version=${OP_NODE.version_var}
"""


def sh(argv, env=None, check=True) -> float:
    """Run ARGV quietly; return wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **(env or {})}, cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{done.stdout[-800:]}"
                         f"{done.stderr[-800:]}")
    return seconds


def median(values) -> float:
    return statistics.median(values)


class Stack:
    """A fixture compose project (tests/helpers.py) in a temporary folder, its op-node
    image built by the recipe stand-in above."""

    def __init__(self, client, tmp: Path) -> None:
        self.client = client
        self.name = f"opkit-bench-{uuid.uuid4().hex[:8]}"
        self.path = tmp / self.name
        self.project = FixtureProject(self.path, self.name, default_pins()).write(BASE_IMAGE)
        self.fresh_cache()
        self.env = self.project.env

    def fresh_cache(self) -> None:
        """A new cache-mount id: the next build is cold, without pruning anything."""
        (self.path / OP_NODE.name / "Dockerfile").write_text(
            OP_NODE_BENCH_DOCKERFILE.format(cache_id=f"{self.name}-{uuid.uuid4().hex[:6]}"))

    def remove_images(self) -> None:
        """Its tagged images, the untagged ones its rebuilds replaced, and the base."""
        remove_images(self.client, lambda tags: any(t.startswith(self.name) for t in tags))
        remove_images(self.client, filters={
            "dangling": True, "label": f"com.docker.compose.project={self.name}"})
        remove_images(self.client, lambda tags: BASE_IMAGE in tags)


INV = [sys.executable, "-m", "invoke"]
RAW = ["docker", "compose"]


def bench_builds(stack: Stack, runs: int) -> list[tuple[str, float, float]]:
    """(scenario, kit median s, raw median s) for cold, cached and bump builds."""
    rows = []
    kit_cmd = INV + [f"build.{OP_NODE.name}", "--progress", "quiet"]
    raw_cmd = RAW + ["build", "--quiet", OP_NODE.service]
    results = {"cold": ([], []), "cached": ([], []), "bump": ([], [])}
    for run in range(runs):
        for which, cmd in ((0, kit_cmd), (1, raw_cmd)):
            env = {**stack.env, OP_NODE.version_var: OP_NODE.version_text("1.0.0")}
            stack.fresh_cache()
            results["cold"][which].append(sh(cmd, env))
            results["cached"][which].append(sh(cmd, env))
            bump = {**stack.env,
                    OP_NODE.version_var: OP_NODE.version_text(f"1.0.{run * 2 + which + 1}")}
            results["bump"][which].append(sh(cmd, bump))
    for scenario, (kit, raw) in results.items():
        rows.append((scenario, median(kit), median(raw)))
    return rows


def bench_list(runs: int) -> tuple[float, float]:
    listing = [sh(INV + ["--list"]) for _ in range(runs * 2)]
    bare = [sh([sys.executable, "-c", "import invoke"]) for _ in range(runs * 2)]
    return median(listing), median(bare)


def bench_audit(client, stack: Stack, runs: int, images: int) -> tuple[float, int, int, int]:
    """(median s, engine calls, image-list calls, images present) for `inv audit.sizes`,
    with IMAGES extra distinct images on the engine."""
    repo = f"{stack.name}-filler"
    for number in range(images):
        client.api.import_image_from_data(tiny_image_tar(f"{number}\n".encode()),
                                          repository=repo,
                                          tag=str(number),
                                          changes=[f'LABEL "{TEST_LABEL}"="1"'])
    proxy = CountingProxy(os.path.join(tempfile.gettempdir(), f"{stack.name}.sock"))
    try:
        present = len(client.api.images())
        env = {**stack.env, "DOCKER_HOST": proxy.docker_host}
        seconds = []
        for _ in range(runs):
            proxy.reset()
            seconds.append(sh(INV + ["audit.sizes"], env, check=False))
        calls = list(proxy.calls)
    finally:
        proxy.close()
        for number in range(images):
            client.images.remove(f"{repo}:{number}", force=True)
    listing = sum(1 for method, path in calls if path.split("?")[0].endswith("/images/json"))
    return median(seconds), len(calls), listing, present


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--images", type=int, default=300,
                        help="extra image tags present during the audit benchmark")
    parser.add_argument("--builds-only", action="store_true",
                        help="only the build figures (cold, cached, bump: the no-op "
                             "overhead), as measured per engine for BENCHMARKS.md")
    args = parser.parse_args(argv)

    from tasks._connect import engine_client

    client = engine_client()
    with tempfile.TemporaryDirectory(prefix="opkit-bench-") as tmp:
        build_base_image(client, Path(tmp) / "base")
        stack = Stack(client, Path(tmp))
        try:
            builds = bench_builds(stack, args.runs)
            if not args.builds_only:
                listing, bare = bench_list(args.runs)
                audit = bench_audit(client, stack, args.runs, args.images)
                resolve = bench_resolve(Path(tmp))
        finally:
            stack.remove_images()

    print("| figure | kit | raw compose / baseline | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for scenario, kit, raw in builds:
        label = {"cold": "cold build (fresh cache)", "cached": "fully cached rebuild",
                 "bump": "version bump (cache mount kept)"}[scenario]
        print(f"| op-node {label}, s | {kit:.2f} | {raw:.2f} | {kit / raw:.2f} |")
        if scenario == "cached":
            print(f"| no-op build: the kit's overhead over raw compose, s | {kit - raw:.2f} "
                  "| | |")
    if not args.builds_only:
        print_others(listing, bare, audit, resolve)
    version = client.version()
    print(f"\nengine {version.get('Version')} (API {version.get('ApiVersion')}); "
          f"{args.runs} runs per figure, medians; {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d')}")
    return 0


def print_others(listing, bare, audit, resolve) -> None:
    print(f"| `inv --list` vs `python -c 'import invoke'`, s | {listing:.3f} | {bare:.3f} | "
          f"{listing / bare:.2f} |")
    seconds, calls, list_calls, present = audit
    print(f"| `inv audit.sizes` with {present} images, s | {seconds:.2f} | | |")
    print(f"| `inv audit.sizes` engine API calls (image-list calls) | {calls} ({list_calls}) "
          f"| | |")
    for label, count, conditional, answered in resolve:
        print(f"| `inv source.resolve` {label}: requests (conditional, answered) | {count} "
              f"({conditional}, {answered}) | | |")


def bench_resolve(tmp: Path) -> list[tuple[str, int, int]]:
    """(case, requests, conditional requests) for `inv source.resolve` against the
    stand-in GitHub API: cold (empty cache), warm (ETag revalidation), and offline (the
    stand-in drops every connection unanswered: requests attempted, none answered)."""
    import hashlib

    def sha(name: str) -> str:
        return hashlib.sha1(name.encode()).hexdigest()

    fake = FakeGitHub()
    tags = {f"{OP_NODE.tag_prefix}1.{minor}.{patch}": sha(f"{minor}.{patch}")
            for minor in range(10, 20) for patch in range(0, 12)}
    tags.update({f"op-batcher/v1.{m}.0": sha(f"b{m}") for m in range(10, 20)})
    fake.add_repo(OP_NODE.upstream, tags, annotated=set(tags), prefixes=(OP_NODE.tag_prefix,),
                  gomod="module github.com/ethereum-optimism/optimism\n\ngo 1.26.0\n")
    env = {"GITHUB_API_URL": fake.url, "XDG_CACHE_HOME": str(tmp / "xdg")}
    env.pop("GITHUB_TOKEN", None)
    command = INV + ["source.resolve", "--version", "latest"]
    rows = []
    try:
        for case in ("cold", "warm", "offline"):
            fake.unreachable = case == "offline"  # then the cache must answer
            fake.requests.clear()
            sh(command, env)
            conditional = sum(1 for r in fake.requests if "If-None-Match" in r["headers"])
            answered = sum(1 for r in fake.requests if r["answered"])
            rows.append((case, len(fake.requests), conditional, answered))
    finally:
        fake.close()
    return rows


if __name__ == "__main__":
    sys.exit(main())
