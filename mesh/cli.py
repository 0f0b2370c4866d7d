"""The mesh's commands: `tickmesh up` (with its demo), `status`, `reconcile` and `brokers`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import (
    SERVICES,
    ConfigError,
    Invalid,
    MeshConfig,
    bridge_pools,
    env_key,
    load_config,
)
from mesh.demo import create_demo_tenants, demo_instructions
from mesh.known_settings import check_known
from mesh.launcher import Mesh, health_of, operator_key_file, run_up
from mesh.lifecycle_status import schedule_lines
from mesh.mesh_state import read_state
from mesh.shared_store import NAME, ping
from mesh.terminal import own_foreground
from mesh.transport import aio_channel, certs_dir

READY_LINE = "Press Ctrl-C to stop."


async def _on_ready(mesh: Mesh) -> None:
    _print_endpoints(mesh)
    key = operator_key_file(mesh.config).read_text().strip()
    try:
        tenants = await create_demo_tenants(mesh.config, key)
    except grpc.aio.AioRpcError as err:
        print(f"(demo tenants not created: {err.code().name}: {err.details()})")
    else:
        lines = demo_instructions(tenants, mesh.config.address_of("bridge"))
        print("\n".join(_pastable(line) for line in lines))
    print(READY_LINE, flush=True)


def tickmesh_command(argv0: str | None = None) -> str:
    """How to run this CLI from a fresh shell in the current directory: `tickmesh` when
    that is on PATH, else the script's path (`.venv/bin/tickmesh` after `make install`),
    so that every command `up` prints can be pasted as it is."""
    script = argv0 if argv0 is not None else sys.argv[0]
    on_path = shutil.which("tickmesh")
    if on_path and os.path.exists(script) and os.path.samefile(on_path, script):
        return "tickmesh"
    if os.path.basename(script) != "tickmesh" or not os.path.exists(script):
        return ".venv/bin/tickmesh"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else os.path.abspath(script)


def _pastable(line: str) -> str:
    indent, _, rest = line.partition("tickmesh ")
    if rest and not indent.strip():
        return f"{indent}{tickmesh_command()} {rest}"
    return line


def _print_endpoints(mesh: Mesh) -> None:
    print("tickmesh is up; every service reports SERVING:")
    for child in mesh.children:
        pool = child.env.get(env_key("instance_pool"))
        print(f"  {child.service:<10} {child.address}" + (f" (pool {pool})" if pool else ""))
    if mesh.store is not None:
        store = mesh.store
        print(f"  {store.service:<10} {store.address} ({store.server}, files in {store.directory})")
    if mesh.temporal is not None:
        temporal = mesh.temporal
        print(f"  {temporal.service:<10} {temporal.address} (Temporal UI {temporal.ui_url})")
    if mesh.console is not None:
        print(f"  {'console':<10} {mesh.console.url} (log in with the operator key or an API key)")
    hub = mesh.config.address_of("hub")
    print(
        f"Inspect any service: npx buf curl --protocol grpc --http2-prior-knowledge "
        f"--list-methods http://{hub}"
    )


def _cmd_up(config: MeshConfig, args: argparse.Namespace) -> int:
    if args.insecure:  # the children read it from the environment, like every setting
        os.environ[env_key("tls_insecure")] = "true"
        config = dataclasses.replace(config, tls_insecure=True)
    if args.bridges is not None:
        try:
            config = dataclasses.replace(config, bridges=bridge_pools(args.bridges))
        except Invalid as exc:
            print(f"tickmesh up: configuration error: --bridges: {exc}", file=sys.stderr)
            return 2
    services = args.services or list(SERVICES)
    demo = args.demo and set(services) == set(SERVICES)
    with own_foreground():  # Ctrl-C under `make up` reaches up alone: make exits 0 too
        return asyncio.run(run_up(config, services, on_ready=_on_ready if demo else _print_ready))


def _cmd_certs(config: MeshConfig, args: argparse.Namespace) -> int:
    certs = certs_dir(config)
    hosts = [*args.host, *([config.host] if config.host not in ("0.0.0.0", "::") else [])]
    if args.action == "create":
        made = certs.ensure(hosts)
        print(f"{'created' if made else 'already present'}: {certs.path}")
    elif args.action == "rotate":
        if not certs.ca.exists():
            print(f"tickmesh certs: no CA in {certs.path}: run `tickmesh certs create`")
            return 1
        certs.rotate(hosts=hosts)
        print(f"rotated every service certificate in {certs.path} (same CA)")
    print("\n".join(certs.describe()))
    print(f"clients trust: {certs.ca}")
    return 0


def _print_ready(mesh: Mesh) -> None:
    _print_endpoints(mesh)
    print(READY_LINE, flush=True)


def _cmd_status(config: MeshConfig, args: argparse.Namespace) -> int:
    """Each service's health and restarts, the shared Redis, then the mesh's metrics from
    the Hub; 0 only when every service is SERVING, the Redis answers and the metrics
    could be read."""

    launched = read_state(config.data_dir)
    # The services at their configured addresses, then what else the launcher runs here
    # (further Bridge processes, `bridge-2`), at theirs.
    children: dict[str, Any] = (launched or {}).get("services", {})
    names = [*SERVICES, *(n for n in children if n not in SERVICES)]

    async def collect() -> list[tuple[str, str, str]]:
        addresses = [
            config.address_of(n) if n in SERVICES else children[n]["address"] for n in names
        ]
        states = await asyncio.gather(*(health_of(a, config=config) for a in addresses))
        return list(zip(names, addresses, states, strict=True))

    rows = asyncio.run(collect())
    if all(state == "UNREACHABLE" for _, _, state in rows):
        print(mesh_down(config, "hub", "status"), file=sys.stderr)
        return 1
    print("\n".join(format_status(rows, launched)))
    ok = all(state == "SERVING" for _, _, state in rows)
    store = asyncio.run(store_status(config, launched))
    if store is not None:
        print(store.line())
        ok = ok and store.reachable
    key = _operator_key(config)
    if key is not None:
        print(
            "\n".join(
                asyncio.run(schedule_lines(config.address_of("workflow"), key, config=config))
            )
        )
    try:
        summary = asyncio.run(mesh_summary(config))
    except MeshMetricsUnavailable as exc:
        print(f"mesh metrics unavailable: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary))
    return 0 if ok else 1


def format_status(rows: Sequence[tuple[str, str, str]], state: dict[str, Any] | None) -> list[str]:
    """One line per service: address, health, and (from the running launcher's state
    file) its restarts and how it last exited; `-` when no launcher runs here."""
    launched = (state or {}).get("services", {})
    lines = [f"{'service':<10} {'address':<22} {'health':<12} restarts"]
    for service, address, health in rows:
        child = launched.get(service)
        restarts = str(child.get("restarts", 0)) if child else "-"
        last = f"  (last: {child['last_exit']})" if child and child.get("last_exit") else ""
        lines.append(f"{service:<10} {address:<22} {health:<12} {restarts}{last}")
    return lines


@dataclass(frozen=True)
class StoreStatus:
    """The Redis the mesh's services share, as `status` shows it."""

    address: str
    reachable: bool
    origin: str
    """What it is: `redis-server, files in DIR` started by `up`, or the configured URL."""
    restarts: str = "-"
    last_exit: str | None = None

    def line(self) -> str:
        """A row of the status table."""
        health = "REACHABLE" if self.reachable else "UNREACHABLE"
        last = f", last: {self.last_exit}" if self.last_exit else ""
        return f"{NAME:<10} {self.address:<22} {health:<12} {self.restarts}  ({self.origin}{last})"


async def store_status(config: MeshConfig, state: dict[str, Any] | None) -> StoreStatus | None:
    """The Redis the services share: the configured TICKMESH_REDIS_URL, else the store the
    running `up` started; None when neither (each service has its own in-process one)."""
    if config.redis_url:
        url = urlsplit(config.redis_url)
        # host:port only: the URL may carry a password.
        address = url.netloc.rsplit("@", 1)[-1] or url.path  # unix:///path: the path
        return StoreStatus(address, await ping(config.redis_url), "TICKMESH_REDIS_URL")
    store = (state or {}).get("store")
    if not store:
        return None
    return StoreStatus(
        store["address"],
        await ping(f"redis://{store['address']}/0"),
        f"shared store: {store['server']}, files in {store['directory']}",
        str(store.get("restarts", 0)),
        store.get("last_exit"),
    )


class MeshMetricsUnavailable(Exception):
    """The Hub's mesh metrics could not be read; the message says why."""


def _operator_key(config: MeshConfig) -> str | None:
    if config.admin_key:
        return config.admin_key
    try:
        return operator_key_file(config).read_text().strip() or None
    except OSError:
        return None


async def mesh_summary(config: MeshConfig, timeout_s: float = 3.0) -> list[str]:
    """A few lines of mesh-wide metrics from the Hub; raises MeshMetricsUnavailable
    (no operator key, or the Hub's status code and details) when they cannot be read."""
    key = _operator_key(config)
    if key is None:
        raise MeshMetricsUnavailable(
            f"no operator key: set TICKMESH_ADMIN_KEY, or run `tickmesh up`, which writes "
            f"{operator_key_file(config)}"
        )
    address = config.hub_address or config.address_of("hub")
    async with aio_channel(address, config, interceptors=api_key_interceptors(key)) as ch:
        try:
            reply = await hub_pb2_grpc.HubServiceStub(ch).GetMeshMetrics(
                hub_pb2.GetMeshMetricsRequest(), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as err:
            raise MeshMetricsUnavailable(
                rpc_failure(config, err, "hub", address, prefix="")
            ) from None
    return format_mesh_metrics(reply)


def format_mesh_metrics(reply: hub_pb2.GetMeshMetricsResponse) -> list[str]:
    """GetMeshMetrics as the short summary `tickmesh status` prints."""
    instances = ", ".join(f"{s.service} {s.healthy}/{s.instances}" for s in reply.services)
    revenue = sum(reply.revenue_by_tier.values())
    tiers = ("enterprise", "pro", "free")
    by_tier = ", ".join(f"{t} ${reply.revenue_by_tier.get(t, 0) / 100:,.2f}" for t in tiers)
    sessions = ", ".join(f"{t} {reply.active_sessions_by_tier.get(t, 0)}" for t in tiers)
    lines = [
        "mesh (from the Hub):",
        f"  instances healthy/registered: {instances or 'none registered'}",
        f"  revenue this period: ${revenue / 100:,.2f} ({by_tier})",
        f"  open sessions: {sessions}",
    ]
    at_risk = sum(1 for c in reply.customers if c.score < 60)
    lines.append(f"  customers: {len(reply.customers)} active, {at_risk} at risk")
    lines += [f"  insight: {i.message}" for i in reply.insights]
    return lines


def _cmd_reconcile(config: MeshConfig, args: argparse.Namespace) -> int:
    """Billing.Reconcile as the operator: 0 balanced, 1 differences, 2 could not tell."""
    key = _operator_key(config)
    if key is None:
        print(
            f"tickmesh reconcile: no operator key in {operator_key_file(config)}: is the mesh "
            "up? Start it with `make up`, or set TICKMESH_ADMIN_KEY",
            file=sys.stderr,
        )
        return 2
    address = config.address_of("billing")

    async def call() -> billing_pb2.ReconcileResponse:
        async with aio_channel(address, config, interceptors=api_key_interceptors(key)) as ch:
            return await billing_pb2_grpc.BillingServiceStub(ch).Reconcile(
                billing_pb2.ReconcileRequest(billing_period=args.period), timeout=120
            )

    try:
        reply = asyncio.run(call())
    except grpc.aio.AioRpcError as err:
        print(rpc_failure(config, err, "billing", address), file=sys.stderr)
        return 2
    print("\n".join(format_reconciliation(reply)))
    return 0 if reply.balanced else 1


def format_reconciliation(reply: billing_pb2.ReconcileResponse) -> list[str]:
    """One line per company, then "balanced" or how many companies differ."""
    lines = [
        f"{e.company_id}  delivered {e.delivered:,}  billed {e.billed:,}  "
        + ("ok" if e.difference == 0 else f"difference {e.difference:+,}")
        for e in reply.entries
    ]
    differ = sum(1 for e in reply.entries if e.difference)
    # How many Bridges were summed: a mesh scaled out should not look like one Bridge.
    lines.append(f"bridges counted: {reply.bridges_counted}")
    lines.append(
        "balanced" if reply.balanced else f"NOT balanced: {differ} of {len(reply.entries)} differ"
    )
    return lines


def _cmd_brokers(config: MeshConfig, args: argparse.Namespace) -> int:
    """Billing.BrokerReport as the operator, as a table; 2 when it cannot be read."""
    key = _operator_key(config)
    if key is None:
        print(
            f"tickmesh brokers: no operator key in {operator_key_file(config)}: is the mesh "
            "up? Start it with `make up`, or set TICKMESH_ADMIN_KEY",
            file=sys.stderr,
        )
        return 2
    address = config.address_of("billing")

    async def call() -> billing_pb2.BrokerReportResponse:
        async with aio_channel(address, config, interceptors=api_key_interceptors(key)) as ch:
            return await billing_pb2_grpc.BillingServiceStub(ch).BrokerReport(
                billing_pb2.BrokerReportRequest(billing_period=args.period or ""), timeout=60
            )

    try:
        reply = asyncio.run(call())
    except grpc.aio.AioRpcError as err:
        print(rpc_failure(config, err, "billing", address, "tickmesh brokers: "), file=sys.stderr)
        return 2
    print("\n".join(format_broker_report(reply)))
    return 0


def _usd(money: Any) -> str:
    return f"${money.minor_units / 100:,.2f}"


def _per_tenant(entry: billing_pb2.BrokerAnalysis) -> str:
    if not entry.cost_per_tenant:
        return f"- (unallocated {_usd(entry.unallocated)})"
    cents = sorted(c.cost.minor_units for c in entry.cost_per_tenant)
    low, high = cents[0] / 100, cents[-1] / 100
    each = f"${low:,.2f}" if low == high else f"${low:,.2f}-{high:,.2f}"
    return f"{len(cents)} x {each}"


def format_broker_report(reply: billing_pb2.BrokerReportResponse) -> list[str]:
    """A table of one line per broker, then each broker's recommendation and reasons."""
    tiers = {
        tenancy_pb2.TIER_FREE: "F",
        tenancy_pb2.TIER_PRO: "P",
        tenancy_pb2.TIER_ENTERPRISE: "E",
    }
    header = (
        "broker", "cost/month", "uptime %", "complete %", "latency ms", "p99 ms",
        "outliers", "best prices won", "tenants x cost", "verdict",
    )  # fmt: skip
    rows = [header]
    for b in reply.brokers:
        won = " ".join(f"{tiers.get(s.tier, '?')}:{s.share_percent or '-'}%" for s in b.best_prices)
        rows.append((
            b.broker, _usd(b.monthly_cost), b.uptime_percent or "-",
            b.completeness_percent or "-", f"{b.latency_mean_us / 1000:.1f}",
            f"{b.latency_p99_us / 1000:.1f}", f"{b.outliers_rejected:,}", won or "-",
            _per_tenant(b), b.recommendation.upper(),
        ))  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = [f"broker report {reply.billing_period} (best prices: F free, P pro, E enterprise)"]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]  # fmt: skip
    lines.append(f"total configured cost: {_usd(reply.total_cost)} a month")
    for b in reply.brokers:
        lines.append(f"{b.broker}: {b.recommendation}: " + "; ".join(b.reasons))
    return lines


def mesh_down(config: MeshConfig, service: str, command: str) -> str:
    """One line for a mesh that does not answer: where it was looked for, how to start it."""
    return (
        f"tickmesh {command}: no {service} answers at {config.address_of(service)}: is the mesh "
        f"up? Start it with `make up` (or `{tickmesh_command()} up`)"
    )


def rpc_failure(
    config: MeshConfig,
    err: grpc.aio.AioRpcError,
    service: str,
    address: str,
    prefix: str = "tickmesh reconcile: ",
) -> str:
    """A failed call as one line that names the fix when there is an obvious one."""
    if err.code() is grpc.StatusCode.UNAVAILABLE and "failed to connect" in (err.details() or ""):
        return (
            f"{prefix}no {service} answers at {address}: is the mesh up? "
            f"Start it with `make up` (or `{tickmesh_command()} up`)"
        )
    if err.code() is grpc.StatusCode.UNIMPLEMENTED:
        return (
            f"{prefix}{address} is not the {service} (UNIMPLEMENTED); "
            f"the {service} is at {config.address_of(service)}"
        )
    return f"{prefix}{err.code().name}: {err.details()}"


CONFIG_HELP = "TOML config file (default: $TICKMESH_CONFIG)"


def add_config_option(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """`--config`, accepted before the subcommand and after it (the later one wins)."""
    parser.add_argument(
        "--config", help=CONFIG_HELP, default=None if top_level else argparse.SUPPRESS
    )


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, about: str
) -> argparse.ArgumentParser:
    """A subcommand with its one-line help (in `tickmesh -h`) and description (in its own -h)."""
    parser = sub.add_parser(name, help=summary, description=f"{summary}.\n\n{about}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_config_option(parser)
    return parser


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the mesh's commands (up, status, reconcile, brokers) to a `tickmesh` argument parser."""
    up = add_command(
        sub, "up", "start every service and run until Ctrl-C",
        "Starts the five services (and a shared Redis) as processes, waits until each is\n"
        "SERVING, creates one demo company per tier and prints their keys and commands.",
    )  # fmt: skip
    up.add_argument("--services", nargs="+", choices=SERVICES, help="only these services")
    up.add_argument(
        "--no-demo", dest="demo", action="store_false", help="skip creating demo tenants"
    )
    up.add_argument(
        "--insecure",
        action="store_true",
        help="plaintext instead of TLS (refused unless TICKMESH_HOST is a loopback address)",
    )
    up.add_argument(
        "--bridges",
        metavar="SPEC",
        help="Bridge processes: a count (2) or tier pools, e.g. enterprise+pro,free*2 "
        "(TICKMESH_BRIDGES)",
    )
    up.set_defaults(func=_cmd_up)
    certs = add_command(
        sub, "certs", "create, show or rotate the mesh's certificates",
        "create: the mesh CA and one certificate per service (spiffe://tickmesh/<service>)\n"
        "in <data dir>/certs, if missing. show: each one's identity and expiry. rotate:\n"
        "new service keys and certificates from the same CA; running servers use them for\n"
        "new connections without a restart.",
    )  # fmt: skip
    certs.add_argument("action", choices=("create", "show", "rotate"), nargs="?", default="show")
    certs.add_argument("--host", action="append", default=[], help="extra host name or IP")
    certs.set_defaults(func=_cmd_certs)
    status = add_command(
        sub, "status", "print each service's health and restarts",
        "Then the shared Redis and the mesh's metrics from the Hub. Exits 1 when a service\n"
        "is not SERVING, the Redis does not answer or the metrics cannot be read.",
    )  # fmt: skip
    status.set_defaults(func=_cmd_status)
    reconcile = add_command(
        sub, "reconcile", "compare delivered with billed ticks",
        "Calls Billing.Reconcile with the operator key: one line per company, then\n"
        "`balanced` (exit 0) or the differences (exit 1); 2 when it cannot tell.",
    )  # fmt: skip
    reconcile.add_argument("--period", required=True, help="billing period YYYY-MM")
    reconcile.set_defaults(func=_cmd_reconcile)
    brokers = add_command(
        sub, "brokers", "print each broker's cost, service and verdict",
        "Calls Billing.BrokerReport with the operator key: per broker its monthly cost,\n"
        "uptime, completeness, latency, outliers rejected, share of best prices won per\n"
        "tier, its cost split over the companies served, and keep / review / drop with\n"
        "the reasons. Exits 2 when the report cannot be read.",
    )  # fmt: skip
    brokers.add_argument("--period", help="billing period YYYY-MM (default: the current one)")
    brokers.set_defaults(func=_cmd_brokers)


def build_parser() -> argparse.ArgumentParser:
    """An argument parser with the mesh's commands (the full CLI is tickmesh_cli)."""
    parser = argparse.ArgumentParser(prog="tickmesh", description=__doc__)
    add_config_option(parser, top_level=True)
    register_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Parse, load the config once, run the chosen command; 2 on a configuration error."""
    args = (parser or build_parser()).parse_args(argv)
    try:
        config = load_config(file=args.config)
        check_known(config)
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(config, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
