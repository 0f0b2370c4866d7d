"""`python -m console`: the console for the mesh the environment describes (as `tickmesh
up` passes it to its children: ports, the operator key, TICKMESH_CONSOLE_PORT)."""

from __future__ import annotations

import uvicorn

from console.app import create_app
from console.settings import SECTION, ConsoleSettings
from mesh.config import load_config, load_settings


def main() -> None:
    config = load_config()
    settings = load_settings(ConsoleSettings, config, SECTION)
    app = create_app(config, settings)
    # Loopback only: the console holds operator sessions and has no TLS of its own.
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
