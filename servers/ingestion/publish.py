"""One PublishTicks client stream: each message bounded, submitted, its rejections listed."""

from __future__ import annotations

from collections.abc import Sequence

from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.errors import FieldViolation, InvalidArgument
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote

MAX_QUOTES_PER_MESSAGE = 10_000
MAX_LISTED_REJECTIONS = 1_000
"""Rejections listed in the answer; the count covers every one."""


class PublishTally:
    """What a stream has published so far; quotes already accepted are kept even when a
    later message is refused."""

    def __init__(self, pipeline: IngestionPipeline) -> None:
        self._pipeline = pipeline
        self.accepted = self.rejected = self.index = self.last_seq = 0
        self.rejections: list[ingestion_pb2.QuoteRejection] = []

    def add(self, quotes: Sequence[market_pb2.Quote]) -> None:
        """Validate and submit one message's quotes; INVALID_ARGUMENT past the bound."""
        count = len(quotes)
        if count > MAX_QUOTES_PER_MESSAGE:
            raise self._too_many(count)
        raw = [RawQuote.from_proto(quote) for quote in quotes]
        result = self._pipeline.submit(raw)
        for position, reason in result.rejections:
            if len(self.rejections) < MAX_LISTED_REJECTIONS:
                self.rejections.append(
                    ingestion_pb2.QuoteRejection(
                        index=self.index + position, symbol=raw[position].symbol[:64], reason=reason
                    )
                )
        self.accepted += result.accepted
        self.rejected += len(result.rejections)
        self.last_seq = result.last_seq or self.last_seq
        self.index += count

    def response(self) -> ingestion_pb2.PublishTicksResponse:
        return ingestion_pb2.PublishTicksResponse(
            accepted=self.accepted,
            rejected=self.rejected,
            rejections=self.rejections,
            last_seq=self.last_seq,
        )

    def _too_many(self, count: int) -> InvalidArgument:
        return InvalidArgument(
            f"a PublishTicks message carries {count} quotes, more than"
            f" {MAX_QUOTES_PER_MESSAGE}; the {self.accepted} quotes accepted earlier in"
            " this stream are kept",
            reason="TOO_MANY_QUOTES",
            violations=[
                FieldViolation(
                    "quotes", f"at most {MAX_QUOTES_PER_MESSAGE} quotes per message, got {count}"
                )
            ],
            metadata={
                "max_quotes_per_message": str(MAX_QUOTES_PER_MESSAGE),
                "quotes_in_message": str(count),
                "first_index": str(self.index),
                "accepted_before": str(self.accepted),
                "rejected_before": str(self.rejected),
            },
        )
