"""Webhooks and events: tenants manage their endpoints and read their log; the Workflow
service's dispatcher reads every company's events and endpoints and logs its attempts."""

from __future__ import annotations

import json

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tenancy.current import actor_label, company_in_reach, current_principal
from servers.storage import convert
from servers.storage.relational import events, webhooks
from servers.storage.rpc._base import OPERATOR, SERVICE, TENANT, StorageRpcs, require, tenant_scope


class WebhookRpcs(StorageRpcs):
    async def CreateWebhookEndpoint(
        self, request: storage_pb2.CreateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CreateWebhookEndpointResponse:
        endpoint = await webhooks.create_endpoint(
            self._store, tenant_scope(), request.url, list(request.event_types),
            actor=actor_label(),
        )  # fmt: skip
        return storage_pb2.CreateWebhookEndpointResponse(
            endpoint=convert.webhook_endpoint(endpoint)
        )

    async def ListWebhookEndpoints(
        self, request: storage_pb2.ListWebhookEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListWebhookEndpointsResponse:
        require(TENANT, SERVICE)
        company = company_in_reach(request.company_id)
        # Only the dispatcher signs deliveries: only a service sees secrets.
        secrets = current_principal().kind is SERVICE
        found = await webhooks.list_endpoints(self._store, company, with_secret=secrets)
        return storage_pb2.ListWebhookEndpointsResponse(
            endpoints=[convert.webhook_endpoint(e) for e in found]
        )

    async def DeleteWebhookEndpoint(
        self, request: storage_pb2.DeleteWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.DeleteWebhookEndpointResponse:
        await webhooks.delete_endpoint(
            self._store, tenant_scope(), request.endpoint_id, actor=actor_label()
        )
        return storage_pb2.DeleteWebhookEndpointResponse()

    async def ListWebhookAttempts(
        self, request: storage_pb2.ListWebhookAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListWebhookAttemptsResponse:
        require(TENANT, SERVICE)
        company = company_in_reach(request.company_id)
        found = await webhooks.list_attempts(
            self._store, company, endpoint_id=request.endpoint_id, event_id=request.event_id
        )
        return storage_pb2.ListWebhookAttemptsResponse(
            attempts=[convert.webhook_attempt(a) for a in found]
        )

    async def RecordWebhookAttempt(
        self, request: storage_pb2.RecordWebhookAttemptRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordWebhookAttemptResponse:
        require(SERVICE)
        endpoint = await webhooks.record_attempt(
            self._store, convert.attempt_from_pb(request.attempt)
        )
        return storage_pb2.RecordWebhookAttemptResponse(endpoint=convert.webhook_endpoint(endpoint))

    async def ListEvents(
        self, request: storage_pb2.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListEventsResponse:
        require(TENANT, SERVICE, OPERATOR)
        principal = current_principal()
        # The operator reads them too: a sign-up's verification e-mail is such an event.
        own = (
            principal.require_tenant().company_id
            if principal.kind is TENANT
            else request.company_id
        )
        if request.event_id:
            one = await events.get_event(self._store, request.event_id)
            found = [one] if one is not None and own in ("", one.company_id) else []
            return storage_pb2.ListEventsResponse(events=[convert.event(e) for e in found])
        found = await events.list_events(
            self._store,
            after_seq=max(0, request.after_seq),
            limit=request.limit or events.MAX_LIST,
            company_id=own,
        )
        return storage_pb2.ListEventsResponse(events=[convert.event(e) for e in found])

    async def EmitEvent(
        self, request: storage_pb2.EmitEventRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.EmitEventResponse:
        require(SERVICE)
        try:
            data = json.loads(request.data_json or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InvalidArgument(
                "data_json: expected a JSON object",
                violations=[FieldViolation("data_json", "must be a JSON object")],
            )
        event_id, duplicate = await events.report(
            self._store, company_id=request.company_id, type=request.type, data=data,
            dedupe_key=request.dedupe_key,
        )  # fmt: skip
        return storage_pb2.EmitEventResponse(event_id=event_id, duplicate=duplicate)
