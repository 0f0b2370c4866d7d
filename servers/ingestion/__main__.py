"""Run the Ingestion service: `python -m servers.ingestion`."""

from mesh.server import run
from servers.ingestion.app import create_server

if __name__ == "__main__":
    run(create_server)
