"""The Storage service: tenants, users, subscriptions, API keys, usage and retention."""
