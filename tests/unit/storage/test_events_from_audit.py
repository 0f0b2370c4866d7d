"""Which audited changes are webhook events, and what they carry."""

from __future__ import annotations

from servers.storage.relational.events import audit_event


def test_a_tier_change_and_an_expiry_are_events_with_both_tiers() -> None:
    assert audit_event(
        "subscription.tier_changed", "subscription", {"tier": "pro"}, {"tier": "free"}
    ) == ("tier.changed", {"from_tier": "pro", "to_tier": "free"})
    assert audit_event(
        "subscription.expired", "subscription", {"tier": "pro"}, {"tier": "free"}
    ) == ("subscription.expired", {"from_tier": "pro", "to_tier": "free"})


def test_a_scheduled_change_says_when() -> None:
    after = {"tier": "pro", "pending_tier": "free", "pending_effective_at": "2027-01-01"}
    assert audit_event("subscription.tier_changed", "subscription", {"tier": "pro"}, after) == (
        "tier.change_scheduled",
        {"from_tier": "pro", "to_tier": "free", "effective_at": "2027-01-01"},
    )


def test_past_due_announces_the_expiry_and_revocation_names_the_key() -> None:
    assert audit_event(
        "subscription.past_due", "subscription", {}, {"tier": "pro", "period_end": "2027-01-01"}
    ) == ("subscription.expiring", {"tier": "pro", "expires_at": "2027-01-01"})
    assert audit_event("api_key.revoked", "api_key:k1", {}, {}) == (
        "key.revoked",
        {"key_id": "k1"},
    )


def test_a_renewal_and_other_audited_actions_are_not_events() -> None:
    assert (
        audit_event("subscription.renewed", "subscription", {"tier": "pro"}, {"tier": "pro"})
        is None
    )
    assert audit_event("company.created", "company", None, {"name": "x"}) is None
