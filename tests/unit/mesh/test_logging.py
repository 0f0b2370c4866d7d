"""configure_logging: JSON lines carry service, request id, method, extras and errors as fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import grpc
import pytest

from mesh.context import add_trailing_metadata, call_scope, current_call
from mesh.logging import configure_logging, error_fields


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_json_lines_carry_call_context_and_extras() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", "bridge", stream=stream)
    log = logging.getLogger("servers.bridge.fanout")
    log.debug("not shown")
    with call_scope("rid-1", "/tickmesh.bridge.v1.Bridge/Subscribe"):
        log.info("subscribed %s", "EURUSD", extra={"symbols": 3})
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("outside a call")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO" and first["service"] == "bridge"
    assert first["logger"] == "servers.bridge.fanout"
    assert first["msg"] == "subscribed EURUSD"
    assert first["request_id"] == "rid-1"
    assert first["method"] == "/tickmesh.bridge.v1.Bridge/Subscribe"
    assert first["symbols"] == 3
    assert first["ts"].endswith("Z")
    assert second["request_id"] is None and "ValueError: bad" in second["exc"]


@pytest.mark.usefixtures("restore_root")
def test_text_format_and_reconfiguration_replaces_handler() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", "hub", stream=io.StringIO())
    configure_logging("INFO", "text", "hub", stream=stream)
    with call_scope("rid-2", "/x.Y/Z"):
        logging.getLogger("t").warning("hello", extra={"n": 1})
    [line] = stream.getvalue().splitlines()
    assert " WARNING hub t [rid-2] hello n=1" in line
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml", "hub")


def test_trailing_metadata_outside_a_call_is_ignored() -> None:
    assert current_call() is None
    add_trailing_metadata("x-usage", "1")  # no error, nothing to send it with
    with call_scope("rid", "/a.B/C") as call:
        add_trailing_metadata("X-Usage", "2")
        assert call.trailing == [("x-usage", "2")]
        assert (call.service, call.method_name) == ("a.B", "C")
    assert current_call() is None


@pytest.mark.usefixtures("restore_root")
def test_exceptions_go_into_fields_and_each_record_stays_one_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", "bridge", stream=stream)
    log = logging.getLogger("mesh.metering.meter")
    refused = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="failed to connect to all addresses",
        debug_error_string="UNAVAILABLE:\nfailed to connect",
    )
    assert "\n" in str(refused)  # what used to land inside the message
    log.warning("usage batch %d not delivered, will retry", 3, extra=error_fields(refused))
    try:
        raise ValueError("a\nb")
    except ValueError as exc:
        log.info("other", extra=error_fields(exc))
        log.exception("with a traceback")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    rpc, other, traced = (json.loads(line) for line in lines)
    assert rpc["msg"] == "usage batch 3 not delivered, will retry"
    assert (rpc["exc_type"], rpc["code"]) == ("AioRpcError", "UNAVAILABLE")
    assert rpc["details"] == "failed to connect to all addresses"
    assert other["exc_type"] == "ValueError" and other["error"] == "a b"
    assert traced["exc_type"] == "ValueError" and "Traceback" in traced["exc"]
