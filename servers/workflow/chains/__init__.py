"""The chain registry: versioned chains of mesh RPC calls, run as Temporal workflows."""
