"""Run the Storage service: `python -m servers.storage`."""

from mesh.server import run
from servers.storage.app import create_server

if __name__ == "__main__":
    run(create_server)
