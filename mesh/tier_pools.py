"""Tier pools: server processes kept for some tiers only (issue 22).

One busy event loop serves every tier of a Bridge, so 800 free subscribers' writes delay
the 20 enterprise ones. A pool is a set of Bridge processes that serve only their tiers
(`enterprise+pro`, `free`): the Hub routes each tenant to a pool of its tier, and a pooled
server refuses any other tier, naming the pool that serves it.

`up --bridges` (TICKMESH_BRIDGES) says which Bridges to start: a count (`2`: two Bridges,
each serving every tier) or pools, comma-separated, each pool's tiers joined by `+`, and
`*N` for N processes of a pool: `enterprise+pro,free*2`. Every tier must be served by
exactly one pool, or its tenants could not stream at all.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from mesh.tiers import Tier

MAX_PROCESSES = 16
"""Bridge processes one `up` starts at most (a typo like `free*200` is refused)."""


class PoolSpecError(ValueError):
    """A `--bridges` value that cannot be parsed, with what was expected."""


@dataclass(frozen=True, slots=True)
class Pool:
    """Processes serving the same tiers; no tiers: every tier (no pool)."""

    tiers: frozenset[Tier]
    processes: int = 1

    @property
    def name(self) -> str:
        """`enterprise+pro`, richest tier first; `all` when it serves every tier."""
        return pool_name(self.tiers)

    @property
    def pooled(self) -> bool:
        """Whether it refuses some tier."""
        return bool(self.tiers)

    def serves(self, tier: Tier) -> bool:
        return serves(self.tiers, tier)

    def niceness(self, free_only: int, enterprise: int) -> int:
        """Its processes' niceness by the richest tier it serves: `enterprise` for a pool
        serving enterprise (or every tier), 0 for pro, `free_only` for free alone."""
        if self.serves(Tier.ENTERPRISE):
            return enterprise
        return 0 if self.serves(Tier.PRO) else free_only


def pool_name(tiers: Collection[Tier]) -> str:
    """A pool's name from its tiers, richest first: `enterprise+pro`; `all` for none."""
    if not tiers:
        return "all"
    return "+".join(t.value for t in sorted(tiers, key=lambda t: t.rank, reverse=True))


def serves(tiers: Collection[Tier], tier: Tier) -> bool:
    """Whether a server of `tiers` (empty: every tier) serves `tier`."""
    return not tiers or tier in tiers


def parse_pools(text: str) -> tuple[Pool, ...]:
    """`2` -> two unpooled Bridges; `enterprise+pro,free*2` -> two pools (see module doc)."""
    text = text.strip().lower()
    if not text:
        raise PoolSpecError("expected a count or pools like enterprise+pro,free, got ''")
    if text.isdigit():
        return (Pool(frozenset(), _count(text, text)),)
    pools = tuple(_pool(item.strip(), text) for item in text.split(","))
    _check_cover(pools, text)
    return pools


def _pool(item: str, whole: str) -> Pool:
    names, star, count = item.partition("*")
    processes = _count(count.strip(), whole) if star else 1
    tiers = []
    for name in (n.strip() for n in names.split("+")):
        tiers.append(_tier(name, whole))
    if len(set(tiers)) != len(tiers):
        raise PoolSpecError(f"{item!r} names a tier twice (in {whole!r})")
    return Pool(frozenset(tiers), processes)


def _tier(name: str, whole: str) -> Tier:
    try:
        return Tier(name)
    except ValueError:
        names = [t.value for t in Tier]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise PoolSpecError(
            f"unknown tier {name!r} in {whole!r}{hint} (tiers: {', '.join(names)})"
        ) from None


def _count(raw: str, whole: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PROCESSES:
        raise PoolSpecError(f"expected a process count from 1 to {MAX_PROCESSES} in {whole!r}")
    return int(raw)


def _check_cover(pools: Iterable[Pool], whole: str) -> None:
    seen: dict[Tier, Pool] = {}
    for pool in pools:
        for tier in pool.tiers:
            if tier in seen:
                raise PoolSpecError(
                    f"{tier.value} is in two pools ({seen[tier].name} and {pool.name}) in "
                    f"{whole!r}: put each tier in one pool and use *N for more processes"
                )
            seen[tier] = pool
    missing = [t.value for t in Tier if t not in seen]
    if missing:
        raise PoolSpecError(
            f"no pool serves {', '.join(missing)} in {whole!r}: its tenants could not stream; "
            "add it to a pool (e.g. enterprise+pro,free)"
        )
