"""The console's routes: login by key, the operator and tenant pages, their live feeds
(server-sent events) and the static files (uPlot from node_modules: no CDN).

Every form carries a CSRF token: the session's, or for the login form (no session yet)
a double-submit cookie. Sessions are opaque ids in an HttpOnly, SameSite=Strict cookie;
the keys stay on the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from tickmesh.hub.v1 import hub_pb2

from console.mesh_reader import MeshReader, as_dict, tier_name
from console.pages import layout, login_page, not_found_page, operator_page, tenant_page
from console.prices import PriceBoard
from console.rates import TIERS, RateMeter
from console.sessions import COOKIE, Session, Sessions, csrf_ok, login_csrf
from console.settings import ConsoleSettings
from console.sla import chain_runs, latency_panel
from mesh.config import MeshConfig, load_settings
from mesh.temporal_server import SECTION as TEMPORAL
from mesh.temporal_server import TemporalSettings

HERE = Path(__file__).resolve().parent
LOGIN_CSRF_COOKIE = "tickmesh_login_csrf"
COMPANIES_TTL_S = 10.0
PRICE_STREAMS_PER_SESSION = 2  # a page and its reload; more is refused (429)
PRICE_PUSH_S = 0.25  # the browser gets at most this many price events a second, batched


def uplot_dir() -> Path:
    """uPlot's built files: `npm install` (make install) puts them in node_modules."""
    node_modules = os.environ.get("TICKMESH_CONSOLE_NODE_MODULES", HERE.parent / "node_modules")
    return Path(node_modules) / "uplot" / "dist"


class Console:
    """The console's state: its settings, sessions and the RPC reader."""

    def __init__(self, config: MeshConfig, settings: ConsoleSettings) -> None:
        self.config = config
        self.settings = settings
        self.reader = MeshReader(config)
        self.sessions = Sessions(settings.session_hours * 3600)
        self.operator_key = config.admin_key or ""
        temporal = load_settings(TemporalSettings, config, TEMPORAL)
        self.temporal_ui = temporal.ui_url
        self.temporal_namespace = temporal.namespace
        self._companies: tuple[float, dict[str, str]] = (0.0, {})
        self.price_streams: dict[str, int] = {}  # session id -> open price streams

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    async def tiers_by_company(self) -> dict[str, str]:
        """Company id -> tier name, read with the operator key, cached briefly."""
        at, cached = self._companies
        if time.monotonic() - at < COMPANIES_TTL_S and cached:
            return cached
        companies = await self.reader.companies(self.operator_key)
        fresh = {c.company_id: tier_name(c.tier) for c in companies}
        self._companies = (time.monotonic(), fresh)
        return fresh

    async def bridges(self) -> list[str]:
        """Where the serving Bridges are (from the Hub; infrastructure, not tenant data)."""
        try:
            instances = await self.reader.instances(self.operator_key)
        except grpc.aio.AioRpcError:
            return [self.config.address_of("bridge")]
        return [
            i.spec.address
            for i in instances
            if i.spec.service == "bridge" and i.health == 1  # INSTANCE_HEALTH_SERVING
        ]


UNREACHABLE = hub_pb2.INSTANCE_HEALTH_UNREACHABLE


def _instance_row(instance: Any) -> dict[str, Any]:
    d = as_dict(instance)
    spec = d.get("spec", {})
    return {
        "service": spec.get("service", ""),
        "instance_id": spec.get("instance_id", ""),
        "address": spec.get("address", ""),
        "health": d.get("health", "").removeprefix("INSTANCE_HEALTH_"),
        "sessions": d.get("active_sessions", 0),
        "score": round(float(d.get("score", 0.0)), 3),
    }


def create_app(config: MeshConfig, settings: ConsoleSettings) -> Starlette:
    console = Console(config, settings)

    async def home(request: Request) -> Response:
        session = console.session(request)
        if session is None:
            return RedirectResponse("/login", 303)
        if session.is_operator:
            return RedirectResponse("/operator", 303)
        return RedirectResponse(f"/tenant/{session.company_id}", 303)

    async def login_form(request: Request) -> Response:
        token = login_csrf()
        response = HTMLResponse(login_page(token))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("csrf")):
            return forbidden()
        key = str(form.get("key") or "").strip()
        sid: str | None = None
        if key and key == console.operator_key:
            sid = console.sessions.open("operator", key)
        elif key:
            with contextlib.suppress(grpc.aio.AioRpcError):
                company = await console.reader.company_of(key)
                sid = console.sessions.open("tenant", key, company.company_id, company.name)
        if sid is None:
            token = login_csrf()
            response: Response = HTMLResponse(login_page(token, "That key is not valid."), 401)
            response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
            return response
        response = RedirectResponse("/", 303)
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict")
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    async def logout(request: Request) -> Response:
        session = console.session(request)
        form = await request.form()
        if session is None or not csrf_ok(session.csrf, form.get("csrf")):
            return forbidden()
        console.sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response

    async def operator(request: Request) -> Response:
        session = console.session(request)
        if session is None:
            return RedirectResponse("/login", 303)
        if not session.is_operator:
            return HTMLResponse(not_found_page(session), 404)
        panels = await console.reader.operator_panels(session.key)
        try:
            companies = [as_dict(c) for c in await console.reader.companies(session.key)]
        except grpc.aio.AioRpcError as err:
            companies = [{"error": f"{err.code().name}: {err.details()}"}]
        panels["companies"] = companies
        panels["latency"] = latency_panel(
            panels.pop("sla_figures"), panels.pop("catalog"), panels.pop("sla_report")
        )
        runs = panels.pop("runs")
        panels["runs"] = runs if "error" in runs else {
            "runs": chain_runs(runs, console.temporal_ui, console.temporal_namespace)
        }  # fmt: skip
        return HTMLResponse(operator_page(session, panels, console.temporal_ui))

    async def tenant(request: Request) -> Response:
        session = console.session(request)
        if session is None:
            return RedirectResponse("/login", 303)
        company_id = request.path_params["company_id"]
        company = await visible_company(session, company_id)
        if company is None:
            return HTMLResponse(not_found_page(session), 404)
        panels = await console.reader.tenant_panels(session.key, company_id)
        return HTMLResponse(tenant_page(session, company, panels))

    async def visible_company(session: Session, company_id: str) -> dict[str, Any] | None:
        # A tenant's session reaches only its own company; the Storage check below is
        # the second lock (its key could not read another company anyway).
        if not session.is_operator and company_id != session.company_id:
            return None
        try:
            return as_dict(await console.reader.company(session.key, company_id))
        except grpc.aio.AioRpcError:
            return None

    async def operator_live(request: Request) -> Response:
        session = console.session(request)
        if session is None or not session.is_operator:
            return HTMLResponse(not_found_page(session), 404)

        async def sample(meter: RateMeter) -> dict[str, Any]:
            instances = await console.reader.instances(session.key)
            tiers = await console.tiers_by_company()
            bridges = [
                i.spec.address for i in instances if i.spec.service == "bridge" and i.health == 1
            ]
            totals = await console.reader.bridge_totals(session.key, bridges, list(tiers))
            streams, refused = dict.fromkeys(TIERS, 0), dict.fromkeys(TIERS, 0)
            for (_, company_id), (_, open_streams, refusals) in totals.items():
                if tiers.get(company_id) in streams:
                    streams[tiers[company_id]] += open_streams
                    refused[tiers[company_id]] += refusals
            rates = meter.update(time.monotonic(), {k: v[0] for k, v in totals.items()}, tiers)
            # The map shows what the Hub can reach; an instance its checks cannot reach
            # (killed, partitioned) leaves it at once and is listed as lost until its
            # lease lapses and the Hub forgets it.
            reachable = [i for i in instances if i.health != UNREACHABLE]
            lost = [i for i in instances if i.health == UNREACHABLE]
            return {
                "rates": rates,
                "bridges": meter.by_instance,
                "streams": streams,
                "refused": refused,
                "instances": [_instance_row(i) for i in reachable],
                "lost": [_instance_row(i) for i in lost],
            }

        return live(request, sample)

    async def tenant_live(request: Request) -> Response:
        session = console.session(request)
        company_id = request.path_params["company_id"]
        if session is None or await visible_company(session, company_id) is None:
            return HTMLResponse(not_found_page(session), 404)

        async def sample(meter: RateMeter) -> dict[str, Any]:
            bridges = await console.bridges()
            totals = await console.reader.bridge_totals(session.key, bridges, [company_id])
            delivered = sum(v[0] for v in totals.values())
            rates = meter.update(
                time.monotonic(), {k: v[0] for k, v in totals.items()}, {company_id: "pro"}
            )
            return {
                "rates": {"ticks": rates["pro"]},
                "ticks_delivered": delivered,
                "streams": sum(v[1] for v in totals.values()),
            }

        return live(request, sample)

    async def tenant_prices(request: Request) -> Response:
        # Live prices through the Bridge with the session's own key, so the tier decides
        # the symbols, fields and rate. One Subscribe per open page, closed when the page
        # goes away (Starlette cancels the stream on disconnect), at most a few a session.
        session = console.session(request)
        company_id = request.path_params["company_id"]
        if (
            session is None
            or session.is_operator
            or await visible_company(session, company_id) is None
        ):
            return HTMLResponse(not_found_page(session), 404)
        sid = request.cookies.get(COOKIE, "")
        if console.price_streams.get(sid, 0) >= PRICE_STREAMS_PER_SESSION:
            return Response("too many price streams open", 429)
        try:
            symbols = await console.reader.symbols(session.key)
            bridge = (await console.bridges() or [console.config.address_of("bridge")])[0]
        except grpc.aio.AioRpcError as err:
            return Response(f"{err.code().name}: {err.details()}", 503)

        async def events() -> AsyncIterator[str]:
            # Counted here, not in the route: a client gone before the body starts never
            # runs this generator, so nothing would uncount it. Check and count with no
            # await between them, so concurrent opens cannot pass the bound together.
            if console.price_streams.get(sid, 0) >= PRICE_STREAMS_PER_SESSION:
                yield f"data: {json.dumps({'error': 'too many price streams open'})}\n\n"
                return
            board = PriceBoard()
            pushed = 0.0
            console.price_streams[sid] = console.price_streams.get(sid, 0) + 1
            call = None
            try:
                call = console.reader.subscribe(session.key, bridge, symbols)
                async for message in call:
                    board.apply(message)
                    if time.monotonic() - pushed < PRICE_PUSH_S:
                        continue
                    event = board.event()
                    if event is not None:
                        pushed = time.monotonic()
                        yield f"data: {json.dumps(event)}\n\n"
            except grpc.aio.AioRpcError as err:
                error = {"error": f"{err.code().name}: {err.details()}"}
                yield f"data: {json.dumps(error)}\n\n"
            finally:
                if call is not None:
                    call.cancel()
                left = console.price_streams.get(sid, 1) - 1
                if left > 0:
                    console.price_streams[sid] = left
                else:
                    console.price_streams.pop(sid, None)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    def live(request: Request, sample: Any) -> Response:
        async def events() -> AsyncIterator[str]:
            meter = RateMeter()
            while not await request.is_disconnected():
                try:
                    data = await sample(meter)
                except grpc.aio.AioRpcError as err:
                    data = {"error": f"{err.code().name}: {err.details()}"}
                data["t"] = time.time()
                yield f"data: {json.dumps(data)}\n\n"
                await asyncio.sleep(settings.sample_seconds)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    def forbidden() -> Response:
        return HTMLResponse(layout("Refused", "<p>Missing or wrong CSRF token.</p>"), 403)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await console.reader.close()

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/operator", operator),
        Route("/operator/live", operator_live),
        Route("/tenant/{company_id}", tenant),
        Route("/tenant/{company_id}/live", tenant_live),
        Route("/tenant/{company_id}/prices", tenant_prices),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        Mount("/vendor/uplot", StaticFiles(directory=uplot_dir(), check_dir=False), name="uplot"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
