"""The sidecar: lets an application that speaks plain gRPC without credentials reach the mesh."""
