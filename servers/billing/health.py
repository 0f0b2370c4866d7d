"""Temporary alias of customer_health for service.py, whose split is under way elsewhere."""

# Delete once servers/billing/service.py imports customer_health itself: "health" alone
# reads as grpc.health.v1, which this never was.
from servers.billing.customer_health import health_report

__all__ = ["health_report"]
