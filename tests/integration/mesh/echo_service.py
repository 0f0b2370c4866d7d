"""A service that exists only in the tests: its own contract, settings and parts, built by the
mesh's service host exactly as the five real services are (no change to mesh/ needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from mesh.binding import bind
from mesh.config import as_str, setting
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part
from mesh.tenancy.current import current_tenant

PACKAGE = "tickmesh.test.v1"
FILE = "tickmesh/test/v1/echo.proto"


def _contract() -> Any:
    """The echo contract, added to the default descriptor pool (reflection reads it)."""
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName(FILE)
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto(name=FILE, package=PACKAGE, syntax="proto3")
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    request = proto.message_type.add(name="SayRequest")
    request.field.add(name="text", number=1, type=string, label=optional)
    reply = proto.message_type.add(name="SayResponse")
    reply.field.add(name="text", number=1, type=string, label=optional)
    reply.field.add(name="company_id", number=2, type=string, label=optional)
    service = proto.service.add(name="EchoService")
    service.method.add(
        name="Say", input_type=f".{PACKAGE}.SayRequest", output_type=f".{PACKAGE}.SayResponse"
    )
    pool.Add(proto)
    return pool.FindFileByName(FILE)


CONTRACT = _contract()
SERVICE = CONTRACT.services_by_name["EchoService"]
SayRequest = message_factory.GetMessageClass(CONTRACT.message_types_by_name["SayRequest"])
SayResponse = message_factory.GetMessageClass(CONTRACT.message_types_by_name["SayResponse"])
SAY = f"/{SERVICE.full_name}/Say"


@dataclass(frozen=True, slots=True)
class EchoSettings:
    """TICKMESH_ECHO_* and the config file's [echo] table."""

    greeting: str = setting("hello", cast=as_str)


class EchoServicer:
    """Answers with the greeting and the caller's company (from its verified key)."""

    def __init__(self, greeting: str) -> None:
        self._greeting = greeting

    async def Say(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        tenant = current_tenant()
        return SayResponse(text=f"{self._greeting}, {request.text}", company_id=tenant.company_id)


def echo_spec(events: list[str] | None = None) -> ServiceSpec[EchoSettings]:
    """The echo service; `events` records its part's start and stop."""
    log = events if events is not None else []

    async def build(ctx: Assembly[EchoSettings]) -> Service:
        await ctx.tenancy(tenant_rpcs={SAY: None})  # any tenant may call Say
        ctx.opened("store", lambda: _record(log, "store closed"))
        ctx.add(Part("warm-up", start=lambda: _record(log, "warmed up")))
        servicer = EchoServicer(ctx.settings.greeting)
        return Service([bind(SERVICE, servicer)], handle=servicer)

    return ServiceSpec("echo", build, EchoSettings)


async def _record(log: list[str], event: str) -> None:
    log.append(event)
