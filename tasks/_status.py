"""Is the running node healthy, in sync and wired right: the probes and their verdicts.

A service: it decides and returns data (`Report`), never prints. `assess` runs the
probes against a `Target`: tasks/_live.py finds it for the running stack (tests build
one by hand, pointing at stand-in servers); tasks/status.py prints what it returns, and
doctor's live checks reuse `wiring`.

How each part is reached from the host `inv` runs on (tasks/_live.py):
- op-node's RPC (9545) and the execution client's RPC (8545): the host ports compose.yml
  publishes (OP_NODE_RPC_BIND/PORT, EXECUTION_RPC_BIND/PORT; 0.0.0.0 is asked on
  127.0.0.1).
- The engine API (8551) is published nowhere: the execution container's address on the
  compose network, which a Linux host reaches over the bridge. Not from Docker Desktop
  (the bridge lives in a VM) or over DOCKER_HOST=ssh://... (the bridge is on the other
  host): the probe then says it cannot reach the address and why.
- The JWT: the file op-node's OP_NODE_L2_ENGINE_AUTH names, copied out of the running
  op-node container through the engine API (`docker cp`'s archive endpoint; no exec, no
  shell in the image needed), so the check signs with exactly the secret op-node uses.
- L1 and beacon: the URLs op-node is given (L1_RPC_URL, L1_BEACON_URL), asked from the
  host; a URL only the containers can resolve (a compose service name) cannot be asked.

Verdicts: `ok`; `warn` (degraded: it runs but something is off: behind, EL sync, few
peers, versions not the pins, a fork the running versions lack); `fail` (down: it
cannot follow the chain: op-node or the execution client does not answer, the engine
API refuses the JWT, L1 on the wrong chain, chain ids differ, blobs pruned); `skip` (the
probe could not run, and says why). Exit codes: 0 healthy, 1 degraded, 2 down.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import _rpc

LEVEL = {"ok": 0, "skip": 0, "warn": 1, "fail": 2}
OVERALL = {0: "healthy", 1: "degraded", 2: "down"}

# How far behind wall-clock time a head may be before it is called behind (seconds):
# the unsafe head follows the sequencer within seconds; the safe head waits for the
# batcher (minutes); finalized waits for L1 finality (about 13 minutes plus the safe lag).
LAG_LIMITS = {"unsafe": 120, "safe": 3600, "finalized": 3 * 3600}
# The L1 each superchain settles on (op-node network names end in the superchain's).
SUPERCHAIN_L1 = {"mainnet": 1, "sepolia": 11155111}
L1_NAMES = {1: "Ethereum mainnet", 11155111: "Sepolia", 17000: "Holesky", 560048: "Hoodi"}
RATE_WINDOW = 60  # seconds: the rate is measured over (about) the last minute
KEEP_SAMPLES = 15 * 60  # seconds of samples the state file keeps
MIN_PEERS = 1
SECONDS_PER_SLOT = 12
_CORE = re.compile(r"v?(\d+\.\d+\.\d+(?:-rc\.\d+)?)")


# ----------------------------------------------------------------------- data
@dataclass
class Probe:
    """One line of the report: a verdict, one line of detail, the fix for a warn or fail,
    what it cost, and its numbers (`data`, for --json and the textfile)."""

    name: str
    status: str
    detail: str
    fix: str = ""
    seconds: float = 0.0
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix, "seconds": round(self.seconds, 4), "data": self.data}


@dataclass
class Target:
    """Where the running stack answers and what it is compared with. A URL that is None
    could not be found: `problems` says why. `routes` says how each is reached."""

    op_node: str | None = None
    execution: str | None = None
    engine: str | None = None
    l1: str | None = None
    beacon: str | None = None
    jwt_secret: str | None = None
    network: str | None = None
    client: str | None = None  # EXECUTION_CLIENT's value: nethermind, op-reth
    pins: dict[str, str] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    project: str | None = None
    state_file: Path | None = None
    timeout: float = _rpc.TIMEOUT
    forks: bool = True  # ask the fork readiness (cache only)

    def why(self, part: str) -> str:
        return self.problems.get(part) or f"no {part} address"


@dataclass
class Report:
    time: float
    target: Target
    probes: list[Probe]
    seconds: float = 0.0

    @property
    def level(self) -> int:
        return max((LEVEL[p.status] for p in self.probes), default=2)

    @property
    def overall(self) -> str:
        return OVERALL[self.level]

    def probe(self, name: str) -> Probe | None:
        return next((p for p in self.probes if p.name == name), None)

    def as_json(self) -> dict:
        """The documented --json shape (docs/status.md)."""
        t = self.target
        return {"schema": 1, "time": int(self.time),
                "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time)),
                "project": t.project, "network": t.network, "client": t.client,
                "overall": self.overall, "exit_code": self.level,
                "seconds": round(self.seconds, 4), "routes": dict(t.routes),
                "probes": [p.as_dict() for p in self.probes]}


# ----------------------------------------------------------------- parsing
def head(ref) -> dict | None:
    """{number, timestamp, hash} of a block ref in optimism_syncStatus, whichever way
    its numbers come (integers, or hex/decimal strings); None when absent."""
    if not isinstance(ref, dict):
        return None
    number = _rpc.quantity(ref.get("number"))
    stamp = _rpc.quantity(ref.get("timestamp"))
    if number is None:
        return None
    return {"number": number, "timestamp": stamp, "hash": ref.get("hash")}


# The heads status reads; the cross-* ones only older op-node releases send.
HEADS = ("unsafe_l2", "safe_l2", "finalized_l2")
OPTIONAL_HEADS = ("cross_unsafe_l2", "cross_safe_l2", "local_safe_l2")
L1_HEADS = ("current_l1", "head_l1")


def sync_status(result) -> dict:
    """What status reads of an optimism_syncStatus RESULT: each head present (L2 and
    L1), tolerant of the shape (fields absent since optimism #22555, numbers as
    integers or strings)."""
    if not isinstance(result, dict):
        raise ValueError("optimism_syncStatus answered no object")
    found = {name: head(result.get(name)) for name in (*HEADS, *OPTIONAL_HEADS, *L1_HEADS)}
    missing = [name for name in HEADS if found[name] is None]
    if missing:
        raise ValueError(f"optimism_syncStatus has no {', '.join(missing)}")
    return {name: value for name, value in found.items() if value is not None}


def version_core(text: str | None) -> str | None:
    """`1.21.0` from `v1.21.0-2ad3799f-1733...`, `Nethermind/v1.39.3+28cb.../linux-x64`,
    `reth/v2.10.0-.../x86_64...`: the first X.Y.Z (with -rc.N) in TEXT."""
    found = _CORE.search(text or "")
    return found.group(1) if found else None


def expected_l1(network: str | None) -> int | None:
    """The L1 chain id NETWORK settles on: op-node names end in their superchain
    (op-sepolia, ink-mainnet, soneium-minato-sepolia)."""
    tail = (network or "").rsplit("-", 1)[-1].lower()
    return SUPERCHAIN_L1.get(tail)


def ago(seconds: float | None) -> str:
    """`4 s`, `3 min`, `2.5 h`, `3.1 d` (how far behind)."""
    if seconds is None:
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


# ------------------------------------------------------------------ the run
class Run:
    """One assessment: each RPC answer asked once (a probe reuses another's), the cost
    of each call charged to the probe that made it."""

    def __init__(self, target: Target, now: float) -> None:
        self.target, self.now = target, now
        self.answers: dict[tuple, tuple] = {}
        self.spent = 0.0

    def ask(self, part: str, method: str, params: list | None = None, jwt: bool = False):
        """(result, None) or (None, one-line reason) of METHOD on PART's URL."""
        url = getattr(self.target, part)
        key = (part, method, json.dumps(params or []))
        if key in self.answers:
            return self.answers[key]
        if url is None:
            answer = (None, self.target.why(part))
        else:
            start = time.perf_counter()
            try:
                secret = self.target.jwt_secret if jwt else None
                answer = (_rpc.call(url, method, params, self.target.timeout, secret), None)
            except _rpc.RpcError as exc:
                answer = (None, exc)
            self.spent += time.perf_counter() - start
        self.answers[key] = answer
        return answer


def _reason(error) -> str:
    return error.reason if isinstance(error, _rpc.RpcError) else str(error)


def probe_sync(run: Run) -> Probe:
    result, error = run.ask("op_node", "optimism_syncStatus")
    if error is not None:
        return Probe("sync", "fail", f"op-node: {_reason(error)}",
                     f"`docker compose ps` and `docker compose logs {_services()[0]}` show why "
                     "op-node does not answer")
    try:
        heads = sync_status(result)
    except ValueError as exc:
        return Probe("sync", "fail", f"op-node: {exc}", "report the op-node version (inv status "
                     "--json) as a bug in the kit's reader")
    lags = {name.removesuffix("_l2"): (run.now - heads[name]["timestamp"]
                                       if heads[name].get("timestamp") else None)
            for name in HEADS}
    data = {"heads": {name.removesuffix("_l2"): heads[name] for name in HEADS},
            "lag_seconds": {k: (round(v, 1) if v is not None else None)
                            for k, v in lags.items()},
            "l1": {name: heads[name] for name in L1_HEADS if name in heads},
            "cross": {name: heads[name] for name in OPTIONAL_HEADS if name in heads},
            "el_sync": False}
    unsafe, safe, final = (heads[name]["number"] for name in HEADS)
    l1 = heads.get("current_l1")
    l1_text = f"; L1 #{l1['number']}" if l1 else ""
    if unsafe > 0 and safe == 0 and final == 0:
        data["el_sync"] = True
        return Probe("sync", "warn", f"EL sync in progress (expected): unsafe #{unsafe} "
                     f"({ago(lags['unsafe'])} behind), safe and finalized stay 0 until the "
                     f"execution client has the chain{l1_text}",
                     "nothing to fix: wait (`inv status --watch 30` follows it)", data=data)
    text = ", ".join(f"{name} #{heads[name + '_l2']['number']} ({ago(lags[name])})"
                     for name in ("unsafe", "safe", "finalized")) + l1_text
    behind = [name for name, limit in LAG_LIMITS.items()
              if lags[name] is not None and lags[name] > limit]
    if behind:
        return Probe("sync", "warn", f"behind: {text}", "if it does not catch up (see "
                     f"progress), check L1/beacon below and `docker compose logs {_services()[0]}`",
                     data=data)
    return Probe("sync", "ok", text, data=data)


# ------------------------------------------------------------- progress
def load_samples(path: Path | None) -> list[dict]:
    if path is None:
        return []
    try:
        samples = json.loads(path.read_text()).get("samples", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [s for s in samples if isinstance(s, dict) and {"t", "number", "timestamp"} <= set(s)]


def save_samples(path: Path | None, samples: list[dict]) -> None:
    """Atomically (a temp file beside it, then a rename); best effort."""
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".status-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump({"samples": samples}, handle)
        os.replace(tmp, path)
    except OSError:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def progress(samples: list[dict], now: float, number: int, stamp: int) -> dict | None:
    """Rate and ETA from the earlier SAMPLES to now's unsafe head (NUMBER, its L2
    timestamp STAMP): against the newest sample at least RATE_WINDOW old, else the
    oldest one at least 5 s old; None without one."""
    earlier = [s for s in samples if now - s["t"] >= 5 and s["number"] <= number]
    if not earlier:
        return None
    window = [s for s in earlier if now - s["t"] >= RATE_WINDOW]
    base = max(window, key=lambda s: s["t"]) if window else min(earlier, key=lambda s: s["t"])
    elapsed = now - base["t"]
    rate = (number - base["number"]) / elapsed
    chain_speed = (stamp - base["timestamp"]) / elapsed  # L2 seconds per second
    lag = max(0.0, now - stamp)
    eta = lag / (chain_speed - 1) if chain_speed > 1 else None
    return {"rate_blocks_per_second": round(rate, 3), "chain_seconds_per_second":
            round(chain_speed, 3), "over_seconds": round(elapsed, 1),
            "eta_seconds": round(eta) if eta is not None else None}


def probe_progress(run: Run, sync: Probe) -> Probe:
    heads = sync.data.get("heads")
    if not heads:
        return Probe("progress", "skip", "needs op-node's sync status")
    unsafe = heads["unsafe"]
    if unsafe.get("timestamp") is None:
        return Probe("progress", "skip", "op-node's unsafe head has no timestamp")
    path = run.target.state_file
    samples = [s for s in load_samples(path) if run.now - s["t"] <= KEEP_SAMPLES]
    found = progress(samples, run.now, unsafe["number"], unsafe["timestamp"])
    samples.append({"t": round(run.now, 3), "number": unsafe["number"],
                    "timestamp": unsafe["timestamp"]})
    save_samples(path, samples[-64:])
    lag = sync.data["lag_seconds"]["unsafe"] or 0.0
    if found is None:
        again = f"run `inv status` again in a minute (readings are kept in {path}) or " \
            if path else ""
        return Probe("progress", "skip", f"the rate needs a second reading: {again}use "
                     "--watch")
    rate = found["rate_blocks_per_second"]
    text = f"{rate:g} blocks/s over the last {found['over_seconds']:.0f} s"
    if lag <= LAG_LIMITS["unsafe"]:
        return Probe("progress", "ok", f"{text}; at the tip", data=found)
    if found["eta_seconds"] is None:
        return Probe("progress", "warn", f"{text}; not catching up ({ago(lag)} behind)",
                     f"check L1/beacon (below) and `docker compose logs {_services()[0]}`",
                     data=found)
    return Probe("progress", "ok", f"{text}; {ago(lag)} behind, at the tip in about "
                 f"{ago(found['eta_seconds'])}", data=found)


# ------------------------------------------------------------- execution
def probe_execution(run: Run) -> Probe:
    number, error = run.ask("execution", "eth_blockNumber")
    if error is not None:
        return Probe("execution", "fail", f"execution client: {_reason(error)}",
                     f"`docker compose ps` and `docker compose logs {_services()[1]}` show why")
    peers, perr = run.ask("execution", "net_peerCount")
    block = _rpc.quantity(number)
    count = _rpc.quantity(peers)
    data = {"head": block, "peers": count}
    text = f"head #{block}" + (f", {count} peer(s)" if count is not None
                               else f"; peers unknown ({_reason(perr)})")
    if count is not None and count < MIN_PEERS:
        return Probe("execution", "warn", f"{text}: no peers", "open the P2P port "
                     "(EXECUTION_P2P_PORT, TCP and UDP) in the firewall", data=data)
    return Probe("execution", "ok", text, data=data)


# ------------------------------------------------------------- wiring
def jwt_refusal(body: str) -> str:
    """Which client's 401 BODY this is, in words (the component table's `jwt_refusals`),
    or the body's first line."""
    from . import _components

    for entry in _components.all_components():
        for sign, meaning in entry.jwt_refusals:
            if sign in (body or ""):
                return meaning
    lines = [line.strip() for line in (body or "").splitlines() if line.strip()]
    return f"it said {lines[0][:120]!r}" if lines else "no reason given"


def _services() -> tuple[str, str]:
    """(op-node's service, the execution client's service), from the component table."""
    from . import _components

    node = _components.node().service
    return node, next(e.service for e in _components.all_components()
                      if e.client and e.service != node)


def jwt_fix() -> str:
    node, execution = _services()
    return ("both services must read the one secret in the jwt volume: check that "
            f"{execution} and {node} mount jwt:/secrets and nobody set "
            "OP_NODE_L2_ENGINE_AUTH or the client's secret flag elsewhere, then `docker "
            f"compose up -d --force-recreate {execution} {node}`")


def probe_engine(run: Run) -> Probe:
    target = run.target
    if target.jwt_secret is None:
        return Probe("engine", "skip", f"cannot sign a request: {target.why('jwt')}")
    if target.engine is None:
        return Probe("engine", "skip", f"cannot reach the engine API: {target.why('engine')}")
    result, error = run.ask("engine", "eth_chainId", jwt=True)
    if isinstance(error, _rpc.RpcError) and error.status == 401:
        return Probe("engine", "fail", f"JWT mismatch: the engine API answered 401 "
                     f"({jwt_refusal(error.body)})", jwt_fix(), data={"http_status": 401})
    if error is not None:
        return Probe("engine", "fail", f"engine API: {_reason(error)}",
                     f"`docker compose logs {_services()[1]}`: is its engine API on 0.0.0.0:8551?")
    chain = _rpc.quantity(result)
    return Probe("engine", "ok", f"answers eth_chainId ({chain}) signed with op-node's JWT",
                 data={"chain_id": chain})


def probe_chain_id(run: Run) -> Probe:
    config, error = run.ask("op_node", "optimism_rollupConfig")
    theirs, terr = run.ask("execution", "eth_chainId")
    if error is not None or terr is not None:
        why = _reason(error) if error is not None else _reason(terr)
        return Probe("chain id", "skip", f"cannot compare: {why}")
    ours = _rpc.quantity((config or {}).get("l2_chain_id")) if isinstance(config, dict) \
        else None
    execution = _rpc.quantity(theirs)
    data = {"op_node": ours, "execution": execution}
    if ours is None:
        return Probe("chain id", "skip", "op-node's rollup config has no l2_chain_id", data=data)
    if ours != execution:
        return Probe("chain id", "fail", f"op-node follows L2 chain {ours}, the execution "
                     f"client runs chain {execution}", "set NETWORK (or the custom config "
                     "files) so both name the same chain; a client on the wrong chain needs "
                     "its data volume removed", data=data)
    return Probe("chain id", "ok", f"op-node and the execution client both on {ours}",
                 data=data)


def probe_l1(run: Run) -> Probe:
    """L1's chain against the one op-node's rollup config names (`l1_chain_id`), else
    the one the network's name implies."""
    if run.target.l1 is None:
        return Probe("l1", "skip", run.target.why("l1"))
    config, _ = run.ask("op_node", "optimism_rollupConfig")
    said = _rpc.quantity(config.get("l1_chain_id")) if isinstance(config, dict) else None
    want = said if said is not None else expected_l1(run.target.network)
    source = "op-node's rollup config" if said is not None else "its name"
    result, error = run.ask("l1", "eth_chainId")
    if error is not None:
        return Probe("l1", "fail", f"L1 RPC: {_reason(error)}", "check L1_RPC_URL (an "
                     "endpoint that answers from this host), its rate limit and its key")
    chain = _rpc.quantity(result)
    data = {"chain_id": chain, "expected": want}
    if want is None:
        return Probe("l1", "ok", f"L1 chain {chain}; which L1 {run.target.network} needs is "
                     "not known (no l1_chain_id from op-node, nothing in its name)", data=data)
    name = L1_NAMES.get(want, f"chain {want}")
    if chain != want:
        return Probe("l1", "fail", f"L1 RPC is on chain {chain} "
                     f"({L1_NAMES.get(chain, 'unknown')}), {run.target.network} needs "
                     f"{want} ({name}, from {source})", f"set L1_RPC_URL (and L1_BEACON_URL) "
                     f"to {name} endpoints", data=data)
    return Probe("l1", "ok", f"L1 RPC on {name} ({chain})", data=data)


def probe_beacon(run: Run) -> Probe:
    base = run.target.beacon
    if base is None:
        return Probe("beacon", "skip", run.target.why("beacon"))
    base = base.rstrip("/")
    start = time.perf_counter()
    try:
        status, answer = _rpc.get_json(f"{base}/eth/v1/beacon/headers/head", run.target.timeout)
        slot = _rpc.quantity(((((answer or {}).get("data") or {}).get("header") or {})
                              .get("message") or {}).get("slot")) if isinstance(answer, dict) \
            else None
        if status != 200 or slot is None:
            run.spent += time.perf_counter() - start
            return Probe("beacon", "fail", f"beacon: headers/head answered HTTP {status}"
                         + ("" if status != 200 else " without a slot"),
                         "check L1_BEACON_URL: a beacon node's REST API (e.g. :5052)")
        recent = max(0, slot - 2)
        status, blobs = _rpc.get_json(f"{base}/eth/v1/beacon/blob_sidecars/{recent}",
                                      run.target.timeout)
    except _rpc.RpcError as exc:
        run.spent += time.perf_counter() - start
        return Probe("beacon", "fail", f"beacon: {exc.reason}", "check L1_BEACON_URL, its "
                     "rate limit and its key")
    run.spent += time.perf_counter() - start
    data = {"head_slot": slot, "slot": recent, "http_status": status}
    fix = ("use a beacon endpoint that keeps blob sidecars (a node not started with blob "
           "pruning below the 18-day window, or an archival blob provider)")
    if status == 404:
        return Probe("beacon", "fail", f"beacon has no blob sidecars for recent slot {recent} "
                     "(404: pruned or never kept)", fix, data=data)
    if status != 200 or not isinstance(blobs, dict) or not isinstance(blobs.get("data"), list):
        return Probe("beacon", "fail", f"beacon: blob_sidecars/{recent} answered HTTP {status}",
                     fix, data=data)
    count = len(blobs["data"])
    data["sidecars"] = count
    if count == 0:
        return Probe("beacon", "warn", f"head slot {slot}; blob_sidecars/{recent} answered an "
                     "empty list (no blobs in that block, or the beacon does not keep them)",
                     f"if it stays empty: {fix}", data=data)
    return Probe("beacon", "ok", f"head slot {slot}; serves blob sidecars ({count} at slot "
                 f"{recent})", data=data)


# ------------------------------------------------------------- versions
def running_versions(run: Run) -> dict[str, dict]:
    """{component: {running, core, pin}} of op-node and the execution client in use."""
    from . import _components

    out = {}
    for entry in _components.in_use(run.target.client):
        part, method = ("op_node", "optimism_version") if entry.client is None \
            else ("execution", "web3_clientVersion")
        said, error = run.ask(part, method)
        pin = run.target.pins.get(entry.version_var)
        out[entry.name] = {"label": entry.label, "running": said if error is None else None,
                           "core": version_core(said) if error is None else None,
                           "pin": pin, "pin_var": entry.version_var,
                           "error": _reason(error) if error is not None else None}
    return out


def probe_versions(run: Run) -> Probe:
    found = running_versions(run)
    parts, off, fix = [], [], ""
    for v in found.values():
        if v["error"]:
            parts.append(f"{v['label']} ?")
            continue
        parts.append(f"{v['label']} {v['core'] or v['running']}")
        if v["pin"] and v["core"] != version_core(v["pin"]):
            off.append(f"{v['label']} runs {v['core'] or repr(v['running'])}, "
                       f"{v['pin_var']} pins {v['pin']}")
    data = {name: {k: v[k] for k in ("running", "core", "pin")} for name, v in found.items()}
    if off:
        fix = "`inv build`, then `docker compose up -d` (a container keeps the image it " \
              "was started with until it is recreated)"
        return Probe("versions", "warn", "; ".join(off), fix, data=data)
    if all(v["error"] for v in found.values()):
        return Probe("versions", "skip", "no client answered", data=data)
    return Probe("versions", "ok", ", ".join(parts) + " (the pins)", data=data)


# ------------------------------------------------------------- forks
def probe_forks(run: Run, versions: Probe) -> Probe:
    """The next scheduled fork and whether the running versions carry it: the readiness
    `inv source.forks` gives, from GitHub's cache only (never a request), else the
    known-forks file."""
    from . import _components, _readiness
    from ._errors import KitError
    from ._github import GitHub, Unreachable

    target = run.target
    if not target.network:
        return Probe("forks", "skip", "no network set (NETWORK)")
    pins = dict(target.pins)
    for name, v in (versions.data or {}).items():
        entry = _components.get(name)
        pinned = pins.get(entry.version_var) or ""
        if v.get("core") and v["core"] != version_core(pinned):  # judge what runs
            pins[entry.version_var] = entry.version_text(v["core"])
    in_use = _readiness.readable([e.name for e in _components.in_use(target.client)])
    try:
        try:
            report = _readiness.assess(target.network, pins, github=GitHub(cache_only=True),
                                       now=run.now, components=in_use, others=())
        except Unreachable as exc:
            report = _readiness.answer_known(target.network, pins, in_use, (), run.now, exc.reason)
    except KitError as exc:
        return Probe("forks", "skip", exc.reason)
    upcoming = [row for row in report.rows if (row["activation"] or 0) > run.now]
    if not upcoming:
        return Probe("forks", "ok", f"no fork scheduled for {target.network} after now",
                     data={"next": None})
    row = upcoming[0]
    verdicts = {name: row[name] for name in report.judged if name in row}
    lacking = [name for name, v in verdicts.items() if v.status == "not-ready"]
    unknown = [name for name, v in verdicts.items() if v.status == "unknown"]
    when = f"{row['fork']} {_readiness.relative(row['activation'], run.now)} " \
           f"({_readiness.utc(row['activation'])})"
    source = " (known-forks file)" if report.offline else ""
    data = {"next": row["fork"], "activation": row["activation"],
            "verdicts": {name: v.status for name, v in verdicts.items()}}
    if lacking:
        name = lacking[0]
        view = report.views[name]
        return Probe("forks", "warn", f"next: {when}; {_components.get(name).label} "
                     f"{view.version} does not carry it{source}",
                     "`inv source.forks` names the release that does", data=data)
    if unknown:
        name = unknown[0]
        return Probe("forks", "warn", f"next: {when}; whether "
                     f"{_components.get(name).label} carries it is unknown: "
                     f"{verdicts[name].reason}{source}", "`inv source.forks` (on a host that "
                     "reaches GitHub) reads it", data=data)
    return Probe("forks", "ok", f"next: {when}; the running versions carry it{source}",
                 data=data)


# ------------------------------------------------------------- the whole
def _timed(run: Run, fn, *args) -> Probe:
    run.spent = 0.0
    start = time.perf_counter()
    try:
        result = fn(run, *args)
    except Exception as exc:  # a probe must not end status in a traceback
        lines = str(exc).strip().splitlines()
        result = Probe(fn.__name__.removeprefix("probe_").replace("_", " "), "fail",
                       f"probe crashed: {lines[0] if lines else type(exc).__name__}",
                       "report this as a bug")
    result.seconds = time.perf_counter() - start
    return result


def wiring(target: Target, now: float | None = None) -> list[Probe]:
    """The live wiring probes doctor runs: JWT (engine API), L1 chain, beacon blobs."""
    run = Run(target, time.time() if now is None else now)
    return [_timed(run, fn) for fn in (probe_engine, probe_l1, probe_beacon)]


def assess(target: Target, now: float | None = None) -> Report:
    """Every probe against TARGET, in the order they print."""
    start = time.perf_counter()
    run = Run(target, time.time() if now is None else now)
    probes = list(target_problems(target))
    if probes and target.op_node is None and target.execution is None:
        return Report(run.now, target, probes, time.perf_counter() - start)
    sync = _timed(run, probe_sync)
    probes.append(sync)
    probes.append(_timed(run, probe_progress, sync))
    probes.append(_timed(run, probe_execution))
    for fn in (probe_engine, probe_chain_id, probe_l1, probe_beacon):
        probes.append(_timed(run, fn))
    versions = _timed(run, probe_versions)
    probes.append(versions)
    if target.forks:
        probes.append(_timed(run, probe_forks, versions))
    return Report(run.now, target, probes, time.perf_counter() - start)


def target_problems(target: Target) -> list[Probe]:
    """A `stack` line when discovery found the stack not running."""
    why = target.problems.get("stack")
    return [Probe("stack", "fail", why, "`docker compose up -d` starts it")] if why else []
