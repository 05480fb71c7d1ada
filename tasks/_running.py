"""The stack as it runs: one verdict per compose container, from what the engine says
about it (`GET /containers/{id}/json`): a restart loop, a service that gave up or
failed, an unhealthy one, or one that runs.

Docker restarts a crashing container with a growing back-off (100 ms doubling up to a
minute) and says `Restarting` in between, so a crash loop is mostly seen as that; a
container that runs but restarted meanwhile is read twice, a few seconds apart
(`may_loop`), and a growing RestartCount is a loop too.
"""

from __future__ import annotations

# Exit codes of a container stopped on purpose (SIGINT, SIGKILL after the grace period,
# SIGTERM): stopped, not crashed.
STOPPED_CODES = {130, 137, 143}
SERVICE_LABEL = "com.docker.compose.service"


def service(container: dict) -> str:
    """The compose service a container runs (its name when compose did not label it)."""
    labels = (container.get("Config") or {}).get("Labels") or {}
    return labels.get(SERVICE_LABEL) or str(container.get("Name") or "?").lstrip("/")


def may_loop(container: dict) -> bool:
    """Whether CONTAINER runs after restarts: read it again to see whether they go on."""
    state = container.get("State") or {}
    return bool(state.get("Running")) and int(container.get("RestartCount") or 0) > 0


def _policy(container: dict) -> str:
    return (((container.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
            or "no")


def verdict(container: dict, later: dict | None = None) -> tuple[str, str, str]:
    """(status, detail, fix) for one container; LATER is the same container read again
    a few seconds after (or None)."""
    name = service(container)
    logs = f"`docker compose logs {name}` shows why"
    state = container.get("State") or {}
    later_state = (later or {}).get("State") or {}
    restarts = int(container.get("RestartCount") or 0)
    code = state.get("ExitCode")
    policy = _policy(container)
    if state.get("Restarting") or later_state.get("Restarting"):
        code = later_state.get("ExitCode", code) if later_state.get("Restarting") else code
        count = max(restarts, int((later or {}).get("RestartCount") or 0))
        return ("fail", f"restart loop: exits {code} and restarts (restart policy {policy}, "
                f"{count} restart(s) so far)", logs)
    if later is not None and int(later.get("RestartCount") or 0) > restarts:
        count = int(later.get("RestartCount") or 0)
        return ("fail", f"restart loop: restarted {count - restarts} more time(s) within "
                f"seconds ({count} restart(s), last exit code {later_state.get('ExitCode')})",
                logs)
    status = state.get("Status") or "?"
    if status in ("exited", "dead"):
        if code in STOPPED_CODES:
            return ("warn", f"stopped (exit code {code})",
                    f"`docker compose up -d {name}` starts it again")
        if code:
            gave_up = (f"and its restart policy ({policy}) gave up" if policy != "no"
                       else "(it runs once: the services after it do not start)")
            return ("fail", f"exited {code} {gave_up}", logs)
        return ("ok", "done (exited 0)" if policy == "no" else "exited 0", "")
    health = state.get("Health") or {}
    if health.get("Status") == "unhealthy":
        said = [line.strip() for entry in (health.get("Log") or [])[-1:]
                for line in str(entry.get("Output") or "").splitlines() if line.strip()]
        return ("fail", f"unhealthy: {health.get('FailingStreak', '?')} failed health "
                f"check(s) in a row" + (f" (last: {said[-1][:120]})" if said else ""), logs)
    if status == "running":
        shown = "running" + (f" (health: {health['Status']})" if health.get("Status") else "")
        if restarts:
            return ("warn", f"{shown}, after {restarts} restart(s) (this start: "
                    f"{state.get('StartedAt', '?')[:19]})", logs)
        return ("ok", shown, "")
    return ("warn", status, logs)
