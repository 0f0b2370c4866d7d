"""Workflow: the mesh's business processes on Temporal (the subscription lifecycle's
schedules, the test clock) and the worker that runs them."""
