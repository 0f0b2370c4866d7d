"""actor_label: the audit trail's name for each kind of caller, Storage's and Billing's alike."""

from __future__ import annotations

import pytest

from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, PrincipalKind, actor_label, principal_scope
from mesh.tiers import Tier

TENANT = TenantContext("0123456789ab", "u1", Tier.PRO, "k1")


@pytest.mark.parametrize(
    ("principal", "label"),
    [
        (Principal(PrincipalKind.TENANT, tenant=TENANT), "user:u1"),
        (Principal(PrincipalKind.TENANT, tenant=TENANT, service="bridge"), "user:u1"),
        (Principal(PrincipalKind.OPERATOR), "operator"),
        (Principal(PrincipalKind.OPERATOR, service="billing"), "operator:billing"),
        (Principal(PrincipalKind.SERVICE, service="billing"), "service:billing"),
    ],
)
def test_actor_label(principal: Principal, label: str) -> None:
    with principal_scope(principal):
        assert actor_label() == label
