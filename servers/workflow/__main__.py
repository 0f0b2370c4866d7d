"""Run the Workflow service: `python -m servers.workflow`."""

from mesh.host import run_service
from servers.workflow.app import SPEC

if __name__ == "__main__":
    # Temporal's Rust runtime lives for the process and its threads may take the GIL
    # while the interpreter finalizes: "PyGILState_Release: thread state must be
    # current", SIGABRT after a clean stop (seen once in CI; temporalio/sdk-python#300).
    # Everything is stopped and flushed by then, so the teardown is skipped.
    run_service(SPEC, skip_finalization=True)
