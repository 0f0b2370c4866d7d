"""Server interceptors: the base class and the mesh's own (request id, errors, metadata)."""

from mesh.interceptors.base import CallInfo, MeshInterceptor, is_infrastructure
from mesh.interceptors.errors import ErrorInterceptor
from mesh.interceptors.metadata import MetadataInterceptor
from mesh.interceptors.request_id import RequestIdInterceptor

__all__ = [
    "CallInfo",
    "ErrorInterceptor",
    "MeshInterceptor",
    "MetadataInterceptor",
    "RequestIdInterceptor",
    "is_infrastructure",
]
