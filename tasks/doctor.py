"""The troubleshooting checklist, automated.

Each check returns ok / warn / fail with a one-line fix; a check that needs the engine
is skipped when the engine is down, and the forks check (`inv source.forks`) is skipped
when GitHub cannot be reached and nothing is cached. Nothing here raises past `doctor`: a crashing
check is reported as a failure, so the command never ends in a traceback.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

from . import _docker, _versions
from ._errors import KitError
from ._ignore import SENSITIVE_PATTERNS, is_ignored, leaks, read_ignore
from ._units import format_bytes

MIN_FREE_BYTES = 10 * 1000**3  # an op-node build: Go toolchain, monorepo, module cache
WARN_FREE_BYTES = 30 * 1000**3
PINS = {"base-op-node": ("OP_NODE_VERSION", "OP_NODE_COMMIT", "GO_VERSION"),
        "base-execution": ("NETHERMIND_VERSION",)}
# How to ask each image's binary for its version: (entrypoint, args, workdir).
PROBES = {"base-op-node": (["op-node"], ["--version"], None),
          "base-execution": (["./nethermind"], ["--version"], "/nethermind")}
PROBE_LABELS = {"opstack-image-kit.probe": "1"}
# Networks this stack cannot follow since Base moved to its own clients at Azul
# (Sepolia 2026-04-20, mainnet 2026-05-28).
_BASE_NETWORK = re.compile(r"(^|[^a-z])base([-_ ]?(mainnet|sepolia|goerli))?($|[^a-z])", re.I)
# Chains op-node v1.21.0 dropped from its embedded registry (its release notes); names as
# op-node spells them: the registry's superchain/configs/<superchain>/<chain>.toml gives
# <chain>-<superchain> (Superseed's file is sseed.toml, Xterio's xterio-eth.toml). They
# need an explicit rollup config from then on. docker/op-node/entrypoint.sh lists the same.
DROPPED_NETWORKS = {
    (1, 21, 0): ("automata-mainnet", "lisk-mainnet", "lisk-sepolia", "mint-mainnet",
                 "polynomial-mainnet", "redstone-mainnet", "sseed-mainnet", "superseed-mainnet",
                 "xterio-eth-mainnet"),
}
_NETWORK_KEYS = re.compile(r"(^|_)(NETWORK|CHAIN|CHAIN_NAME)$|^NETHERMIND_CONFIG$", re.I)
_LIB_ERRORS = ("error while loading shared libraries", "cannot open shared object",
               "Couldn't find a valid ICU", "libicu", "not found (required by")


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


# ------------------------------------------------------------------ pure helpers
def missing_pins(config: dict) -> list[str]:
    """Build args compose.yml must pin (version and, for op-node, commit and Go)."""
    services = config.get("services") or {}
    missing = []
    for service, keys in PINS.items():
        if service not in services:
            missing.append(f"service {service}")
            continue
        args = ((services[service].get("build") or {}).get("args")) or {}
        for key in keys:
            if not str(args.get(key) or "").strip():
                missing.append(f"{service} {key}")
        commit = str(args.get("OP_NODE_COMMIT") or "")
        if "OP_NODE_COMMIT" in keys and commit and not _versions.is_commit_pin(commit):
            missing.append(f"{service} OP_NODE_COMMIT (not a commit: {commit!r}; "
                           "give the full 40-hex SHA or at least its first 7 hex digits)")
    return missing


def dropped_network(network: str, op_node_version: str | None) -> str | None:
    """The op-node release that no longer embeds NETWORK, when the pinned one is that or newer."""
    pinned = _versions.parse_tag("op-node", f"op-node/{op_node_version or ''}")
    for numbers, names in DROPPED_NETWORKS.items():
        if network in names and (pinned is None or pinned.numbers >= numbers):
            return "v" + ".".join(map(str, numbers))
    return None


def is_base_network(network: str) -> bool:
    """Whether NETWORK names Base (which left op-node and Nethermind at its Azul upgrade)."""
    return bool(_BASE_NETWORK.search(network or ""))


def network_settings(config: dict) -> dict[str, str]:
    """Network-looking settings in the compose config: env, build args, --network flags."""
    found = {}
    for name, service in (config.get("services") or {}).items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.partition("=")[::2] for e in env)
        args = (service.get("build") or {}).get("args") or {}
        for key, value in {**args, **env}.items():
            if value and _NETWORK_KEYS.search(key):
                found[f"{name} {key}"] = str(value)
        command = service.get("command") or []
        command = command.split() if isinstance(command, str) else command
        for i, word in enumerate(command):
            for flag in ("--network", "--config", "--chain"):
                if word.startswith(flag + "="):
                    found[f"{name} {flag}"] = word.split("=", 1)[1]
                elif word == flag and i + 1 < len(command):
                    found[f"{name} {flag}"] = command[i + 1]
    return found


# ------------------------------------------------------------------ the checks
def check_engine(state) -> Check:
    try:
        client = _docker.engine_client(timeout=15)
        version = _docker.engine_version(client)
    except KitError as exc:
        return Check("engine", "fail", exc.reason.split("; ")[0],
                     "start the daemon (systemctl start docker) or point DOCKER_HOST / "
                     "DOCKER_CONTEXT at a running engine")
    state["client"], state["version"] = client, version
    return Check("engine", "ok", f"Docker Engine {version.get('Version')} "
                 f"(API {version.get('ApiVersion')}) at {_docker.engine_target()}")


def check_compose(state, c) -> Check:
    try:
        version = _docker.require_compose(c)
    except KitError as exc:
        return Check("compose", "fail", exc.reason,
                     "install the compose v2 plugin (apt-get install docker-compose-plugin)")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
        return Check("compose", "fail", f"docker compose {version} is not v2",
                     "install the compose v2 plugin (apt-get install docker-compose-plugin)")
    return Check("compose", "ok", f"docker compose v{version}")


def check_buildkit(state) -> Check:
    version = state.get("version")
    if not version:
        return Check("buildkit", "skip", "needs the engine")
    api = tuple(int(x) for x in str(version.get("ApiVersion", "0.0")).split(".")[:2])
    if version.get("Os", "linux") != "linux":
        return Check("buildkit", "fail", f"the engine runs {version.get('Os')} containers",
                     "BuildKit builds need a Linux engine: switch to Linux containers")
    if api < (1, 39):
        return Check("buildkit", "fail", f"engine API {version.get('ApiVersion')} predates "
                     "BuildKit (needs 1.39, Docker 18.09+)", "upgrade Docker Engine")
    return Check("buildkit", "ok", "engine has BuildKit; builds run with DOCKER_BUILDKIT=1 "
                 "(cache mounts, COPY --chmod)")


def check_buildx(state, c) -> Check:
    version = _docker.buildx_version(c)
    if version is not None:
        return Check("buildx", "ok", version)
    return Check("buildx", "warn", "buildx is missing: compose builds with its internal "
                 "BuildKit client (fine for these images, but deprecated since compose v2.40), "
                 "and multi-platform builds, --builder and bake are unavailable",
                 "install docker-buildx-plugin (or the buildx binary in ~/.docker/cli-plugins)")


def check_dockerignore(state) -> Check:
    """The repo's .dockerignore and each build context's own ignore file."""
    problems = []
    root_file = _docker.ROOT / ".dockerignore"
    if not root_file.is_file():
        problems.append(".dockerignore is missing at the repo root")
    else:
        for kind, paths in leaks(read_ignore(root_file.read_text())).items():
            problems.append(f".dockerignore lets {kind} in ({', '.join(paths)})")
    sensitive = read_ignore(SENSITIVE_PATTERNS)
    for service, context in (state.get("contexts") or {}).items():
        path = Path(context)
        if not path.is_dir() or path.resolve() == _docker.ROOT:
            continue  # the root .dockerignore, checked above, governs the repo root
        own = path / ".dockerignore"
        rules = read_ignore(own.read_text()) if own.is_file() else []
        sent = []
        for number, file in enumerate(path.rglob("*")):
            if number > 5000:
                break
            rel = file.relative_to(path).as_posix()
            if file.is_file() and is_ignored(sensitive, rel) and not is_ignored(rules, rel):
                sent.append(rel)
        if sent:
            problems.append(f"{service}'s build context {path} would send {', '.join(sent[:3])}")
    if problems:
        return Check("dockerignore", "fail", "; ".join(problems),
                     "add the patterns (**/.env, **/*.log, **/data, **/jwt*, **/*.key, "
                     "**/*.pem) to .dockerignore, and move secrets out of build contexts")
    return Check("dockerignore", "ok", "logs, env files, data and secrets stay out of the "
                 "build contexts")


def check_pins(state) -> Check:
    config = state.get("config")
    if config is None:
        return Check("pins", "fail", f"cannot read the compose config: {state.get('config_error')}",
                     "run `docker compose config` to see what compose rejects")
    missing = missing_pins(config)
    if missing:
        return Check("pins", "fail", "missing pins: " + "; ".join(missing),
                     "pin each as a build arg with a default, e.g. OP_NODE_COMMIT: "
                     "${OP_NODE_COMMIT:-<sha>} beside OP_NODE_VERSION (inv source.resolve)")
    args = config["services"]["base-op-node"]["build"]["args"]
    nm = config["services"]["base-execution"]["build"]["args"]["NETHERMIND_VERSION"]
    detail = (f"op-node {args['OP_NODE_VERSION']} @ {args['OP_NODE_COMMIT'][:12]} "
              f"(go {args['GO_VERSION']}), nethermind {nm}")
    if len(args["OP_NODE_COMMIT"]) < _versions.FULL_COMMIT:
        return Check("pins", "warn", f"{detail}: OP_NODE_COMMIT is a short pin "
                     f"({len(args['OP_NODE_COMMIT'])} of 40 hex digits); the build checks "
                     "only that prefix", "on a host that reaches GitHub, run `inv source.pin "
                     f"--version {args['OP_NODE_VERSION']}` to write the full commit")
    return Check("pins", "ok", detail)


def check_images(state, probe_labels=None) -> list[Check]:
    client, config = state.get("client"), state.get("config")
    if client is None or config is None:
        return [Check("images", "skip", "needs the engine and the compose config")]
    from .audit import service_images

    index = _docker.index_by_tag(_docker.list_images(client))
    checks = []
    for service, ref in service_images(config).items():
        name = f"image {service}"
        if ref not in index:
            checks.append(Check(name, "warn", f"{ref} is not built", "run `inv build`"))
            continue
        if service not in PROBES:
            checks.append(Check(name, "ok", f"{ref} present ({format_bytes(index[ref]['Size'])})"))
            continue
        entrypoint, args, workdir = PROBES[service]
        try:
            code, output = _docker.run_probe(client, ref, args, entrypoint=entrypoint,
                                             workdir=workdir, timeout=60,
                                             labels={**PROBE_LABELS, **(probe_labels or {})})
        except KitError as exc:
            checks.append(Check(name, "fail", f"{entrypoint[0]} is missing or cannot run: "
                                f"{exc.reason}", "rebuild: `inv build` (check the "
                                "Dockerfile's final stage copies the binary)"))
            continue
        lines = [x.strip() for x in output.splitlines() if x.strip()]
        lib_error = next((x for x in lines if any(e in x for e in _LIB_ERRORS)), None)
        if code != 0 or lib_error:
            checks.append(Check(name, "fail", f"`{' '.join(entrypoint + args)}` exited {code}: "
                                f"{lib_error or (lines[-1] if lines else 'no output')}",
                                "a library is missing from the final stage: install it there "
                                "(or build op-node with CGO_ENABLED=0) and `inv build`"))
            continue
        checks.append(Check(name, "ok", f"{ref}: {lines[0] if lines else 'ran'}"))
    return checks


def check_disk(state) -> Check:
    info = None
    if state.get("client") is not None:
        try:
            info = _docker.engine_info(state["client"])
        except KitError:
            info = None
    root = (info or {}).get("DockerRootDir") or "/var/lib/docker"
    local = _docker.engine_target().startswith(("unix://", "DOCKER_HOST=unix://"))
    if not local or not os.path.isdir(root):
        return Check("disk", "warn", f"cannot measure free space of {root} from here "
                     "(remote engine?)", "check `df -h` on the engine host: builds need "
                     f"{format_bytes(MIN_FREE_BYTES)}+")
    free = shutil.disk_usage(root).free
    detail = f"{format_bytes(free)} free under {root}"
    if free < MIN_FREE_BYTES:
        return Check("disk", "fail", detail, "free space: `inv clean.cache`, `inv clean.images`"
                     f"; an op-node build needs about {format_bytes(MIN_FREE_BYTES)}")
    if free < WARN_FREE_BYTES:
        return Check("disk", "warn", detail, "`inv clean.cache --older-than 7d` reclaims "
                     "old build cache")
    return Check("disk", "ok", detail)


def check_network(state) -> Check:
    config = state.get("config")
    if config is None:
        error = state.get("config_error") or ""
        if "NETWORK" in error:  # compose.yml may require it: ${NETWORK:?...}
            return Check("network", "fail", f"no network configured: {error}",
                         "set NETWORK in .env to an OP Stack chain that still runs op-node, "
                         "e.g. op-mainnet (see .env.example)")
        return Check("network", "skip", "needs the compose config")
    settings = network_settings(config)
    unset = sorted(k for k, v in settings.items() if v == _docker.UNSET_PLACEHOLDER)
    if unset:
        return Check("network", "warn", f"{', '.join(unset)} not set: fine for building, but "
                     "the stack will not start without it", "set NETWORK in .env (or "
                     "Portainer's env editor) to an OP Stack chain such as op-mainnet")
    if not settings:
        return Check("network", "ok", "no network setting in the compose config (nothing "
                     "to check)")
    op_node_args = ((config.get("services") or {}).get("base-op-node") or {}).get("build") or {}
    pinned = (op_node_args.get("args") or {}).get("OP_NODE_VERSION")
    dropped = {k: (v, dropped_network(v, pinned)) for k, v in settings.items()
               if dropped_network(v, pinned)}
    if dropped:
        where = ", ".join(f"{k}={v}" for k, (v, _) in dropped.items())
        since = next(iter(dropped.values()))[1]
        return Check("network", "warn", f"{where}: op-node {since} and newer (pinned: "
                     f"{pinned or '?'}) no longer embed this chain's config",
                     "give op-node the chain's rollup config (OP_NODE_ROLLUP_CONFIG) and "
                     "Nethermind its chain spec, or follow a chain op-node still embeds")
    base = {k: v for k, v in settings.items() if is_base_network(v)}
    if base:
        where = ", ".join(f"{k}={v}" for k, v in base.items())
        return Check("network", "warn", f"{where}: Base moved to its own clients at the Azul "
                     "upgrade (Sepolia 2026-04-20, mainnet 2026-05-28); op-node and Nethermind "
                     "cannot follow it", "run Base with Base's own node; use this stack for "
                     "an OP Stack chain that still runs op-node (e.g. op-mainnet)")
    return Check("network", "ok", ", ".join(f"{k}={v}" for k, v in settings.items()))


def check_forks(state) -> Check:
    """Fork readiness of the pinned clients for the configured network (`inv source.forks`)."""
    from . import _readiness, forks
    from ._github import Unreachable

    config = state.get("config")
    if config is None:
        return Check("forks", "skip", "needs the compose config")
    services = config.get("services") or {}
    env = (services.get("base-op-node") or {}).get("environment") or {}
    if isinstance(env, list):
        env = dict(e.partition("=")[::2] for e in env)
    network = str(env.get("OP_NODE_NETWORK") or "").strip()
    if not network or network == _docker.UNSET_PLACEHOLDER:
        return Check("forks", "skip", "no network configured (NETWORK): nothing to check")
    pins = {}
    for service in ("base-op-node", "base-execution"):
        pins.update(((services.get(service) or {}).get("build") or {}).get("args") or {})
    try:
        report = _readiness.assess(network, pins, repos=forks.repos(), now=forks.now())
    except Unreachable as exc:
        return Check("forks", "skip", f"fork readiness not checked: {exc.reason}")
    except KitError as exc:
        return Check("forks", "warn", exc.reason, "`inv source.forks` shows the details")
    blocking = report.blocking(forks.DEFAULT_WITHIN)
    later = [(row, name) for row in report.rows for name in report.views
             if name in row and row[name].status == "not-ready"]
    unknown = [f"{name} for {row['fork']}" for row in report.rows for name in report.views
               if name in row and row[name].status == "unknown"]
    if blocking or later:
        row, name = (blocking[0][0], blocking[0][1]) if blocking else later[0]
        verdict = row[name]
        flag = "" if name == "op-node" else " --component execution"
        fix = (f"inv source.pin{flag} --version {verdict.carried_by}, then inv build"
               if verdict.carried_by else "no release carries it yet: watch upstream and "
               "`inv source.forks` daily")
        return Check("forks", "fail" if blocking else "warn",
                     forks.headline(report, row, name, fix=False), fix)
    if unknown:
        return Check("forks", "warn", f"{network}: readiness unknown ({', '.join(unknown[:3])}"
                     f"{', ...' if len(unknown) > 3 else ''})", "`inv source.forks` says why")
    upcoming = [r for r in report.rows if (r["activation"] or 0) > report.now]
    nxt = ""
    if upcoming:
        soon = _readiness.relative(upcoming[0]["activation"], report.now)
        nxt = f"; next: {upcoming[0]['fork']} {soon}"
    pinned = ", ".join(f"{_readiness.NAMES[n]} {v.version}" for n, v in report.views.items())
    return Check("forks", "ok", f"{pinned} carry every fork scheduled for {network}{nxt}")


def run_checks(c, probe_labels=None) -> list[Check]:
    """Every check in order; never raises. PROBE_LABELS go on the throwaway containers
    that run each image's binary (they are removed either way)."""
    state: dict = {}
    checks: list[Check] = []

    def guarded(name, fn, *args):
        try:
            result = fn(*args)
        except Exception as exc:  # a check must not end doctor in a traceback
            first = str(exc).strip().splitlines()
            reason = getattr(exc, "reason", None) or (first[0] if first else type(exc).__name__)
            result = Check(name, "fail", f"check crashed: {reason}", "report this as a bug")
        checks.extend(result if isinstance(result, list) else [result])

    guarded("engine", check_engine, state)
    guarded("compose", check_compose, state, c)
    try:
        state["config"] = _docker.compose_config(c)
        state["contexts"] = {n: (s.get("build") or {}).get("context")
                             for n, s in state["config"].get("services", {}).items()
                             if (s.get("build") or {}).get("context")}
    except Exception as exc:
        state["config_error"] = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    guarded("buildkit", check_buildkit, state)
    guarded("buildx", check_buildx, state, c)
    guarded("dockerignore", check_dockerignore, state)
    guarded("pins", check_pins, state)
    guarded("images", check_images, state, probe_labels)
    guarded("disk", check_disk, state)
    guarded("network", check_network, state)
    guarded("forks", check_forks, state)
    if state.get("client") is not None:
        state["client"].close()
    return checks


def print_checks(checks: list[Check]) -> None:
    width = max(len(ch.name) for ch in checks)
    for ch in checks:
        print(f"{ch.status:<5} {ch.name:<{width}}  {ch.detail}")
        if ch.fix and ch.status in ("warn", "fail"):
            print(f"{'':<5} {'':<{width}}  fix: {ch.fix}")


@task
def doctor(c):
    """Check engine, compose, BuildKit, pins and built images; exit 1 on any failure."""
    checks = run_checks(c)
    print_checks(checks)
    failed = [ch.name for ch in checks if ch.status == "fail"]
    if failed:
        raise Exit(f"error: {len(failed)} check(s) failed: {', '.join(failed)}", code=1)
