"""Run the Bridge service: `python -m servers.bridge`."""

from mesh.host import run_service
from servers.bridge.app import SPEC
from servers.bridge.gc_tuning import tune_gc

if __name__ == "__main__":
    tune_gc()  # the fan-out's allocation rate needs it (see gc_tuning)
    run_service(SPEC)
