"""Run the Bridge service: `python -m servers.bridge`."""

from mesh.server import run
from servers.bridge.app import create_server
from servers.bridge.gc_tuning import tune_gc

if __name__ == "__main__":
    tune_gc()  # the fan-out's allocation rate needs it (see gc_tuning)
    run(create_server)
