"""The mesh configuration: typed frozen dataclasses parsed from a TOML file and the env.

`MeshConfig` holds what every service shares (ports, addresses, secrets, stores all
services use, logging, telemetry). Each service has its own settings dataclass, declared
with the same `setting()` and read from `TICKMESH_<SERVICE>_*` and the file's `[<service>]`
table by `load_settings(cls, config, section)`, from the same sources the config came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mesh.tenancy.signing import MIN_SECRET_BYTES
from mesh.tier_pools import Pool, PoolSpecError, parse_pools

ENV_PREFIX = "TICKMESH_"
CONFIG_ENV = "TICKMESH_CONFIG"

SERVICES: tuple[str, ...] = ("hub", "ingestion", "bridge", "storage", "billing", "workflow")
"""The mesh's services; each has a `<service>_port` field."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
OTEL_EXPORTERS = ("none", "otlp", "console")

DEFAULT_DATA_DIR = Path(".tickmesh")

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names its key."""


class Invalid(ValueError):
    """Raised by a cast with what it expected; the loader prefixes the key."""


# --- casting functions -------------------------------------------------------------------
# Each takes the raw value (a str from the environment, or any TOML value) and returns the
# typed value or raises Invalid saying what was expected. TOML values arrive already typed,
# so casts accept the native type as well as its string spelling, never a bool for a number.

_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def as_str(raw: object) -> str:
    if not isinstance(raw, str):
        raise Invalid(f"expected a string, got {raw!r}")
    return raw


def as_optional_str(raw: object) -> str | None:
    # An empty value unsets an optional field, so `TICKMESH_REDIS_URL=` means "embedded".
    value = as_str(raw).strip()
    return value or None


def as_host(raw: object) -> str:
    value = as_str(raw).strip()
    if not value or any(c.isspace() for c in value):
        raise Invalid(f"expected a host name or IP address, got {raw!r}")
    return value


def as_port(raw: object) -> int:
    expected = f"expected an integer 0-65535, got {raw!r}"
    if isinstance(raw, bool):
        raise Invalid(expected)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INT_RE.match(raw.strip()):
        value = int(raw.strip())
    else:
        raise Invalid(expected)
    if not 0 <= value <= 65535:
        raise Invalid(expected)
    return value


def as_seconds(raw: object) -> float:
    expected = f"expected a non-negative number of seconds, got {raw!r}"
    if isinstance(raw, bool):
        raise Invalid(expected)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise Invalid(expected) from None
    else:
        raise Invalid(expected)
    # float() accepts "nan" and "inf"; neither is a usable grace period.
    if not (value >= 0 and value != float("inf")):
        raise Invalid(expected)
    return value


def as_path(raw: object) -> Path:
    value = as_str(raw).strip()
    if not value:
        raise Invalid(f"expected a path, got {raw!r}")
    return Path(value).expanduser()


def one_of(*choices: str, upper: bool = False) -> Callable[[object], str]:
    def cast(raw: object) -> str:
        value = as_str(raw).strip()
        value = value.upper() if upper else value.lower()
        if value not in choices:
            raise Invalid(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return cast


def int_at_least(minimum: int) -> Callable[[object], int]:
    def cast(raw: object) -> int:
        expected = f"expected an integer >= {minimum}, got {raw!r}"
        if isinstance(raw, bool):
            raise Invalid(expected)
        if isinstance(raw, str) and _INT_RE.match(raw.strip()):
            raw = int(raw.strip())
        if not isinstance(raw, int) or raw < minimum:
            raise Invalid(expected)
        return raw

    return cast


def as_optional_int(raw: object) -> int | None:
    if isinstance(raw, str) and not raw.strip():
        return None
    return int_at_least(-(2**63))(raw)


def niceness(raw: object) -> int:
    value = int_at_least(-20)(raw)
    if value > 19:
        raise Invalid(f"expected a niceness from -20 to 19, got {raw!r}")
    return value


def number_at_least(minimum: float) -> Callable[[object], float]:
    def cast(raw: object) -> float:
        expected = f"expected a finite number >= {minimum:g}, got {raw!r}"
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise Invalid(expected)
        try:
            value = float(raw)
        except ValueError:
            raise Invalid(expected) from None
        if not (minimum <= value < float("inf")):
            raise Invalid(expected)
        return value

    return cast


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def as_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = as_str(raw).strip().lower()
    if value not in _TRUE + _FALSE:
        raise Invalid(f"expected true or false (also 1/0, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def as_optional_secret(raw: object) -> str | None:
    # Checked here, where the configuration is parsed, so `up` reports a short secret once
    # instead of each service failing on it when it builds its signer.
    value = as_optional_str(raw)
    if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
        raise Invalid(f"expected at least {MIN_SECRET_BYTES} bytes, got {len(value.encode())}")
    return value


def as_optional_path(raw: object) -> Path | None:
    return as_path(raw) if as_str(raw).strip() else None


_TIER_NAMES = ("free", "pro", "enterprise")


def tier_names(raw: object) -> tuple[str, ...]:
    # A comma-separated string from the environment, or a TOML list; empty means every tier.
    items = raw if isinstance(raw, list) else as_str(raw).split(",")
    names = []
    for item in items:
        name = as_str(item).strip().lower()
        if not name:
            continue
        if name not in _TIER_NAMES:
            raise Invalid(f"expected tiers among {', '.join(_TIER_NAMES)}, got {raw!r}")
        if name not in names:
            names.append(name)
    return tuple(names)


def bridge_pools(raw: object) -> tuple[Pool, ...]:
    try:
        return parse_pools(str(raw) if isinstance(raw, int) else as_str(raw))
    except PoolSpecError as exc:
        raise Invalid(str(exc)) from None


def percent(raw: object) -> float:
    value = number_at_least(0)(raw)
    if value > 100:
        raise Invalid(f"expected a percentage 0-100, got {raw!r}")
    return value


def ratio(raw: object) -> float:
    value = number_at_least(0)(raw)
    if value > 1:
        raise Invalid(f"expected a ratio 0-1, got {raw!r}")
    return value


def setting(
    default: _T | Any = dataclasses.MISSING,
    *,
    cast: Callable[[object], _T],
    secret: bool = False,
    env: str | None = None,
) -> _T:
    """Declare a field: its default (none means required), its cast, whether it is secret,
    and (rarely) an environment variable other than the one its name gives."""
    # The cast and the flags live in the field's metadata, so adding a setting is one
    # declaration in its dataclass and the loader needs no change.
    metadata = {"cast": cast, "secret": secret, "env": env}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class ConfigSources:
    """The raw sources of one configuration: the environment and the parsed TOML file."""

    env: Mapping[str, str]
    file: Mapping[str, Any]
    path: Path | None


@dataclass(frozen=True, slots=True)
class MeshConfig:
    """Everything a tickmesh process is configured with; build it with `load_config`."""

    host: str = setting("127.0.0.1", cast=as_host)
    """The interface every server binds (and peers use to reach this machine's services)."""

    hub_port: int = setting(50051, cast=as_port)
    """The Hub's port; 0 binds an ephemeral port."""

    ingestion_port: int = setting(50052, cast=as_port)
    """The Ingestion service's port; 0 binds an ephemeral port."""

    bridge_port: int = setting(50053, cast=as_port)
    """The Bridge's port; 0 binds an ephemeral port."""

    storage_port: int = setting(50054, cast=as_port)
    """The Storage service's port; 0 binds an ephemeral port."""

    billing_port: int = setting(50055, cast=as_port)
    """The Billing service's port; 0 binds an ephemeral port."""

    bridges: tuple[Pool, ...] = setting((Pool(frozenset()),), cast=bridge_pools)
    """Bridge processes `up` starts: a count (`2`), or tier pools, comma-separated, tiers
    joined by `+`, `*N` for N processes: `enterprise+pro,free*2` (mesh.tier_pools). The
    first listens on bridge_port, the others on free ports; the Hub routes to them."""

    bridge_pool_nice: int = setting(10, cast=int_at_least(0))
    """Niceness `up` gives Bridges whose pool serves free tenants only, so the paying
    tiers' pools get the CPU first on a busy machine; 0: the same priority as the rest."""

    bridge_enterprise_nice: int = setting(0, cast=niceness)
    """Niceness `up` gives Bridges whose pool serves enterprise, and Ingestion (every
    tier's upstream); negative (a higher priority than everything else on the machine)
    needs root or CAP_SYS_NICE."""

    workflow_port: int = setting(50056, cast=as_port)
    """The Workflow service's port (lifecycle schedules, test clock); 0 binds an ephemeral port."""

    # setting returns a dataclasses.field, which ruff cannot see through.
    data_dir: Path = setting(DEFAULT_DATA_DIR, cast=as_path)  # noqa: RUF009
    """Where the embedded stores (SQL, analytics) keep their files."""

    redis_url: str | None = setting(None, cast=as_optional_str)
    """Redis URL; None: an in-process store per process (`tickmesh up` starts one shared
    store and sets this for its services)."""

    redis_prefix: str = setting("tickmesh:", cast=str)
    """Prefix of every Redis key, so meshes (or test runs) can share one Redis."""

    mesh_secret: str | None = setting(None, cast=as_optional_secret, secret=True)
    """HMAC secret that signs tenant context between services. Never logged."""

    admin_key: str | None = setting(None, cast=as_optional_str, secret=True)
    """The operator credential for administrative RPCs. Never logged."""

    metering_flush_seconds: float = setting(1.0, cast=number_at_least(0.05))
    """How often a process turns its usage counters into a spooled batch for Storage."""

    log_level: str = setting("INFO", cast=one_of(*LOG_LEVELS, upper=True))
    """The root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    log_format: str = setting("json", cast=one_of(*LOG_FORMATS))
    """`json` for one JSON object per line, `text` for humans."""

    grace_seconds: float = setting(5.0, cast=as_seconds)
    """How long a stopping server lets in-flight RPCs finish before cancelling them."""

    ingestion_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` other services use to reach Ingestion; None: this host, ingestion_port."""

    bridge_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` other services use to reach the Bridge; None: this host, bridge_port."""

    storage_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` other services use to reach Storage; None: this host, storage_port."""

    billing_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` other services use to reach Billing; None: this host, billing_port."""

    workflow_address: str | None = setting(None, cast=as_optional_str)
    """The Workflow service's address; default: this host and workflow_port."""

    hub_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` of the Hub to register with; None means no registration."""

    instance_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` this server registers at the Hub; None: this host and the bound port."""

    instance_public_address: str | None = setting(None, cast=as_optional_str)
    """`host:port` clients outside the mesh reach this server's pool at (its load
    balancer), registered beside instance_address; a pool's refusal names it. None: the
    instance address."""

    instance_zone: str = setting("local", cast=as_host)
    """Availability zone or machine this server runs in, as registered at the Hub."""

    instance_tiers: tuple[str, ...] = setting((), cast=tier_names)
    """Tiers this server is meant for (comma-separated); empty means every tier."""

    instance_pool: tuple[str, ...] = setting((), cast=tier_names)
    """Tiers this server alone serves (comma-separated), refusing every other tier: a tier
    pool (mesh.tier_pools), e.g. `enterprise,pro`; empty: no pool. When set it is also the
    instance's tiers, and free tenants may come only if `free` is in it."""

    instance_capacity: int = setting(1000, cast=int_at_least(0))
    """Concurrent sessions this server can take (the Hub's load = sessions / capacity)."""

    instance_free_tier: bool = setting(True, cast=as_bool)
    """Whether the Hub may route free-tier tenants to this server."""

    instance_cost_micros: int = setting(0, cast=int_at_least(0))
    """Cost per request in micro-dollars; the Hub prefers cheaper servers for free tenants."""

    instance_ttl_seconds: float = setting(10.0, cast=number_at_least(1))
    """Lease TTL this server asks the Hub for; it heartbeats every third of it."""

    tls_insecure: bool = setting(False, cast=as_bool)
    """Plaintext instead of TLS; allowed only when `host` is a loopback address (`--insecure`)."""

    tls_certs_dir: Path | None = setting(None, cast=as_optional_path)  # noqa: RUF009
    """Where the mesh CA and the services' certificates are; None: `<data_dir>/certs`."""

    otel_exporter: str = setting("none", cast=one_of(*OTEL_EXPORTERS))
    """Where traces and metrics go: `none` (off, nothing installed), `otlp`, or `console`."""

    otel_endpoint: str | None = setting(None, cast=as_optional_str)
    """OTLP/gRPC collector URL, `http://host:4317`; None: the OTLP exporter's own default."""

    otel_sample_ratio: float = setting(1.0, cast=ratio)
    """Share of new traces recorded, 0-1; a call always follows its caller's decision."""

    otel_metrics_interval_seconds: float = setting(30.0, cast=number_at_least(1))
    """How often the process exports its metrics when an exporter is set."""

    sources: ConfigSources = dataclasses.field(
        default_factory=lambda: ConfigSources({}, {}, None), compare=False, repr=False
    )
    """Where this configuration was read from; services read their settings from the same."""

    def __repr__(self) -> str:
        # Config objects end up in logs and tracebacks; secrets must not.
        return redacted_repr(self)

    __str__ = __repr__

    def port_of(self, service: str) -> int:
        """The configured port of `service`, one of SERVICES."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; services: {', '.join(SERVICES)}")
        port: int = getattr(self, f"{service}_port")
        return port

    def address_of(self, service: str) -> str:
        """Where to reach `service`: its `<service>_address` when set (other hosts,
        containers), else this host's bind address and the service's port."""
        override: str | None = getattr(self, f"{service}_address", None)
        if override:
            return override
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return join_host_port(host, self.port_of(service))


def join_host_port(host: str, port: int) -> str:
    """`host:port`, bracketing an IPv6 host (`[::1]:50051`) as gRPC targets require."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def env_key(name: str, section: str | None = None) -> str:
    """The environment variable that sets field `name` (of `section`'s settings), e.g.
    TICKMESH_BRIDGE_PORT, or TICKMESH_BRIDGE_HEARTBEAT_SECONDS for the Bridge's
    `heartbeat_seconds`."""
    scope = f"{section.upper()}_" if section else ""
    return f"{ENV_PREFIX}{scope}{name.upper()}"


def env_keys(cls: type[Any], section: str | None = None) -> dict[str, str]:
    """The environment variable of every field of settings class `cls`, by field name."""
    return {
        f.name: f.metadata["env"] or env_key(f.name, section)
        for f in dataclasses.fields(cls)
        if "cast" in f.metadata
    }


def load_config(env: Mapping[str, str] | None = None, file: Path | str | None = None) -> MeshConfig:
    """Parse the shared configuration once: defaults, then the TOML file, then TICKMESH_*.

    The file is `file`, else the path in TICKMESH_CONFIG, else none. Its keys are the field
    names at top level, and one table per service for that service's settings; an unknown
    key is an error (it is almost always a typo); so is an unknown TICKMESH_* variable or
    table, checked by the entry points with mesh.known_settings.check_known (it needs every
    section's settings). Raises ConfigError naming the offending key.
    """
    env = dict(os.environ if env is None else env)
    if file is None and env.get(CONFIG_ENV):
        file = env[CONFIG_ENV]
    path = Path(file).expanduser() if file is not None else None
    sources = ConfigSources(env, _read_toml(path) if path is not None else {}, path)
    # Tables are service sections, checked when their service loads them.
    top = {k: v for k, v in sources.file.items() if not isinstance(v, dict)}
    values = _parse(MeshConfig, top, sources, section=None)
    return MeshConfig(**values, sources=sources)  # type: ignore[arg-type]


def load_settings(cls: type[_T], config: MeshConfig, section: str) -> _T:
    """A service's settings (a dataclass declared with `setting()`), from the sources
    `config` was loaded from: TICKMESH_<SECTION>_<FIELD>, then the file's [section] table,
    then the defaults. A config built in code (no sources) gives the defaults."""
    sources = config.sources
    table = sources.file.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{sources.path}: {section!r} must be a table of settings")
    return cls(**_parse(cls, table, sources, section=section))


def _parse(
    cls: type[Any], from_file: Mapping[str, Any], sources: ConfigSources, section: str | None
) -> dict[str, object]:
    fields = {f.name: f for f in dataclasses.fields(cls) if "cast" in f.metadata}
    keys = env_keys(cls, section)
    in_file = f"[{section}] " if section else ""
    unknown = sorted(set(from_file) - set(fields))
    if unknown:
        hint = did_you_mean(unknown[0], fields)
        raise ConfigError(
            f"{sources.path}: unknown key {in_file}{unknown[0]!r}"
            + (f"; did you mean {hint!r}?" if hint else f"; known keys: {', '.join(fields)}")
        )
    values: dict[str, object] = {}
    for name, f in fields.items():
        key = keys[name]
        if key in sources.env:
            raw: object = sources.env[key]
        elif name in from_file:
            raw, key = (
                from_file[name],
                f"{sources.path}: {f'[{section}] ' if section else ''}{name}",
            )
        elif f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        else:
            raise ConfigError(f"{key}: missing, and has no default")
        try:
            values[name] = f.metadata["cast"](raw)
        except Invalid as exc:
            raise ConfigError(f"{key}: {exc}") from None
    return values


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to the misspelt `name`, if one is close enough."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return close[0] if close else None


def redacted_repr(settings: object) -> str:
    """`Name(field=value, ...)` with every secret field's value replaced."""
    parts = []
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        if "cast" not in f.metadata:
            continue
        value = getattr(settings, f.name)
        if f.metadata.get("secret") and value is not None:
            parts.append(f"{f.name}='<redacted>'")
        else:
            parts.append(f"{f.name}={value!r}")
    return f"{type(settings).__name__}({', '.join(parts)})"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_ENV}: config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{CONFIG_ENV}: cannot read {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_ENV}: {str(path)!r} is not valid TOML: {exc}") from None
