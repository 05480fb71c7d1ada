"""Where the running stack answers: the `Target` of `inv status` (tasks/_status.py) for
the compose project as it runs.

Reads compose's resolved config (tasks/_compose.py, the one settings reader: ports,
op-node's environment with the L1 and beacon URLs and the JWT path), the engine's view
of the project's containers (which run, their addresses on the compose network), and
the JWT out of the running op-node container (the engine's archive endpoint, what
`docker cp` uses). tasks/_status.py's docstring says how each part is reached and the
limits of that.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import _rpc
from ._status import Report, Target, assess


def state_path(project: str | None, network: str | None) -> Path:
    """Where the readings for the rate are kept (per project and network)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{project or 'stack'}-{network or 'none'}")
    return Path(base) / "opstack-image-kit" / "status" / f"{name}.json"


def published(config: dict, service: str, port: int) -> str | None:
    """`http://HOST:PORT` where the host reaches SERVICE's container port PORT (compose's
    resolved `ports`), None when it is not published."""
    for entry in ((config.get("services") or {}).get(service) or {}).get("ports") or []:
        if not isinstance(entry, dict) or int(entry.get("target") or 0) != port:
            continue
        if (entry.get("protocol") or "tcp") != "tcp" or not entry.get("published"):
            continue
        host = entry.get("host_ip") or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{str(entry['published']).split('-')[0]}"
    return None


def container_ip(container: dict) -> str | None:
    networks = ((container.get("NetworkSettings") or {}).get("Networks") or {}).values()
    return next((n.get("IPAddress") for n in networks if n.get("IPAddress")), None)


def read_file_from(client, container_id: str, path: str) -> str:
    """The text of PATH in a container (the engine's archive endpoint: `docker cp`)."""
    import io
    import tarfile

    stream, _ = client.api.get_archive(container_id, path)
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(m for m in tar.getmembers() if m.isfile())
        return tar.extractfile(member).read().decode().strip()


def discover(config: dict, client, settings) -> Target:
    """The Target of the running compose project CONFIG (`docker compose config`), as
    the engine (CLIENT, the SDK) sees its containers; SETTINGS: `_config.settings`."""
    from . import _components, _engine
    from ._config import service_environment
    from ._errors import KitError

    op_node = _components.node().service
    execution = next(e.service for e in _components.in_use(settings.client) if e.client)
    env = service_environment(config, op_node)
    project = config.get("name")
    target = Target(network=settings.network, client=settings.client, pins=dict(settings.args),
                    project=project, l1=(env.get("OP_NODE_L1_ETH_RPC") or "").strip() or None,
                    beacon=(env.get("OP_NODE_L1_BEACON") or "").strip() or None)
    target.state_file = state_path(project, settings.network)
    for part, setting in (("l1", "L1_RPC_URL"), ("beacon", "L1_BEACON_URL")):
        if getattr(target, part) is None:
            target.problems[part] = f"{setting} is not set"
        else:
            target.routes[part] = f"{_rpc.where(getattr(target, part))} ({setting}, from this host)"
    for part, service, port in (("op_node", op_node, 9545), ("execution", execution, 8545)):
        url = published(config, service, port)
        setattr(target, part, url)
        if url:
            target.routes[part] = f"{url} (published by {service})"
        else:
            target.problems[part] = f"{service} publishes no port for {port}"
    running = {}
    try:
        for ct in _engine.project_containers(client, project):
            labels = (ct.get("Config") or {}).get("Labels") or {}
            if (ct.get("State") or {}).get("Running"):
                running[labels.get("com.docker.compose.service")] = ct
    except KitError as exc:
        target.problems["stack"] = f"cannot list the containers: {exc.reason}"
        return target
    if not running:
        target.problems["stack"] = f"not running (no running containers of compose project " \
                                   f"{project})"
        target.op_node = target.execution = None
        return target
    from . import _connect

    remote = _connect.endpoint().scheme == "ssh"
    if remote:
        target.problems["engine"] = ("the engine is reached over ssh: the execution "
                                     "container's address is on the other host's bridge; run "
                                     "`inv status` on the node's host")
    elif execution in running:
        ip = container_ip(running[execution])
        engine_url = (service_environment(config, op_node).get("OP_NODE_L2_ENGINE_RPC") or "")
        port = re.search(r":(\d+)", engine_url.split("//")[-1])
        port = port.group(1) if port else "8551"
        if ip:
            target.engine = f"http://{ip}:{port}"
            target.routes["engine"] = f"{target.engine} ({execution}'s address on the " \
                                      "compose network)"
        else:
            target.problems["engine"] = f"{execution} has no address on a compose network"
    else:
        target.problems["engine"] = f"{execution} is not running"
    jwt_path = (env.get("OP_NODE_L2_ENGINE_AUTH") or "").strip()
    holder = running.get(op_node) or running.get(execution)
    if holder is None or not jwt_path:
        target.problems["jwt"] = "op-node is not running" if jwt_path else \
            "op-node's OP_NODE_L2_ENGINE_AUTH is not set"
    else:
        try:
            target.jwt_secret = read_file_from(client, holder["Id"], jwt_path)
            target.routes["jwt"] = f"{jwt_path} in the running {_service_of(holder)} container"
        except Exception as exc:  # the engine refused, no such file
            lines = str(exc).strip().splitlines()
            target.problems["jwt"] = f"cannot read {jwt_path} from the container: " \
                                     f"{lines[0][:160] if lines else type(exc).__name__}"
    return target


def _service_of(container: dict) -> str:
    return ((container.get("Config") or {}).get("Labels") or {}).get(
        "com.docker.compose.service") or "?"


def take(c) -> Report:
    """One Report of the running stack: compose's resolved config (the one settings
    reader), the engine's view of the project's containers, then every probe."""
    from . import _compose, _config, _connect
    from ._errors import KitError

    config = _compose.compose_config(c)
    settings = _config.settings(config)
    try:
        client = _connect.engine_client(timeout=10, connect=_connect.connect_timeout(c))
    except KitError as exc:
        target = Target(network=settings.network, client=settings.client,
                        project=config.get("name"), pins=dict(settings.args))
        target.problems["stack"] = f"cannot ask the engine: {exc.reason}"
        return assess(target)
    try:
        target = discover(config, client, settings)
    finally:
        client.close()
    return assess(target)
