"""Per-method request size limits: every named method exists, and the transport cap
admits the largest of them."""

from __future__ import annotations

from mesh.message_limits import (
    DEFAULT_REQUEST_BYTES,
    MAX_RECEIVE_BYTES,
    REQUEST_BYTES,
    request_limit,
)
from tests.unit.mesh.test_permissions import every_method


def test_every_limited_method_is_a_method_of_a_contract() -> None:
    assert set(REQUEST_BYTES) <= set(every_method())


def test_unnamed_methods_get_the_default_and_the_transport_admits_every_limit() -> None:
    assert request_limit("/tickmesh.bridge.v1.BridgeService/Subscribe") == DEFAULT_REQUEST_BYTES
    assert request_limit("/tickmesh.storage.v1.StorageService/RecordUsage") == 4 * 1024 * 1024
    assert MAX_RECEIVE_BYTES == max(REQUEST_BYTES.values()) >= DEFAULT_REQUEST_BYTES
