"""Hub: the registry of live instances, health-checked tier-aware routing, mesh metrics."""
