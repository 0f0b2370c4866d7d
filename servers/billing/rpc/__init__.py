"""BillingService's RPC groups, composed into one servicer in servers/billing/service.py."""
