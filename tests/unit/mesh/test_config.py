"""MeshConfig: defaults, TOML file, environment overrides, strict casting, redaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh.config import (
    SERVICES,
    ConfigError,
    MeshConfig,
    as_optional_str,
    as_str,
    env_key,
    env_keys,
    int_at_least,
    load_config,
    load_settings,
    setting,
)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tickmesh.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = load_config({})
    assert config == MeshConfig()
    assert config.host == "127.0.0.1"
    assert [config.port_of(s) for s in SERVICES] == [50051, 50052, 50053, 50054, 50055, 50056]
    assert config.data_dir == Path(".tickmesh")
    assert config.redis_url is None
    assert config.mesh_secret is None and config.admin_key is None
    assert (config.log_level, config.log_format, config.grace_seconds) == ("INFO", "json", 5.0)
    assert config.hub_address is None


def test_environment_overrides_defaults() -> None:
    config = load_config(
        {
            "TICKMESH_HOST": "0.0.0.0",
            "TICKMESH_BRIDGE_PORT": "6000",
            "TICKMESH_DATA_DIR": "/var/lib/tickmesh",
            "TICKMESH_LOG_LEVEL": "debug",
            "TICKMESH_LOG_FORMAT": "TEXT",
            "TICKMESH_GRACE_SECONDS": "0.5",
            "TICKMESH_HUB_ADDRESS": "hub.internal:50051",
            "UNRELATED": "ignored",
        }
    )
    assert config.host == "0.0.0.0"
    assert config.bridge_port == 6000
    # Bound on every interface, reached through loopback.
    assert config.address_of("bridge") == "127.0.0.1:6000"
    assert config.data_dir == Path("/var/lib/tickmesh")
    assert (config.log_level, config.log_format) == ("DEBUG", "text")
    assert config.grace_seconds == 0.5
    assert config.hub_address == "hub.internal:50051"


def test_empty_value_unsets_an_optional_field(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'redis_url = "redis://localhost"\n')
    assert load_config({"TICKMESH_REDIS_URL": ""}, file=path).redis_url is None


def test_toml_file_and_env_beats_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'host = "10.0.0.5"\nhub_port = 7001\nstorage_port = 7004\ngrace_seconds = 2\n'
        'redis_url = "redis://cache:6379/0"\n',
    )
    config = load_config({"TICKMESH_STORAGE_PORT": "8004"}, file=path)
    assert config.host == "10.0.0.5"
    assert config.hub_port == 7001
    assert config.storage_port == 8004  # the environment wins over the file
    assert config.grace_seconds == 2.0
    assert config.redis_url == "redis://cache:6379/0"


def test_file_path_from_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "billing_port = 9005\n")
    assert load_config({"TICKMESH_CONFIG": str(path)}).billing_port == 9005


def test_address_of_brackets_ipv6() -> None:
    assert load_config({"TICKMESH_HOST": "::1"}).address_of("hub") == "[::1]:50051"
    with pytest.raises(ValueError, match="unknown service"):
        MeshConfig().port_of("nope")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("TICKMESH_BRIDGE_PORT", "abc", "expected an integer 0-65535, got 'abc'"),
        ("TICKMESH_HUB_PORT", "65536", "expected an integer 0-65535"),
        ("TICKMESH_INGESTION_PORT", "-1", "expected an integer 0-65535"),
        ("TICKMESH_STORAGE_PORT", "1.5", "expected an integer 0-65535"),
        ("TICKMESH_BILLING_PORT", "", "expected an integer 0-65535"),
        ("TICKMESH_GRACE_SECONDS", "soon", "expected a non-negative number of seconds"),
        ("TICKMESH_GRACE_SECONDS", "-1", "expected a non-negative number of seconds"),
        ("TICKMESH_GRACE_SECONDS", "nan", "expected a non-negative number of seconds"),
        ("TICKMESH_LOG_LEVEL", "loud", "expected one of DEBUG, INFO"),
        ("TICKMESH_LOG_FORMAT", "xml", "expected one of json, text"),
        ("TICKMESH_HOST", "", "expected a host name or IP address"),
        ("TICKMESH_DATA_DIR", " ", "expected a path"),
    ],
)
def test_malformed_env_value_names_its_key(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({key: value})
    assert str(info.value).startswith(f"{key}: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hub_port = true", "hub_port: expected an integer 0-65535, got True"),
        ('hub_port = "x"', "hub_port: expected an integer 0-65535, got 'x'"),
        ("host = 5", "host: expected a string, got 5"),
        ("grace_seconds = [1]", "grace_seconds: expected a non-negative number"),
        ("bridge_prot = 1", "unknown key 'bridge_prot'"),
    ],
)
def test_malformed_file_value_names_its_key(tmp_path: Path, line: str, expected: str) -> None:
    path = write_toml(tmp_path, line + "\n")
    with pytest.raises(ConfigError, match=expected):
        load_config({}, file=path)


def test_missing_or_broken_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TICKMESH_CONFIG: config file .* does not exist"):
        load_config({"TICKMESH_CONFIG": str(tmp_path / "absent.toml")})
    with pytest.raises(ConfigError, match=r"TICKMESH_CONFIG: .* is not valid TOML"):
        load_config({}, file=write_toml(tmp_path, "hub_port = = 1\n"))


def test_env_key_names() -> None:
    assert env_key("bridge_port") == "TICKMESH_BRIDGE_PORT"


def test_secrets_never_in_repr() -> None:
    config = load_config(
        {"TICKMESH_MESH_SECRET": "hmac-very-secret", "TICKMESH_ADMIN_KEY": "op-key-123"}
    )
    assert config.mesh_secret == "hmac-very-secret"
    assert config.admin_key == "op-key-123"
    for text in (repr(config), str(config), f"{config}", f"{config!r}"):
        assert "hmac-very-secret" not in text
        assert "op-key-123" not in text
        assert "mesh_secret='<redacted>'" in text
    assert "mesh_secret=None" in repr(MeshConfig())


def test_config_is_frozen() -> None:
    config = MeshConfig()
    with pytest.raises(AttributeError):
        config.hub_port = 1  # type: ignore[misc]


def test_service_addresses_can_point_elsewhere() -> None:
    config = load_config({"TICKMESH_STORAGE_ADDRESS": "storage.internal:50054"})
    assert config.address_of("storage") == "storage.internal:50054"
    assert config.address_of("billing") == "127.0.0.1:50055"


@dataclass(frozen=True, slots=True)
class EchoSettings:
    """A service's own settings, as a service declares them."""

    greeting: str = setting("hello", cast=as_str)
    repeat: int = setting(1, cast=int_at_least(1))
    store_url: str | None = setting(None, cast=as_optional_str, env="TICKMESH_ECHO_STORE")


def test_service_settings_come_from_their_section(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'hub_port = 7000\n[echo]\ngreeting = "hi"\nrepeat = 2\n')
    config = load_config({"TICKMESH_ECHO_REPEAT": "3", "TICKMESH_ECHO_STORE": "x://"}, file=path)
    assert config.hub_port == 7000
    # The environment beats the file; a field may name its own variable.
    assert load_settings(EchoSettings, config, "echo") == EchoSettings("hi", 3, "x://")
    assert env_keys(EchoSettings, "echo") == {
        "greeting": "TICKMESH_ECHO_GREETING",
        "repeat": "TICKMESH_ECHO_REPEAT",
        "store_url": "TICKMESH_ECHO_STORE",
    }


def test_a_config_built_in_code_gives_default_settings() -> None:
    assert load_settings(EchoSettings, MeshConfig(), "echo") == EchoSettings()


def test_malformed_service_settings_name_their_key(tmp_path: Path) -> None:
    config = load_config({"TICKMESH_ECHO_REPEAT": "0"})
    with pytest.raises(ConfigError, match="TICKMESH_ECHO_REPEAT: expected an integer >= 1"):
        load_settings(EchoSettings, config, "echo")
    config = load_config({}, file=write_toml(tmp_path, "[echo]\nrepaet = 2\n"))
    with pytest.raises(ConfigError, match=r"unknown key \[echo\] 'repaet'"):
        load_settings(EchoSettings, config, "echo")
    config = load_config({}, file=write_toml(tmp_path, "[echo]\nrepeat = true\n"))
    with pytest.raises(ConfigError, match=r"\[echo\] repeat: expected an integer >= 1"):
        load_settings(EchoSettings, config, "echo")
