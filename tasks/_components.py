"""The components this kit builds, one entry each: everything else derives from here.

A component is an image built from an upstream release: its name (what users type
after `inv build.` and `--component`), its compose service, its Dockerfile folder
(docker/<name>/), its upstream repository and tag form, the build args that pin it,
its default size budget, and how to ask its binary for its version.

Adding a component = one `Component(...)` entry below, its docker/<name>/ folder, and
its compose service with the pin variables as `${VAR:-default}` build args. Source,
build, audit, doctor, the tests' fixture stack and the bench read this table; nothing
else names a component. Tests register fixture components with `register()` (or by
patching COMPONENTS), then build a namespace with `tasks.make_namespace()`.

Importing this module is cheap (no Docker, no HTTP): `inv --list` reads it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from ._errors import KitError

ROOT = Path(__file__).resolve().parent.parent
# A release's version core: X.Y.Z, or a release candidate X.Y.Z-rc.N.
CORE = r"(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?"


@dataclass(frozen=True)
class Probe:
    """How to ask an image's binary for its version: ENTRYPOINT ARGS, run in WORKDIR."""

    entrypoint: tuple[str, ...]
    args: tuple[str, ...] = ("--version",)
    workdir: str | None = None

    @property
    def binary(self) -> str:
        """Where the binary lives in the image (a bare name is on PATH, /usr/local/bin)."""
        return posixpath.normpath(posixpath.join(self.workdir or "/usr/local/bin",
                                                 self.entrypoint[0]))


@dataclass(frozen=True)
class Networks:
    """Which networks a built image runs by name, and how its service is given one.

    SETTING is the service's environment variable that carries the name; CUSTOM the one
    that points the client at a config file instead (then the name is not looked up).
    The image lists the names it knows either as a FOLDER of `<name><suffix>` files
    (read from the image; nothing runs) or in the output of COMMAND (run in the image):
    the comma-separated names after MARKER, up to `[$` (where urfave/cli's help shows
    the flag's environment variable) or the end of the line.
    """

    setting: str
    custom: str | None = None
    folder: str | None = None
    suffix: str = ".json"
    command: tuple[str, ...] = ()
    marker: str = ""

    def parse(self, output: str) -> list[str] | None:
        """The names COMMAND's OUTPUT lists, or None when the marker is not in it."""
        start = output.find(self.marker) if self.marker else -1
        if start < 0:
            return None
        rest = output[start + len(self.marker):]
        end = rest.find("[$")
        rest = rest[:end] if end >= 0 else rest.split("\n", 1)[0]
        return sorted({n.strip() for n in rest.split(",") if n.strip()})

    def names(self, files: list[str]) -> list[str]:
        """The network names among the FILES of FOLDER."""
        return sorted(f[:-len(self.suffix)] for f in files
                      if f.endswith(self.suffix) and len(f) > len(self.suffix))


@dataclass(frozen=True)
class Component:
    """One image the kit builds from an upstream release.

    Tags upstream are `tag_namespace` + version, and versions are `vX.Y.Z` with
    `v_prefix` or `X.Y.Z` without: op-node's tag `op-node/v1.21.0` is version `v1.21.0`,
    Nethermind's tag `1.39.3` is version `1.39.3`. The pin variables are compose build
    args with `${VAR:-default}` defaults: the version (which also names the image tag),
    optionally the commit the tag must point at, and the Go version read from go.mod at
    that commit.
    """

    name: str
    service: str
    upstream: str
    version_var: str
    budget: str
    probe: Probe
    title: str = ""
    tag_namespace: str = ""
    v_prefix: bool = False
    commit_var: str | None = None
    go_var: str | None = None
    # The build arg holding the git URL the image is cloned from (`source.<name>_repo`'s
    # repository on the GitHub server GITHUB_API_URL names, unless set explicitly).
    repo_var: str | None = None
    # A one-shot service compose.yml runs on this image before the component's own
    # (execution: base-execution-init, the restore): never built or pulled, so the kit
    # builds, audits and cleans only `service`.
    init_service: str | None = None
    # Where the built image lists the networks it runs by name (doctor checks NETWORK
    # against it); None: the component takes no network.
    networks: Networks | None = None

    @property
    def label(self) -> str:
        """How people call it (`Nethermind`); the name when that is all there is."""
        return self.title or self.name

    @property
    def folder(self) -> Path:
        return ROOT / "docker" / self.name

    @property
    def tag_prefix(self) -> str:
        """What every release tag starts with: one listing request asks for exactly these."""
        return self.tag_namespace + ("v" if self.v_prefix else "")

    @property
    def tag_pattern(self) -> re.Pattern:
        return re.compile(re.escape(self.tag_prefix) + CORE)

    @property
    def config_key(self) -> str:
        """The Invoke config key of its upstream repository: `source.<key>`."""
        return self.name.replace("-", "_") + "_repo"

    @property
    def pin_vars(self) -> tuple[str, ...]:
        return tuple(v for v in (self.version_var, self.commit_var, self.go_var) if v)

    def version_text(self, core: str) -> str:
        """`1.2.3` (or `1.2.3-rc.1`) in this component's version form."""
        return ("v" if self.v_prefix else "") + core

    def pins(self, version: str, commit: str | None = None,
             go_version: str | None = None) -> dict[str, str]:
        """{build arg: value} for a resolved release: the environment compose builds with."""
        values = {self.version_var: version}
        if self.commit_var:
            values[self.commit_var] = commit or ""
        if self.go_var:
            values[self.go_var] = go_version or ""
        return values


COMPONENTS: dict[str, Component] = {}


def register(component: Component) -> Component:
    """Add (or replace) a component; the first one registered is the default."""
    COMPONENTS[component.name] = component
    return component


def unregister(name: str) -> None:
    COMPONENTS.pop(name, None)


def all_components() -> list[Component]:
    return list(COMPONENTS.values())


def default() -> Component:
    """The component `--component` means when it is left out."""
    return next(iter(COMPONENTS.values()))


def names_text(conjunction: str = "or") -> str:
    """`op-node or execution`: the accepted names, as a sentence."""
    names = list(COMPONENTS)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def pin_command(entry: Component, version: str) -> str:
    """The `inv source.pin` line that pins ENTRY at VERSION (no --component for the
    default)."""
    which = "" if entry is default() else f" --component {entry.name}"
    return f"inv source.pin{which} --version {version}"


def get(name: str) -> Component:
    """The component called NAME, or a one-line KitError naming the accepted ones."""
    found = COMPONENTS.get((name or "").strip())
    if found is None:
        raise KitError(f"unknown component {name!r}: use {names_text()}")
    return found


def by_service(service: str) -> Component | None:
    return next((c for c in COMPONENTS.values() if c.service == service), None)


def services() -> list[str]:
    return [c.service for c in COMPONENTS.values()]


def default_budgets() -> dict[str, str]:
    """{service: budget}: the `audit.budgets` defaults (invoke.yaml overrides them)."""
    return {c.service: c.budget for c in COMPONENTS.values()}


# ------------------------------------------------------------------ the table
register(Component(
    name="op-node",
    service="base-op-node",
    upstream="ethereum-optimism/optimism",
    # The monorepo tags every component; `op-node/v` lists exactly op-node's releases.
    tag_namespace="op-node/",
    v_prefix=True,
    version_var="OP_NODE_VERSION",
    commit_var="OP_NODE_COMMIT",
    go_var="GO_VERSION",
    repo_var="OP_NODE_REPO",
    # One stripped static Go binary on a small Alpine runtime: about 50 MB, so 60 MB is
    # that plus ~20% headroom. A Go toolchain, the monorepo or a module cache leaking
    # into the final stage costs hundreds of MB and fails this at once.
    budget="60MB",
    probe=Probe(entrypoint=("op-node",)),
    # op-node's --network help text lists the chains its binary embeds (optimism
    # op-service/flags/flags.go CLINetworkFlag at op-node/v1.9.4: "Available networks: "
    # + the names joined by ", "). op-node also takes other spellings (any case, and
    # mainnet/sepolia for op-mainnet/op-sepolia: op-node/chaincfg/chains.go ChainByName),
    # but the execution client gets the same NETWORK and reads configs/<NETWORK>.json
    # (its mainnet.json is Ethereum's), so only the listed spelling works for both.
    networks=Networks(setting="OP_NODE_NETWORK", custom="OP_NODE_ROLLUP_CONFIG",
                      command=("op-node", "--help"), marker="Available networks:"),
))
register(Component(
    name="execution",
    title="Nethermind",
    service="base-execution",
    upstream="NethermindEth/nethermind",
    version_var="NETHERMIND_VERSION",
    init_service="base-execution-init",
    # The official Nethermind image is a floor this kit cannot shrink, and it cannot be
    # pulled on the test machines, so this is an estimate (README, "Sizes"): dotnet/aspnet
    # on Ubuntu noble plus Nethermind's published build; Nethermind-based images were
    # 150-160 MB compressed on Docker Hub (2023), i.e. roughly 400-600 MB unpacked, and
    # aria2, zstd and curl add about 10 MB. 800 MB is the top of that plus a third, so a
    # first `inv build` passes; after it, `inv audit.layers --service base-execution`
    # shows the real split, and invoke.yaml can tighten the budget to what was measured.
    budget="800MB",
    probe=Probe(entrypoint=("./nethermind",), workdir="/nethermind"),
    # docker/execution/entrypoint.sh passes `--config $NETWORK`: Nethermind reads
    # configs/<name>.json beside its binary (/nethermind in the official image).
    networks=Networks(setting="NETWORK", custom="NETHERMIND_CONFIG",
                      folder="/nethermind/configs", suffix=".json"),
))
