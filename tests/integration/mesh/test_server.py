"""build_server / serve / run_service: health follows the parts' start and stop, reflection
v1 and v1alpha."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mesh.binding import ServiceBinding
from mesh.config import MeshConfig
from mesh.lifecycle import Lifecycle, Part
from mesh.reflection import V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME
from mesh.server import HEALTH_SERVICE_NAME, MeshServer, build_server

ChannelFactory = Callable[[str], grpc.aio.Channel]
REPO = Path(__file__).resolve().parents[3]
SERVICE = "tickmesh.test.v1.Probe"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
WAIT = 5.0  # upper bound for every wait on a condition


async def ping(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


PROBE = ServiceBinding(
    name=SERVICE,
    register=lambda server: server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE, {"Ping": grpc.unary_unary_rpc_method_handler(ping)}
            ),
        )
    ),
)


async def check(channel: grpc.aio.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=WAIT)
    return int(reply.status)


async def test_health_is_not_serving_until_ready(aio_channel: ChannelFactory) -> None:
    readiness_called = asyncio.Event()
    stores_ready = asyncio.Event()

    async def readiness() -> None:
        readiness_called.set()
        await stores_ready.wait()

    lifecycle = Lifecycle()
    lifecycle.add(Part("stores", start=readiness))
    server = await build_server(
        MeshConfig(tls_insecure=True, grace_seconds=0), component="probe", port=0, bindings=[PROBE],
        lifecycle=lifecycle,
    )  # fmt: skip
    assert server.port > 0
    starting = asyncio.create_task(server.start())
    try:
        # Parts start after the server listens: from here it answers health checks.
        await asyncio.wait_for(readiness_called.wait(), WAIT)
        channel = aio_channel(server.address)
        assert await check(channel, "") == NOT_SERVING
        assert await check(channel, SERVICE) == NOT_SERVING

        stores_ready.set()
        await asyncio.wait_for(starting, WAIT)
        assert await check(channel, "") == SERVING
        assert await check(channel, SERVICE) == SERVING
        # The bound service itself answers through the mesh interceptors.
        assert await channel.unary_unary(f"/{SERVICE}/Ping")(b"x", timeout=WAIT) == b"x"
    finally:
        stores_ready.set()
        await asyncio.wait_for(starting, WAIT)
        await server.stop()


async def test_watch_sees_not_serving_on_stop(aio_channel: ChannelFactory) -> None:
    stopped = []

    async def on_stop() -> None:
        stopped.append(True)

    lifecycle = Lifecycle()
    lifecycle.add(Part("store", stop=on_stop))
    server = await build_server(
        MeshConfig(tls_insecure=True, grace_seconds=WAIT), component="probe", port=0,
        bindings=[PROBE],
        lifecycle=lifecycle,
    )  # fmt: skip
    await server.start()
    channel = aio_channel(server.address)
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=SERVICE), timeout=WAIT
    )
    assert (await watch.read()).status == SERVING

    stopping = asyncio.create_task(server.stop())
    assert (await asyncio.wait_for(watch.read(), WAIT)).status == NOT_SERVING
    # The watch is an in-flight RPC: stop() waits (up to the grace period) for it to end.
    watch.cancel()
    await asyncio.wait_for(stopping, WAIT)
    assert stopped == [True]
    await server.stop()  # a second stop is a no-op
    assert stopped == [True]


async def test_port_in_use_fails_loudly() -> None:
    first = await build_server(
        MeshConfig(tls_insecure=True, grace_seconds=0), component="a", port=0, bindings=[]
    )
    try:
        with pytest.raises(RuntimeError, match=f"b: cannot bind 127.0.0.1:{first.port}"):
            await build_server(
                MeshConfig(tls_insecure=True), component="b", port=first.port, bindings=[]
            )
    finally:
        await first.stop()


@pytest.fixture(scope="module")
async def reflected() -> AsyncIterator[MeshServer]:
    server = await build_server(
        MeshConfig(tls_insecure=True, grace_seconds=0), component="probe", port=0, bindings=[PROBE]
    )
    await server.start()
    yield server
    await server.stop()


async def reflect(
    call: grpc.aio.StreamStreamCall, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    await call.write(request)
    response = await asyncio.wait_for(call.read(), WAIT)
    assert isinstance(response, reflection_pb2.ServerReflectionResponse)
    return response


def v1_call(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamCall:
    # v1 messages are wire-identical to v1alpha's, so the v1alpha classes (de)serialize them.
    return channel.stream_stream(
        f"/{V1_SERVICE_NAME}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )(timeout=WAIT)


METRICS_SERVICE = "tickmesh.common.v1.BusinessMetricsService"  # build_server adds it everywhere
EXPECTED_SERVICES = {
    SERVICE, HEALTH_SERVICE_NAME, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME, METRICS_SERVICE
}  # fmt: skip


async def test_reflection_v1alpha_lists_services(
    reflected: MeshServer, aio_channel: ChannelFactory
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(aio_channel(reflected.address))
    call = stub.ServerReflectionInfo(timeout=WAIT)
    response = await reflect(call, reflection_pb2.ServerReflectionRequest(list_services=""))
    await call.done_writing()
    names = {s.name for s in response.list_services_response.service}
    assert names == EXPECTED_SERVICES
    assert V1ALPHA_SERVICE_NAME == "grpc.reflection.v1alpha.ServerReflection"


async def test_reflection_v1_lists_services_and_describes_itself(
    reflected: MeshServer, aio_channel: ChannelFactory
) -> None:
    assert V1_SERVICE_NAME == "grpc.reflection.v1.ServerReflection"
    call = v1_call(aio_channel(reflected.address))
    listed = await reflect(call, reflection_pb2.ServerReflectionRequest(list_services=""))
    assert {s.name for s in listed.list_services_response.service} == EXPECTED_SERVICES

    # A reflection client resolves the v1 service's own descriptor through v1.
    described = await reflect(
        call, reflection_pb2.ServerReflectionRequest(file_containing_symbol=V1_SERVICE_NAME)
    )
    await call.done_writing()
    [raw] = described.file_descriptor_response.file_descriptor_proto
    file = descriptor_pb2.FileDescriptorProto.FromString(raw)
    assert (file.name, file.package) == (
        "grpc/reflection/v1/reflection.proto",
        "grpc.reflection.v1",
    )
    [service] = file.service
    [method] = service.method
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    assert method.client_streaming and method.server_streaming
    assert all(
        f.type_name.startswith(".grpc.reflection.v1.") for m in file.message_type
        for f in m.field if f.type_name
    )  # fmt: skip


async def test_reflection_describes_health(
    reflected: MeshServer, aio_channel: ChannelFactory
) -> None:
    call = v1_call(aio_channel(reflected.address))
    described = await reflect(
        call, reflection_pb2.ServerReflectionRequest(file_containing_symbol=HEALTH_SERVICE_NAME)
    )
    await call.done_writing()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    assert health_pb2.DESCRIPTOR.name in {f.name for f in files}


TINY_SERVER = textwrap.dedent(
    """
    import atexit, sys
    from mesh.host import Service, ServiceSpec, run_service

    async def build(ctx):
        return Service([])

    atexit.register(lambda: print("interpreter teardown ran", flush=True))
    skip = sys.argv[1:] == ["--skip-finalization"]
    # Not one of the five: any free port.
    run_service(ServiceSpec("tiny", build), skip_finalization=skip)
    """
)


async def listening_port(stderr: asyncio.StreamReader) -> int:
    """The port from the server's "<name> listening on host:port" log line."""
    while True:
        line = await asyncio.wait_for(stderr.readline(), WAIT)
        assert line, "the server ended before it listened"
        record = json.loads(line)
        if " listening on " in record["msg"]:
            return int(record["msg"].rsplit(":", 1)[1])


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKMESH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["TICKMESH_TLS_INSECURE"] = "true"  # the suite runs plaintext on loopback
    env.update(extra)
    return env


@pytest.mark.parametrize("skip_finalization", [False, True])
async def test_run_exits_zero_on_sigterm(
    tmp_path: Path, aio_channel: ChannelFactory, skip_finalization: bool
) -> None:
    script = tmp_path / "tiny_server.py"
    script.write_text(TINY_SERVER)
    flag = ["--skip-finalization"] if skip_finalization else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), *flag,
        env=subprocess_env(TICKMESH_GRACE_SECONDS="1", TICKMESH_LOG_FORMAT="json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        port = await listening_port(proc.stderr)
        channel = aio_channel(f"127.0.0.1:{port}")
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=3 * WAIT, wait_for_ready=True
        )
        # The port is logged before the parts start: wait for the transition to SERVING.
        while (await asyncio.wait_for(watch.read(), WAIT)).status != SERVING:
            pass
        proc.send_signal(signal.SIGTERM)
        assert (await asyncio.wait_for(watch.read(), WAIT)).status == NOT_SERVING
        watch.cancel()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 5.0)
        assert proc.returncode == 0, stderr.decode()
        assert b'"service": "tiny"' in stderr  # JSON log lines, named after the component
        # Every log line out, the last one included, whether the teardown runs or not.
        assert json.loads(stderr.splitlines()[-1])["msg"] == "tiny stopped"
        assert (b"interpreter teardown ran" in stdout) is not skip_finalization
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_exits_two_on_config_error(tmp_path: Path) -> None:
    script = tmp_path / "tiny_server.py"
    script.write_text(TINY_SERVER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=subprocess_env(TICKMESH_GRACE_SECONDS="soon"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 2
    assert "TICKMESH_GRACE_SECONDS" in stderr.decode()
    assert "Traceback" not in stderr.decode()
