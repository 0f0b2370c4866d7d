"""The fix `doctor` and the tests name for the PostgreSQL the tests use, against the real server."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import free_ports
from tests.support.backing import POSTGRES_URL
from tickmesh_cli.doctor import check_postgres

pytestmark = pytest.mark.postgres

SERVER = POSTGRES_URL.rsplit("/", 1)[0]


def test_a_missing_database_gets_createdb_not_start_the_server() -> None:
    check = check_postgres(f"{SERVER}/tickmesh_no_such_db")
    assert not check.ok
    assert "does not exist" in check.found
    assert "createdb -h 127.0.0.1 -p 5432 -U postgres tickmesh_no_such_db" in check.fix
    assert "TICKMESH_TEST_POSTGRES_URL" in check.fix
    assert "start" not in check.fix


def test_no_server_gets_how_to_start_one_without_a_distributions_wrapper() -> None:
    port = free_ports(1)[0]
    check = check_postgres(f"postgresql://postgres@127.0.0.1:{port}/test")
    assert not check.ok
    assert f"start PostgreSQL listening on 127.0.0.1:{port}" in check.fix
    assert "pg_ctlcluster" not in check.fix and "createdb" not in check.fix


def test_the_test_database_itself_passes() -> None:
    assert check_postgres(POSTGRES_URL).ok
