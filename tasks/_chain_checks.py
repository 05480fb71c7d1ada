"""doctor's checks of the chain the stack runs: the network setting (Base, the chains
op-node dropped, the custom-chain escape hatch), the names the built images know, the
running containers (restart loops, health) and fork readiness."""

from __future__ import annotations

import time

from . import _chains, _components, _config, _engine, _forks
from ._chains import dropped_network, is_base_network, network_settings
from ._check import Check, EngineProbe
from ._errors import KitError

LOOP_WAIT = 3  # seconds between two readings of a container that restarted


def check_network(probe: EngineProbe, c) -> Check:
    """The network settings: set, not Base, and not a chain the pinned op-node dropped
    unless every client has a config file of its own (CONTRACTS: both
    OP_NODE_ROLLUP_CONFIG and NETHERMIND_CONFIG)."""
    config = probe.config
    if config is None:
        return Check("network", "skip", "needs the compose config")
    settings = network_settings(config)
    unset = unset_required(config)
    if not settings and not unset:
        return Check("network", "ok", "no network setting in the compose config (nothing "
                     "to check)")
    base = {k: v for k, v in settings.items() if is_base_network(v)}
    if base:  # a config file of its own does not help: the clients left Base, not the name
        where = ", ".join(f"{k}={v}" for k, v in base.items())
        return Check("network", "fail", f"{where}: Base moved to its own clients at the Azul "
                     "upgrade (Sepolia 2026-04-20, mainnet 2026-05-28); op-node and Nethermind "
                     "cannot follow it, and both entry points refuse it", "run Base with Base's "
                     "own node; use this stack for an OP Stack chain that still runs op-node "
                     "(e.g. op-mainnet)")
    op_node = _components.node()  # the dropped chains are op-node's registry's
    pinned = _config.build_args(config, op_node.service).get(op_node.version_var)
    verdicts = {k: (v, dropped_network(v, pinned)) for k, v in settings.items()}
    dropped = {k: found for k, found in verdicts.items() if found[1]}
    hatch = _chains.custom_configs(config)
    files = ", ".join(f"{k}={v}" for k, v in hatch.items())
    if dropped and not _chains.custom_chain(config):
        where = ", ".join(f"{k}={v}" for k, (v, _) in dropped.items())
        since = next(iter(dropped.values()))[1]
        missing = [k for k, v in hatch.items() if not v]
        unset = (f", and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                 "not set" if missing else "")
        clients = [e for e in _config.in_use(config) if e.networks and e.networks.custom
                   and e.client]
        theirs = " and ".join(f"{e.label} config" for e in clients)
        to_set = " and ".join(
            [f"{op_node.networks.custom}=/chain-config/<rollup>.json"]
            + [f"{e.networks.custom}=/chain-config/<{e.client}>.json" for e in clients])
        return Check("network", "fail", f"{where}: op-node {since} and newer (pinned: "
                     f"{pinned or '?'}) no longer embed this chain's config{unset}",
                     f"put the chain's rollup config{' and ' + theirs if theirs else ''} into "
                     "CHAIN_CONFIG_DIR (mounted at /chain-config) and set both "
                     f"{to_set} (see .env.example), or follow a chain op-node still embeds")
    if unset:  # what is set is no chain the stack refuses: say what is missing
        return Check("network", "warn", f"{', '.join(unset)} not set: fine for building, but "
                     "the entry points refuse to start the stack without it", "set "
                     f"{', '.join(unset)} in .env (or Portainer's env editor; see .env.example)")
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    if _chains.custom_chain(config):
        return Check("network", "ok", f"{shown}; custom chain: each client runs from its "
                     f"own config file ({files})")
    return Check("network", "ok", shown)


def _listing_hint(entry, ref: str) -> str:
    """The command that shows what ENTRY's image REF lists as its networks."""
    where = entry.networks
    if where.folder:
        return f"docker run --rm --entrypoint ls {ref} {where.folder}"
    return f"docker run --rm --entrypoint {where.command[0]} {ref} {' '.join(where.command[1:])}"


def check_network_names(probe: EngineProbe, c) -> list[Check]:
    """NETWORK against the names the built images know, read where the component table
    says each client lists them (op-node's embedded chains, Nethermind's configs)."""
    config, client = probe.config, probe.client
    if config is None or client is None:
        return [Check("network names", "skip", "needs the engine and the compose config")]
    images = _config.service_images(config)
    checks = []
    for entry in (e for e in _config.in_use(config) if e.networks):
        name, setting = f"network {entry.service}", entry.networks.setting
        value = str(_config.service_environment(config, entry.service).get(setting) or "").strip()
        own = _chains.custom_config(config, entry)
        ref = images.get(entry.service)
        if entry.networks.check and (own or value) and ref is not None \
                and _engine.inspect_images(client, [ref]):
            checks.append(_asked(client, entry, ref, value, own, probe.labels))
        elif own:
            checks.append(Check(name, "ok", f"{entry.networks.custom}={own}: {entry.label} "
                                "runs from that file, not from a network name"))
        elif not value:
            checks.append(Check(name, "skip", f"no network set ({setting})"))
        elif ref is None or not _engine.inspect_images(client, [ref]):
            checks.append(Check(name, "skip", f"{ref or entry.service} is not built: "
                                f"{setting}={value} is not checked against it (`inv build`)"))
        else:
            try:
                known = known_networks(client, entry, ref, probe.labels)
            except KitError as exc:
                known, why = None, exc.reason
            else:
                why = f"`{_listing_hint(entry, ref)}` shows no list"
            if known is None:
                checks.append(Check(name, "warn", f"{setting}={value} not checked: cannot read "
                                    f"which networks {ref} knows ({why})",
                                    "rebuild it (`inv build`) and run `inv doctor` again"))
            elif value in known:
                checks.append(Check(name, "ok", f"{setting}={value}: {ref} knows it"))
            else:
                near = _chains.nearest(value, known)
                checks.append(Check(
                    name, "fail", f"{setting}={value} is not among the {len(known)} networks "
                    f"{ref} lists" + (f" (nearest: {', '.join(near)})" if near else ""),
                    f"set NETWORK in .env to a name exactly as {entry.label} lists it "
                    f"(`{_listing_hint(entry, ref)}`); both clients get the same name"))
    return checks


def _asked(client, entry, ref: str, value: str, own: str, labels) -> Check:
    """ENTRY's image asked whether it knows NETWORK=VALUE (mapped to its own name), or
    its own setting OWN: a name is asked as given, a file path is the operator's."""
    name, where = f"network {entry.service}", entry.networks
    if own and own.startswith("/"):
        return Check(name, "ok", f"{where.custom}={own}: {entry.label} runs from that file, "
                     "not from a network name")
    asked = own or where.client_name(value)
    shown = (f"{where.custom}={own}" if own else f"{where.setting}={value}"
             + (f" (as {entry.label}'s {asked})" if asked != value else ""))
    try:
        known, said = knows_network(client, entry, ref, asked, labels, mapped=False)
    except KitError as exc:
        return Check(name, "warn", f"{shown} not checked: cannot run {entry.label} in {ref} "
                     f"({exc.reason})", "rebuild it (`inv build`) and run `inv doctor` again")
    if known:
        return Check(name, "ok", f"{shown}: {ref} knows it")
    command = " ".join(where.check[1:]).replace("{name}", asked)
    return Check(name, "fail", f"{shown}: {entry.label} in {ref} does not know it ({said})",
                 f"set NETWORK to a chain {entry.label} knows (`docker run --rm --entrypoint "
                 f"{where.check[0]} {ref} {command}` exits 0 for one), or "
                 f"{where.custom} to its name or a genesis file in /chain-config")


def check_stack(probe: EngineProbe, c) -> list[Check]:
    """When the stack runs (containers of the compose project exist): restart loops,
    services that gave up or failed, unhealthy ones."""
    from . import _running

    config, client = probe.config, probe.client
    if config is None or client is None or not config.get("name"):
        return [Check("stack", "skip", "needs the engine and the compose config")]
    project = config["name"]
    containers = _engine.project_containers(client, project)
    if not containers:
        return [Check("stack", "skip", f"not running (no containers of compose project "
                      f"{project})")]
    later: dict[str, dict] = {}
    if any(_running.may_loop(ct) for ct in containers):  # restarted: does it go on?
        time.sleep(LOOP_WAIT)
        later = {ct["Id"]: ct for ct in _engine.project_containers(client, project)}
    checks = []
    for ct in sorted(containers, key=_running.service):
        status, detail, fix = _running.verdict(ct, later.get(ct["Id"]))
        checks.append(Check(f"stack {_running.service(ct)}", status, detail, fix))
    return checks


def check_live(probe: EngineProbe, c) -> list[Check]:
    """When the stack runs: the live wiring `inv status` probes (tasks/_status.py): the
    engine API answers a request signed with op-node's JWT, the L1 RPC is on the chain
    the network needs, the beacon serves blob sidecars."""
    from . import _live, _status

    config, client = probe.config, probe.client
    if config is None or client is None or not config.get("name"):
        return [Check("live", "skip", "needs the engine and the compose config")]
    try:
        target = _live.discover(config, client, _config.settings(config))
    except KitError as exc:
        return [Check("live", "skip", exc.reason)]
    if "stack" in target.problems:
        return [Check("live", "skip", target.problems["stack"])]
    return [Check(f"live {p.name}", p.status, p.detail, p.fix) for p in _status.wiring(target)]


def unset_required(config: dict) -> list[str]:
    """The required settings (the table's `required`) that reach their service empty
    (compose.yml passes each as `${X:-}`; a project that does not pass one at all requires
    nothing of it)."""
    unset = []
    for entry in _components.all_components():
        if not entry.required or entry.service not in (config.get("services") or {}):
            continue
        env = _config.service_environment(config, entry.service)
        unset += [name for name, var in entry.required
                  if var in env and not str(env[var] or "").strip()]
    return unset


def check_forks(probe: EngineProbe, c) -> list[Check]:
    """Fork readiness of the clients in use for the configured network (`inv source.forks`),
    from GitHub or, unreachable, from the known-forks file; on an interop chain also what
    the node verifies without an op-supernode."""
    config = probe.config
    if config is None:
        return [Check("forks", "skip", "needs the compose config")]
    node = _components.node()  # the network is the one the rollup node follows
    env = _config.service_environment(config, node.service)
    network = str(env.get(node.networks.setting if node.networks else "") or "").strip()
    if not network:
        return [Check("forks", "skip", "no network configured (NETWORK): nothing to check")]
    pins = {}
    for entry in _components.all_components():
        pins.update(_config.build_args(config, entry.service))
    try:
        sel = _forks.selection(config)
        report = _forks.assess_or_known(network, pins, sel, c, compare_always=False)
    except KitError as exc:
        return [Check("forks", "warn", exc.reason, "`inv source.forks` shows the details")]
    checks = [_forks_verdict(report, network)]
    note = _forks.interop_note(report, _forks.follow_source(config))
    if note:
        checks.append(Check("interop", note[0], note[1], "" if note[0] == "ok" else
                            f"run an op-supernode and set {_forks.FOLLOW_SETTING} to its "
                            f"/<chainID> endpoint (see docs/building.md, \"Forks and upgrades\")"))
    return checks


def _forks_verdict(report, network: str) -> Check:
    from . import _readiness

    offline = f" (from {report.offline.rsplit('answering from ', 1)[-1]}: GitHub " \
              "unreachable)" if report.offline else ""
    blocking = report.blocking(_forks.DEFAULT_WITHIN)
    later = [(row, name) for row in report.rows for name in report.judged
             if name in row and row[name].status == "not-ready"]
    unknown = [f"{name} for {row['fork']}" for row in report.rows for name in report.judged
               if name in row and row[name].status == "unknown"]
    if blocking or later:
        row, name = (blocking[0][0], blocking[0][1]) if blocking else later[0]
        return Check("forks", "fail" if blocking else "warn",
                     _forks.headline(report, row, name, fix=False) + offline,
                     _forks.fix_for(report, row, name))
    if unknown:
        return Check("forks", "warn", f"{network}: readiness unknown ({', '.join(unknown[:3])}"
                     f"{', ...' if len(unknown) > 3 else ''}){offline}",
                     "`inv source.forks` says why")
    upcoming = [r for r in report.rows if (r["activation"] or 0) > report.now]
    nxt = ""
    if upcoming:
        soon = _readiness.relative(upcoming[0]["activation"], report.now)
        nxt = f"; next: {upcoming[0]['fork']} {soon}"
    pinned = ", ".join(f"{_components.get(n).label} {report.views[n].version}"
                       for n in report.judged)
    return Check("forks", "ok", f"{pinned} carry every fork scheduled for {network}{nxt}"
                 f"{offline}")


def knows_network(client, entry, image: str, network: str, labels: dict[str, str],
                  mapped: bool = True) -> tuple[bool, str]:
    """(whether the built IMAGE of ENTRY knows NETWORK, the last line it printed), asked
    with the table's `networks.check` command; MAPPED: NETWORK is the kit's name, turned
    into the client's first (else it is the client's own, e.g. OP_RETH_CHAIN)."""
    where = entry.networks
    name = where.client_name(network) if mapped else network
    command = [part.replace("{name}", name) for part in where.check]
    code, output = _engine.run_probe(client, image, command[1:], entrypoint=[command[0]],
                                     timeout=60, labels=labels)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return code == 0, (lines[-1] if lines else f"exit {code}")


def known_networks(client, entry, image: str, labels: dict[str, str]) -> list[str] | None:
    """The network names the built IMAGE of ENTRY knows, read where the table says its
    client lists them; None when the list is not where it should be."""
    where = entry.networks
    if where.folder:
        files = _engine.folder_names(client, image, where.folder, labels=labels)
        return None if files is None else where.names(files)
    _, output = _engine.run_probe(client, image, list(where.command[1:]),
                                  entrypoint=[where.command[0]], timeout=60, labels=labels)
    return where.parse(output)
