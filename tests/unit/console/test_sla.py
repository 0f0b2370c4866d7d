"""The operator's SLA panels built from the replies' JSON: latency histogram per tier
against its target, compliance per tier, and chain runs linked to the Temporal UI."""

from __future__ import annotations

from console.sla import chain_runs, latency_panel

FIGURES = {
    "figures": [
        {  # the pro tier's total (MessageToDict: int64 as strings, zeros left out)
            "tier": "TIER_PRO", "samples": "4", "within_target": "3",
            "latency_p50_us": "1500", "latency_p99_us": "90000",
            "availability_percent": "100.0000",
            "latency_histogram": [
                {"below_us": "1000"}, {"below_us": "2000", "samples": "3"},
                {"samples": "1"},
            ],
        },
        {"tier": "TIER_PRO", "company_id": "c1", "samples": "4"},  # a company: not a total
    ]
}  # fmt: skip
CATALOG = {"tiers": [{"tier": "TIER_FREE", "latency_target_ms": 1000},
                     {"tier": "TIER_PRO", "latency_target_ms": 100}]}  # fmt: skip
REPORT = {"tiers": [{"tier": "TIER_PRO", "target_percent": "99.9",
                     "measured_percent": "100", "met": True}]}  # fmt: skip


def test_each_tier_gets_its_histogram_target_and_compliance() -> None:
    panel = latency_panel(FIGURES, CATALOG, REPORT)
    assert panel["labels"] == ["< 1 ms", "< 2 ms", "slower"]
    assert panel["errors"] == []
    by_tier = {t["tier"]: t for t in panel["tiers"]}
    assert list(by_tier) == ["free", "pro", "enterprise"]
    pro = by_tier["pro"]
    assert pro["counts"] == [0, 3, 1] and pro["samples"] == 4
    assert (pro["target_ms"], pro["within_target_percent"]) == (100, 75.0)
    assert (pro["p50_ms"], pro["p99_ms"]) == (1.5, 90.0)
    assert (pro["uptime_target_percent"], pro["met"]) == ("99.9", True)
    free = by_tier["free"]  # no samples yet: target known, nothing measured
    assert (free["target_ms"], free["counts"], free["within_target_percent"]) == (1000, [], None)
    assert free["met"] is None


def test_a_failed_reply_is_named_and_the_rest_still_shows() -> None:
    panel = latency_panel({"error": "UNAVAILABLE: storage"}, CATALOG, REPORT)
    assert panel["errors"] == ["UNAVAILABLE: storage"]
    assert [t["target_ms"] for t in panel["tiers"]] == [1000, 100, 0]


def test_chain_runs_link_to_their_workflow_in_the_temporal_ui() -> None:
    reply = {"runs": [{"run_id": "tm-r1", "name": "close", "version": 2, "status": "succeeded",
                       "steps": [{}, {}], "company_id": "c1"}]}  # fmt: skip
    [run] = chain_runs(reply, "http://127.0.0.1:8233/", "default")
    assert run["link"] == "http://127.0.0.1:8233/namespaces/default/workflows/tm-r1"
    assert (run["chain"], run["steps"], run["status"]) == ("close v2", 2, "succeeded")
    assert chain_runs(reply, "", "default")[0]["link"] == ""
