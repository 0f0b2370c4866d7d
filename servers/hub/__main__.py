"""Run the Hub service: `python -m servers.hub`."""

from mesh.server import run
from servers.hub.app import create_server

if __name__ == "__main__":
    run(create_server)
