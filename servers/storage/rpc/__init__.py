"""StorageService's RPCs in groups by aggregate, composed into one servicer in service.py."""
