"""The compose config, read: what a resolved project (`docker compose config --format
json`, as tasks/py asks for it) says about the services, their build args and
environment, their images, and the settings the kit reads from it. Pure: the config is
handed in."""

from __future__ import annotations

from dataclasses import dataclass

from . import _components
from ._errors import KitError
from ._refs import normalize_ref

# The environment keys compose.yml hands the network to (op-node's, then the execution
# client's), where a resolved config says which network the stack follows.
NETWORK_KEYS = ("OP_NODE_NETWORK", "NETWORK")


@dataclass(frozen=True)
class Settings:
    """The kit's settings as compose resolves them (shell, then .env, then compose.yml's
    `${VAR:-default}`), read from one `docker compose config`: the network the stack
    follows and every component service's build args (the pins and clone URLs of the
    component table). The one reader of these: forks, the build's
    fork warning, source.pin and source.outdated all ask it."""

    network: str | None
    args: dict[str, str]
    # The execution client the stack runs (CLIENT_SETTING in the client service's
    # resolved environment; the default when the project does not say).
    client: str | None = None

    def pin(self, name: str | None) -> str | None:
        """The resolved value of build arg NAME, None when unset or empty."""
        return (self.args.get(name) or "").strip() or None if name else None

    def overridden(self, values: dict[str, str] | None) -> Settings:
        """These settings with VALUES (what a build hands compose) in force."""
        return Settings(self.network, {**self.args, **{k: str(v) for k, v in
                                                        (values or {}).items()}},
                        self.client)

    def in_use(self) -> list[_components.Component]:
        """The components this stack runs (`_components.in_use` of its client)."""
        return _components.in_use(self.client)


def service_environment(config: dict, service: str) -> dict[str, str]:
    """SERVICE's environment as a dict (compose may give it as KEY=VALUE lines)."""
    env = ((config.get("services") or {}).get(service) or {}).get("environment") or {}
    return dict(e.partition("=")[::2] for e in env) if isinstance(env, list) else env


def client_of(config: dict) -> str | None:
    """The execution client CONFIG runs: CLIENT_SETTING in the environment of the service
    the clients share (docker/<client>.yml sets it); the default client when no client
    service says; a one-line KitError naming the clients for a value the kit does not
    know."""
    services = {c.service for c in _components.all_components() if c.client}
    said = next((str(value).strip() for value in
                 (service_environment(config, name).get(_components.CLIENT_SETTING)
                  for name in services) if value is not None and str(value).strip()), None)
    return _components.check_client(said)


def settings(config: dict) -> Settings:
    """What compose resolved in CONFIG (`compose_config`): see `Settings`. A network
    nobody set (the build-time placeholder) is None."""
    args: dict[str, str] = {}
    network = None
    for entry in _components.all_components():
        service = (config.get("services") or {}).get(entry.service) or {}
        args.update({k: "" if v is None else str(v) for k, v in
                     ((service.get("build") or {}).get("args") or {}).items()})
        env = service_environment(config, entry.service)
        for key in NETWORK_KEYS:
            value = str(env.get(key) or "").strip()
            if network is None and value:
                network = value
    return Settings(network, args, client_of(config))


def built_services(config: dict) -> list[str]:
    """The services compose builds (those with a `build:` section), in config order."""
    return [n for n, s in (config.get("services") or {}).items() if s.get("build")]


def service_image(config: dict, service: str) -> str:
    """The `name:tag` SERVICE's image has: its `image:`, else compose's own default name
    `<project>-<service>` (tag latest)."""
    found = ((config.get("services") or {}).get(service) or {}).get("image")
    return normalize_ref(found or f"{config.get('name') or 'project'}-{service}")


def service_images(config: dict, services: list[str] | None = None) -> dict[str, str]:
    """service -> `name:tag` for the services compose builds (all of them if none build)."""
    all_services = config.get("services") or {}
    wanted = list(services or built_services(config) or all_services)
    unknown = [s for s in wanted if s not in all_services]
    if unknown:
        raise KitError(f"unknown service {', '.join(unknown)}: the compose project has "
                       f"{', '.join(all_services) or 'no services'}")
    return {name: service_image(config, name) for name in wanted}


def in_use(config: dict) -> list[_components.Component]:
    """The components CONFIG's stack runs: op-node and the execution client it selects."""
    return _components.in_use(client_of(config))


def built_images(config: dict | None) -> dict[str, str]:
    """service -> image of the services compose builds (none without a CONFIG)."""
    return {name: service_image(config, name)
            for name in built_services(config)} if config else {}


def build_args(config: dict, service: str) -> dict:
    """A service's build args."""
    return (((config.get("services") or {}).get(service) or {}).get("build") or {}).get(
        "args") or {}
