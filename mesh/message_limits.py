"""How large a request message each method accepts: chosen per method, not one cap for all.

Most RPCs carry a few ids and names: 64 KiB is hundreds of times what they need, and a
client sending more is broken or hostile, so it is refused before anything is parsed or
authenticated. Bulk methods, which services call with batches, get room for their
largest valid batch (each also checks its count, with a precise INVALID_ARGUMENT).
A refusal is RESOURCE_EXHAUSTED, as gRPC's own transport limit answers, with the limit
named in the message and in ErrorInfo metadata.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

DEFAULT_REQUEST_BYTES = 64 * KIB

REQUEST_BYTES: dict[str, int] = {
    # Per streamed message: at most 10,000 quotes (publish.MAX_QUOTES_PER_MESSAGE).
    "/tickmesh.ingestion.v1.IngestionService/PublishTicks": 2 * MIB,
    # Services' batches: 10,000 usage events or SLA samples, recorded tick batches.
    "/tickmesh.storage.v1.StorageService/RecordUsage": 4 * MIB,
    "/tickmesh.storage.v1.StorageService/RecordSla": 4 * MIB,
    "/tickmesh.storage.v1.StorageService/RecordTicks": 4 * MIB,
    # 1,000 positions; an invoice's lines.
    "/tickmesh.storage.v1.StorageService/RecordPositions": 1 * MIB,
    "/tickmesh.storage.v1.StorageService/SaveInvoice": 1 * MIB,
    # A chain definition is at most 64 KiB of JSON (relational.chains.MAX_DEFINITION).
    "/tickmesh.storage.v1.StorageService/SaveChainVersion": 128 * KIB,
    "/tickmesh.workflow.v1.ChainService/RegisterChain": 128 * KIB,
}

MAX_RECEIVE_BYTES = max(DEFAULT_REQUEST_BYTES, *REQUEST_BYTES.values())
"""The transport's cap (grpc.max_receive_message_length): the largest per-method limit."""


def request_limit(method: str) -> int:
    """The largest request message `method` (a full path) accepts, in bytes."""
    return REQUEST_BYTES.get(method, DEFAULT_REQUEST_BYTES)
