"""The console in a real browser (Debian's Chromium via Playwright) against a mesh the
test starts with `tickmesh up`: the operator's live rates per tier, a SIGKILLed Bridge
leaving the mesh map, a tenant seeing only its own company, and CSRF on every form."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from playwright.sync_api import sync_playwright
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, chains_pb2_grpc

from mesh.demo import DEMO_SYMBOLS
from tests.e2e.conftest import RunningMesh, mesh_up
from tests.e2e.console_browser import (
    VIEWPORT,
    launch_chromium,
    screenshot,
    wait_chart_drawn,
    wait_until,
)
from tests.support.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.e2e

DEMO_LINE = re.compile(r"^\s+(free|pro|enterprise)\s+company\s+(\S+)\s+key\s+(tm_\S+)\s*$", re.M)
CONSOLE_LINE = re.compile(r"^\s+console\s+(http://127\.0\.0\.1:\d+/)", re.M)
TIERS = ("free", "pro", "enterprise")


@dataclass
class ConsoleMesh:
    mesh: RunningMesh
    url: str
    operator_key: str
    companies: dict[str, str]  # tier -> company id
    keys: dict[str, str]  # tier -> API key
    receiver: Receiver  # the pro tenant's webhook endpoint


# Module scope, not session: Playwright's sync API keeps an asyncio loop running on this
# thread while it is open, and every async test after it would fail ("cannot be called
# from a running event loop"). Every browser test is in this module: one browser in all.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleMesh]:
    """One mesh for the module, with one subscriber per demo tier streaming."""
    # The webhook dispatcher polls often, so the pro tenant's delivery shows up quickly.
    fast = {"TICKMESH_WORKFLOW_WEBHOOK_POLL_SECONDS": "0.2"}
    with (
        mesh_up(tmp_path_factory.mktemp("console") / "data", fast) as mesh,
        webhook_receiver() as receiver,
    ):
        log = mesh.log()
        found = DEMO_LINE.findall(log)
        url = CONSOLE_LINE.search(log)
        assert found and url, f"no demo tenants or console URL in the banner:\n{log}"
        subscribers = [
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "tickmesh"),
                    "subscribe",
                    "--target",
                    mesh.address("bridge"),
                    "--best-effort",
                    "--key",
                    key,
                    "--symbols",
                    *DEMO_SYMBOLS.split(),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=mesh.env,
            )
            for _, _, key in found
        ]
        try:
            yield ConsoleMesh(
                mesh,
                url.group(1),
                (mesh.data_dir / "operator.key").read_text().strip(),
                {tier: company for tier, company, _ in found},
                {tier: key for tier, _, key in found},
                receiver,
            )
        finally:
            for sub in subscribers:
                sub.kill()
                sub.wait()


def webhook_and_spare_key(console_mesh: ConsoleMesh, tier: str) -> str:
    """Gives the tier's company a webhook endpoint and a revoked spare key (whose
    key.revoked event is delivered to the endpoint); the spare key's id."""
    auth = (("authorization", f"Bearer {console_mesh.keys[tier]}"),)
    with grpc.insecure_channel(console_mesh.mesh.address("storage")) as channel:
        storage = storage_pb2_grpc.StorageServiceStub(channel)
        storage.CreateWebhookEndpoint(
            storage_pb2.CreateWebhookEndpointRequest(url=console_mesh.receiver.url),
            metadata=auth,
        )
        users = storage.ListUsers(storage_pb2.ListUsersRequest(), metadata=auth)
        spare = storage.IssueApiKey(
            storage_pb2.IssueApiKeyRequest(user_id=users.users[0].user_id, scopes=["market_data"]),
            metadata=auth,
        )
        storage.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=spare.key_id), metadata=auth)
    return str(spare.key_id)


def login(browser: Any, base: str, key: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, base_url=base)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def rate_of(page: Any, tier: str) -> float:
    cell = page.locator("#rates tr", has_text=tier).locator("td").nth(1)
    return float(cell.inner_text() or 0)


def test_operator_sees_live_rates_for_each_tier(browser: Any, console_mesh: ConsoleMesh) -> None:
    page = login(browser, console_mesh.url, console_mesh.operator_key)
    assert page.url.endswith("/operator")
    page.wait_for_function(
        "() => ['free', 'pro', 'enterprise'].every(t => { const r = [...document"
        ".querySelectorAll('#rates tr')].find(tr => tr.cells[0].textContent === t);"
        " return r && parseFloat(r.cells[1].textContent) > 0; })",
        timeout=60_000,
    )
    assert all(rate_of(page, tier) > 0 for tier in TIERS)
    wait_chart_drawn(page, "rates-chart")
    assert page.locator("#instances tr", has_text="bridge").count() >= 1
    screenshot(page, "operator")
    page.context.close()


def page_data(html: str) -> Any:
    """The JSON a console page embeds for its script."""
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert found, "no data in the page"
    return json.loads(found.group(1))


def run_a_chain(console_mesh: ConsoleMesh) -> str:
    """Registers a one-step chain (as the operator) and runs it for the enterprise demo
    company; the run's id."""
    with grpc.insecure_channel(console_mesh.mesh.address("hub")) as channel:
        chains = chains_pb2_grpc.ChainServiceStub(channel)
        chains.RegisterChain(
            chains_pb2.RegisterChainRequest(
                chain=chains_pb2.ChainDefinition(
                    name="console-check",
                    steps=[
                        chains_pb2.ChainStep(
                            name="company", service="tickmesh.storage.v1.StorageService",
                            method="GetCompany", request_template="{}",
                        )
                    ],
                )
            ),
            metadata=(("authorization", f"Bearer {console_mesh.operator_key}"),),
            timeout=30,
        )  # fmt: skip
        run = chains.RunChain(
            chains_pb2.RunChainRequest(name="console-check"),
            metadata=(("authorization", f"Bearer {console_mesh.keys['enterprise']}"),),
            timeout=30,
        )
    return str(run.run_id)


def test_operator_sees_latency_sla_chain_runs_and_bridge_rates(
    browser: Any, console_mesh: ConsoleMesh
) -> None:
    run_id = run_a_chain(console_mesh)
    page = login(browser, console_mesh.url, console_mesh.operator_key)

    # The page's data is read when it loads: fetch it (bounded) until the Bridges' SLA
    # samples have reached Storage for every tier and the run is listed, then reload.
    def ready() -> bool:
        data = page_data(page.context.request.get("/operator").text())
        return all(t["samples"] > 0 for t in data["latency"]["tiers"]) and any(
            r["run"] == run_id for r in data["runs"].get("runs", [])
        )

    wait_until(page, ready, "SLA samples of every tier and the chain run", within_s=90)
    page.reload()
    seen = wait_chart_drawn(page, "latency-chart")
    assert seen["points"] == len(page.evaluate("JSON.parse(data.textContent).latency.labels"))
    wait_chart_drawn(page, "bridges-chart")
    for tier in TIERS:
        row = page.locator("#latency tr", has_text=tier).locator("td")
        assert int(row.nth(1).inner_text()) > 0, f"{tier} has no latency target"
        assert int(row.nth(2).inner_text()) > 0, f"{tier} has no samples"
        assert page.locator("#compliance tr", has_text=tier).count() == 1
    # A second free stream is refused at the quota (the demo subscriber holds free's one):
    # the operator's table counts it for the free tier.
    with grpc.insecure_channel(console_mesh.mesh.address("bridge")) as channel:
        stream = bridge_pb2_grpc.BridgeServiceStub(channel).Subscribe(
            bridge_pb2.SubscribeRequest(symbols=["EURUSD"]),
            metadata=(("authorization", f"Bearer {console_mesh.keys['free']}"),),
            timeout=30,
        )
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(stream))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    page.wait_for_function(
        "() => { const r = [...document.querySelectorAll('#rates tr')].find(tr =>"
        " tr.cells[0].textContent === 'free'); return r && parseInt(r.cells[3].textContent) > 0; }",
        timeout=30_000,
    )
    run_row = page.locator("#runs tr", has_text=run_id)
    assert run_row.count() == 1
    link = run_row.locator("a").get_attribute("href") or ""
    assert link.endswith(f"/workflows/{run_id}"), link
    assert float(page.locator("#bridges tr td").nth(1).inner_text()) >= 0
    screenshot(page, "operator-sla-runs")
    page.context.close()


def test_a_killed_bridge_leaves_the_mesh_map(browser: Any, console_mesh: ConsoleMesh) -> None:
    page = login(browser, console_mesh.url, console_mesh.operator_key)
    row = page.locator("#instances tr", has_text="bridge").first
    row.wait_for(timeout=30_000)
    instance_id = row.locator("td").nth(1).inner_text()
    os.kill(console_mesh.mesh.state()["services"]["bridge"]["pid"], signal.SIGKILL)
    # Gone from the map within seconds, listed as lost until the Hub forgets it (the
    # launcher restarts the Bridge, which registers as a new instance).
    page.wait_for_function(
        "(id) => ![...document.querySelectorAll('#instances tr')].some(tr =>"
        " tr.cells[1].textContent === id)",
        arg=instance_id,
        timeout=15_000,
    )
    screenshot(page, "operator-bridge-killed")
    page.context.close()


def test_a_tenant_sees_its_own_usage_and_no_other_company(
    browser: Any, console_mesh: ConsoleMesh
) -> None:
    own = console_mesh.companies["pro"]
    page = login(browser, console_mesh.url, console_mesh.keys["pro"])
    assert page.url.endswith(f"/tenant/{own}")
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('#usage tr')[1];"
        " return r && parseInt(r.cells[1].textContent) > 0; }",
        timeout=60_000,
    )
    wait_chart_drawn(page, "usage-chart")
    screenshot(page, "tenant")
    others = [c for tier, c in console_mesh.companies.items() if tier != "pro"]
    assert not any(other in page.content() for other in others)
    for other in others:
        for path in (f"/tenant/{other}", f"/tenant/{other}/live"):
            reply = page.goto(path)
            assert reply is not None and reply.status == 404, path
            assert other not in page.content()
    screenshot(page, "not-found")
    reply = page.goto("/operator")
    assert reply is not None and reply.status == 404
    page.goto("/operator/live")
    assert "rates" not in page.content()
    page.context.close()


def test_a_tenant_sees_its_keys_webhooks_and_live_prices_only(
    browser: Any, console_mesh: ConsoleMesh
) -> None:
    own = console_mesh.companies["pro"]
    spare = webhook_and_spare_key(console_mesh, "pro")
    page = login(browser, console_mesh.url, console_mesh.keys["pro"])

    # The page's embedded data, fetched (no new price stream) until the dispatcher has
    # delivered the key.revoked event.
    wait_until(
        page,
        lambda: '"succeeded": true' in page.context.request.get(f"/tenant/{own}").text(),
        "the key.revoked event's delivery listed",
        within_s=60,
    )
    page.reload()
    # Keys: prefixes and scopes, the revoked one marked, never a secret.
    spare_row = page.locator("#keys tr", has_text=f"tm_{spare}")
    spare_row.wait_for(timeout=10_000)
    assert spare_row.locator("td").nth(1).inner_text() == "market_data"
    assert spare_row.locator("td").nth(4).inner_text() != ""  # revoked at
    secret = console_mesh.keys["pro"].rsplit("_", 1)[1]
    assert secret not in page.content()
    assert page.locator("#webhooks tr", has_text=console_mesh.receiver.url).count() == 1
    assert page.locator("#deliveries tr", has_text="delivered").count() >= 1
    # Live prices at the pro tier: rows with pro's fields (spread, quality), not enterprise's.
    page.wait_for_function(
        "() => window.consolePrices && window.consolePrices.rows > 0"
        " && window.consolePrices.updates > 0",
        timeout=30_000,
    )
    headers = page.locator("#prices th").all_inner_texts()
    assert "spread_pips" in headers and "liquidity_score" not in headers, headers
    assert "pro tier" in page.locator("#prices-info").inner_text()
    screenshot(page, "tenant-keys-webhooks-prices")
    # Price streams are bounded per login: the page holds one, a second opens, a third is
    # refused (429 before the stream, or an error event); each outcome within 20 s. The
    # stream of the page before the reload above has closed: still counted, it would
    # have taken the second's place.
    outcomes = page.evaluate(
        """async (url) => {
          const one = () => new Promise((done) => {
            const es = new EventSource(url);
            const timer = setTimeout(() => done('silent'), 20000);
            es.onmessage = (e) => { clearTimeout(timer);
              done(JSON.parse(e.data).error ? 'refused' : 'prices'); };
            es.onerror = () => { clearTimeout(timer); es.close(); done('refused'); };
            window.extraPriceStreams = (window.extraPriceStreams || []).concat([es]);
          });
          const second = await one();
          const third = await one();
          window.extraPriceStreams.forEach((es) => es.close());
          return [second, third];
        }""",
        f"/tenant/{own}/prices",
    )
    assert outcomes == ["prices", "refused"], outcomes
    # Another company's pages and price stream are refused, and nothing of it shows.
    for tier, other in console_mesh.companies.items():
        if tier == "pro":
            continue
        reply = page.context.request.get(f"/tenant/{other}/prices")
        assert reply.status == 404, (other, reply.status)
        assert other not in reply.text()
    assert own in page.url
    page.context.close()


def test_forms_without_their_csrf_token_are_refused(
    browser: Any, console_mesh: ConsoleMesh
) -> None:
    page = login(browser, console_mesh.url, console_mesh.keys["free"])
    session = [c for c in page.context.cookies() if c["name"] == "tickmesh_console"]
    assert session and session[0]["httpOnly"], "the session cookie must be HttpOnly"
    api = page.context.request
    refused = api.post("/logout", form={}, max_redirects=0)
    assert refused.status == 403
    forged = api.post("/logout", form={"csrf": "forged"}, max_redirects=0)
    assert forged.status == 403
    login_without = api.post("/login", form={"key": console_mesh.keys["free"]}, max_redirects=0)
    assert login_without.status == 403
    screenshot(page, "tenant-free")
    token = page.locator("form.logout input[name=csrf]").get_attribute("value")
    accepted = api.post("/logout", form={"csrf": token or ""}, max_redirects=0)
    assert accepted.status == 303
    page.goto("/login")
    assert page.locator("input[name=key]").count() == 1
    screenshot(page, "login")
    page.context.close()
