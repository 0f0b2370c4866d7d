"""Run the Bridge service: `python -m servers.bridge`."""

from mesh.server import run
from servers.bridge.app import create_server

if __name__ == "__main__":
    run(create_server)
