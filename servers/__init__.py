"""tickmesh's servers: one package per service, each a thin servicer over plain domain modules."""
