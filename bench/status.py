"""What `inv status` costs on a healthy stack: every probe against the stand-in servers of
tests/status_standins.py (op-node, the execution client, its engine API with the JWT
check, L1, a beacon serving blobs), all on 127.0.0.1, in process; then the fork line
answered from the known-forks file with an empty GitHub cache (no request); then, when
the docker CLI is there, the whole `inv status` command as users start it (a process:
Python and Invoke's start, `docker compose config`, the engine's container listing) on
this checkout's compose project, running or not.

    python bench/status.py [RUNS]     # a markdown table of medians (default 20 runs)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks import _status  # noqa: E402
from tests import status_standins as si  # noqa: E402


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def main(runs: int = 20) -> None:
    per_probe: dict[str, list[float]] = {}
    totals: list[float] = []
    forks: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # nothing cached
        os.environ["GITHUB_API_URL"] = "http://127.0.0.1:9"  # never asked
        stack = si.Stack(client="op-reth")  # carries the next fork: healthy
        try:
            for number in range(runs + 1):
                target = stack.target(Path(tmp), forks=True)
                start = time.perf_counter()
                report = _status.assess(target)
                took = time.perf_counter() - start
                if number == 0:  # the first run pays for imports
                    first = took
                    continue
                totals.append(took)
                for probe in report.probes:
                    per_probe.setdefault(probe.name, []).append(probe.seconds)
                forks.append(report.probe("forks").seconds)
            overall = report.overall
        finally:
            stack.close()
    print(f"`inv status` probes on a healthy stand-in stack (op-reth; {overall}), median of {runs} "
          f"runs (first run, with imports: {first * 1000:.0f} ms)\n")
    print("| probe | median |\n|---|---|")
    for name, values in per_probe.items():
        print(f"| {name} | {ms(values)} |")
    print(f"| **all probes** | **{ms(totals)}** |")
    print(f"| all but forks | {ms([t - f for t, f in zip(totals, forks, strict=True)])} |")
    if shutil.which("docker") is None:
        print("\n(no docker CLI: the whole command is not measured)")
        return
    walls = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "invoke", "status", "--json"], cwd=ROOT,
                       capture_output=True, timeout=120)
        walls.append(time.perf_counter() - start)
    listed = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT,
                       capture_output=True, timeout=120)
        listed.append(time.perf_counter() - start)
    print(f"\nthe whole command (`python -m invoke status --json` on this checkout's "
          f"project, not running): {ms(walls)}; `inv --list`: {ms(listed)} (median of 5)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
