"""The fault matrix in CI: every fault's row must pass (tests/e2e/fault_matrix.py measures)."""

from __future__ import annotations

import pytest

from tests.e2e.fault_matrix import FAULTS, Row, format_report, run_matrix
from tests.support.backing import require_postgres, require_redis

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

# Rows that fail today, each for a known cause. strict: a row that starts passing fails
# here, so its marker goes when the fix lands.
KNOWN: dict[str, str] = {}


@pytest.fixture(scope="module")
async def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Row]:
    """One mesh, every fault in turn (about four minutes)."""
    await require_postgres()
    await require_redis()
    rows = await run_matrix(tmp_path_factory.mktemp("faults"))
    print(format_report(rows))  # shown with -rP
    return {row.fault: row for row in rows}


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=KNOWN[f])) if f in KNOWN else f
        for f in FAULTS
    ],
)
async def test_fault_row_passes(fault: str, matrix: dict[str, Row]) -> None:
    row = matrix[fault]
    assert not row.failures(), (
        f"{fault}: " + "; ".join(row.failures()) + "\n" + "\n".join(row.evidence)
    )
