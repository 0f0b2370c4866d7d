"""Run the Ingestion service: `python -m servers.ingestion`."""

from mesh.host import run_service
from servers.ingestion.app import SPEC

if __name__ == "__main__":
    run_service(SPEC)
