"""Idempotency keys for unary calls, as Stripe's `Idempotency-Key`: a caller that sends
`idempotency-key` gets, for a repeat of the same key, the first call's response instead
of a second execution.

Why: a caller that retries after losing the answer (a Temporal activity whose worker
died mid-call, a client whose connection dropped) must not run the call twice. The key
is scoped to the caller (tenant user, service or operator) and the method, so two
callers never share an answer. Only successful responses are kept (24 h): a failed
call may be retried for real. While the first call runs, a repeat gets ABORTED (retry);
the in-progress mark expires after IN_PROGRESS_TTL_S, so a callee that died mid-call
does not block the key for a day.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from redis.asyncio import Redis

from mesh.errors import Aborted, FieldViolation, InvalidArgument
from mesh.tenancy.current import optional_principal

METADATA_KEY = "idempotency-key"
DONE_TTL_S = 24 * 3600
IN_PROGRESS_TTL_S = 60
MAX_KEY_LEN = 255
_IN_PROGRESS = b"-"
_DONE = b"+"


def _metadata_key(details: grpc.HandlerCallDetails) -> str:
    for key, value in details.invocation_metadata or ():
        if key == METADATA_KEY:
            return value.decode(errors="replace") if isinstance(value, bytes) else value
    return ""


def _response_class(method: str) -> Any:
    """The response message class of `/package.Service/Method`."""
    service, name = method.lstrip("/").rsplit("/", 1)
    descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    return message_factory.GetMessageClass(descriptor.output_type)


class IdempotencyInterceptor(grpc.aio.ServerInterceptor):
    """Replays the stored response of a unary call repeated with the same key. Put it
    after the auth interceptor: the key is scoped to the caller it verified."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pending: set[asyncio.Future[Any]] = set()  # replies kept after the caller left

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        key = _metadata_key(details)
        if handler is None or not key or handler.request_streaming or handler.response_streaming:
            return handler
        method: str = details.method
        inner = handler.unary_unary

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if len(key) > MAX_KEY_LEN:
                raise InvalidArgument(
                    f"{METADATA_KEY} is longer than {MAX_KEY_LEN} characters",
                    violations=[FieldViolation(METADATA_KEY, f"at most {MAX_KEY_LEN} chars")],
                )
            slot = self._slot(method, key)
            if not await self._redis.set(slot, _IN_PROGRESS, nx=True, ex=IN_PROGRESS_TTL_S):
                stored = await self._redis.get(slot)
                if stored and stored[:1] == _DONE:
                    return _response_class(method).FromString(stored[1:])
                raise Aborted(
                    f"a call with {METADATA_KEY} {key!r} is in progress; retry it",
                    reason="IDEMPOTENT_CALL_IN_PROGRESS",
                )
            call = asyncio.ensure_future(inner(request, context))
            try:
                response = await asyncio.shield(call)
            except asyncio.CancelledError:
                # The caller went away mid-call (a worker killed): the call still runs to
                # its end and keeps its reply, so the caller's retry gets it, not a rerun.
                call.add_done_callback(lambda done: self._keep_later(slot, done))
                raise
            except BaseException:
                await self._redis.delete(slot)  # failed: a retry runs for real
                raise
            await self._keep(slot, response)
            return response

        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    async def _keep(self, slot: str, response: Any) -> None:
        await self._redis.set(slot, _DONE + response.SerializeToString(), ex=DONE_TTL_S)

    async def _settle(self, slot: str, done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            await self._redis.delete(slot)
        else:
            await self._keep(slot, done.result())

    def _keep_later(self, slot: str, done: asyncio.Future[Any]) -> None:
        self._pending.add(task := asyncio.ensure_future(self._settle(slot, done)))
        task.add_done_callback(self._pending.discard)

    def _slot(self, method: str, key: str) -> str:
        principal = optional_principal()
        if principal is None:
            who = "anonymous"
        elif principal.tenant is not None:
            who = f"tenant:{principal.tenant.company_id}:{principal.tenant.user_id}"
        else:
            who = f"{principal.kind.value}:{principal.service or ''}"
        digest = hashlib.sha256(f"{who}\0{method}\0{key}".encode()).hexdigest()[:32]
        return f"{self._prefix}idem:{digest}"
