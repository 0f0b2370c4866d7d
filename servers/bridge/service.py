"""BridgeService servicer: a thin adapter from the contract to the bridge modules."""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.contract import answer_unbuilt


class BridgeServicer(bridge_pb2_grpc.BridgeServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        answer_unbuilt(
            self,
            bridge_pb2_grpc.BridgeServiceServicer,
            bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"],
            "planned: the tick pipeline, issue #4",
        )
