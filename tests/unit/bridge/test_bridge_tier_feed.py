"""Tier feeds: one throttle and one timer per tier, chunks shared per group of sessions,
and no tick twice or lost across a held update, a late join or a resume."""

from __future__ import annotations

import itertools

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from mesh.tiers import Tier
from servers.bridge.fanout import Fanout
from servers.bridge.session import Session, SessionLimits
from servers.bridge.tier_feed import SLICE, SLICE_GAP_S, SPREAD
from servers.bridge.usage_counter import UsageCounter
from tests.unit.bridge.helpers import FakeClock, FakeTimers, grant, parse, tenant, tick

SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")


class Mesh:
    """A fan-out on a fake clock and fake timers."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.timers = FakeTimers()
        self.fanout = Fanout(
            UsageCounter(),
            bounds=SessionLimits(),
            clock=self.clock,
            wall_us=lambda: round(self.clock.now * 1_000_000),
            schedule=self.timers,
        )
        self.fanout.on_universe(SYMBOLS)

    def open(
        self, name: str, tier: Tier, *symbols: str, resume_from: int = 0
    ) -> tuple[Session, list[int]]:
        opened = self.fanout.open(
            name, tenant(tier, company=name), grant(tier, *symbols), resume_from=resume_from
        )
        snapshot = [seq for seq, _, _ in opened.snapshot or ()]
        return opened.session, snapshot

    def feed(self, *ticks: market_pb2.Tick, after_s: float = 0.0) -> None:
        self.clock.now += after_s
        self.fanout.on_batch(list(ticks), ticks[0].sequence, ticks[-1].sequence)

    def flush(self, after_s: float) -> None:
        self.clock.now += after_s
        self.timers.fire_all()


def _drain(session: Session) -> list[bridge_pb2.SubscribeResponse]:
    out = []
    while (message := session.take_message()) is not None:
        out.append(parse(message.payload))
    return out


def _seqs(session: Session) -> list[list[int]]:
    return [[t.sequence for t in m.batch.ticks] for m in _drain(session)]


def test_sessions_with_the_same_symbols_share_chunks_and_one_timer() -> None:
    mesh = Mesh()
    a, _ = mesh.open("a", Tier.PRO, "EURUSD", "GBPUSD")
    b, _ = mesh.open("b", Tier.PRO, "EURUSD", "GBPUSD")
    mesh.feed(tick("EURUSD", 1), tick("GBPUSD", 2))
    assert a._queue[0] is b._queue[0]  # one chunk for the group, joined once
    assert _seqs(a) == _seqs(b) == [[1, 2]]
    mesh.feed(tick("EURUSD", 3), after_s=0.0625)  # inside pro's 100 ms: held, once
    assert len(mesh.timers.live()) == 1
    mesh.flush(0.09)  # the first pro boundary 100 ms after the first update
    assert _seqs(a) == _seqs(b) == [[3]]


def test_a_batch_touches_only_the_sessions_it_has_something_for() -> None:
    mesh = Mesh()
    euro, _ = mesh.open("euro", Tier.ENTERPRISE, "EURUSD")
    yen, _ = mesh.open("yen", Tier.ENTERPRISE, "USDJPY")
    both, _ = mesh.open("both", Tier.ENTERPRISE, "EURUSD", "USDJPY")
    mesh.feed(tick("EURUSD", 1), tick("GBPUSD", 2))
    assert yen.queue_depth == 0
    assert _seqs(euro) == _seqs(both) == [[1]]
    mesh.feed(tick("USDJPY", 3), after_s=1)
    assert euro.queue_depth == 0
    assert _seqs(yen) == _seqs(both) == [[3]]


def test_tiers_throttle_independently() -> None:
    mesh = Mesh()
    free, _ = mesh.open("free", Tier.FREE, "EURUSD")
    ent, _ = mesh.open("ent", Tier.ENTERPRISE, "EURUSD")
    for n in range(1, 11):
        mesh.feed(tick("EURUSD", n), after_s=0.05 if n > 1 else 0)
        assert _seqs(ent) == [[n]]
    assert _seqs(free) == [[1]]  # 0.45 s in: free waits for its second
    mesh.flush(0.55)
    assert _seqs(free) == [[10]]  # the latest price, a second after the first


def test_a_late_joiner_never_gets_a_held_update_twice() -> None:
    mesh = Mesh()
    early, _ = mesh.open("early", Tier.FREE, "EURUSD")
    mesh.feed(tick("EURUSD", 1))
    mesh.feed(tick("EURUSD", 2), after_s=0.2)  # held by the free tier's throttle
    late, snapshot = mesh.open("late", Tier.FREE, "EURUSD")
    assert snapshot == [2]  # the held tick is in its snapshot...
    mesh.flush(0.8)
    assert _seqs(early) == [[1, 2]]
    assert _seqs(late) == []  # ...so the flush does not send it again


def _held_update(mesh: Mesh, session: Session) -> None:
    # EURUSD 3 is held by the free tier's throttle (due at 1.0 s); GBPUSD 4 goes out at
    # 0.5 s in a message complete up to 4, which the session receives.
    mesh.feed(tick("EURUSD", 1))
    mesh.feed(tick("EURUSD", 3), after_s=0.2)
    mesh.feed(tick("GBPUSD", 4), after_s=0.3)
    assert [m.batch.last_seq for m in _drain(session)] == [4]


def test_resume_catches_up_an_update_flushed_after_the_clients_last_message() -> None:
    mesh = Mesh()
    gone, _ = mesh.open("gone", Tier.FREE, "EURUSD", "GBPUSD")
    stays, _ = mesh.open("stays", Tier.FREE, "EURUSD", "GBPUSD")
    _held_update(mesh, stays)
    assert gone.queue_depth == 2
    mesh.fanout.close("gone")  # its client left after last_seq 4, before the flush...
    mesh.flush(0.5)  # ...which sends EURUSD 3, still complete up to 4 (no new batch)
    assert _seqs(stays) == [[3]]
    mesh.feed(tick("USDJPY", 5))  # the Bridge moves on past the resume point
    resumed, snapshot = mesh.open("back", Tier.FREE, "EURUSD", "GBPUSD", resume_from=4)
    assert snapshot == [4]
    assert _seqs(resumed) == [[3]]  # never received it: caught up, not lost


def test_resume_while_the_update_is_still_held_gets_it_exactly_once() -> None:
    mesh = Mesh()
    watcher, _ = mesh.open("w", Tier.FREE, "EURUSD", "GBPUSD")
    _held_update(mesh, watcher)
    mesh.feed(tick("USDJPY", 5), after_s=0.125)  # EURUSD 3 is still held
    resumed, _ = mesh.open("back", Tier.FREE, "EURUSD", "GBPUSD", resume_from=4)
    assert _seqs(resumed) == [[3]]  # held at or below its resume point: the catch-up
    mesh.flush(0.5)
    assert _seqs(resumed) == []  # the flush does not repeat it
    assert _seqs(watcher) == [[3]]


def test_due_updates_go_out_with_the_next_batch() -> None:
    mesh = Mesh()
    session, _ = mesh.open("s", Tier.FREE, "EURUSD", "GBPUSD")
    _held_update(mesh, session)
    mesh.feed(tick("USDJPY", 5), after_s=0.6)  # past EURUSD's deadline, timer not fired
    ((message,),) = [_drain(session)]
    assert [t.sequence for t in message.batch.ticks] == [3]
    assert message.batch.last_seq == 5
    assert mesh.timers.live() == []  # nothing left held: no timer


def test_the_last_session_of_a_group_leaving_removes_the_group() -> None:
    mesh = Mesh()
    mesh.open("a", Tier.PRO, "EURUSD")
    mesh.open("b", Tier.PRO, "EURUSD", "GBPUSD")
    feed = mesh.fanout._feeds[Tier.PRO]
    assert feed.sessions == 2
    mesh.fanout.close("a")
    mesh.fanout.close("b")
    assert feed.sessions == 0
    mesh.feed(tick("EURUSD", 1))  # nobody subscribed: nothing to throttle or emit
    assert mesh.timers.live() == []


def test_at_most_one_update_per_interval_while_sessions_come_and_go() -> None:
    mesh = Mesh()
    times: dict[str, list[float]] = {}
    sessions = []
    for n in range(1, 201):  # 10 s of EURUSD every 50 ms, a new pro session every 0.5 s
        if n % 10 == 1:
            sessions.append(mesh.open(f"s{n}", Tier.PRO, "EURUSD")[0])
        mesh.flush(0)
        mesh.feed(tick("EURUSD", n), after_s=0.05)
        for session in sessions:
            if _drain(session):
                times.setdefault(session.session_id, []).append(mesh.clock.now)
    for stamps in times.values():
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert min(gaps) >= 0.1 - 1e-9


def test_busy_symbols_go_out_together_once_per_interval() -> None:
    mesh = Mesh()
    session, _ = mesh.open("s", Tier.PRO, *SYMBOLS)
    sent_at = []
    for n in range(1, 301):  # 1.5 s: every 5 ms one symbol moves, each every 15 ms
        mesh.clock.now += 0.005
        mesh.timers.fire_all()  # a timer that is due fires within 5 ms
        mesh.feed(tick(SYMBOLS[n % 3], n))
        if session.queue_depth:
            _drain(session)
            sent_at.append(mesh.clock.now)
    # Not one message per symbol at its own phase (~30/s): one per boundary with all three.
    steady = [t for t in sent_at if t > 1000.5 + 0.2]
    assert 12 <= len(steady) <= 14
    assert all(b - a >= 0.1 - 0.006 for a, b in itertools.pairwise(steady))


def test_a_large_group_gets_each_chunk_a_slice_at_a_time_in_order() -> None:
    mesh = Mesh()
    sessions = [mesh.open(f"s{n}", Tier.ENTERPRISE, "EURUSD")[0] for n in range(SLICE * 2 + 5)]
    mesh.feed(tick("EURUSD", 1))
    assert [s.queue_depth for s in sessions] == [1] * SLICE + [0] * (SLICE + 5)
    mesh.fanout.on_gap(2, 3, "lost upstream")  # queued behind the chunk, never before it
    mesh.feed(tick("EURUSD", 4), after_s=1)
    while mesh.timers.fire_all():  # the loop's next turns
        pass
    for session in sessions:
        kinds = [m.WhichOneof("payload") for m in _drain(session)]
        assert kinds == ["batch", "gap", "batch"]


def test_a_tiers_sessions_get_an_update_in_paced_slices() -> None:
    mesh = Mesh()
    # Three groups (no two sessions need be alike for the tier to be paced as a whole).
    choices = [("EURUSD",), ("EURUSD", "GBPUSD"), ("EURUSD", "USDJPY")]
    sessions = [mesh.open(f"s{n}", Tier.FREE, *choices[n % 3])[0] for n in range(SLICE * 4)]
    mesh.timers.scheduled.clear()
    mesh.feed(tick("EURUSD", 1))
    first = {s.session_id for s in sessions if s.queue_depth}
    assert len(first) == SLICE  # the first slice at once
    for handed in (2, 3, 4):
        ((delay, _, _),) = mesh.timers.live()
        assert delay == SLICE_GAP_S
        mesh.timers.fire_all()
        assert sum(s.queue_depth for s in sessions) == SLICE * handed
    assert not mesh.timers.live()
    for session in sessions:
        _drain(session)

    # The next update starts a slice further along, so nobody is always first or last.
    mesh.feed(tick("EURUSD", 2), after_s=1.0)
    second = {s.session_id for s in sessions if s.queue_depth}
    assert len(second) == SLICE and not first & second


def test_so_many_sessions_that_paced_slices_would_be_late_get_them_closer() -> None:
    mesh = Mesh()
    # Pro: reach everyone within a fifth of 100 ms, so 40 slices come 0.5 ms apart.
    sessions = [mesh.open(f"s{n}", Tier.PRO, "EURUSD")[0] for n in range(SLICE * 40)]
    mesh.timers.scheduled.clear()
    mesh.feed(tick("EURUSD", 1))
    ((delay, _, _),) = mesh.timers.live()
    assert delay == 0.1 * SPREAD / 40 < SLICE_GAP_S
    while mesh.timers.fire_all():
        pass
    assert all(s.queue_depth == 1 for s in sessions)


def test_an_emission_for_nobody_while_slices_are_pending_is_dropped() -> None:
    mesh = Mesh()
    sessions = [mesh.open(f"s{n}", Tier.PRO, "EURUSD")[0] for n in range(SLICE * 2)]
    mesh.feed(tick("EURUSD", 1))  # the first slice handed, the second pending
    for session in sessions:
        mesh.fanout.close(session.session_id)
    # Nobody left to tell (found by the benchmark: a modulo by zero in the timer callback).
    mesh.fanout.on_gap(2, 3, "lost upstream")
    while mesh.timers.fire_all():
        pass
    assert mesh.timers.live() == []


def test_a_held_update_says_when_it_was_released_and_one_sent_at_once_does_not() -> None:
    mesh = Mesh()
    session, _ = mesh.open("s", Tier.PRO, "EURUSD", "GBPUSD")
    mesh.feed(tick("EURUSD", 1))  # quiet until now: goes at once
    mesh.feed(tick("EURUSD", 2), after_s=0.01)  # too soon: held for the grid's boundary
    mesh.feed(tick("GBPUSD", 3), after_s=0.01)  # another symbol, quiet: at once
    mesh.flush(0.2)  # the boundary passed: the held EURUSD goes, stamped
    released = {t.sequence: t.released_time_us for m in _drain(session) for t in m.batch.ticks}
    assert released[1] == released[3] == 0
    assert released[2] == round(mesh.clock.now * 1_000_000)
