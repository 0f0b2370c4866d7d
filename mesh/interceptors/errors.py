"""The one interceptor that turns exceptions into gRPC statuses (rich details for MeshError)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from mesh.context import Metadata, current_call, merge_metadata
from mesh.errors import Internal, MeshError
from mesh.interceptors.base import CallInfo, MeshInterceptor

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: Metadata


def status_for(error: MeshError, context: grpc.aio.ServicerContext) -> grpc.Status:
    """`error` as a status, its trailing metadata merged with what the call has queued."""
    status = error.to_status()
    call = current_call()
    return _Status(
        code=status.code,
        details=status.details,
        trailing_metadata=merge_metadata(
            context.trailing_metadata() or (),
            call.trailing if call is not None else (),
            status.trailing_metadata,
        ),
    )


class ErrorInterceptor(MeshInterceptor):
    """Maps a MeshError to its status and anything else to a generic INTERNAL.

    Sits right inside RequestIdInterceptor, so it covers every other interceptor too, and
    works midway through a server stream (messages already sent stay sent; the status
    follows them). grpc's own exceptions (context.abort, a stopping server, a vanished
    peer) are control flow and pass through untouched.
    """

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        try:
            yield
        except grpc.aio.BaseError:
            raise
        except MeshError as error:
            _log.info(
                "%s refused: %s %s",
                call.method,
                error.code.name,
                error.reason,
                extra={"code": error.code.name, "reason": error.reason},
            )
            await context.abort_with_status(status_for(error, context))
        except Exception:
            # The exception text may hold internals (SQL, paths, secrets): it goes to the
            # log only; the caller gets the request id to quote.
            _log.exception("%s failed with an unexpected exception", call.method)
            call_state = current_call()
            request_id = call_state.request_id if call_state is not None else "unknown"
            internal = Internal(f"internal error (request id {request_id})")
            await context.abort_with_status(status_for(internal, context))
