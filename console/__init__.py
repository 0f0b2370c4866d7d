"""The web console: a Starlette app that shows a running mesh to its operator and its
tenants, reading the mesh only through its public RPCs (console.mesh_reader)."""
