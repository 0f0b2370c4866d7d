"""The SDK drops a resumed stream's repeated ticks: a symbol's sequences only grow."""

from __future__ import annotations

from tickmesh.common.v1 import market_pb2

from clients.subscriber import NewestTicks


def _batch(*ticks: tuple[str, int]) -> market_pb2.TickBatch:
    return market_pb2.TickBatch(
        ticks=[market_pb2.Tick(symbol=s, sequence=q, bid=1.0) for s, q in ticks],
        last_seq=max(q for _, q in ticks),
    )


def test_new_ticks_pass_through_uncopied() -> None:
    newest = NewestTicks()
    batch = _batch(("EURUSD", 5), ("GBPUSD", 6), ("EURUSD", 7))
    assert newest.fresh(batch) is batch


def test_a_repeat_or_an_older_tick_of_a_symbol_is_dropped_the_rest_kept() -> None:
    newest = NewestTicks()
    newest.fresh(_batch(("EURUSD", 5), ("GBPUSD", 6)))
    # A catch-up after a resume: EURUSD 5 again (the client had it), GBPUSD's newer one,
    # and USDJPY 3, older than the resume point but never seen: all of it is news but 5.
    kept = newest.fresh(_batch(("EURUSD", 5), ("USDJPY", 3), ("GBPUSD", 9)))
    assert [(t.symbol, t.sequence) for t in kept.ticks] == [("USDJPY", 3), ("GBPUSD", 9)]
    assert kept.last_seq == 9
    assert list(newest.fresh(_batch(("GBPUSD", 8))).ticks) == []
