"""Client SDKs: the Python client (issue #4) and examples for other languages."""
