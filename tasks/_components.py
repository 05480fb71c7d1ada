"""The components this kit builds, one entry each: everything else derives from here.

A component is an image built from an upstream release: its name (what users type
after `inv build.` and `--component`), its compose service, its Dockerfile folder
(docker/<name>/), its upstream repository and tag form, the build args that pin it,
its default size budget, and how to ask its binary for its version.

Adding a component = one `Component(...)` entry below, its docker/<name>/ folder, and
its compose service with the pin variables as `${VAR:-default}` build args. Execution
clients share one service (base-execution): each has a `client`, the value of
CLIENT_SETTING (EXECUTION_CLIENT) that selects it, and its own compose file
docker/<client>.yml that compose.yml's service extends; `in_use(client)` is what the
kit builds, audits, cleans, releases and checks. Source,
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

from . import _chain_policy
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
    # A client that lists no names but answers for one: CHECK (run in the image, `{name}`
    # filled in) exits 0 for a name it knows. The name is the kit's network name (op-node's
    # spelling) turned into the client's by the chain policy's chain-name/chain-suffix
    # facts for CHAIN_NAMES (docker/lib/chain-policy; empty: the name stays). The client's
    # entry point maps it with the same facts (docker/lib/opkit.sh, opkit_chain_name).
    check: tuple[str, ...] = ()
    chain_names: str = ""

    def client_name(self, network: str) -> str:
        """NETWORK (as op-node spells it) as this client names it."""
        if not self.chain_names:
            return network
        return _chain_policy.chain_name(self.chain_names, network)

    def check_command(self, network: str) -> list[str]:
        """CHECK for NETWORK: the command that exits 0 when the image knows its name."""
        name = self.client_name(network)
        return [part.replace("{name}", name) for part in self.check]

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
    # Where the built image lists the networks it runs by name (doctor checks NETWORK
    # against it); None: the component takes no network.
    networks: Networks | None = None
    # The CLIENT_SETTING value that selects this component (an execution client; its
    # service is shared with the other clients); None: always in use.
    client: str | None = None
    # Build-time checks that only concern this component's image, by doctor: library
    # errors in its probe's output that mean its base lacks a library (e.g. ICU for .NET).
    library_errors: tuple[str, ...] = ()
    # What else to say when its image lacks a library (after "install it there").
    library_fix: str = ""
    # How a release's fork schedule is read (tasks/_readiness.py READERS: the keys of its
    # code and the data it embeds or ships); None: the component is not assessed.
    fork_reader: str | None = None
    # Settings the stack leaves empty (`${X:-}`) that its entry point refuses to start
    # without: (compose variable, the variable it becomes in this service's environment).
    required: tuple[tuple[str, str], ...] = ()
    # What its engine API's 401 answer says, by `inv status`: (text in the body, what it
    # means), so a JWT mismatch is named with the client's own reason.
    jwt_refusals: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """How people call it (`Nethermind`); the name when that is all there is."""
        return self.title or self.name

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
# The setting that picks the execution client (shell, .env, Portainer's env editor);
# compose.yml extends docker/${EXECUTION_CLIENT:-<default>}.yml, and the client's own
# file puts the value into its service's environment, where the kit reads it back.
CLIENT_SETTING = "EXECUTION_CLIENT"


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


def node() -> Component:
    """The rollup node (op-node): the component every stack runs, whatever the client;
    the network the stack follows is the one it is given."""
    return next(c for c in COMPONENTS.values() if c.client is None)


def get(name: str) -> Component:
    """The component called NAME, or a one-line KitError naming the accepted ones."""
    found = COMPONENTS.get((name or "").strip())
    if found is None:
        raise KitError(f"unknown component {name!r}: use {names_text()}")
    return found


def clients() -> list[str]:
    """The CLIENT_SETTING values the table knows, the default first."""
    return list(dict.fromkeys(c.client for c in COMPONENTS.values() if c.client))


def clients_names() -> list[str]:
    """The names of the client components (`execution`, `op-reth`)."""
    return [c.name for c in COMPONENTS.values() if c.client]


def default_client() -> str | None:
    """The client in use when CLIENT_SETTING is unset (the first one registered)."""
    return next(iter(clients()), None)


def check_client(value: str | None) -> str | None:
    """VALUE as a known client (None or empty: the default), else a one-line KitError
    naming the accepted values."""
    text = (value or "").strip()
    if not text:
        return default_client()
    if text not in clients():
        known = clients()
        accepted = " or ".join(known) if len(known) < 3 else \
            f"{', '.join(known[:-1])} or {known[-1]}"
        raise KitError(f"{CLIENT_SETTING}={text!r} is not an execution client this kit runs: "
                       f"set it to {accepted} (or leave it unset for {default_client()})")
    return text


def in_use(client: str | None = None) -> list[Component]:
    """The components a stack with CLIENT (None: the default) runs: every component
    without a client, and the client's own; in table order."""
    chosen = check_client(client)
    return [c for c in COMPONENTS.values() if c.client is None or c.client == chosen]


def by_service(service: str, client: str | None = None) -> Component | None:
    """The component in use on SERVICE with CLIENT (None: the default client)."""
    return next((c for c in in_use(client) if c.service == service),
                next((c for c in COMPONENTS.values() if c.service == service), None))


def services(client: str | None = None) -> list[str]:
    """The services of the components in use with CLIENT, once each, in table order."""
    return list(dict.fromkeys(c.service for c in in_use(client)))


def budget_key(entry: Component) -> str:
    """Where ENTRY's default budget sits in `audit.budgets`: its service, or, for a
    client sharing its service with others, its own name (a budget set on the service
    in invoke.yaml or --budget holds for whichever client is in use, and wins)."""
    return entry.name if entry.client else entry.service


def default_budgets() -> dict[str, str]:
    """{service or client component: budget}: the `audit.budgets` defaults (invoke.yaml
    overrides them)."""
    return {budget_key(c): c.budget for c in COMPONENTS.values()}


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
    fork_reader="op-node",
    # compose.yml passes these as `${X:-}`; op-node's entry point refuses to start without
    required=(("NETWORK", "OP_NODE_NETWORK"), ("L1_RPC_URL", "OP_NODE_L1_ETH_RPC"),
              ("L1_BEACON_URL", "OP_NODE_L1_BEACON")),
    library_fix=" (or build op-node with CGO_ENABLED=0: a static binary needs none)",
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
    client="nethermind",
    service="base-execution",
    upstream="NethermindEth/nethermind",
    version_var="NETHERMIND_VERSION",
    # The official Nethermind image is a floor this kit cannot shrink, and it cannot be
    # pulled on the test machines, so this is an estimate (docs/building.md, "Sizes:
    # audit.*"): dotnet/aspnet on Ubuntu noble plus Nethermind's published build;
    # Nethermind-based images were 150-160 MB compressed on Docker Hub (2023), i.e.
    # roughly 400-600 MB unpacked, and aria2, zstd and curl add about 10 MB. 800 MB is
    # the top of that plus a third, so a first `inv build` passes; after it, `inv
    # audit.layers --service base-execution` shows the real split, and invoke.yaml can
    # tighten the budget to what was measured.
    budget="800MB",
    probe=Probe(entrypoint=("./nethermind",), workdir="/nethermind"),
    fork_reader="nethermind",
    # docker/execution/entrypoint.sh passes `--config $NETWORK`: Nethermind reads
    # configs/<name>.json beside its binary (/nethermind in the official image).
    networks=Networks(setting="NETWORK", custom="NETHERMIND_CONFIG",
                      folder="/nethermind/configs", suffix=".json"),
    # .NET needs ICU at run time: an image without it fails `--version` with these.
    library_errors=("Couldn't find a valid ICU", "libicu"),
    # A 401 from its engine API is a JSON-RPC error -32600 "Authentication error"
    # (NethermindEth/nethermind src/Nethermind/Nethermind.Runner/JsonRpc/Startup.cs @038cdbf6).
    jwt_refusals=(("Authentication error", "Nethermind refused the token"),),
))
register(Component(
    name="op-reth",
    title="op-reth",
    client="op-reth",
    service="base-execution",
    # op-reth lives in the monorepo since 2026: tags op-reth/vX.Y.Z beside op-node's, and
    # OP Labs publishes the image .../oplabs-tools-artifacts/images/op-reth:vX.Y.Z that
    # docker/op-reth/ builds FROM (its tag is the version without the namespace).
    upstream="ethereum-optimism/optimism",
    tag_namespace="op-reth/",
    v_prefix=True,
    version_var="OP_RETH_VERSION",
    # An estimate, not measured: the OP Labs base cannot be pulled here, and no upstream
    # page states its size. Its parts (optimism rust/op-reth/DockerfileOp): one op-reth
    # binary built with `--profile maxperf` (reth-family release binaries are of the order
    # of 80-150 MB unpacked; not verified for op-reth v2.10.0), on chainguard/wolfi-base
    # with ca-certificates, openssl, libstdc++ and strace (some 20-40 MB); the kit's apk
    # layer (aria2, zstd, the healthcheck's tool, the scripts) some 10-20 MB. At most about
    # 210 MB, so 300 MB is that plus ~40%: the first build passes, and a leaked Rust
    # toolchain or cargo cache (gigabytes) fails at once. `inv audit.layers --service
    # base-execution` shows the real split; invoke.yaml can then tighten it
    # (docs/building.md, "Sizes: audit.*").
    budget="300MB",
    probe=Probe(entrypoint=("/usr/local/bin/op-reth",)),
    fork_reader="op-reth",
    # A 401's plain-text body: alloy-rs/alloy crates/rpc-types-engine/src/jwt.rs JwtError
    # texts (@014ea2bf), sent as the body by reth's auth layer (paradigmxyz/reth
    # crates/rpc/rpc-layer/src/auth_layer.rs @107ea054).
    jwt_refusals=(
        ("provided signature is invalid", "op-reth: the token is signed with another secret"),
        ("IAT (issued-at) claim", "op-reth: the token's iat is more than 60 s off its clock"),
        ("Authorization header is missing or invalid", "op-reth: no token reached it"),
    ),
    # The entry point maps NETWORK to op-reth's --chain name and asks the binary about
    # it: `op-reth dump-genesis --chain NAME` has to build the chain spec, so it exits
    # non-zero for a name op-reth does not know (optimism rust/op-reth/crates/cli/src/
    # chainspec.rs chain_value_parser; fixed names optimism, optimism-sepolia, ... and
    # registry chains as <name> (mainnet) or <name>-<superchain>, chain_spec_macro.rs).
    # OP_RETH_CHAIN overrides the mapped name: a name, or a genesis file in /chain-config.
    networks=Networks(setting="NETWORK", custom="OP_RETH_CHAIN",
                      check=("/usr/local/bin/op-reth", "dump-genesis", "--chain", "{name}"),
                      chain_names="op-reth"),
))
