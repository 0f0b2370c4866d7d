"""Self-service sign-up: a free company and owner at once, the first key for the token
that went out as an event; a token works once, within its day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mesh.errors import InvalidArgument, Unauthenticated
from mesh.tiers import Tier
from servers.storage.relational import (
    api_keys,
    audit,
    companies,
    events,
    signups,
    subscriptions,
    users,
)
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope
from tests.integration.storage.conftest import T0


async def _token(store: RelationalStore, company_id: str) -> str:
    [event] = [
        e
        for e in await events.list_events(store, company_id=company_id)
        if e.type == signups.VERIFICATION_EVENT
    ]
    return str(event.data["token"])


async def test_sign_up_then_verify_gives_the_owner_a_free_key(store: RelationalStore) -> None:
    pending = await signups.sign_up(store, "Self Serve FX", "Ann@Example.com", "Ann", now=T0)
    assert pending.expires_at == T0 + signups.VERIFICATION_TTL
    sub = await subscriptions.get_subscription(store, pending.company_id)
    assert sub.tier is Tier.FREE
    [owner] = await users.list_users(store, TenantScope(pending.company_id))
    assert (owner.id, owner.email, owner.role) == (pending.user_id, "ann@example.com", "owner")
    assert await api_keys.list_api_keys(store, TenantScope(pending.company_id)) == []

    token = await _token(store, pending.company_id)
    verified = await signups.verify(store, token, now=T0 + timedelta(hours=1))
    assert verified.company_id == pending.company_id
    result = await api_keys.authenticate_key(store, verified.key.plaintext, now=T0)
    assert (result.company_id, result.user_id, result.role) == (
        pending.company_id, pending.user_id, "owner",
    )  # fmt: skip
    trail = await audit.list_audit(store, pending.company_id)
    assert {"company.created", "signup.verified", "api_key.issued"} <= {e.action for e in trail}
    company = await companies.get_company(store, pending.company_id)
    assert company.name == "Self Serve FX"


async def test_a_token_works_once_and_within_its_day(store: RelationalStore) -> None:
    first = await signups.sign_up(store, "Once Ltd", "once@example.com", "Once", now=T0)
    token = await _token(store, first.company_id)
    await signups.verify(store, token, now=T0)
    with pytest.raises(Unauthenticated, match="used already") as used:
        await signups.verify(store, token, now=T0)
    assert used.value.reason == "SIGNUP_TOKEN_INVALID"

    late = await signups.sign_up(store, "Late Ltd", "late@example.com", "Late", now=T0)
    with pytest.raises(Unauthenticated, match="expired"):
        await signups.verify(
            store, await _token(store, late.company_id), now=T0 + signups.VERIFICATION_TTL
        )
    for bad in ("", "sv_nope", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(Unauthenticated) as refused:
            await signups.verify(store, bad, now=T0)
        assert refused.value.reason == "SIGNUP_TOKEN_INVALID"


async def test_bad_fields_are_named_and_create_nothing(store: RelationalStore) -> None:
    before = len(await companies.list_companies(store))
    with pytest.raises(InvalidArgument) as caught:
        await signups.sign_up(store, "", "not-an-email", "x" * 500, now=T0)
    fields = {v.field for v in caught.value.violations}
    assert fields == {"company_name", "owner_email", "owner_name"}
    assert len(await companies.list_companies(store)) == before
