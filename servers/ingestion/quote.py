"""RawQuote: one broker quote inside Ingestion, lighter than the protobuf Quote."""

from __future__ import annotations

from typing import NamedTuple

from tickmesh.common.v1 import market_pb2


class RawQuote(NamedTuple):
    """A broker's quote as collectors and PublishTicks hand it to the pipeline."""

    symbol: str
    bid: float
    ask: float
    broker: str
    broker_time_us: int
    bid_size: float = 0.0
    ask_size: float = 0.0

    @classmethod
    def from_proto(cls, quote: market_pb2.Quote) -> RawQuote:
        """The contract's Quote as a RawQuote (no validation)."""
        return cls(
            quote.symbol,
            quote.bid,
            quote.ask,
            quote.broker,
            quote.broker_time_us,
            quote.bid_size,
            quote.ask_size,
        )

    def to_proto(self) -> market_pb2.Quote:
        """This quote as the contract's Quote."""
        return market_pb2.Quote(
            symbol=self.symbol,
            bid=self.bid,
            ask=self.ask,
            broker=self.broker,
            broker_time_us=self.broker_time_us,
            bid_size=self.bid_size,
            ask_size=self.ask_size,
        )

    @property
    def mid(self) -> float:
        """Halfway between bid and ask."""
        return (self.bid + self.ask) * 0.5
