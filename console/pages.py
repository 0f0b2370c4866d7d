"""The console's HTML: one layout, pages as small functions. Data for the browser rides in
a JSON script tag; console.js draws tables and the uPlot charts from it."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from console.sessions import Session


def _json(data: Any) -> str:
    # "</" would end the script element early: JSON allows the escaped form.
    return json.dumps(data).replace("</", "<\\/")


def layout(title: str, body: str, session: Session | None = None, data: Any = None) -> str:
    logout = ""
    if session is not None:
        who = "operator" if session.is_operator else escape(session.company_name)
        logout = (
            f'<form method="post" action="/logout" class="logout"><span>{who}</span>'
            f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">'
            '<button type="submit">Log out</button></form>'
        )
    payload = ""
    if data is not None:
        payload = f'<script type="application/json" id="data">{_json(data)}</script>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} · tickmesh console</title>
<link rel="stylesheet" href="/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="/static/console.css">
</head><body>
<header><a href="/" class="brand">tickmesh</a><h1>{escape(title)}</h1>{logout}</header>
<main>{body}</main>
{payload}
<script src="/vendor/uplot/uPlot.iife.min.js"></script>
<script src="/static/console.js"></script>
</body></html>"""


def login_page(csrf: str, error: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""<section class="login">{message}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<label>Operator key or API key
<input type="password" name="key" autocomplete="off" required></label>
<button type="submit">Log in</button></form></section>"""
    return layout("Log in", body)


def operator_page(session: Session, panels: dict[str, Any], temporal_ui: str) -> str:
    body = """
<section><h2>Live ticks/s, open streams and quota refusals per tier</h2>
<div id="rates-chart" class="chart"></div>
<table id="rates"></table></section>
<section><h2>Live ticks/s per Bridge</h2><div id="bridges-chart" class="chart"></div>
<table id="bridges"></table></section>
<section><h2>Delivery latency per tier (this month, share of samples)</h2>
<div id="latency-chart" class="chart"></div><table id="latency"></table></section>
<section><h2>SLA compliance per tier</h2><table id="compliance"></table></section>
<section><h2>Chain runs</h2><table id="runs"></table></section>
<section><h2>Mesh map</h2><table id="instances"></table>
<h3>Lost (unreachable; gone once their lease lapses)</h3><table id="lost"></table></section>
<section><h2>Revenue</h2><div id="revenue" class="panel"></div></section>
<section><h2>Customers</h2><div id="customers" class="panel"></div></section>
<section><h2>Schedules</h2><div id="schedules" class="panel"></div></section>
<section><h2>Brokers</h2><div id="brokers" class="panel"></div></section>
<section><h2>Churn risk</h2><div id="churn" class="panel"></div></section>
<section><h2>Upsell candidates</h2><div id="upsell" class="panel"></div></section>
<section><h2>Companies</h2><table id="companies"></table></section>"""
    data = {"view": "operator", "live": "/operator/live", "temporal_ui": temporal_ui, **panels}
    return layout("Operator", body, session, data)


def tenant_page(session: Session, company: dict[str, Any], panels: dict[str, Any]) -> str:
    cid = str(company.get("company_id", ""))
    body = f"""
<section><h2>{escape(str(company.get("name", "")))}</h2>
<p>tier <b id="tier">{escape(str(company.get("tier", "")))}</b>
 · company <code>{escape(cid)}</code></p></section>
<section><h2>Usage: ticks/s</h2><div id="usage-chart" class="chart"></div>
<table id="usage"></table></section>
<section><h2>Live prices</h2><p id="prices-info"></p><table id="prices"></table></section>
<section><h2>API keys</h2><table id="keys"></table></section>
<section><h2>Webhook endpoints</h2><table id="webhooks"></table>
<h3>Recent deliveries</h3><table id="deliveries"></table></section>
<section><h2>Subscription</h2><div id="subscription" class="panel"></div></section>
<section><h2>Stored data</h2><div id="storage" class="panel"></div></section>
<section><h2>Invoices</h2><div id="invoices" class="panel"></div></section>
<section><h2>SLA report</h2><div id="sla" class="panel"></div></section>"""
    data = {
        "view": "tenant", "live": f"/tenant/{cid}/live", "prices": f"/tenant/{cid}/prices",
        "company": company, **panels,
    }  # fmt: skip
    return layout(str(company.get("name", "Tenant")), body, session, data)


def not_found_page(session: Session | None) -> str:
    return layout("Not found", "<p>Nothing here.</p>", session)
