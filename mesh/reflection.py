"""Server reflection under both names clients ask for: v1alpha (grpcio-reflection) and v1."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2 as _v1alpha_pb2
from grpc_reflection.v1alpha import reflection_pb2_grpc as _v1alpha_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

V1ALPHA_SERVICE_NAME: str = _v1alpha_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name

# grpcio-reflection (up to at least 1.85) ships only v1alpha, while grpcurl and buf curl ask
# for v1 first. The v1 messages are wire-identical to v1alpha, so v1 is served by the same
# servicer and (de)serializers; the descriptor below lets clients resolve v1 itself.
_V1_PACKAGE = "grpc.reflection.v1"
_V1_FILE_NAME = "grpc/reflection/v1/reflection.proto"


def _v1_file_descriptor() -> descriptor.FileDescriptor:
    """The v1 reflection file: a renamed copy of v1alpha's, added to the default pool once."""
    pool = descriptor_pool.Default()
    try:
        # Already there: added by an earlier import, or compiled from the real v1 proto.
        return pool.FindFileByName(_V1_FILE_NAME)
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    _v1alpha_pb2.DESCRIPTOR.CopyToProto(proto)
    old_prefix, new_prefix = f".{proto.package}.", f".{_V1_PACKAGE}."
    proto.name = _V1_FILE_NAME
    proto.package = _V1_PACKAGE
    # v1alpha's file options (java package, deprecation) do not describe v1.
    proto.ClearField("options")
    for message in proto.message_type:
        _rename_field_types(message, old_prefix, new_prefix)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old_prefix, new_prefix, 1)
            method.output_type = method.output_type.replace(old_prefix, new_prefix, 1)
    pool.AddSerializedFile(proto.SerializeToString())
    return pool.FindFileByName(_V1_FILE_NAME)


def _rename_field_types(message: descriptor_pb2.DescriptorProto, old: str, new: str) -> None:
    for field in message.field:
        if field.type_name.startswith(old):
            field.type_name = new + field.type_name[len(old) :]
    for nested in message.nested_type:
        _rename_field_types(nested, old, new)


_V1_SERVICE = _v1_file_descriptor().services_by_name["ServerReflection"]
V1_SERVICE_NAME: str = _V1_SERVICE.full_name
_METHOD_NAME: str = _V1_SERVICE.methods_by_name["ServerReflectionInfo"].name

SERVICE_NAMES: tuple[str, ...] = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
"""The reflection services enable_reflection registers."""


def enable_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> tuple[str, ...]:
    """Serve reflection v1alpha and v1 on `server`, listing `service_names` plus both.

    Returns the listed names. Call before the server starts.
    """
    names = tuple(dict.fromkeys([*service_names, *SERVICE_NAMES]))
    servicer = ReflectionServicer(names)
    _v1alpha_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1_handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=_v1alpha_pb2.ServerReflectionRequest.FromString,
        response_serializer=_v1alpha_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {_METHOD_NAME: v1_handler}),)
    )
    return names
