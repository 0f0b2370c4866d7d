"""The composed StorageServicer serves every RPC of the contract, each from exactly one group."""

from __future__ import annotations

from collections import Counter

from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from servers.storage.service import StorageServicer

SERVICE = storage_pb2.DESCRIPTOR.services_by_name["StorageService"]
GENERATED = storage_pb2_grpc.StorageServiceServicer


def test_every_rpc_is_built() -> None:
    unbuilt = [
        m.name
        for m in SERVICE.methods
        if getattr(StorageServicer, m.name) is getattr(GENERATED, m.name)
    ]
    assert unbuilt == []


def test_no_rpc_is_defined_by_two_groups() -> None:
    groups = [c for c in StorageServicer.__mro__[1:] if c.__module__.startswith("servers.")]
    defined = Counter(m.name for c in groups for m in SERVICE.methods if m.name in vars(c))
    assert [name for name, count in defined.items() if count > 1] == []
    assert len(defined) == len(SERVICE.methods)
