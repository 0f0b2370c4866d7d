"""The operator's SLA panels from the replies as JSON dicts: delivery latency per tier as a
histogram beside the tier's target (QuerySla's judged samples, GetTierCatalog's target),
and compliance per tier (SlaReport). Plain code, driven by unit tests."""

from __future__ import annotations

from typing import Any

from console.rates import TIERS


def _tier(value: Any) -> str:
    return str(value or "").removeprefix("TIER_").lower()


def _ms(us: Any) -> float:
    return round(int(us or 0) / 1000, 3)


def _bound(us: int) -> str:
    if not us:
        return "slower"
    return f"< {us / 1e6:g} s" if us >= 1_000_000 else f"< {us / 1000:g} ms"


def latency_panel(
    figures: dict[str, Any], catalog: dict[str, Any], report: dict[str, Any]
) -> dict[str, Any]:
    """Per tier (free, pro, enterprise, each present): its target, its judged samples by
    latency bucket, the share within target, p50/p99, and the report's compliance. A
    reply that failed leaves its fields out and its error under "errors"."""
    errors = [r["error"] for r in (figures, catalog, report) if "error" in r]
    targets = {
        _tier(o.get("tier")): o.get("latency_target_ms", 0) for o in catalog.get("tiers", [])
    }
    compliance = {_tier(t.get("tier")): t for t in report.get("tiers", [])}
    totals = {
        _tier(f.get("tier")): f for f in figures.get("figures", []) if not f.get("company_id")
    }
    bounds: list[int] = []
    tiers = []
    for name in TIERS:
        total = totals.get(name, {})
        buckets = total.get("latency_histogram", [])
        if buckets and not bounds:
            bounds = [int(b.get("below_us", 0)) for b in buckets]
        samples = int(total.get("samples", 0))
        within = int(total.get("within_target", 0))
        sla = compliance.get(name, {})
        tiers.append({
            "tier": name,
            "target_ms": int(targets.get(name, 0)),
            "counts": [int(b.get("samples", 0)) for b in buckets],
            "samples": samples,
            "within_target_percent": round(100 * within / samples, 2) if samples else None,
            "p50_ms": _ms(total.get("latency_p50_us")),
            "p99_ms": _ms(total.get("latency_p99_us")),
            "availability_percent": total.get("availability_percent"),
            "uptime_target_percent": sla.get("target_percent"),
            "uptime_measured_percent": sla.get("measured_percent"),
            "met": sla.get("met", False) if sla else None,
        })  # fmt: skip
    labels = [_bound(b) for b in bounds]
    return {"labels": labels, "bounds_us": bounds, "tiers": tiers, "errors": errors}


def chain_runs(reply: dict[str, Any], temporal_ui: str, namespace: str) -> list[dict[str, Any]]:
    """Recent chain runs with a link to each one's workflow in the Temporal UI (the run id
    is its workflow id); no link when no UI is known."""
    base = temporal_ui.rstrip("/")
    return [
        {
            "run": r.get("run_id", ""),
            "chain": f"{r.get('name', '')} v{r.get('version', 0)}",
            "company": r.get("company_id", ""),
            "status": r.get("status", ""),
            "steps": len(r.get("steps", [])),
            "sla violations": r.get("sla_violations", 0),
            "started": r.get("started_at", ""),
            "link": f"{base}/namespaces/{namespace}/workflows/{r.get('run_id', '')}"
            if base
            else "",
        }
        for r in reply.get("runs", [])
    ]
