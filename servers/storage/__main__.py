"""Run the Storage service: `python -m servers.storage`."""

from mesh.host import run_service
from servers.storage.app import SPEC

if __name__ == "__main__":
    run_service(SPEC)
