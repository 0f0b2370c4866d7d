"""Run the Billing service: `python -m servers.billing`."""

from mesh.host import run_service
from servers.billing.app import SPEC

if __name__ == "__main__":
    run_service(SPEC)
