"""doctor's checklist: the engine is probed once (`EngineProbe.take`: client, version,
info, the compose config, the build contexts, and what could not be read), then every
function in CHECKS runs with the same signature, `check(probe, c) -> Check |
list[Check]`, in order. One more check is one function and one line in CHECKS. Each
check says ok / warn / fail / skip with a one-line fix; a check that needs the engine
skips when the engine is down, and the forks check skips when GitHub cannot be reached
and nothing is cached. Nothing here raises past `run_checks`: a crashing check is
reported as a failure. The probe and the report line are in tasks/_check.py; the checks
of the chain the stack runs in tasks/_chain_checks.py. Nothing here prints.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import _components, _compose, _config, _connect, _engine, _refs, _release, _versions
from ._chain_checks import (
    check_forks,
    check_live,
    check_network,
    check_network_names,
    check_stack,
)
from ._check import Check, CheckFn, EngineProbe, first_line
from ._errors import KitError
from ._ignore import SENSITIVE_PATTERNS, is_ignored, leaks, read_ignore
from ._units import format_bytes

MIN_FREE_BYTES = 10 * 1000**3  # an op-node build: Go toolchain, monorepo, module cache


WARN_FREE_BYTES = 30 * 1000**3


# What the dynamic loader says when a binary's library is missing (any image); a
# component's own signs (Nethermind's ICU) are in its table entry, `library_errors`.
_LIB_ERRORS = ("error while loading shared libraries", "cannot open shared object",
               "not found (required by")


def missing_pins(config: dict) -> list[str]:
    """Build args compose.yml must pin: the version, commit and Go pins of each component
    the stack runs (the client not in use pins nothing here)."""
    services = config.get("services") or {}
    missing = []
    for entry in _config.in_use(config):
        service = entry.service
        if service not in services:
            missing.append(f"service {service}")
            continue
        args = _config.build_args(config, service)
        for key in entry.pin_vars:
            if not str(args.get(key) or "").strip():
                missing.append(f"{service} {key}")
        commit = str(args.get(entry.commit_var) or "") if entry.commit_var else ""
        if commit and not _versions.is_commit_pin(commit):
            missing.append(f"{service} {entry.commit_var} (not a commit: {commit!r}; "
                           "give the full 40-hex SHA or at least its first 7 hex digits)")
    return missing


# ------------------------------------------------------------------ the checks
def check_engine(probe: EngineProbe, c) -> Check:
    version = probe.version
    if version is None:
        return Check("engine", "fail", probe.errors.get("engine", "?").split("; ")[0],
                     probe.errors.get("engine-fix") or "start the daemon (systemctl start "
                     "docker) or point DOCKER_HOST / DOCKER_CONTEXT at a running engine")
    return Check("engine", "ok", f"Docker Engine {version.get('Version')} "
                 f"(API {version.get('ApiVersion')}; the kit needs {_engine.MIN_ENGINE} or "
                 f"newer) at {_connect.endpoint().describe()}")


def check_compose(probe: EngineProbe, c) -> Check:
    try:
        version = _compose.require_compose(c)
    except KitError as exc:
        return Check("compose", "fail", exc.reason,
                     "install the compose v2 plugin (apt-get install docker-compose-plugin)")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
        return Check("compose", "fail", f"docker compose {version} is not v2",
                     "install the compose v2 plugin (apt-get install docker-compose-plugin)")
    return Check("compose", "ok", f"docker compose v{version}")


def check_buildkit(probe: EngineProbe, c) -> Check:
    version = probe.version
    if not version:
        return Check("buildkit", "skip", "needs the engine")
    missing = _engine.buildkit_missing(version)
    if missing:
        return Check("buildkit", "fail", *missing)
    return Check("buildkit", "ok", "engine has BuildKit; builds run with DOCKER_BUILDKIT=1 "
                 "(cache mounts, COPY --chmod)")


def check_buildx(probe: EngineProbe, c) -> Check:
    version = _compose.buildx_version(c)
    if version is not None:
        return Check("buildx", "ok", version)
    return Check("buildx", "warn", "buildx is missing: compose builds with its internal "
                 "BuildKit client (fine for these images, but deprecated since compose v2.40), "
                 "and multi-platform builds, --builder and bake are unavailable",
                 "install docker-buildx-plugin (or the buildx binary in ~/.docker/cli-plugins)")


def check_store(probe: EngineProbe, c) -> Check:
    """Which image store the engine keeps, and what that means for sizes and platforms."""
    store = _engine.image_store(probe.info)
    if store is None:
        return Check("store", "skip", "needs the engine")
    driver = (probe.info or {}).get("Driver") or "?"
    if store == "containerd":
        return Check("store", "ok", f"containerd image store ({driver} snapshotter; Docker "
                     "29's default): keeps compressed and unpacked layers, so `docker images` "
                     "shows more than the kit, whose sizes and budgets count the uncompressed "
                     "layers (`docker history`); holds multi-platform images and attestations,"
                     " so a multi-platform build can stay local")
    return Check("store", "ok", f"classic image store ({driver}): sizes and budgets are the "
                 "uncompressed layers, as `docker images` shows them; one platform per image, "
                 "so a multi-platform build must --push")


def check_builder(probe: EngineProbe, c) -> Check:
    """Which builder builds, and where its results go."""
    found = _compose.buildx_builder(c) if probe.version else None
    if found is None:
        return Check("builder", "ok", "the engine's own BuildKit (no buildx builder): "
                     "results go straight into the engine's image store; one platform")
    name, driver = found
    if driver == "docker":
        where = ("the engine's image store, several platforms at once"
                 if _engine.image_store(probe.info) == "containerd" else
                 "the engine's image store, one platform at a time (several need --push)")
        return Check("builder", "ok", f"buildx builder {name} (driver docker): the engine's "
                     f"own BuildKit; results go into {where}")
    return Check("builder", "ok", f"buildx builder {name} (driver {driver}): a BuildKit of "
                 "its own, with its own cache; results reach the engine only through --load "
                 "(one platform) and a registry through --push")


def check_registry(probe: EngineProbe, c) -> Check:
    """Where the images go (IMAGE_REGISTRY), whether docker's store has a login for it
    (never what the login is), and what the release file pins."""
    images = _config.built_images(probe.config)
    if not images:
        return Check("registry", "skip", "needs the compose config")
    pinned = _release.pinned_digests(_release.release_path(_compose.compose_files()[0]))
    release = (f"; {_release.RELEASE_FILE} pins {len(pinned)} image digest(s)" if pinned
               else "")
    first = next(iter(images.values()))
    target = _release.push_target(first)
    if target is None:
        return Check("registry", "ok", "IMAGE_REGISTRY is empty: images stay on the host "
                     f"that builds them (set it to push and pull by digest){release}")
    registry, path = target
    hub = registry == _release.DEFAULT_REGISTRY
    where = f"IMAGE_REGISTRY={_release.registry_path(first)}" + (
        f" (Docker Hub: pushes go to {path})" if hub else "")
    login = _release.stored_login(registry)
    if login is None:
        return Check("registry", "warn", f"{where}: docker's store has no login for "
                     f"{registry}{release}",
                     f"`docker login{'' if hub else ' ' + registry}` on every host that pushes "
                     "or pulls (not needed when the registry takes anonymous pushes and pulls)")
    return Check("registry", "ok", f"{where}: login for {registry} in docker's store "
                 f"({login}){release}")


def check_cache(probe: EngineProbe, c) -> Check:
    """How this host shares its build cache with others (and can reuse theirs)."""
    images = _config.built_images(probe.config)
    if not images:
        return Check("cache", "skip", "needs the compose config")
    services = (probe.config or {}).get("services") or {}
    inline = [n for n in images
              if str(((services[n].get("build") or {}).get("args") or {}).get(
                  "BUILDKIT_INLINE_CACHE", "")) == "1"]
    missing = sorted(set(images) - set(inline))
    if missing:
        return Check("cache", "warn", f"{', '.join(missing)} write(s) no cache metadata into "
                     "the image: another host cannot reuse its layers",
                     'add BUILDKIT_INLINE_CACHE: "1" to the build args and '
                     "REGISTRY/NAME:latest to cache_from, as compose.yml does")
    buildx = _compose.buildx_version(c)
    also = (f"; {buildx.split()[0]} is present: a `type=registry` cache (all stages) is "
            "possible with a buildx builder" if buildx else
            "; no buildx here, so no registry cache (type=registry) mode")
    first = next(iter(images.values()))
    if not _release.has_registry(first):
        return Check("cache", "ok", "local only: BuildKit cache on this engine (IMAGE_REGISTRY "
                     "is empty, so no other host shares it)" + also)
    sources = sorted({src for n in images for src in
                      (services[n].get("build") or {}).get("cache_from") or [] if src})
    return Check("cache", "ok", "inline: pushed images carry their cache metadata "
                 f"(BUILDKIT_INLINE_CACHE), and builds import {', '.join(sources)}" + also)


def check_dockerignore(probe: EngineProbe, c) -> Check:
    """The repo's .dockerignore and each build context's own ignore file."""
    problems = []
    root_file = _components.ROOT / ".dockerignore"
    if not root_file.is_file():
        problems.append(".dockerignore is missing at the repo root")
    else:
        for kind, paths in leaks(read_ignore(root_file.read_text())).items():
            problems.append(f".dockerignore lets {kind} in ({', '.join(paths)})")
    sensitive = read_ignore(SENSITIVE_PATTERNS)
    for service, context in probe.contexts.items():
        path = Path(context)
        if not path.is_dir() or path.resolve() == _components.ROOT:
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


def _pin_example() -> str:
    node = _components.node()
    return (f"pin each as a build arg with a default, e.g. {node.commit_var}: "
            f"${{{node.commit_var}:-<sha>}} beside {node.version_var} (inv source.resolve)")


def check_pins(probe: EngineProbe, c) -> Check:
    config = probe.config
    if config is None:
        return Check("pins", "fail",
                     f"cannot read the compose config: {probe.errors.get('config')}",
                     "run `docker compose config` to see what compose rejects")
    missing = missing_pins(config)
    if missing:
        return Check("pins", "fail", "missing pins: " + "; ".join(missing),
                     _pin_example())
    parts, short = [], []
    for entry in _config.in_use(config):
        args = _config.build_args(config, entry.service)
        version = args[entry.version_var]
        part = f"{entry.label} {version}"
        if entry.commit_var:
            commit = args[entry.commit_var]
            part += f" @ {commit[:12]}"
            if len(commit) < _versions.FULL_COMMIT:
                short.append((entry, version, commit))
        if entry.go_var:
            part += f" (go {args[entry.go_var]})"
        parts.append(part)
    detail = ", ".join(parts)
    if short:
        return Check("pins", "warn", detail + "; " + "; ".join(
            f"{e.commit_var} is a short pin ({len(commit)} of 40 hex digits)"
            for e, _, commit in short) + "; the build checks only that prefix",
            "on a host that reaches GitHub, run " + " and ".join(
                f"`{_components.pin_command(e, version)}`" for e, version, _ in short)
            + " to write the full commit")
    return Check("pins", "ok", detail)


def check_client(probe: EngineProbe, c) -> Check:
    """Which execution client the stack runs (EXECUTION_CLIENT, as compose resolves it),
    or the one line naming the clients when it names none of them."""
    setting = _components.CLIENT_SETTING
    if probe.config is None:
        reason = probe.errors.get("config") or "?"
        if setting in reason:  # compose could not open docker/<client>.yml
            return Check("client", "fail", reason, f"set {setting} in .env (or Portainer's "
                         f"env editor) to {' or '.join(_components.clients())}, or remove it")
        return Check("client", "skip", "needs the compose config")
    try:
        chosen = _config.client_of(probe.config)
    except KitError as exc:
        return Check("client", "fail", exc.reason, f"set {setting} to "
                     f"{' or '.join(_components.clients())}")
    entry = next(e for e in _components.in_use(chosen) if e.client == chosen)
    where = setting if os.environ.get(setting) else f"{setting} as compose resolves it"
    others = [e for e in _components.all_components() if e.client and e.client != chosen]
    switch = "".join(f"; {setting}={e.client} runs {e.label}" for e in others)
    return Check("client", "ok", f"execution client {entry.label} ({where}: {chosen}; "
                 f"`inv build.{entry.name}` builds it){switch}")


def check_images(probe: EngineProbe, c) -> list[Check]:
    client, config = probe.client, probe.config
    if client is None or config is None:
        return [Check("images", "skip", "needs the engine and the compose config")]
    execution_client = _config.client_of(config)
    wanted = _config.service_images(config)
    index = _refs.index_by_tag(_engine.inspect_images(client, sorted(set(wanted.values()))))
    checks = []
    for service, ref in wanted.items():
        name = f"image {service}"
        if ref not in index:
            checks.append(Check(name, "warn", f"{ref} is not built", "run `inv build`"))
            continue
        entry = _components.by_service(service, execution_client)
        if entry is None:
            checks.append(Check(name, "ok", f"{ref} present ({format_bytes(index[ref]['Size'])})"))
            continue
        shown = f"{ref} ({entry.label})" if entry.client else ref
        entrypoint, args = list(entry.probe.entrypoint), list(entry.probe.args)
        workdir = entry.probe.workdir
        try:
            code, output = _engine.run_probe(client, ref, args, entrypoint=entrypoint,
                                             workdir=workdir, timeout=60,
                                             labels=probe.labels)
        except KitError as exc:
            checks.append(Check(name, "fail", f"{entrypoint[0]} is missing or cannot run: "
                                f"{exc.reason}", "rebuild: `inv build` (check the "
                                "Dockerfile's final stage copies the binary)"))
            continue
        lines = [x.strip() for x in output.splitlines() if x.strip()]
        signs = _LIB_ERRORS + entry.library_errors
        lib_error = next((x for x in lines if any(e in x for e in signs)), None)
        if code != 0 or lib_error:
            checks.append(Check(name, "fail", f"`{' '.join(entrypoint + args)}` exited {code}: "
                                f"{lib_error or (lines[-1] if lines else 'no output')}",
                                f"a library {entry.label} needs is missing from the final "
                                f"stage: install it there{entry.library_fix} and `inv build`"))
            continue
        checks.append(Check(name, "ok", f"{shown}: {lines[0] if lines else 'ran'}"))
    return checks


def check_disk(probe: EngineProbe, c) -> Check:
    root = (probe.info or {}).get("DockerRootDir") or "/var/lib/docker"
    local = _connect.engine_target().startswith(("unix://", "DOCKER_HOST=unix://"))
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


# The checklist, in the order it prints. One more check: a function and a line here.
CHECKS: list[CheckFn] = [
    check_engine,
    check_compose,
    check_buildkit,
    check_buildx,
    check_store,
    check_builder,
    check_registry,
    check_cache,
    check_dockerignore,
    check_client,
    check_pins,
    check_images,
    check_disk,
    check_network,
    check_network_names,
    check_stack,
    check_live,
    check_forks,
]


def _name(check: CheckFn) -> str:
    return check.__name__.removeprefix("check_")


def run_checks(c, probe_labels=None, checks: list[CheckFn] | None = None) -> list[Check]:
    """Probe once, then run CHECKS (or the given ones) in order; never raises.
    PROBE_LABELS go on the throwaway containers that run each image's binary (they are
    removed either way)."""
    probe = EngineProbe.take(c, labels=probe_labels)
    results: list[Check] = []
    try:
        for check in CHECKS if checks is None else checks:
            try:
                result = check(probe, c)
            except Exception as exc:  # a check must not end doctor in a traceback
                reason = getattr(exc, "reason", None) or first_line(exc)
                result = Check(_name(check), "fail", f"check crashed: {reason}",
                               "report this as a bug")
            results.extend(result if isinstance(result, list) else [result])
    finally:
        if probe.client is not None:
            probe.client.close()
    return results
