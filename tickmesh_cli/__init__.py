"""The `tickmesh` command: composes the mesh's commands and the client's commands."""
