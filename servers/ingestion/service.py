"""IngestionService servicer: a thin adapter from the contract to the ingestion modules."""

from __future__ import annotations

from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.contract import answer_unbuilt


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        answer_unbuilt(
            self,
            ingestion_pb2_grpc.IngestionServiceServicer,
            ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"],
            "planned: the tick pipeline, issue #4",
        )
