"""Run the Hub service: `python -m servers.hub`."""

from mesh.host import run_service
from servers.hub.app import SPEC

if __name__ == "__main__":
    run_service(SPEC)
