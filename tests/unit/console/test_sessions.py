"""Console sessions and CSRF tokens."""

from __future__ import annotations

from console.sessions import Sessions, csrf_ok


def test_a_session_carries_its_own_csrf_token_and_closes() -> None:
    sessions = Sessions(lifetime_s=60)
    sid = sessions.open("tenant", "tm_key", "c1", "Acme")
    session = sessions.get(sid)
    assert session is not None and session.company_id == "c1" and not session.is_operator
    assert csrf_ok(session.csrf, session.csrf)
    assert not csrf_ok(session.csrf, "forged") and not csrf_ok(session.csrf, None)
    sessions.close(sid)
    assert sessions.get(sid) is None


def test_an_expired_or_unknown_session_is_none() -> None:
    sessions = Sessions(lifetime_s=-1)
    assert sessions.get(sessions.open("operator", "op")) is None
    assert sessions.get("nope") is None and sessions.get(None) is None
