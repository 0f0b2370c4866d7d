"""Run the Workflow service: `python -m servers.workflow`."""

from mesh.host import run_service
from servers.workflow.app import SPEC

if __name__ == "__main__":
    run_service(SPEC)
