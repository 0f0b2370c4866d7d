"""HubService servicer: a thin adapter from the contract to the hub modules."""

from __future__ import annotations

from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.contract import answer_unbuilt


class HubServicer(hub_pb2_grpc.HubServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        answer_unbuilt(
            self,
            hub_pb2_grpc.HubServiceServicer,
            hub_pb2.DESCRIPTOR.services_by_name["HubService"],
            "planned: registry, routing and mesh metrics, issue #6",
        )
