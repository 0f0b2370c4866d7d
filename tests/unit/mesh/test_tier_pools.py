"""`up --bridges`: counts and tier pools, and the refusals of a spec that cannot work."""

from __future__ import annotations

import pytest

from mesh.tier_pools import Pool, PoolSpecError, parse_pools, pool_name
from mesh.tiers import Tier

E, P, F = Tier.ENTERPRISE, Tier.PRO, Tier.FREE


def test_a_count_is_that_many_bridges_serving_every_tier() -> None:
    assert parse_pools("1") == (Pool(frozenset(), 1),)
    assert parse_pools(" 3 ") == (Pool(frozenset(), 3),)
    assert not parse_pools("2")[0].pooled


def test_pools_with_process_counts() -> None:
    pools = parse_pools("enterprise+pro,free*2")
    assert pools == (Pool(frozenset({E, P}), 1), Pool(frozenset({F}), 2))
    assert [p.name for p in pools] == ["enterprise+pro", "free"]
    assert pools[0].serves(E) and not pools[0].serves(F)
    assert parse_pools("Pro+Enterprise , FREE")[0].name == "enterprise+pro"
    assert pool_name(()) == "all"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("enterprise+pro", "no pool serves free"),
        ("enterprise,pro+enterprise,free", "enterprise is in two pools"),
        ("enterprise+enterprise,pro,free", "names a tier twice"),
        ("enterprise+pro,fre", "did you mean free?"),
        ("free*0,enterprise+pro", "from 1 to 16"),
        ("40", "from 1 to 16"),
        ("", "expected a count or pools"),
    ],
)
def test_a_spec_that_cannot_work_is_refused_saying_why(spec: str, says: str) -> None:
    with pytest.raises(PoolSpecError, match=says):
        parse_pools(spec)
