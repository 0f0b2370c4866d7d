"""Users: a tenant adds and lists the users of its own company."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.current import current_tenant
from mesh.tenancy.permissions import check_manages
from servers.storage import convert
from servers.storage.relational import users
from servers.storage.rpc._base import StorageRpcs, tenant_scope


class UserRpcs(StorageRpcs):
    async def CreateUser(
        self, request: storage_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CreateUserResponse:
        scope, role = tenant_scope(), request.role or "member"
        check_manages(current_tenant(), role)
        record = await users.create_user(self._store, scope, request.email, request.name, role)
        return storage_pb2.CreateUserResponse(user=convert.user(record))

    async def ListUsers(
        self, request: storage_pb2.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListUsersResponse:
        records = await users.list_users(self._store, tenant_scope())
        return storage_pb2.ListUsersResponse(users=[convert.user(u) for u in records])
