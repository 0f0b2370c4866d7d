"""The sidecar's own metrics: calls forwarded, errors by code, the latency it adds.

Served as BusinessMetricsService gauges (the mesh's metrics RPC; grpcurl can read
them), so the sidecar needs no second metrics endpoint. The added latency is the
time a call spends in the sidecar itself (routing, relaying each message), not
waiting for the instance or the application; its percentiles are over the last
SAMPLES calls.
"""

from __future__ import annotations

import statistics
from collections import Counter, deque
from typing import Any

import grpc
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc

from mesh.forwarding import RoutedMethod

SAMPLES = 4096


def _percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


class SidecarMetrics:
    """Counts every forwarded call (a forwarding CallObserver)."""

    def __init__(self) -> None:
        self.calls = 0
        self.messages = 0
        self.codes: Counter[str] = Counter()
        self._overhead_ms: deque[float] = deque(maxlen=SAMPLES)
        self._per_message_us: deque[float] = deque(maxlen=SAMPLES)

    def relayed(self) -> None:
        self.messages += 1

    def ended(
        self, method: RoutedMethod, code: grpc.StatusCode, overhead_s: float, messages: int
    ) -> None:
        self.calls += 1
        self.codes[code.name] += 1
        self._overhead_ms.append(overhead_s * 1000)
        if messages:
            self._per_message_us.append(overhead_s * 1e6 / messages)

    def gauges(self) -> dict[str, float]:
        """Every figure by name, as BusinessMetricsService reports them."""
        overhead = list(self._overhead_ms)
        per_message = list(self._per_message_us)
        out = {
            "sidecar.calls_forwarded": float(self.calls),
            "sidecar.messages_relayed": float(self.messages),
            "sidecar.added_ms.p50": _percentile(overhead, 50),
            "sidecar.added_ms.p99": _percentile(overhead, 99),
            "sidecar.added_us_per_message.p50": _percentile(per_message, 50),
        }
        for code, count in self.codes.items():
            if code != "OK":
                out[f"sidecar.errors.{code}"] = float(count)
        return out


class SidecarMetricsServicer(metrics_pb2_grpc.BusinessMetricsServiceServicer):
    """BusinessMetricsService answered with the sidecar's gauges."""

    def __init__(self, metrics: SidecarMetrics, instance_id: str) -> None:
        self._metrics = metrics
        self._instance_id = instance_id

    async def GetBusinessMetrics(
        self, request: metrics_pb2.GetBusinessMetricsRequest, context: Any
    ) -> metrics_pb2.GetBusinessMetricsResponse:
        return metrics_pb2.GetBusinessMetricsResponse(
            service="sidecar", instance_id=self._instance_id, gauges=self._metrics.gauges()
        )
