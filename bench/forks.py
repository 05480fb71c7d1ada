"""Requests `inv source.forks` sends to GitHub: cold, warm and offline, counted by the
stand-in GitHub API the tests use (tests/forks_upstream.py serves registry files, op-node
tags of each era and Nethermind chain specs). Needs no Docker engine.

    python bench/forks.py            # prints a markdown table, then a sample report

Each scenario gets its own empty cache. "Conditional" requests carry If-None-Match (an
answer of 304 does not count against GitHub's rate limit).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks import source  # noqa: E402
from tests import forks_upstream as up  # noqa: E402
from tests.helpers import FakeGitHub  # noqa: E402

INV = [sys.executable, "-m", "invoke", "source.forks", "--network", "op-sepolia"]
SCENARIOS = {
    "pins lack Lagoon (op-node v1.19.5, Nethermind 1.39.3)":
        {"OP_NODE_VERSION": "v1.19.5", "OP_NODE_COMMIT": up.OP_NODE_TAGS["op-node/v1.19.5"],
         "NETHERMIND_VERSION": "1.39.3"},
    "pins carry Lagoon (op-node v1.21.0, Nethermind 2.2.1)":
        {"OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": up.OP_NODE_TAGS["op-node/v1.21.0"],
         "NETHERMIND_VERSION": "2.2.1"},
}


def run(env: dict, *extra: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GITHUB_TOKEN", "NETWORK", "OP_NODE_VERSION", "OP_NODE_COMMIT",
                          "NETHERMIND_VERSION")}
    return subprocess.run(INV + list(extra), cwd=ROOT, env={**clean, **env}, text=True,
                          capture_output=True)


def counts(fake: FakeGitHub) -> tuple[int, int]:
    conditional = sum(1 for r in fake.requests if "If-None-Match" in r["headers"])
    return len(fake.requests), conditional


def measure(tmp: Path, label: str, pins: dict) -> list[tuple[str, str, int, int, int]]:
    """(scenario, case, requests, conditional, exit code) for cold, warm, 503, stopped."""
    stack = tmp / label.split()[1] / "compose.yml"
    stack.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "compose.yml", stack)
    source.write_pins(stack, pins)
    fake = FakeGitHub()
    up.serve_all(fake)
    env = {"GITHUB_API_URL": fake.url, "XDG_CACHE_HOME": str(stack.parent / "cache"),
           "COMPOSE_FILE": str(stack), "OPKIT_NOW": up.NOW_ISO}
    rows, answers = [], []
    try:
        for case in ("cold", "warm"):
            fake.requests.clear()
            done = run(env, "--json")
            answers.append(done.stdout)
            rows.append((label, case, *counts(fake), done.returncode))
        fake.requests.clear()
        fake.fail_with(503)
        done = run(env, "--json")
        answers.append(done.stdout)
        rows.append((label, "offline: GitHub answers 503", *counts(fake), done.returncode))
    finally:
        fake.close()
    done = run(env, "--json")
    answers.append(done.stdout)
    rows.append((label, "offline: GitHub unreachable", 0, 0, done.returncode))
    if len(set(answers)) != 1:
        raise SystemExit(f"bench: {label}: the offline answers differ from the online one")
    return rows


def sample(tmp: Path) -> str:
    """The text report for today's pins (compose.yml's own: op-node v1.21.0, 1.39.3)."""
    fake = FakeGitHub()
    up.serve_all(fake)
    try:
        done = run({"GITHUB_API_URL": fake.url, "XDG_CACHE_HOME": str(tmp / "sample"),
                    "OPKIT_NOW": up.NOW_ISO})
    finally:
        fake.close()
    return f"$ inv source.forks --network op-sepolia\n{done.stdout}{done.stderr}" \
           f"(exit {done.returncode})"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="opkit-forks-bench-") as tmp:
        rows = []
        for label, pins in SCENARIOS.items():
            rows += measure(Path(tmp), label, pins)
        print("| scenario | case | requests | conditional | exit |")
        print("| --- | --- | ---: | ---: | ---: |")
        for label, case, total, conditional, code in rows:
            print(f"| {label} | {case} | {total} | {conditional} | {code} |")
        print("\nThe offline answers equal the online ones (checked).\n")
        print(sample(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
