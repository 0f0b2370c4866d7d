"""tickmesh's shared runtime: config, tiers, errors, interceptors, server wiring, launcher."""
