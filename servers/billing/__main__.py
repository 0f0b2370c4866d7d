"""Run the Billing service: `python -m servers.billing`."""

from mesh.server import run
from servers.billing.app import create_server

if __name__ == "__main__":
    run(create_server)
