"""The mesh configuration: one frozen dataclass, parsed once from a TOML file and the env."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "TICKMESH_"
CONFIG_ENV = "TICKMESH_CONFIG"

SERVICES: tuple[str, ...] = ("hub", "ingestion", "bridge", "storage", "billing")
"""The mesh's services; each has a `<service>_port` field."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
OTEL_EXPORTERS = ("none", "otlp", "console")

DEFAULT_DATA_DIR = Path(".tickmesh")

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names its key."""


class _Invalid(ValueError):
    """Raised by a cast with what it expected; load_config prefixes the key."""


# --- casting functions -------------------------------------------------------------------
# Each takes the raw value (a str from the environment, or any TOML value) and returns the
# typed value or raises _Invalid saying what was expected. TOML values arrive already typed,
# so casts accept the native type as well as its string spelling, never a bool for a number.

_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def _as_str(raw: object) -> str:
    if not isinstance(raw, str):
        raise _Invalid(f"expected a string, got {raw!r}")
    return raw


def _as_optional_str(raw: object) -> str | None:
    # An empty value unsets an optional field, so `TICKMESH_REDIS_URL=` means "embedded".
    value = _as_str(raw).strip()
    return value or None


def _as_host(raw: object) -> str:
    value = _as_str(raw).strip()
    if not value or any(c.isspace() for c in value):
        raise _Invalid(f"expected a host name or IP address, got {raw!r}")
    return value


def _as_port(raw: object) -> int:
    expected = f"expected an integer 0-65535, got {raw!r}"
    if isinstance(raw, bool):
        raise _Invalid(expected)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INT_RE.match(raw.strip()):
        value = int(raw.strip())
    else:
        raise _Invalid(expected)
    if not 0 <= value <= 65535:
        raise _Invalid(expected)
    return value


def _as_seconds(raw: object) -> float:
    expected = f"expected a non-negative number of seconds, got {raw!r}"
    if isinstance(raw, bool):
        raise _Invalid(expected)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise _Invalid(expected) from None
    else:
        raise _Invalid(expected)
    # float() accepts "nan" and "inf"; neither is a usable grace period.
    if not (value >= 0 and value != float("inf")):
        raise _Invalid(expected)
    return value


def _as_path(raw: object) -> Path:
    value = _as_str(raw).strip()
    if not value:
        raise _Invalid(f"expected a path, got {raw!r}")
    return Path(value).expanduser()


def _one_of(*choices: str, upper: bool = False) -> Callable[[object], str]:
    def cast(raw: object) -> str:
        value = _as_str(raw).strip()
        value = value.upper() if upper else value.lower()
        if value not in choices:
            raise _Invalid(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return cast


def _int_at_least(minimum: int) -> Callable[[object], int]:
    def cast(raw: object) -> int:
        expected = f"expected an integer >= {minimum}, got {raw!r}"
        if isinstance(raw, bool):
            raise _Invalid(expected)
        if isinstance(raw, str) and _INT_RE.match(raw.strip()):
            raw = int(raw.strip())
        if not isinstance(raw, int) or raw < minimum:
            raise _Invalid(expected)
        return raw

    return cast


def _as_optional_int(raw: object) -> int | None:
    if isinstance(raw, str) and not raw.strip():
        return None
    return _int_at_least(-(2**63))(raw)


def _number_at_least(minimum: float) -> Callable[[object], float]:
    def cast(raw: object) -> float:
        expected = f"expected a finite number >= {minimum:g}, got {raw!r}"
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise _Invalid(expected)
        try:
            value = float(raw)
        except ValueError:
            raise _Invalid(expected) from None
        if not (minimum <= value < float("inf")):
            raise _Invalid(expected)
        return value

    return cast


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _as_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = _as_str(raw).strip().lower()
    if value not in _TRUE + _FALSE:
        raise _Invalid(f"expected true or false (also 1/0, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def _as_optional_path(raw: object) -> Path | None:
    return _as_path(raw) if _as_str(raw).strip() else None


_TIER_NAMES = ("free", "pro", "enterprise")


def _tier_names(raw: object) -> tuple[str, ...]:
    # A comma-separated string from the environment, or a TOML list; empty means every tier.
    items = raw if isinstance(raw, list) else _as_str(raw).split(",")
    names = []
    for item in items:
        name = _as_str(item).strip().lower()
        if not name:
            continue
        if name not in _TIER_NAMES:
            raise _Invalid(f"expected tiers among {', '.join(_TIER_NAMES)}, got {raw!r}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _percent(raw: object) -> float:
    value = _number_at_least(0)(raw)
    if value > 100:
        raise _Invalid(f"expected a percentage 0-100, got {raw!r}")
    return value


def _ratio(raw: object) -> float:
    value = _number_at_least(0)(raw)
    if value > 1:
        raise _Invalid(f"expected a ratio 0-1, got {raw!r}")
    return value


def _setting(
    default: _T | Any = dataclasses.MISSING,
    *,
    cast: Callable[[object], _T],
    secret: bool = False,
) -> _T:
    """Declare a field: its default (none means required), its cast, whether it is secret."""
    # The cast and the secret flag live in the field's metadata, so adding a setting is one
    # declaration in MeshConfig and load_config needs no change.
    return dataclasses.field(default=default, metadata={"cast": cast, "secret": secret})


@dataclass(frozen=True, slots=True)
class MeshConfig:
    """Everything a tickmesh process is configured with; build it with `load_config`."""

    host: str = _setting("127.0.0.1", cast=_as_host)
    """The interface every server binds (and peers use to reach this machine's services)."""

    hub_port: int = _setting(50051, cast=_as_port)
    """The Hub's port; 0 binds an ephemeral port."""

    ingestion_port: int = _setting(50052, cast=_as_port)
    """The Ingestion service's port; 0 binds an ephemeral port."""

    bridge_port: int = _setting(50053, cast=_as_port)
    """The Bridge's port; 0 binds an ephemeral port."""

    storage_port: int = _setting(50054, cast=_as_port)
    """The Storage service's port; 0 binds an ephemeral port."""

    billing_port: int = _setting(50055, cast=_as_port)
    """The Billing service's port; 0 binds an ephemeral port."""

    # _setting returns a dataclasses.field, which ruff cannot see through.
    data_dir: Path = _setting(DEFAULT_DATA_DIR, cast=_as_path)  # noqa: RUF009
    """Where the embedded stores (SQL, analytics) keep their files."""

    postgres_url: str | None = _setting(None, cast=_as_optional_str)
    """PostgreSQL URL; None uses the embedded SQL store under data_dir."""

    postgres_schema: str = _setting("tickmesh", cast=str)
    """PostgreSQL schema of the shared tables (tenant schemas are tenant_<company id>)."""

    clickhouse_url: str | None = _setting(None, cast=_as_optional_str)
    """ClickHouse URL; None uses the embedded analytics store under data_dir."""

    redis_url: str | None = _setting(None, cast=_as_optional_str)
    """Redis URL; None uses the in-process cache."""

    redis_prefix: str = _setting("tickmesh:", cast=str)
    """Prefix of every Redis key, so meshes (or test runs) can share one Redis."""

    mesh_secret: str | None = _setting(None, cast=_as_optional_str, secret=True)
    """HMAC secret that signs tenant context between services. Never logged."""

    admin_key: str | None = _setting(None, cast=_as_optional_str, secret=True)
    """The operator credential for administrative RPCs. Never logged."""

    metering_flush_seconds: float = _setting(1.0, cast=_number_at_least(0.05))
    """How often a process turns its usage counters into a spooled batch for Storage."""

    log_level: str = _setting("INFO", cast=_one_of(*LOG_LEVELS, upper=True))
    """The root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    log_format: str = _setting("json", cast=_one_of(*LOG_FORMATS))
    """`json` for one JSON object per line, `text` for humans."""

    grace_seconds: float = _setting(5.0, cast=_as_seconds)
    """How long a stopping server lets in-flight RPCs finish before cancelling them."""

    ingestion_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` other services use to reach Ingestion; None: this host, ingestion_port."""

    bridge_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` other services use to reach the Bridge; None: this host, bridge_port."""

    storage_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` other services use to reach Storage; None: this host, storage_port."""

    billing_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` other services use to reach Billing; None: this host, billing_port."""

    hub_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` of the Hub to register with; None means no registration."""

    instance_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` this server registers at the Hub; None: this host and the bound port."""

    instance_zone: str = _setting("local", cast=_as_host)
    """Availability zone or machine this server runs in, as registered at the Hub."""

    instance_tiers: tuple[str, ...] = _setting((), cast=_tier_names)
    """Tiers this server is meant for (comma-separated); empty means every tier."""

    instance_capacity: int = _setting(1000, cast=_int_at_least(0))
    """Concurrent sessions this server can take (the Hub's load = sessions / capacity)."""

    instance_free_tier: bool = _setting(True, cast=_as_bool)
    """Whether the Hub may route free-tier tenants to this server."""

    instance_cost_micros: int = _setting(0, cast=_int_at_least(0))
    """Cost per request in micro-dollars; the Hub prefers cheaper servers for free tenants."""

    instance_ttl_seconds: float = _setting(10.0, cast=_number_at_least(1))
    """Lease TTL this server asks the Hub for; it heartbeats every third of it."""

    hub_lease_default_seconds: float = _setting(10.0, cast=_number_at_least(1))
    """Hub: the lease TTL granted when an instance asks for none."""

    hub_lease_min_seconds: float = _setting(2.0, cast=_number_at_least(1))
    """Hub: shortest lease TTL granted (shorter requests are raised to it)."""

    hub_lease_max_seconds: float = _setting(60.0, cast=_number_at_least(1))
    """Hub: longest lease TTL granted (longer requests are cut to it)."""

    hub_eject_after_failures: int = _setting(3, cast=_int_at_least(1))
    """Hub: consecutive routed-call failures that eject an instance from rotation."""

    hub_eject_base_seconds: float = _setting(5.0, cast=_number_at_least(0.1))
    """Hub: first ejection's length; each repeat ejection lasts that much longer."""

    hub_max_ejected_percent: float = _setting(50.0, cast=_percent)
    """Hub: at most this share of a service's instances is ejected at once."""

    hub_panic_percent: float = _setting(50.0, cast=_percent)
    """Hub: below this share of healthy instances, route to every live one rather than none."""

    hub_metrics_timeout_seconds: float = _setting(2.0, cast=_number_at_least(0.1))
    """Hub: how long GetMeshMetrics waits for each instance's business metrics."""

    ingestion_buffer_depth: int = _setting(200_000, cast=_int_at_least(1))
    """Ticks the Ingestion ring buffer keeps for StreamTicks to resume from (at least)."""

    ingestion_batch_ms: float = _setting(2.0, cast=_number_at_least(0))
    """Ingestion publishes at most one batch per this many milliseconds (0: one per event
    loop turn): shorter is less latency, and more, smaller messages downstream."""

    ingestion_synthetic: bool = _setting(True, cast=_as_bool)
    """Whether Ingestion runs its three synthetic broker feeds."""

    ingestion_quotes_per_second: float = _setting(3000.0, cast=_number_at_least(0))
    """Total rate of the synthetic feeds, quotes per second across brokers and symbols."""

    ingestion_seed: int | None = _setting(None, cast=_as_optional_int)
    """Seed of the synthetic feeds' random walks; None draws a fresh one at each start."""

    ingestion_replay_file: Path | None = _setting(None, cast=_as_optional_path)  # noqa: RUF009
    """A CSV of quotes Ingestion replays (broker_time_us or time, broker, symbol, bid, ask)."""

    ingestion_replay_speed: float = _setting(1.0, cast=_number_at_least(0))
    """Replay pace: 1.0 as recorded, 2.0 twice as fast, 0 as fast as possible."""

    ingestion_heartbeat_seconds: float = _setting(1.0, cast=_number_at_least(0.01))
    """How often an idle StreamTicks stream gets a heartbeat."""

    bridge_heartbeat_seconds: float = _setting(1.0, cast=_number_at_least(0.01))
    """How long a Subscribe stream may idle before the Bridge sends a heartbeat."""

    bridge_stream_lease_seconds: float = _setting(30.0, cast=_number_at_least(1))
    """TTL of a stream's concurrent-stream lease in Redis; renewed every third of it."""

    bridge_queue_ticks: int = _setting(4096, cast=_int_at_least(1000))
    """Ticks queued for one subscriber before it is conflated to the latest per symbol."""

    bridge_batch_ticks: int = _setting(2000, cast=_int_at_least(1))
    """Most ticks per Subscribe message (a client may ask for fewer)."""

    otel_exporter: str = _setting("none", cast=_one_of(*OTEL_EXPORTERS))
    """Where traces and metrics go: `none` (off, nothing installed), `otlp`, or `console`."""

    otel_endpoint: str | None = _setting(None, cast=_as_optional_str)
    """OTLP/gRPC collector URL, `http://host:4317`; None: the OTLP exporter's own default."""

    otel_sample_ratio: float = _setting(1.0, cast=_ratio)
    """Share of new traces recorded, 0-1; a call always follows its caller's decision."""

    otel_metrics_interval_seconds: float = _setting(30.0, cast=_number_at_least(1))
    """How often the process exports its metrics when an exporter is set."""

    def __repr__(self) -> str:
        # Config objects end up in logs and tracebacks; secrets must not.
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value is not None:
                parts.append(f"{f.name}='<redacted>'")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"MeshConfig({', '.join(parts)})"

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


def env_key(name: str) -> str:
    """The environment variable that sets field `name`, e.g. TICKMESH_BRIDGE_PORT."""
    return f"{ENV_PREFIX}{name.upper()}"


def load_config(env: Mapping[str, str] | None = None, file: Path | str | None = None) -> MeshConfig:
    """Parse the configuration once: defaults, then the TOML file, then TICKMESH_* variables.

    The file is `file`, else the path in TICKMESH_CONFIG, else none. Its keys are the field
    names at top level; an unknown key is an error (it is almost always a typo). Unknown
    TICKMESH_* variables are ignored, since the environment is shared with other tools.
    Raises ConfigError naming the offending key.
    """
    env = os.environ if env is None else env
    if file is None and env.get(CONFIG_ENV):
        file = env[CONFIG_ENV]
    file = Path(file).expanduser() if file is not None else None
    from_file = _read_toml(file) if file is not None else {}

    fields = {f.name: f for f in dataclasses.fields(MeshConfig)}
    unknown = sorted(set(from_file) - set(fields))
    if unknown:
        raise ConfigError(f"{file}: unknown key {unknown[0]!r}; known keys: {', '.join(fields)}")

    values: dict[str, object] = {}
    for name, f in fields.items():
        key = env_key(name)
        if key in env:
            raw: object = env[key]
        elif name in from_file:
            raw, key = from_file[name], f"{file}: {name}"
        elif f.default is not dataclasses.MISSING:
            continue
        else:
            raise ConfigError(f"{key}: missing, and has no default")
        try:
            values[name] = f.metadata["cast"](raw)
        except _Invalid as exc:
            raise ConfigError(f"{key}: {exc}") from None
    return MeshConfig(**values)  # type: ignore[arg-type]


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
