"""StorageService servicer: a thin adapter from the contract to the storage modules."""

from __future__ import annotations

from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.contract import answer_unbuilt


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        answer_unbuilt(
            self,
            storage_pb2_grpc.StorageServiceServicer,
            storage_pb2.DESCRIPTOR.services_by_name["StorageService"],
            "planned: tenancy, issue #3",
        )
