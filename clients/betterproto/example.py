"""A typed tickmesh client from betterproto2: an API key, unary calls, Bridge.Subscribe.

    python example.py --target 127.0.0.1:50054 --key tm_... \\
        [--billing 127.0.0.1:50055] [--bridge 127.0.0.1:50053 --symbols EURUSD,GBPUSD \\
         --messages 3 --best-effort] [--timeout 30]

The same command line and the same JSON summary as ../node/example.js. --target is
Storage (GetSubscription: the caller's tier), --billing adds Billing.GetTierCatalog,
--bridge subscribes and stops after --messages tick batches; a Bridge of another tier
pool refuses with FAILED_PRECONDITION / WRONG_POOL naming the Bridge that serves the
key's tier, and the example moves there (at most 3 times). Exit status: 0 on
success; the gRPC status code (1..16) on an RPC error, with its name on stderr;
64 on bad usage; 70 on any other failure.

Messages and stubs are the dataclasses in tickmesh_betterproto/, generated from
../../proto by generate.py. The stubs are plain grpcio ones, so authentication and
deadlines are a grpcio channel interceptor (below), as for any grpcio client.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import grpc
from tickmesh_betterproto.google.rpc import ErrorInfo, Status
from tickmesh_betterproto.tickmesh.billing.v1 import BillingServiceStub
from tickmesh_betterproto.tickmesh.bridge.v1 import (
    BridgeServiceStub,
    SubscribeOptions,
    SubscribeRequest,
)
from tickmesh_betterproto.tickmesh.storage.v1 import StorageServiceStub

USAGE_ERROR = 64  # EX_USAGE: distinct from every gRPC status code (1..16)
OTHER_ERROR = 70  # EX_SOFTWARE, e.g. the stream ended before enough batches
MAX_POOL_MOVES = 3  # refusals by a Bridge of another tier pool followed in a row


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _CallDetails(_Details, grpc.ClientCallDetails):
    """grpcio wants a ClientCallDetails; a NamedTuple makes a modified copy easy."""


class ApiKeyInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Sends `authorization: Bearer <key>` and a deadline on every call.

    An interceptor rather than CallCredentials: grpcio sends call credentials only
    over TLS (or local) channels, and a local mesh is plaintext.
    """

    def __init__(self, api_key: str, timeout_s: float) -> None:
        self._header = ("authorization", f"Bearer {api_key}")
        self._timeout_s = timeout_s

    def _with_key(self, details: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else self._timeout_s,
            metadata=[*(details.metadata or ()), self._header],
            credentials=details.credentials,
            wait_for_ready=getattr(details, "wait_for_ready", None),
            compression=getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request)


def connect(target: str, api_key: str, timeout_s: float, ca: Path | None = None) -> grpc.Channel:
    """A channel to `target` that authenticates every call with `api_key`: TLS trusting
    the mesh CA `ca`, plaintext without one (a mesh started with --insecure)."""
    if ca is not None:
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(ca.read_bytes()))
    else:
        channel = grpc.insecure_channel(target)
    return grpc.intercept_channel(channel, ApiKeyInterceptor(api_key, timeout_s))


def error_info(err: grpc.RpcError) -> ErrorInfo | None:
    """The google.rpc.ErrorInfo a failed call carries in its status details, if any."""
    trailers = err.trailing_metadata() if isinstance(err, grpc.Call) else None
    raw = next((v for k, v in trailers or () if k == "grpc-status-details-bin"), None)
    if not isinstance(raw, bytes):
        return None
    for detail in Status.parse(raw).details:
        if detail.type_url.endswith("/google.rpc.ErrorInfo"):
            return ErrorInfo.parse(detail.value)
    return None


def pool_address(err: grpc.RpcError) -> str | None:
    """Where a WRONG_POOL refusal says this key's tier is served, or None (any other
    error, or an address the refusing Bridge did not know yet)."""
    info = error_info(err)
    if info is None or info.reason != "WRONG_POOL":
        return None
    return info.metadata.get("address") or None


def consume(stub: BridgeServiceStub, request: SubscribeRequest, wanted: int) -> dict[str, Any]:
    """Collect a subscription until `wanted` tick batches arrived.

    The caller closes the channel afterwards, which cancels the stream and frees
    our concurrent-stream slot on the Bridge.
    """
    summary: dict[str, Any] = {
        "ack": False, "granted": [], "refused": [],
        "messages": 0, "batches": 0, "heartbeats": 0, "gaps": 0, "ticks": 0,
    }  # fmt: skip
    seen: set[str] = set()
    last_seq = 0
    responses: Iterator[Any] = stub.subscribe(request)
    for response in responses:
        summary["messages"] += 1
        # A oneof member is None unless it is the one set.
        if response.ack is not None:
            summary["ack"] = True
            summary["ack_tier"] = response.ack.tier.proto_name
            summary["granted"] = list(response.ack.symbols)
            summary["refused"] = [refused.symbol for refused in response.ack.refused]
        elif response.batch is not None:
            summary["batches"] += 1
            summary["ticks"] += len(response.batch.ticks)
            seen.update(tick.symbol for tick in response.batch.ticks)
            last_seq = max(last_seq, response.batch.last_seq)
        elif response.heartbeat is not None:
            summary["heartbeats"] += 1
        elif response.gap is not None:
            summary["gaps"] += 1
        if summary["batches"] >= wanted:
            break
    else:
        raise RuntimeError("the server ended the stream early")
    # uint64 as a string, as protobuf's JSON mapping (and the Node example) has it.
    summary.update(symbols=sorted(seen), last_seq=str(last_seq))
    return summary


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with connect(args.target, args.key, args.timeout, args.ca) as channel:
        subscription = StorageServiceStub(channel).get_subscription().subscription
        if subscription is None:
            raise RuntimeError("GetSubscription returned no subscription")
        result["tier"] = subscription.tier.proto_name
        print(f"subscription: {result['tier']} (company {subscription.company_id}, "
              f"{subscription.status})")  # fmt: skip

    if args.billing:
        with connect(args.billing, args.key, args.timeout, args.ca) as channel:
            tiers = BillingServiceStub(channel).get_tier_catalog().tiers
        # Prices in minor units; int64 as a string, as in protobuf's JSON mapping.
        # Message fields are Optional in betterproto2: an unset Money is None.
        result["catalog"] = {
            offer.tier.proto_name: str(offer.price_per_month.minor_units)
            for offer in tiers
            if offer.price_per_month is not None
        }
        print("catalog: " + ", ".join(f"{t} {p}" for t, p in result["catalog"].items()))

    if args.bridge:
        request = SubscribeRequest(
            symbols=args.symbols, options=SubscribeOptions(best_effort=args.best_effort)
        )
        address: str = args.bridge
        moved_to: list[str] = []
        while True:
            try:
                with connect(address, args.key, args.timeout, args.ca) as channel:
                    stream = consume(BridgeServiceStub(channel), request, args.messages)
                break
            except grpc.RpcError as err:
                address = pool_address(err) or ""
                if not address or len(moved_to) == MAX_POOL_MOVES:
                    raise
                details = err.details() if isinstance(err, grpc.Call) else err
                print(f"stream: {details}; moving to {address}", file=sys.stderr)
                moved_to.append(address)
        stream["moved_to"] = moved_to
        print(f"stream: {stream['ticks']} ticks in {stream['batches']} batches of "
              f"{' '.join(stream['symbols'])}")  # fmt: skip
        result.update(stream)
    return result


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="Storage host:port")
    parser.add_argument("--key", required=True, help="API key (tm_...)")
    parser.add_argument("--ca", type=Path, help="the mesh CA `tickmesh up` prints (TLS)")
    parser.add_argument("--billing", help="Billing host:port: also call GetTierCatalog")
    parser.add_argument("--bridge", help="Bridge host:port: also Subscribe")
    parser.add_argument(
        "--symbols",
        default=["EURUSD"],
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        help="comma-separated, e.g. EURUSD,GBPUSD",
    )
    parser.add_argument("--messages", type=_positive(int), default=3, help="tick batches")
    parser.add_argument("--best-effort", action="store_true", help="drop symbols not in tier")
    parser.add_argument("--timeout", type=_positive(float), default=30.0, help="seconds per call")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse has printed why
        return 0 if exc.code == 0 else USAGE_ERROR
    try:
        print(json.dumps(run(args)), flush=True)
    except grpc.RpcError as err:
        # The RpcError a failed call raises is also a grpc.Call: it has the status.
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = err.details() if isinstance(err, grpc.Call) else str(err)
        print(f"error: {code.name} ({code.value[0]}): {details}", file=sys.stderr)
        return int(code.value[0])
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return OTHER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
