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

    log_level: str = _setting("INFO", cast=_one_of(*LOG_LEVELS, upper=True))
    """The root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    log_format: str = _setting("json", cast=_one_of(*LOG_FORMATS))
    """`json` for one JSON object per line, `text` for humans."""

    grace_seconds: float = _setting(5.0, cast=_as_seconds)
    """How long a stopping server lets in-flight RPCs finish before cancelling them."""

    hub_address: str | None = _setting(None, cast=_as_optional_str)
    """`host:port` of the Hub to register with; None means no registration."""

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
        """`host:port` where `service` listens (IPv6 hosts get brackets)."""
        return join_host_port(self.host, self.port_of(service))


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
