"""The sidecar's pure parts: its key file, the metadata it forwards, where it may listen,
and how reflection questions are routed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh.sidecar.credentials import KeyFileError, read_key_file, with_key
from mesh.sidecar.reflection import mesh_service_named
from mesh.sidecar.server import ListenError, check_listen_address
from mesh.tenancy.signing import METADATA_KEY

SERVICES = ("bridge", "billing", "hub")


def test_the_key_file_holds_one_key(tmp_path: Path) -> None:
    path = tmp_path / "api.key"
    path.write_text("  tm_abc_def\n")
    assert read_key_file(path) == "tm_abc_def"
    for bad in ("", "\n", "tm_a tm_b\n"):
        path.write_text(bad)
        with pytest.raises(KeyFileError) as caught:
            read_key_file(path)
        assert "tm_a" not in str(caught.value)  # never echoes what it read
    with pytest.raises(KeyFileError, match="cannot read"):
        read_key_file(tmp_path / "missing.key")


def test_the_app_cannot_forge_credentials() -> None:
    outgoing = with_key("tm_sidecar")
    sent = outgoing(
        [
            ("authorization", "Bearer tm_other"),
            (METADATA_KEY, b"forged"),
            ("x-custom", "kept"),
            ("user-agent", "app/1.0"),
            ("grpc-accept-encoding", "gzip"),
        ]
    )
    assert ("x-custom", "kept") in sent
    assert [v for k, v in sent if k == "authorization"] == ["Bearer tm_sidecar"]
    assert all(k not in (METADATA_KEY, "user-agent", "grpc-accept-encoding") for k, _ in sent)


@pytest.mark.parametrize("listen", ["127.0.0.1:15001", "localhost:0", "[::1]:15001"])
def test_loopback_is_allowed(listen: str) -> None:
    check_listen_address(listen, allow_remote=False)


@pytest.mark.parametrize("listen", ["0.0.0.0:15001", "10.1.2.3:15001", "[::]:15001", "app:1"])
def test_anything_else_needs_allow_remote(listen: str) -> None:
    with pytest.raises(ListenError, match="--allow-remote"):
        check_listen_address(listen, allow_remote=False)
    check_listen_address(listen, allow_remote=True)


@pytest.mark.parametrize(
    ("subject", "service"),
    [
        ("tickmesh.bridge.v1.BridgeService", "bridge"),
        ("tickmesh.bridge.v1.SubscribeRequest", "bridge"),
        ("tickmesh/billing/v1/billing.proto", "billing"),
        ("tickmesh.common.v1.Tick", None),
        ("tickmesh/common/v1/market.proto", None),
        ("grpc.health.v1.Health", None),
        ("google/protobuf/timestamp.proto", None),
        ("tickmesh", None),
    ],
)
def test_reflection_questions_go_to_the_service_they_name(
    subject: str, service: str | None
) -> None:
    assert mesh_service_named(subject, SERVICES) == service
