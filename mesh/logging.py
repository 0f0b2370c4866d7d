"""Process-wide logging: JSON lines (or text for humans) stamped with service and request id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import grpc

from mesh.context import current_call

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_OWN_KEYS = ("request_id", "method")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRS and key not in _OWN_KEYS and not key.startswith("_")
    }


def _call_fields(record: logging.LogRecord) -> tuple[str | None, str | None]:
    # An explicit extra={"request_id": ...} wins over the contextvar (e.g. background work
    # logging on behalf of a call that has ended).
    call = current_call()
    request_id = getattr(record, "request_id", None) or (call.request_id if call else None)
    method = getattr(record, "method", None) or (call.method if call else None)
    return request_id, method


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Log fields describing `exc`, for `extra=`: its type, and a gRPC error's `code` and
    `details` or another's text as `error`.

    An AioRpcError's str() spans several lines (status, details, debug string), so
    formatting it into the message would break a log line; these fields keep it one.
    """
    fields: dict[str, Any] = {"exc_type": type(exc).__name__}
    if isinstance(exc, grpc.aio.AioRpcError | grpc.Call):
        fields["code"] = exc.code().name
        fields["details"] = exc.details()
    else:
        fields["error"] = " ".join(str(exc).split())  # one line, whatever the exception says
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, msg, request_id, method, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        request_id, method = _call_fields(record)
        ts = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id,
            "method": method,
        }
        for key, value in _extras(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            if record.exc_info[0] is not None:
                out.setdefault("exc_type", record.exc_info[0].__name__)
            # The traceback as one JSON string: its newlines are escaped, the line stays one.
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is not JSON-serializable is logged as its str().
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`ts LEVEL service logger [request_id] msg key=value ...` for humans."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        request_id, _ = _call_fields(record)
        ts = datetime.fromtimestamp(record.created).isoformat(sep=" ", timespec="milliseconds")
        line = f"{ts} {record.levelname:<7} {self.service} {record.name}"
        if request_id:
            line += f" [{request_id}]"
        line += f" {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v!r}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class _MeshHandler(logging.StreamHandler):
    """Marks the handler configure_logging installed, so calling it again replaces it."""


def configure_logging(level: str, fmt: str, service: str, *, stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) as `fmt` ("json" or "text") at `level`.

    Idempotent: a second call replaces the handler the first one installed.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', got {fmt!r}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _MeshHandler)]:
        root.removeHandler(handler)
    handler = _MeshHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root.addHandler(handler)
    root.setLevel(level.upper())
