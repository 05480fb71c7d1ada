"""Requests `inv source.forks` sends to GitHub: cold, warm and offline, counted by the
stand-in GitHub API the tests use (tests/forks_upstream.py serves registry files, op-node
and op-reth tags of each era with the code that reads fork keys, and Nethermind chain
specs and spec providers). Needs no Docker engine, but the docker compose CLI (each run
resolves the project, once more for the execution client not in use).

The stack is forks_upstream's compose project wired as CONTRACTS-17 §2 (EXECUTION_CLIENT
picks docker/<client>.yml). The op-reth scenario needs the op-reth component in the
table (tasks/_components.py); without it, it is left out with a note.

    python bench/forks.py            # prints a markdown table, then a sample report

Each scenario gets its own empty cache. "Conditional" requests carry If-None-Match (an
answer of 304 does not count against GitHub's rate limit). Offline, the requests are the
ones the kit attempted: the stand-in answers 503, or drops every connection unanswered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks import _components  # noqa: E402
from tests import forks_upstream as up  # noqa: E402
from tests.helpers import FakeGitHub  # noqa: E402

INV = [sys.executable, "-m", "invoke", "source.forks", "--network", "op-sepolia"]
# label: (op-node, Nethermind, op-reth, .env)
SCENARIOS = {
    "pins lack Lagoon (op-node v1.19.5, Nethermind 1.39.3)":
        ("v1.19.5", "1.39.3", "v2.10.0", ""),
    "Nethermind in use (op-node v1.21.0, Nethermind 1.39.3; op-reth compared)":
        ("v1.21.0", "1.39.3", "v2.10.0", ""),
    "op-reth in use (op-node v1.21.0, op-reth v2.10.0)":
        ("v1.21.0", "1.39.3", "v2.10.0", "EXECUTION_CLIENT=op-reth\n"),
}


def run(env: dict, *extra: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GITHUB_TOKEN", "NETWORK", "OP_NODE_VERSION", "OP_NODE_COMMIT",
                          "NETHERMIND_VERSION", "OP_RETH_VERSION", "EXECUTION_CLIENT",
                          "OP_NODE_L2_FOLLOW_SOURCE", "OPKIT_FORKS_KNOWN")}
    return subprocess.run(INV + list(extra), cwd=ROOT, env={**clean, **env}, text=True,
                          capture_output=True)


def counts(fake: FakeGitHub) -> tuple[int, int]:
    conditional = sum(1 for r in fake.requests if "If-None-Match" in r["headers"])
    return len(fake.requests), conditional


def measure(tmp: Path, label: str, pins: tuple) -> list[tuple[str, str, int, int, int]]:
    """(scenario, case, requests, conditional, exit code) for cold, warm, 503, unreachable."""
    root = up.write_client_stack(tmp / f"s{abs(hash(label))}", *pins)
    fake = FakeGitHub()
    up.serve_all(fake)
    env = {"GITHUB_API_URL": fake.url, "XDG_CACHE_HOME": str(root / "cache"),
           "COMPOSE_FILE": str(root / "compose.yml"), "OPKIT_NOW": up.NOW_ISO,
           "OPKIT_FORKS_KNOWN": str(root / "no-known-file.json")}
    rows, answers = [], []
    try:
        for case in ("cold", "warm", "offline: GitHub answers 503",
                     "offline: GitHub unreachable"):
            fake.fail_with(503 if "503" in case else None)
            fake.unreachable = "unreachable" in case  # connections dropped, unanswered
            fake.requests.clear()
            done = run(env, "--json")
            answers.append(done.stdout)
            rows.append((label, case, *counts(fake), done.returncode))
    finally:
        fake.close()
    if len(set(answers)) != 1:
        raise SystemExit(f"bench: {label}: the offline answers differ from the online one")
    return rows


def sample(tmp: Path) -> str:
    """The text report with Nethermind in use (op-node v1.21.0, Nethermind 1.39.3)."""
    root = up.write_client_stack(tmp / "sample")
    fake = FakeGitHub()
    up.serve_all(fake)
    try:
        done = run({"GITHUB_API_URL": fake.url, "XDG_CACHE_HOME": str(tmp / "sample-cache"),
                    "OPKIT_NOW": up.NOW_ISO, "COMPOSE_FILE": str(root / "compose.yml")})
    finally:
        fake.close()
    return f"$ inv source.forks --network op-sepolia\n{done.stdout}{done.stderr}" \
           f"(exit {done.returncode})"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="opkit-forks-bench-") as tmp:
        rows = []
        for label, pins in SCENARIOS.items():
            if "op-reth in use" in label and "op-reth" not in _components.COMPONENTS:
                print(f"note: left out, no op-reth component in the table: {label}")
                continue
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
