"""Tenancy domain: tenant context, its signing, quotas and the API-key cache (no gRPC here)."""
