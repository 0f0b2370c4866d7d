"""What to do when the PostgreSQL or Redis the tests use does not answer: one portable fix.

Shared by `tickmesh doctor` and the tests' checks (tests/support/backing.py), so both
say the same thing. The fix depends on what failed: a missing database is `createdb`,
not "start the server"; the commands are PostgreSQL's and Redis's own client tools,
which every installation has, never one distribution's service wrapper.
"""

from __future__ import annotations

from urllib.parse import urlsplit

TEST_POSTGRES_VARIABLE = "TICKMESH_TEST_POSTGRES_URL"
TEST_REDIS_VARIABLE = "TICKMESH_TEST_REDIS_URL"


def postgres_fix(url: str, exc: BaseException) -> str:
    """How to fix connecting to `url` failing with `exc` (asyncpg's error, or an OSError)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user, database = parts.username or "postgres", parts.path.lstrip("/") or "postgres"
    kind = type(exc).__name__
    if kind == "InvalidCatalogNameError":  # the server runs; the database does not exist
        return (
            f"create it: `createdb -h {host} -p {port} -U {user} {database}`, or point "
            f"{TEST_POSTGRES_VARIABLE} at a database that exists"
        )
    if kind in ("InvalidAuthorizationSpecificationError", "InvalidPasswordError"):
        return (
            f"let user {user} in (trust auth for {host} in pg_hba.conf, or create the role: "
            f"`createuser -h {host} -p {port} -s {user}`), or put user:password in "
            f"{TEST_POSTGRES_VARIABLE}"
        )
    return (
        f"start PostgreSQL listening on {host}:{port} (`pg_ctl -D DATADIR start`, or your "
        f"system's service manager), or point {TEST_POSTGRES_VARIABLE} at one that runs"
    )


def redis_fix(url: str) -> str:
    """How to fix the Redis at `url` not answering."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    return (
        f"start Redis: `redis-server --daemonize yes --bind {host} --port {port} --save ''`, "
        f"or point {TEST_REDIS_VARIABLE} at one that runs"
    )
