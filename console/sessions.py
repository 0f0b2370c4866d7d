"""Console logins: server-side sessions behind an opaque HttpOnly cookie, each with its
CSRF token. Kept in memory: a console restart logs everyone out, which is acceptable for
an operator tool and keeps keys out of cookies."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "tickmesh_console"


@dataclass(frozen=True, slots=True)
class Session:
    """Who is logged in: the operator, or one tenant (its key and its company)."""

    kind: str  # "operator" or "tenant"
    key: str
    company_id: str
    company_name: str
    csrf: str
    expires: float

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


@dataclass
class Sessions:
    """The open sessions, by their cookie value."""

    lifetime_s: float
    _by_id: dict[str, Session] = field(default_factory=dict)

    def open(self, kind: str, key: str, company_id: str = "", company_name: str = "") -> str:
        """A new session; its id, the cookie's value."""
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = Session(
            kind, key, company_id, company_name, secrets.token_urlsafe(32),
            time.monotonic() + self.lifetime_s,
        )  # fmt: skip
        return sid

    def get(self, sid: str | None) -> Session | None:
        session = self._by_id.get(sid or "")
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self._by_id[sid or ""]
            return None
        return session

    def close(self, sid: str | None) -> None:
        self._by_id.pop(sid or "", None)


def csrf_ok(expected: str, given: object) -> bool:
    """Whether a form's token matches its session's (constant time)."""
    return isinstance(given, str) and hmac.compare_digest(expected, given)


def login_csrf() -> str:
    """A token for the login form, which has no session yet (double-submit cookie)."""
    return secrets.token_urlsafe(32)
