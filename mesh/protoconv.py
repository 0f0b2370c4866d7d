"""Conversions between domain types and the common protobuf types."""

from __future__ import annotations

from tickmesh.common.v1 import money_pb2, tenancy_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tiers import Tier

_TIER_TO_PROTO = {
    Tier.FREE: tenancy_pb2.TIER_FREE,
    Tier.PRO: tenancy_pb2.TIER_PRO,
    Tier.ENTERPRISE: tenancy_pb2.TIER_ENTERPRISE,
}
_PROTO_TO_TIER = {v: k for k, v in _TIER_TO_PROTO.items()}


def tier_to_proto(tier: Tier) -> tenancy_pb2.Tier:
    """The protobuf enum value of `tier`."""
    return _TIER_TO_PROTO[tier]


def tier_from_proto(value: int, field: str = "tier") -> Tier:
    """The domain tier of a protobuf enum value; INVALID_ARGUMENT if unset or unknown."""
    try:
        return _PROTO_TO_TIER[value]  # type: ignore[index]
    except KeyError:
        valid = ", ".join(tenancy_pb2.Tier.Name(v) for v in _TIER_TO_PROTO.values())
        raise InvalidArgument(
            f"{field}: unknown or unset tier {value}; valid: {valid}",
            violations=[FieldViolation(field, f"must be one of {valid}")],
        ) from None


def money(minor_units: int, currency: str = "USD") -> money_pb2.Money:
    """A Money message from integer minor units."""
    return money_pb2.Money(currency=currency, minor_units=minor_units)
